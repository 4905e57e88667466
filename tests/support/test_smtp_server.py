"""tests/smtp_server.py itself: each scripted behaviour, seen by plain smtplib as the client."""

from __future__ import annotations

import smtplib
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.smtp_server import RecordingHandler, SmtpServer, expand_reply

MESSAGE = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nbody\r\n.dot line\r\n"


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer() as running:
        yield running


def connect(server: SmtpServer) -> smtplib.SMTP:
    conn = smtplib.SMTP("127.0.0.1", server.port, timeout=5)
    conn.ehlo()
    return conn


def closed_by_server(conn: smtplib.SMTP) -> bool:
    """True when the server has closed the socket (EOF or reset) with nothing more to read."""
    assert conn.sock is not None
    conn.sock.settimeout(2)
    try:
        return conn.sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_script_steps_are_used_in_order_and_the_last_repeats(server: SmtpServer) -> None:
    server.handler.script["b@example.com"] = ["451 4.3.0 try later", "250"]
    conn = connect(server)
    try:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
            conn.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        assert info.value.recipients == {"b@example.com": (451, b"4.3.0 try later")}
        assert conn.sendmail("a@example.com", ["b@example.com"], MESSAGE) == {}
        assert conn.sendmail("a@example.com", ["b@example.com"], MESSAGE) == {}
    finally:
        conn.quit()
    assert server.handler.attempts["b@example.com"] == 3
    assert [r.rcpt_tos for r in server.received] == [["b@example.com"], ["b@example.com"]]
    assert server.received[0].data == MESSAGE  # dot-stuffing undone, bytes as sent


def test_bare_enhanced_code_is_an_unknown_user(server: SmtpServer) -> None:
    server.handler.script["gone@example.com"] = ["5.1.1"]
    conn = connect(server)
    try:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
            conn.sendmail("a@example.com", ["gone@example.com"], MESSAGE)
    finally:
        conn.quit()
    assert info.value.recipients == {
        "gone@example.com": (550, b"5.1.1 <gone@example.com>: user unknown")
    }


def test_data_stage_reply(server: SmtpServer) -> None:
    server.handler.script["b@example.com"] = [("data", "552 5.3.4 too big"), ("data", "250")]
    conn = connect(server)
    try:
        conn.mail("a@example.com")
        assert conn.rcpt("b@example.com")[0] == 250  # accepted at RCPT
        assert conn.data(MESSAGE) == (552, b"5.3.4 too big")
        assert server.received == []
        assert conn.sendmail("a@example.com", ["b@example.com"], MESSAGE) == {}
    finally:
        conn.quit()
    assert len(server.received) == 1


def test_explicit_rcpt_stage(server: SmtpServer) -> None:
    server.handler.script["b@example.com"] = [("rcpt", "452 4.2.2 mailbox full")]
    conn = connect(server)
    try:
        conn.mail("a@example.com")
        assert conn.rcpt("b@example.com") == (452, b"4.2.2 mailbox full")
    finally:
        conn.quit()


def test_421_at_rcpt_replies_then_closes(server: SmtpServer) -> None:
    server.handler.script["b@example.com"] = ["421 4.7.0 closing"]
    conn = connect(server)
    conn.mail("a@example.com")
    assert conn.rcpt("b@example.com") == (421, b"4.7.0 closing")
    assert closed_by_server(conn)
    conn.close()


def test_421_at_data_replies_then_closes(server: SmtpServer) -> None:
    server.handler.script["b@example.com"] = [("data", "421 4.7.0 closing")]
    conn = connect(server)
    conn.mail("a@example.com")
    assert conn.rcpt("b@example.com")[0] == 250
    assert conn.data(MESSAGE) == (421, b"4.7.0 closing")
    assert closed_by_server(conn)
    conn.close()
    assert server.received == []


def test_drop_at_rcpt_closes_without_reply(server: SmtpServer) -> None:
    server.handler.script["b@example.com"] = ["drop", "250"]
    conn = connect(server)
    conn.mail("a@example.com")
    with pytest.raises(smtplib.SMTPServerDisconnected, match="Connection unexpectedly closed"):
        conn.rcpt("b@example.com")
    conn.close()
    # The server keeps serving: the next attempt, on a new connection, goes through.
    conn = connect(server)
    try:
        assert conn.sendmail("a@example.com", ["b@example.com"], MESSAGE) == {}
    finally:
        conn.quit()
    assert [r.connection for r in server.received] == [2]


