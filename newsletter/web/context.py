"""What every route needs: the App, the mail transport, the pages and the rate limiters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

from newsletter.service.app import App, MailTransport
from newsletter.service.clicks import ClickCounter
from newsletter.web.limits import RequestRateLimiter, client_ip
from newsletter.web.pages import Pages


@dataclass
class WebContext:
    """Built once by create_app and kept on the FastAPI app's state."""

    app: App
    transport_factory: Callable[[], MailTransport]
    pages: Pages
    ip_limiter: RequestRateLimiter
    address_limiter: RequestRateLimiter
    clicks: ClickCounter

    def client_ip(self, request: Request) -> str:
        """The client's address (X-Forwarded-For only with NEWSLETTER_TRUST_PROXY_HEADERS)."""
        peer = request.client.host if request.client else None
        return client_ip(
            peer, request.headers.get("x-forwarded-for"), self.app.settings.trust_proxy_headers
        )


def web_context(request: Request) -> WebContext:
    """The WebContext of the app serving this request (a FastAPI dependency)."""
    ctx = request.app.state.web
    assert isinstance(ctx, WebContext)
    return ctx


__all__ = ["WebContext", "web_context"]
