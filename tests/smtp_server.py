"""A real aiosmtpd SMTP server on 127.0.0.1 that records messages, refuses or scripts replies per
recipient, and counts connections.

Scripting: ``handler.script["a@example.com"] = ["451 4.3.0 try later", "250"]`` gives one step
per delivery attempt (each RCPT TO for that address), in order, the last one repeating. A step is
a reply at the RCPT stage, or ``("data", reply)`` for the reply to the message's DATA (the RCPT
is then accepted); ``("rcpt", reply)`` says the first explicitly. A reply is:

- ``"250"``, ``"250 OK"``: accept (a bare code gets a default text);
- ``"451 4.3.0 try later"``, ``"552 5.3.4 too big"``: that reply;
- ``"5.1.1"`` (a bare enhanced status code): ``550 5.1.1 <address>: user unknown`` and the like;
- ``"421 4.7.0 closing"`` (any 421): that reply, then the server closes the connection;
- ``"drop"``: the connection is closed without a reply (at DATA: after the message was read);
- ``"reset"``: like drop, with a TCP reset instead of a clean close.

aiosmtpd runs in its own thread: the shared state is changed under ``handler.lock``.
"""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import DATA_SIZE_DEFAULT

Step = str | tuple[str, str]

# What a bare enhanced status code (RFC 3463) stands for in a script.
ENHANCED_TEXT = {
    "5.1.1": "user unknown",
    "5.1.10": "recipient address has null MX",
    "5.2.1": "mailbox disabled",
    "5.2.2": "mailbox full",
    "4.2.2": "mailbox full",
    "5.7.1": "delivery not authorized, message refused",
    "4.7.1": "too many messages, try again later",
    "4.3.0": "temporary failure, try again later",
}
_ENHANCED = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")
_DEFAULT_TEXT = {"2": "OK", "4": "try again later", "5": "refused"}


@dataclass
class Received:
    """One message the server accepted, and the number of the connection it came on."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    connection: int = 0

    def message(self) -> EmailMessage:
        """Parsed with the standard library."""
        msg = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


def expand_reply(reply: str, address: str) -> str:
    """A full SMTP reply line for a script step's reply (not for "drop" or "reset")."""
    reply = reply.strip()
    if _ENHANCED.fullmatch(reply):
        text = ENHANCED_TEXT.get(reply, _DEFAULT_TEXT[reply[0]])
        return f"{reply[0]}50 {reply} <{address}>: {text}"
    if re.fullmatch(r"[2-5]\d\d", reply):
        return f"{reply} {_DEFAULT_TEXT.get(reply[0], 'scripted reply')}"
    return reply


@dataclass
class RecordingHandler:
    """Accepts every message, except recipients refused with a fixed reply (``refuse``) or
    scripted per attempt (``script``); counts connections and attempts per address."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    script: dict[str, list[Step]] = field(default_factory=dict)
    attempts: Counter[str] = field(default_factory=Counter)  # RCPT TO commands per address
    connections: int = 0  # connections that said EHLO or HELO
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    # -- connections ----------------------------------------------------------------------

    def _connection(self, server: Any) -> int:
        """The number of the server's connection, counted at its first EHLO or HELO (the
        server object lives as long as the connection, across STARTTLS)."""
        with self.lock:
            number: int | None = getattr(server, "recording_connection", None)
            if number is None:
                self.connections += 1
                number = self.connections
                server.recording_connection = number
            return number

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to a handle_EHLO hook
        self._connection(server)
        return responses

    async def handle_HELO(self, server: Any, session: Any, envelope: Any, hostname: str) -> str:
        session.host_name = hostname
        self._connection(server)
        return f"250 {server.hostname}"

    def messages_per_connection(self) -> dict[int, int]:
        """How many accepted messages came on each connection, by connection number."""
        with self.lock:
            return dict(Counter(r.connection for r in self.received))

    # -- recipients and data --------------------------------------------------------------

    def _next_step(self, address: str) -> tuple[str, str] | None:
        with self.lock:
            attempt = self.attempts[address]
            self.attempts[address] += 1
            steps = self.script.get(address)
            if not steps:
                return None
            step = steps[min(attempt, len(steps) - 1)]
        if isinstance(step, tuple):
            stage, reply = step
            if stage not in ("rcpt", "data"):
                raise ValueError(f"script stage must be 'rcpt' or 'data', got {stage!r}")
            return stage, reply
        return "rcpt", step

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        step = self._next_step(address)
        if step is None:
            reply = self.refuse.get(address)
            if reply:
                return reply
        elif step[0] == "rcpt" and not step[1].strip().startswith("2"):
            return await self._act(server, step[1], address)
        elif step[0] == "data" and getattr(envelope, "scripted_data", None) is None:
            # SMTP has one reply to DATA: the first recipient with a DATA step decides it.
            envelope.scripted_data = (address, step[1])
        envelope.rcpt_tos.append(address)
        return expand_reply(step[1], address) if step and step[0] == "rcpt" else "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        scripted: tuple[str, str] | None = getattr(envelope, "scripted_data", None)
        if scripted and not scripted[1].strip().startswith("2"):
            return await self._act(server, scripted[1], scripted[0])
        received = Received(
            envelope.mail_from,
            list(envelope.rcpt_tos),
            envelope.original_content or envelope.content,
            self._connection(server),
        )
        with self.lock:
            self.received.append(received)
        if scripted:
            return expand_reply(scripted[1], scripted[0])
        return "250 Message accepted for delivery"

    async def _act(self, server: Any, reply: str, address: str) -> str:
        """Carry out a refusing step: a reply, a reply and a close, or no reply at all."""
        action = reply.strip().lower()
        transport = server.transport
        if action in ("drop", "reset"):
            if action == "reset" and transport is not None:
                sock = transport.get_extra_info("socket")
                if sock is not None:  # SO_LINGER 0: close() sends RST instead of FIN
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            if transport is not None:
                transport.abort()
            # aiosmtpd cancels this connection's task once the loss is noticed; until then
            # nothing may be written, so wait here instead of returning a reply.
            await asyncio.sleep(10)
            return "421 4.4.2 connection dropped"
        full = expand_reply(reply, address)
        if full.startswith("421") and transport is not None:
            # RFC 5321 §3.8: 421 closes the channel. The reply is written before this runs:
            # nothing yields between the hook's return and aiosmtpd's write.
            asyncio.get_running_loop().call_soon(transport.close)
        return full


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpServer:
    """Context manager running aiosmtpd on loopback."""

    def __init__(self, *, data_size_limit: int | None = DATA_SIZE_DEFAULT) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self._data_size_limit = data_size_limit
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, data_size_limit=data_size_limit
        )
        self.running = False

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        self.running = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the server: open connections are closed, new ones refused (an outage)."""
        if self.running:
            self.controller.stop()
            self.running = False

    def start_again(self) -> None:
        """After ``stop()``: serve again on the same port, with the same handler."""
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            data_size_limit=self._data_size_limit,
        )
        self.controller.start()
        self.running = True

    @property
    def received(self) -> list[Received]:
        """Messages accepted so far."""
        return self.handler.received