def test_drop_at_data_reads_the_message_and_never_answers(server: SmtpServer) -> None:
    server.handler.script["b@example.com"] = [("data", "drop")]
    conn = connect(server)
    conn.mail("a@example.com")
    assert conn.rcpt("b@example.com")[0] == 250
    with pytest.raises(smtplib.SMTPServerDisconnected):
        conn.data(MESSAGE)
    conn.close()
    assert server.received == []


def test_reset_sends_a_tcp_reset(server: SmtpServer) -> None:
    server.handler.script["b@example.com"] = ["reset"]
    conn = connect(server)
    conn.mail("a@example.com")
    assert conn.sock is not None
    conn.sock.sendall(b"RCPT TO:<b@example.com>\r\n")
    with pytest.raises(ConnectionResetError):
        conn.sock.recv(100)
    conn.close()


def test_partial_refusal_among_recipients(server: SmtpServer) -> None:
    server.handler.script["c@example.com"] = ["550 5.1.1 no such user"]
    conn = connect(server)
    try:
        refused = conn.sendmail("a@example.com", ["b@example.com", "c@example.com"], MESSAGE)
    finally:
        conn.quit()
    assert refused == {"c@example.com": (550, b"5.1.1 no such user")}
    assert [r.rcpt_tos for r in server.received] == [["b@example.com"]]


def test_fixed_refusals_still_work(server: SmtpServer) -> None:
    server.handler.refuse["b@example.com"] = "550 5.1.1 No such user"
    conn = connect(server)
    try:
        conn.mail("a@example.com")
        assert conn.rcpt("b@example.com") == (550, b"5.1.1 No such user")
        assert conn.rcpt("b@example.com")[0] == 550
    finally:
        conn.quit()
    assert server.handler.attempts["b@example.com"] == 2


def test_connections_are_counted_and_each_message_knows_its_own(server: SmtpServer) -> None:
    first, second = connect(server), smtplib.SMTP("127.0.0.1", server.port, timeout=5)
    second.helo()  # HELO counts as well as EHLO
    try:
        for _ in range(3):
            first.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        for _ in range(2):
            second.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        first.ehlo()  # a second EHLO on one connection is not a new connection
        first.sendmail("a@example.com", ["b@example.com"], MESSAGE)
    finally:
        first.quit()
        second.quit()
    assert server.handler.connections == 2
    assert server.handler.messages_per_connection() == {1: 4, 2: 2}
    assert [r.connection for r in server.received] == [1, 1, 1, 2, 2, 1]


def test_parallel_clients(server: SmtpServer) -> None:
    errors: list[BaseException] = []

    def client(n: int) -> None:
        try:
            conn = connect(server)
            for i in range(25):
                conn.sendmail("a@example.com", [f"r{n}.{i}@example.com"], MESSAGE)
            conn.quit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert server.handler.connections == 4
    assert sorted(server.handler.messages_per_connection().values()) == [25, 25, 25, 25]
    assert len({r.rcpt_tos[0] for r in server.received}) == 100


def test_data_size_limit() -> None:
    with SmtpServer(data_size_limit=1000) as small:
        conn = connect(small)
        try:
            assert conn.has_extn("size") and conn.esmtp_features["size"] == "1000"
            big = MESSAGE + (b"x" * 70 + b"\r\n") * 20
            conn.mail("a@example.com")
            conn.rcpt("b@example.com")
            assert conn.data(big)[0] == 552
        finally:
            conn.quit()
        assert small.received == []


def test_expand_reply() -> None:
    assert expand_reply("5.2.2", "x@example.com") == "550 5.2.2 <x@example.com>: mailbox full"
    assert expand_reply("4.7.1", "x@example.com").startswith("450 4.7.1 <x@example.com>: ")
    assert expand_reply("250", "x@example.com") == "250 OK"
    assert expand_reply("451 4.3.0 later", "x@example.com") == "451 4.3.0 later"


def test_bad_stage_is_reported() -> None:
    handler = RecordingHandler(script={"b@example.com": [("mail", "250")]})
    with pytest.raises(ValueError, match="script stage"):
        handler._next_step("b@example.com")


def test_free_port_is_bindable() -> None:
    from tests.smtp_server import free_port

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
