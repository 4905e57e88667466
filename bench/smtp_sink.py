"""An aiosmtpd server in a child process that accepts, counts and discards every message.

The benchmarks run it in its own process (``spawn``) so that the server never competes with
the measured client for the GIL. Counters live in shared memory: the parent reads how many
messages and bytes the server accepted, and on how many connections.

    with running_sink() as sink:
        ...send to 127.0.0.1:sink.port...
        assert sink.messages() == n
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized
from typing import Any

START_TIMEOUT = 30.0


class CountingHandler:
    """aiosmtpd handler: counts messages, bytes and greeted connections, keeps nothing."""

    def __init__(
        self, messages: Synchronized[int], size: Synchronized[int], conns: Synchronized[int]
    ) -> None:
        self.messages = messages
        self.size = size
        self.connections = conns

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to a handle_EHLO hook
        if not getattr(server, "sink_counted", False):
            server.sink_counted = True
            with self.connections.get_lock():
                self.connections.value += 1
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        # One event loop thread: the locks only guard against the parent's reset().
        with self.messages.get_lock():
            self.messages.value += 1
        with self.size.get_lock():
            self.size.value += len(envelope.original_content or b"")
        return "250 2.0.0 OK"


def _serve(
    conn: Connection,
    host: str,
    messages: Synchronized[int],
    size: Synchronized[int],
    connections: Synchronized[int],
    data_size_limit: int | None,
) -> None:
    """Child process: serve on an ephemeral port, send it to the parent, stop on EOF."""
    from aiosmtpd.smtp import SMTP

    handler = CountingHandler(messages, size, connections)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(
            lambda: SMTP(
                handler,
                hostname="sink.localhost",
                data_size_limit=data_size_limit,
                enable_SMTPUTF8=True,
                loop=loop,
            ),
            host=host,
            port=0,
            backlog=256,
        )
    )
    port = server.sockets[0].getsockname()[1]

    def on_parent() -> None:  # a message or EOF (the parent exited): stop
        with suppress(EOFError, OSError):
            conn.recv()
        loop.stop()

    loop.add_reader(conn.fileno(), on_parent)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    conn.send(port)
    try:
        loop.run_forever()
    finally:
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()


@dataclass
class Sink:
    """A running sink: its address and counters."""

    host: str
    port: int
    process: BaseProcess
    _conn: Connection
    _messages: Synchronized[int]
    _bytes: Synchronized[int]
    _connections: Synchronized[int]

    def messages(self) -> int:
        """Messages accepted since the start (or the last reset)."""
        return int(self._messages.value)

    def bytes(self) -> int:
        """Message bytes accepted, after dot-unstuffing."""
        return int(self._bytes.value)

    def connections(self) -> int:
        """Connections that said EHLO."""
        return int(self._connections.value)

    def reset(self) -> None:
        """Zero the counters between runs."""
        for counter in (self._messages, self._bytes, self._connections):
            with counter.get_lock():
                counter.value = 0

    def stop(self) -> None:
        """Stop the child process."""
        with suppress(OSError):
            self._conn.send("stop")
        self._conn.close()
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def start_sink(host: str = "127.0.0.1", data_size_limit: int | None = None) -> Sink:
    """Start the sink in a spawned process; returns once it listens."""
    context = multiprocessing.get_context("spawn")
    messages = context.Value("q", 0)
    size = context.Value("q", 0)
    connections = context.Value("q", 0)
    parent, child = context.Pipe()
    process = context.Process(
        target=_serve,
        args=(child, host, messages, size, connections, data_size_limit),
        name="smtp-sink",
        daemon=True,
    )
    process.start()
    child.close()
    try:
        if not parent.poll(START_TIMEOUT):
            raise RuntimeError(f"the SMTP sink did not start within {START_TIMEOUT:.0f} s")
        port = int(parent.recv())
    except EOFError as exc:  # spawn re-imports __main__: a caller without the main guard
        process.join(5)
        raise RuntimeError(
            f"the SMTP sink process exited before listening (exit code {process.exitcode}); "
            "start it under `if __name__ == '__main__':`"
        ) from exc
    except RuntimeError:
        process.kill()
        raise
    return Sink(host, port, process, parent, messages, size, connections)


@contextmanager
def running_sink(host: str = "127.0.0.1", data_size_limit: int | None = None) -> Iterator[Sink]:
    """start_sink() as a context manager."""
    sink = start_sink(host, data_size_limit)
    try:
        yield sink
    finally:
        sink.stop()
