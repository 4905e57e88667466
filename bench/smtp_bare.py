"""The baseline for the sending benchmark: a bare-socket SMTP client.

It sends pre-built messages over K parallel connections (one thread each), each connection
reused for many messages, with nothing per message but the SMTP exchange itself: the commands
and the dot-stuffed DATA payload are encoded once, before the clock starts. Replies are read
properly (multi-line ``250-`` replies included) and every one is checked. The server offers no
PIPELINING (aiosmtpd does not), so this client, like smtplib, waits for each reply.

Run alone against the sink (an aiosmtpd server in its own process):
``.venv/bin/python bench/smtp_bare.py`` (5,000 messages of about 60 KB over 4 connections).
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BufferedReader

from smtp_sink import running_sink

EHLO_NAME = "bench.localhost"
MAX_REPLY_LINE = 8192


class SmtpReplyError(Exception):
    """The server answered with another code than the one the exchange needs."""

    def __init__(self, command: bytes, code: int, text: bytes) -> None:
        super().__init__(f"{command.decode(errors='replace').strip()!r}: {code} {text!r}")
        self.code = code


@dataclass(frozen=True)
class Prepared:
    """One message as it goes on the wire: MAIL and RCPT commands and the DATA payload."""

    mail: bytes
    rcpt: bytes
    payload: bytes  # dot-stuffed, CRLF, ending with CRLF . CRLF


def dot_stuff(data: bytes) -> bytes:
    """The DATA payload for CRLF message bytes (RFC 5321 §4.5.2): a dot starting a line is
    doubled, and the terminating line "." follows."""
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    stuffed = data.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed + b".\r\n"


def prepare(messages: Iterable[tuple[str, str, bytes]]) -> list[Prepared]:
    """(sender, recipient, CRLF bytes) triples, encoded for the wire once."""
    return [
        Prepared(
            f"MAIL FROM:<{sender}>\r\n".encode("ascii"),
            f"RCPT TO:<{recipient}>\r\n".encode("ascii"),
            dot_stuff(data),
        )
        for sender, recipient, data in messages
    ]


def read_reply(reader: BufferedReader) -> tuple[int, bytes]:
    """One reply, all its lines (``250-...`` continues, ``250 ...`` ends)."""
    lines: list[bytes] = []
    while True:
        line = reader.readline(MAX_REPLY_LINE)
        if not line.endswith(b"\n"):
            raise ConnectionError(f"the server closed the connection or sent {line!r}")
        lines.append(line[4:].rstrip(b"\r\n"))
        if line[3:4] != b"-":
            return int(line[:3]), b"\n".join(lines)


def _expect(reader: BufferedReader, command: bytes, code: int) -> None:
    got, text = read_reply(reader)
    if got != code:
        raise SmtpReplyError(command, got, text)


def send_batch(
    host: str,
    port: int,
    batch: Sequence[Prepared],
    per_connection: int | None = None,
    nodelay: bool = True,
) -> int:
    """Send the batch in order on one connection (a new one every ``per_connection``
    messages); returns the number of connections used. Raises on any unexpected reply."""
    step = per_connection or max(len(batch), 1)
    connections = 0
    for start in range(0, len(batch), step):
        with socket.create_connection((host, port), timeout=60) as sock:
            if nodelay:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connections += 1
            reader = sock.makefile("rb")
            send = sock.sendall
            _expect(reader, b"(greeting)", 220)
            ehlo = f"EHLO {EHLO_NAME}\r\n".encode("ascii")
            send(ehlo)
            _expect(reader, ehlo, 250)
            for message in batch[start : start + step]:
                send(message.mail)
                _expect(reader, message.mail, 250)
                send(message.rcpt)
                _expect(reader, message.rcpt, 250)
                send(b"DATA\r\n")
                _expect(reader, b"DATA", 354)
                send(message.payload)
                _expect(reader, b"(end of data)", 250)
            send(b"QUIT\r\n")
            _expect(reader, b"QUIT", 221)
            reader.close()
    return connections


@dataclass(frozen=True)
class BareResult:
    """One run: how many messages, over how many connections, in how long."""

    messages: int
    connections: int
    seconds: float
    cpu_seconds: float  # this process's CPU time (all threads) during the run

    @property
    def per_second(self) -> float:
        """Messages per second."""
        return self.messages / self.seconds if self.seconds else 0.0


def run_bare(
    host: str,
    port: int,
    messages: Sequence[Prepared],
    connections: int = 4,
    per_connection: int | None = None,
    nodelay: bool = True,
) -> BareResult:
    """Send every message over ``connections`` parallel connections (threads, round-robin
    split), timed from the common start to the last reply. Raises the first error a thread
    met."""
    batches = [messages[i::connections] for i in range(connections)]
    start = threading.Barrier(connections + 1)
    used = [0] * connections
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        start.wait()
        try:
            used[index] = send_batch(host, port, batches[index], per_connection, nodelay)
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(i,), name=f"bare-smtp-{i}")
        for i in range(connections)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    began, began_cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.join()
    seconds, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    if errors:
        raise errors[0]
    return BareResult(len(messages), sum(used), seconds, cpu)


# -- sample messages ---------------------------------------------------------------------------

_PARAGRAPH = (
    "<p>Shanghai-based biotech 示例生物 closed a ¥300 million Series B led by Example Capital "
    "to take its oral GLP-1 candidate into phase 2 trials; 本轮融资将用于推进临床二期研究。"
    ' <a href="https://news.example.com/r/{n}">Read more</a></p>\n'
    ".NET and other lines that start with a dot must be dot-stuffed on the wire.\n"
)


def sample_messages(count: int, size: int = 60_000) -> list[tuple[str, str, bytes]]:
    """``count`` newsletter messages of about ``size`` bytes, built once with
    ``newsletter.email.message.build_message`` and personalized by same-length substitution of the
    recipient, Message-ID and unsubscribe token (setup for benchmarks, not measured)."""
    from newsletter.email.message import MessageParts, build_message, list_id, unsubscribe_mailto

    recipient = "subscriber-000000000@example.com"
    token = "T000000000000000000000"
    message_id = "<2026-w48.000000000@news.example.com>"

    def build(paragraphs: int) -> bytes:
        html = "".join(_PARAGRAPH.format(n=n) for n in range(paragraphs))
        text = "\n".join(f"[{n}] https://news.example.com/r/{n}" for n in range(paragraphs))
        return build_message(
            MessageParts(
                subject="Healthcare Weekly 医疗产业周报 · 2026-W48",
                sender_name="Healthcare Weekly",
                sender_email="digest@news.example.com",
                recipient_email=recipient,
                recipient_name="Subscriber",
                text=f"Hello\n\n{text}\n",
                html=f"<html><body>{html}</body></html>",
                message_id=message_id,
                date=datetime(2026, 11, 23, tzinfo=UTC),
                list_id=list_id("Healthcare Weekly", "news.example.com"),
                unsubscribe_url=f"https://news.example.com/u/{token}",
                unsubscribe_mailto=unsubscribe_mailto("digest@news.example.com", token),
            )
        )

    one, two = len(build(1)), len(build(2))
    template = build(max(1, round((size - one) / max(two - one, 1)) + 1))
    out: list[tuple[str, str, bytes]] = []
    for n in range(count):
        address = f"subscriber-{n:09d}@example.com"
        data = (
            template.replace(recipient.encode(), address.encode())
            .replace(token.encode(), f"T{n:021d}".encode())
            .replace(message_id.encode(), f"<2026-w48.{n:09d}@news.example.com>".encode())
        )
        out.append(("digest@news.example.com", address, data))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--size", type=int, default=60_000, help="bytes per message (about)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--per-connection", type=int, default=None, help="reconnect after N")
    parser.add_argument("--runs", type=int, default=3, help="timed runs; the best is reported")
    parser.add_argument("--no-nodelay", action="store_true", help="leave Nagle on, as smtplib")
    args = parser.parse_args(argv)

    messages = sample_messages(args.messages, args.size)
    prepared = prepare(messages)
    total = sum(len(data) for _, _, data in messages)
    print(
        f"{len(messages)} messages, {total / len(messages) / 1000:.1f} KB each on average, "
        f"{args.connections} connections"
    )
    with running_sink() as sink:
        run_bare("127.0.0.1", sink.port, prepared[:200], args.connections)  # warm-up
        results = []
        for run in range(args.runs):
            sink.reset()
            result = run_bare(
                "127.0.0.1",
                sink.port,
                prepared,
                args.connections,
                args.per_connection,
                nodelay=not args.no_nodelay,
            )
            if sink.messages() != len(prepared) or sink.bytes() != total:
                raise SystemExit(
                    f"the sink counted {sink.messages()} messages / {sink.bytes()} bytes, "
                    f"expected {len(prepared)} / {total}"
                )
            results.append(result)
            print(
                f"run {run + 1}: {result.per_second:,.0f} messages/s "
                f"({result.seconds:.2f} s, client CPU {result.cpu_seconds:.2f} s, "
                f"{result.connections} connections)"
            )
    best = max(results, key=lambda r: r.per_second)
    print(f"bare socket client: {best.per_second:,.0f} messages/s (best of {len(results)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
