"""The feed server's misbehaviours for the hostile-feed tests: trickling bytes, a header line
that never ends, endless or huge streamed bodies, a reply held until the test releases it."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

from newsletter.demo.server import FeedHandler, FeedServer, Route


@dataclass
class HostileRoute(Route):
    """A route that misbehaves."""

    drip: float = 0.0  # seconds between single bytes of the body (a trickling server)
    repeat: int = 1  # the body is sent this many times, streamed (never held whole in memory)
    endless: bool = False  # the body is repeated until the client hangs up (no Content-Length)
    header_drip: float = 0.0  # seconds between bytes of a header line that never ends


@dataclass
class HeldRoute(Route):
    """A route that answers (as a plain route) only once the test sets ``release``, or after
    ``hold_max`` seconds, or when the server stops: a feed whose request is still in flight."""

    release: threading.Event = field(default_factory=threading.Event)
    hold_max: float = 120.0


class HostileHandler(FeedHandler):
    """Serves HostileRoute's and HeldRoute's behaviours; plain routes as usual."""

    def answer(self, route: Route) -> None:
        if isinstance(route, HeldRoute):
            stopping = self.server.feeds.stopping
            waited = 0.0
            while not route.release.wait(0.05) and not stopping.is_set():
                waited += 0.05
                if waited >= route.hold_max:
                    break
            super().answer(route)
        elif not isinstance(route, HostileRoute):
            super().answer(route)
        elif route.header_drip:
            self._drip_headers(route.header_drip)
        elif route.drip or route.repeat != 1 or route.endless:
            self._stream(route)
        else:
            super().answer(route)

    def _stream(self, route: HostileRoute) -> None:
        stopping = self.server.feeds.stopping
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        for key, value in route.headers.items():
            self.send_header(key, value)
        if route.endless:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(route.body) * route.repeat))
        self.end_headers()
        sent = 0
        with contextlib.suppress(OSError):
            while not stopping.is_set() and (route.endless or sent < route.repeat):
                if route.drip:
                    for byte in route.body:
                        if stopping.wait(route.drip):
                            return
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                else:
                    self.wfile.write(route.body)
                sent += 1

    def _drip_headers(self, interval: float) -> None:
        stopping = self.server.feeds.stopping
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            self.wfile.flush()
            while not stopping.wait(interval):
                self.wfile.write(b"a")
                self.wfile.flush()


class HostileFeedServer(FeedServer):
    """A FeedServer that also serves HostileRoute's misbehaviours."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, handler=HostileHandler, **kwargs)
