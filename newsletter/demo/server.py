"""A small threaded HTTP server on 127.0.0.1 that serves feeds, with ETag/304, gzip and latency
(the demo and the benchmarks; the tests add their hostile behaviours in tests/hostile_server.py)."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    """What one path answers."""

    body: bytes = b""
    content_type: str = "application/xml"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = True
    delay: float = 0.0


class FeedHandler(BaseHTTPRequestHandler):
    """Answers GET from the owning FeedServer's routes; subclass and override `answer` to
    serve routes differently (the hostile-feed tests do)."""

    protocol_version = "HTTP/1.1"
    server: _Httpd

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        feeds = self.server.feeds
        path = self.path.split("?", 1)[0]
        with feeds.lock:
            feeds.requests.append((path, {k.lower(): v for k, v in self.headers.items()}))
            route = feeds.routes.get(path)
        if feeds.latency:
            time.sleep(feeds.latency)
        if route is None:
            self.reply(404, b"not found", "text/plain", {})
            return
        if route.delay:
            time.sleep(route.delay)
        self.answer(route)

    def answer(self, route: Route) -> None:
        """Reply with the route's body, with an ETag and 304 for a matching If-None-Match."""
        headers = dict(route.headers)
        if route.etag and route.status == 200:
            tag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
            headers["ETag"] = tag
            if self.headers.get("If-None-Match") == tag:
                self.reply(304, b"", None, {"ETag": tag})
                return
        self.reply(route.status, route.body, route.content_type, headers)

    def reply(
        self, status: int, body: bytes, content_type: str | None, headers: dict[str, str]
    ) -> None:
        """One whole reply with a Content-Length."""
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)


class _Httpd(ThreadingHTTPServer):
    # A class attribute: it must be set before listen() runs in the constructor.
    request_queue_size = 256
    daemon_threads = True

    def __init__(self, feeds: FeedServer, address: tuple[str, int], handler: type[FeedHandler]):
        self.feeds = feeds
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # clients closing keep-alive connections is normal here


class FeedServer:
    """Serve routes over loopback HTTP in a background thread; use as a context manager."""

    def __init__(
        self,
        routes: dict[str, Route] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        handler: type[FeedHandler] = FeedHandler,
    ) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.latency = latency
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()  # ends streaming replies when the server stops
        self._httpd = _Httpd(self, (host, port), handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="feed-server",
            daemon=True,
        )

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT"""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        """The full URL of a path."""
        return self.base_url + path

    def start(self) -> FeedServer:
        """Start serving in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
