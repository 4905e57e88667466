"""The FastAPI app: routes, middleware, and every error turned into a short page (never a trace)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from http import HTTPStatus

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from newsletter.config import load_settings, warn_unknown_variables
from newsletter.domain.assemble import edition_title
from newsletter.email.i18n import N_
from newsletter.errors import BounceError, DatabaseError, NewsletterError, SubscriberError
from newsletter.logs import at_least_info, configure_logging
from newsletter.service.app import App, MailTransport, open_app
from newsletter.service.archive import IssueNotFoundError
from newsletter.service.bounces import sns_verifier
from newsletter.service.clicks import ClickCounter, UnknownLinkError
from newsletter.service.subscriptions import ExpiredTokenError, UnknownTokenError
from newsletter.web import (
    admin,
    admin_feeds,
    admin_stats,
    admin_subscribers,
    archive,
    metrics,
    preview,
    subscribe,
    webhooks,
)
from newsletter.web.context import WebContext
from newsletter.web.limits import RequestRateLimiter
from newsletter.web.middleware import (
    DEFAULT_CSP,
    SECURITY_HEADERS,
    BodyLimitMiddleware,
    SecurityHeadersMiddleware,
)
from newsletter.web.pages import Pages

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024
RETRY_AFTER_SECONDS = "30"  # on a 503: mail providers retry a one-click unsubscribe then

# Expected failures from the service layer, most specific first.
ERROR_STATUS: tuple[tuple[type[NewsletterError], int], ...] = (
    (UnknownTokenError, 404),
    (ExpiredTokenError, 410),
    (IssueNotFoundError, 404),
    (UnknownLinkError, 404),
    (SubscriberError, 400),
    (DatabaseError, 503),
)
TITLES = {
    400: N_("That did not work"),
    401: N_("Preview token needed"),
    403: N_("Wrong token"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    410: N_("This link has expired"),
    413: N_("Request too large"),
    415: N_("Unsupported content type"),
    422: N_("Invalid request"),
    503: N_("Temporarily unavailable"),
}
UNAVAILABLE_MESSAGE = N_(
    "We cannot take this request right now, and nothing was changed. Please try again in a minute."
)
FRIENDLY = {
    404: N_("There is nothing at this address. Check the link, or start from the archive."),
    405: N_("This address does not accept that kind of request."),
}


def _phrase(status: int) -> str:
    """The standard reason phrase of a status code ("" for an unknown code)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def create_app(app: App, transport_factory: Callable[[], MailTransport] | None = None) -> FastAPI:
    """The web app over a loaded App; confirmation emails go through ``transport_factory()``
    (default: the configured transport, a new one per message)."""
    settings = app.settings
    nl = app.config.newsletter
    pages = Pages(
        app.config.templates_dir / "web",
        {
            "title": edition_title(dict(nl.titles), nl.title, nl.language),
            "language": nl.language,
            "sender_name": nl.sender.name,
            "base_url": settings.base_url,
        },
    )
    context = WebContext(
        app=app,
        transport_factory=transport_factory or app.transport,
        pages=pages,
        ip_limiter=RequestRateLimiter(settings.subscribe_limit_per_ip),
        address_limiter=RequestRateLimiter(settings.subscribe_limit_per_address),
        clicks=ClickCounter(app.engine),
    )

    @asynccontextmanager
    async def lifespan(_web: FastAPI) -> AsyncIterator[None]:
        yield
        context.clicks.close()  # write the clicks still queued, or say how many are lost

    web = FastAPI(
        title=nl.title,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,
        lifespan=lifespan,
    )
    web.state.web = context
    web.state.sns = sns_verifier(app)  # keeps the SNS certificates it fetched
    for module in (
        subscribe,
        archive,
        preview,
        admin,
        webhooks,
        metrics,
        admin_subscribers,
        admin_stats,
        admin_feeds,
    ):
        web.include_router(module.router)

    def error_response(
        request_path: str, status: int, message: str, shown: str | None = None
    ) -> Response:
        """The error as JSON (``message``, English) or as a page (``shown``, else ``message``
        through the catalog)."""
        wants_json = request_path.startswith(("/api/", "/webhooks/")) or request_path in (
            "/healthz",
            "/metrics",
        )
        if wants_json:
            response: Response = JSONResponse({"error": message}, status_code=status)
        else:
            title = pages.gettext(TITLES.get(status) or _phrase(status) or N_("Error"))
            try:
                response = pages.page(
                    "error.html",
                    status_code=status,
                    status=status,
                    title=title,
                    message=shown or (pages.gettext(message) if message else message),
                )
            except NewsletterError:  # a broken error template must not hide the error
                response = Response(message, status_code=status, media_type="text/plain")
        # Also for a 500 answered outside the middleware stack.
        for name, value in (*SECURITY_HEADERS, (b"content-security-policy", DEFAULT_CSP.encode())):
            response.headers.setdefault(name.decode(), value.decode())
        response.headers.setdefault("cache-control", "no-store")
        if status == 503:
            # The request changed nothing and may work later (the database is locked, full or
            # read-only): RFC 9110 §10.2.3; a mail provider retries a one-click unsubscribe.
            response.headers.setdefault("retry-after", RETRY_AFTER_SECONDS)
        return response

    def reject(scope: Scope, exc: HTTPException) -> Response:
        return error_response(scope.get("path", ""), exc.status_code, str(exc.detail))

    web.add_middleware(
        BodyLimitMiddleware,
        max_bytes=MAX_BODY_BYTES,
        reject=reject,
        path_limits=(
            ("/webhooks/", webhooks.MAX_WEBHOOK_BYTES),
            (admin_subscribers.IMPORT_PATH, admin_subscribers.MAX_UPLOAD_BYTES),
            ("/admin/feeds/import", admin_feeds.MAX_OPML_UPLOAD),
        ),
    )
    web.add_middleware(SecurityHeadersMiddleware)

    @web.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        default = _phrase(exc.status_code)
        detail = str(exc.detail)
        message = FRIENDLY.get(exc.status_code, detail) if detail == default else detail
        response = error_response(request.url.path, exc.status_code, message)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @web.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request.url.path, 422, "the request is not valid for this address")

    @web.exception_handler(NewsletterError)
    async def service_error(request: Request, exc: NewsletterError) -> Response:
        if isinstance(exc, BounceError):  # a refused webhook: its own status, logged once
            log.warning("%s %s refused: %s", request.method, request.url.path, exc)
            return error_response(request.url.path, exc.status, str(exc))
        for kind, status in ERROR_STATUS:
            if isinstance(exc, kind):
                if status >= 500:
                    # The database's own words (host, file, reason) go to the log only.
                    log.warning("%s %s: %s", request.method, request.url.path, exc)
                    return error_response(request.url.path, status, UNAVAILABLE_MESSAGE)
                shown = exc.in_language(pages.gettext) if isinstance(exc, SubscriberError) else None
                return error_response(request.url.path, status, str(exc), shown)
        log.error("%s %s failed: %s", request.method, request.url.path, exc)
        detail = str(exc) if request.url.path.startswith("/preview") else ""
        return error_response(
            request.url.path, 500, detail or "Something went wrong on our side; try again later."
        )

    @web.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> Response:
        log.exception("%s %s failed", request.method, request.url.path)
        return error_response(
            request.url.path, 500, "Something went wrong on our side; try again later."
        )

    return web


def make_app_from_env() -> FastAPI:
    """The app from NEWSLETTER_* settings and feeds.yaml (for uvicorn/gunicorn workers:
    ``uvicorn --factory newsletter.web:make_app_from_env``)."""
    settings = load_settings(warn_unknown=False)
    configure_logging(at_least_info(settings.log_level), settings.log_format)
    warn_unknown_variables()  # in the configured format, once per worker process
    return create_app(open_app(settings))


__all__ = ["create_app", "make_app_from_env"]
