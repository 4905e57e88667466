"""ASGI middleware: security headers on every response, and a cap on request bodies."""

from __future__ import annotations

from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No scripts anywhere; styles from our stylesheet; forms post back to us; never framed.
DEFAULT_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
# A sent issue: the email's own <style> and style attributes, remote images, no forms.
ARCHIVE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src http: https: data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# The preview frames the email in <iframe sandbox srcdoc>, which inherits this policy: the
# email's inline styles and remote images are allowed, scripts still are not.
PREVIEW_CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' http: https: data:; "
    "frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class SecurityHeadersMiddleware:
    """Adds the security headers, a default Content-Security-Policy and ``Cache-Control:
    no-store`` to every HTTP response that did not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                defaults = (
                    *SECURITY_HEADERS,
                    (b"content-security-policy", DEFAULT_CSP.encode()),
                    (b"cache-control", b"no-store"),
                )
                headers += [(n, v) for n, v in defaults if n not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLargeError(HTTPException):
    """The request body is larger than the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit // 1024} KB")


class BodyLimitMiddleware:
    """Refuses request bodies over ``max_bytes``: at once when Content-Length says so
    (``reject`` builds the 413 response), else while the body is read (chunked uploads)."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        reject: Callable[[Scope, HTTPException], Response],
        path_limits: tuple[tuple[str, int], ...] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.reject = reject
        self.path_limits = path_limits  # (path prefix, max bytes): larger bodies for some paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = next((n for prefix, n in self.path_limits if path.startswith(prefix)), None)
        max_bytes = self.max_bytes if limit is None else limit
        declared = _content_length(scope)
        if declared is None or declared < 0:
            error = HTTPException(400, "the Content-Length header is not a number")
            await self.reject(scope, error)(scope, receive, send)
            return
        if declared > max_bytes:
            await self.reject(scope, BodyTooLargeError(max_bytes))(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLargeError(max_bytes)
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope: Scope) -> int | None:
    """The declared body size: 0 when absent, None when unreadable."""
    values = [v for n, v in scope.get("headers", []) if n.lower() == b"content-length"]
    if not values:
        return 0
    if len(set(values)) > 1 or not values[0].strip().isdigit():
        return None
    return int(values[0])


__all__ = [
    "ARCHIVE_CSP",
    "DEFAULT_CSP",
    "PREVIEW_CSP",
    "BodyLimitMiddleware",
    "BodyTooLargeError",
    "SecurityHeadersMiddleware",
]
