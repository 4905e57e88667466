"""A small threaded HTTP server on 127.0.0.1 that serves feeds, with ETag/304, gzip and latency,
and the misbehaviours the hostile-feed tests need: trickling bytes, endless or huge bodies."""

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
    drip: float = 0.0  # seconds between single bytes of the body (a trickling server)
    repeat: int = 1  # the body is sent this many times, streamed (never held whole in memory)
    endless: bool = False  # the body is repeated until the client hangs up (no Content-Length)
    header_drip: float = 0.0  # seconds between bytes of a header line that never ends


class FeedServer:
    """Serve routes over loopback HTTP in a background thread; use as a context manager."""

    def __init__(
        self,
        routes: dict[str, Route] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
    ) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.latency = latency
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()  # ends streaming replies when the server stops
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with server._lock:
                    server.requests.append((path, {k.lower(): v for k, v in self.headers.items()}))
                    route = server.routes.get(path)
                if server.latency:
                    time.sleep(server.latency)
                if route is None:
                    self._reply(404, b"not found", "text/plain", {})
                    return
                if route.delay:
                    time.sleep(route.delay)
                if route.header_drip:
                    self._drip_headers(route.header_drip)
                    return
                headers = dict(route.headers)
                if route.drip or route.repeat != 1 or route.endless:
                    self._stream(route, headers)
                    return
                if route.etag and route.status == 200:
                    tag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
                    headers["ETag"] = tag
                    if self.headers.get("If-None-Match") == tag:
                        self._reply(304, b"", None, {"ETag": tag})
                        return
                self._reply(route.status, route.body, route.content_type, headers)

            def _reply(
                self, status: int, body: bytes, content_type: str | None, headers: dict[str, str]
            ) -> None:
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

            def _stream(self, route: Route, headers: dict[str, str]) -> None:
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                for key, value in headers.items():
                    self.send_header(key, value)
                if route.endless:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                else:
                    self.send_header("Content-Length", str(len(route.body) * route.repeat))
                self.end_headers()
                sent = 0
                with contextlib.suppress(OSError):
                    while not server._stopped.is_set() and (route.endless or sent < route.repeat):
                        if route.drip:
                            for byte in route.body:
                                if server._stopped.wait(route.drip):
                                    return
                                self.wfile.write(bytes([byte]))
                                self.wfile.flush()
                        else:
                            self.wfile.write(route.body)
                        sent += 1

            def _drip_headers(self, interval: float) -> None:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    self.wfile.flush()
                    while not server._stopped.wait(interval):
                        self.wfile.write(b"a")
                        self.wfile.flush()

        class QuietServer(ThreadingHTTPServer):
            # A class attribute: it must be set before listen() runs in the constructor.
            request_queue_size = 256

            def handle_error(self, request: Any, client_address: Any) -> None:
                return None  # clients closing keep-alive connections is normal here

        self._httpd = QuietServer((host, port), Handler)
        self._httpd.daemon_threads = True
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
        self._stopped.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
