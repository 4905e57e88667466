"""bench/smtp_bare.py and bench/smtp_sink.py: the benchmark baseline delivers every byte."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.smtp_server import SmtpServer

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The smtp_bare module, imported the way the benchmarks import it (bench/ on sys.path)."""
    monkeypatch.syspath_prepend(str(BENCH))
    import smtp_bare

    yield smtp_bare


def test_dot_stuffing(bare: Any) -> None:
    assert bare.dot_stuff(b"a\r\n.b\r\n") == b"a\r\n..b\r\n.\r\n"
    assert bare.dot_stuff(b".start\r\n.\r\nend") == b"..start\r\n..\r\nend\r\n.\r\n"
    assert bare.dot_stuff(b"no dots\r\n") == b"no dots\r\n.\r\n"


def test_multi_line_reply(bare: Any) -> None:
    reader = io.BufferedReader(io.BytesIO(b"250-sink.localhost\r\n250-SIZE 10\r\n250 HELP\r\n"))
    assert bare.read_reply(reader) == (250, b"sink.localhost\nSIZE 10\nHELP")
    with pytest.raises(ConnectionError):
        bare.read_reply(reader)  # nothing more: the server went away


def test_every_message_arrives_byte_for_byte(bare: Any) -> None:
    messages = [
        ("a@example.com", f"r{n}@example.com", f".first\r\n.\r\nline {n}\r\n..two\r\n".encode())
        for n in range(30)
    ]
    with SmtpServer() as server:
        result = bare.run_bare(
            "127.0.0.1", server.port, bare.prepare(messages), connections=3, per_connection=4
        )
        received = {r.rcpt_tos[0]: r.data for r in server.received}
        per_connection = server.handler.messages_per_connection()
    assert received == {recipient: data for _, recipient, data in messages}
    assert result.messages == 30 and result.connections == 9  # 10 each, 4 per connection
    assert server.handler.connections == 9
    assert max(per_connection.values()) == 4


def test_an_unexpected_reply_is_an_error(bare: Any) -> None:
    messages = [("a@example.com", "gone@example.com", b"x\r\n")]
    with SmtpServer() as server:
        server.handler.script["gone@example.com"] = ["5.1.1"]
        with pytest.raises(bare.SmtpReplyError) as info:
            bare.run_bare("127.0.0.1", server.port, bare.prepare(messages), connections=1)
    assert info.value.code == 550


def test_sink_in_its_own_process_counts_messages(bare: Any) -> None:
    import smtp_sink

    messages = bare.sample_messages(20, size=8000)
    sizes = [len(data) for _, _, data in messages]
    assert all(7000 < size < 9000 for size in sizes)
    assert len({data for _, _, data in messages}) == 20  # personalized
    with smtp_sink.running_sink() as sink:
        bare.run_bare("127.0.0.1", sink.port, bare.prepare(messages), connections=2)
        assert (sink.messages(), sink.bytes(), sink.connections()) == (20, sum(sizes), 2)
        sink.reset()
        assert sink.messages() == 0
        process = sink.process
    assert not process.is_alive()
