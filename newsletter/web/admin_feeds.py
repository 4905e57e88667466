"""The workbench's feed page and special issues under /admin: each feed's health, add, edit,
disable and enable a feed, import an OPML file (admins only: feeds.yaml is the operator's
file), and create a one-off special issue (editors and admins).

Sessions and CSRF tokens are the workbench's (newsletter.web.admin): without a session a page
redirects to the sign-in form and a POST changes nothing; a POST without the session's CSRF
token is refused. Every feed form carries the version of feeds.yaml it was made from, and a
change to a file that changed meanwhile is refused (409) rather than applied on top."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from newsletter.errors import ConfigError, IssueError
from newsletter.service.accounts import SignedIn
from newsletter.service.feededits import (
    RECENT_CHANGES,
    FeedForm,
    FeedFormError,
    StaleConfigError,
    add_feed,
    edit_feed,
    feeds_version,
    import_opml_upload,
    recent_feed_changes,
    set_feed_enabled,
)
from newsletter.service.feedstats import WEEKS, feeds_overview
from newsletter.service.specials import create_special_issue, special_issues
from newsletter.web.admin import (
    AdminContext,
    Ctx,
    admin_page,
    current_account,
    require_admin,
    signed_form,
    to_login,
)
from newsletter.web.forms import Form, media_type, read_form

router = APIRouter()
MAX_OPML_UPLOAD = 2 * 1024 * 1024  # the body limit of /admin/feeds/import (app.py)
FEED_DONE = {
    "added": "Feed added to {path}; it is polled from the next ingest on.",
    "changed": "Feed changed in {path}.",
    "disabled": "Feed disabled in {path}: it is not polled, and its items leave the coming issues.",
    "enabled": "Feed enabled again in {path}; it is polled from the next ingest on.",
    "unchanged": "Nothing to change.",
}


WHAT_ADMINS_DO = "change the feeds (feeds.yaml is the operator's file)"


def _form_of(form: Form) -> FeedForm:
    return FeedForm(
        name=form.first("name"),
        url=form.first("url"),
        section=form.first("section"),
        language=form.first("language") or "en",
        weight=form.first("weight") or "1",
    )


def _feeds_page(
    ctx: AdminContext,
    who: SignedIn,
    status_code: int = 200,
    done: str | None = None,
    error: str | None = None,
    field: str | None = None,
    values: FeedForm | None = None,
    imported: Any = None,
) -> Response:
    overview = feeds_overview(ctx.web.app, datetime.now(UTC))
    return admin_page(
        ctx,
        "feeds.html",
        status_code=status_code,
        who=who,
        overview=overview,
        weeks=WEEKS,
        done=done,
        form_error=error,
        field=field,
        values=values or FeedForm("", "", overview.sections[0][0]),
        imported=imported,
        changes=recent_feed_changes(ctx.web.app),
        recent=RECENT_CHANGES,
    )


def _refused(
    ctx: AdminContext, who: SignedIn, exc: ConfigError, values: FeedForm | None
) -> Response:
    if isinstance(exc, StaleConfigError):
        return _feeds_page(ctx, who, 409, error=str(exc))
    field = exc.field if isinstance(exc, FeedFormError) else None
    return _feeds_page(ctx, who, 400, error=str(exc), field=field, values=values)


@router.get("/admin/feeds")
def feeds_page(ctx: Ctx, request: Request, done: str = "") -> Response:
    """Every configured feed with its health, and (for admins) the forms that change them."""
    who = current_account(ctx, request)
    if who is None:
        return to_login(request)
    path = ctx.web.app.config.path.name
    message = FEED_DONE[done].format(path=path) if done in FEED_DONE else None
    return _feeds_page(ctx, who, done=message)


@router.post("/admin/feeds")
async def feeds_action(ctx: Ctx, request: Request) -> Response:
    """Add a feed, or disable or enable one (admins only; CSRF token and file version)."""
    form = await read_form(request)
    # File and database work happen in the thread pool, off the event loop.
    return await run_in_threadpool(_feeds_action, ctx, request, form)


def _feeds_action(ctx: AdminContext, request: Request, form: Form) -> Response:
    who = signed_form(ctx, request, form)
    if who is None:
        return to_login(request)
    require_admin(who, WHAT_ADMINS_DO)
    action, version = form.first("action"), form.first("version")
    app = ctx.web.app
    values = _form_of(form) if action == "add" else None
    try:
        if action == "add":
            assert values is not None
            add_feed(app, values, version, who.email)
            done = "added"
        elif action in ("disable", "enable"):
            feed = app.feeds_by_name.get(form.first("name"))
            was = feed.enabled if feed else None
            set_feed_enabled(app, form.first("name"), action == "enable", version, who.email)
            done = "unchanged" if was == (action == "enable") else f"{action}d"
        else:
            raise HTTPException(400, "action must be add, disable or enable")
    except ConfigError as exc:
        return _refused(ctx, who, exc, values)
    return RedirectResponse(f"/admin/feeds?done={done}", status_code=303)


@router.get("/admin/feeds/edit")
def feed_edit_page(ctx: Ctx, request: Request, name: str = "") -> Response:
    """One feed's form (admins only)."""
    who = current_account(ctx, request)
    if who is None:
        return to_login(request)
    require_admin(who, WHAT_ADMINS_DO)
    app = ctx.web.app
    app.reload_config_if_changed()
    feed = app.feeds_by_name.get(name)
    if feed is None:
        raise HTTPException(404, f"there is no feed named {name[:200]!r}")
    values = FeedForm(feed.name, feed.url, feed.section, feed.language, f"{feed.weight:g}")
    return _edit_page(ctx, who, name, values, feeds_version(app))


def _edit_page(
    ctx: AdminContext,
    who: SignedIn,
    original: str,
    values: FeedForm,
    version: str,
    status_code: int = 200,
    error: str | None = None,
    field: str | None = None,
) -> Response:
    app = ctx.web.app
    return admin_page(
        ctx,
        "feed_edit.html",
        status_code=status_code,
        who=who,
        original=original,
        values=values,
        version=version,
        sections=[(s.id, s.title) for s in app.config.sections],
        form_error=error,
        field=field,
    )


@router.post("/admin/feeds/edit")
async def feed_edit(ctx: Ctx, request: Request) -> Response:
    """Change one feed's name, address, section, language or weight (admins only)."""
    form = await read_form(request)
    return await run_in_threadpool(_feed_edit, ctx, request, form)


def _feed_edit(ctx: AdminContext, request: Request, form: Form) -> Response:
    who = signed_form(ctx, request, form)
    if who is None:
        return to_login(request)
    require_admin(who, WHAT_ADMINS_DO)
    original, version, values = form.first("original"), form.first("version"), _form_of(form)
    try:
        before = ctx.web.app.feeds_by_name.get(original)
        after = edit_feed(ctx.web.app, original, values, version, who.email)
    except StaleConfigError as exc:
        return _feeds_page(ctx, who, 409, error=str(exc))
    except ConfigError as exc:
        field = exc.field if isinstance(exc, FeedFormError) else None
        return _edit_page(ctx, who, original, values, version, 400, str(exc), field)
    done = "unchanged" if after == before else "changed"
    return RedirectResponse(f"/admin/feeds?done={done}", status_code=303)


@router.post("/admin/feeds/import")
async def feeds_import(ctx: Ctx, request: Request) -> Response:
    """Add the new feeds of an uploaded OPML file (admins only; multipart, CSRF token)."""
    if media_type(request) != "multipart/form-data":
        raise HTTPException(415, "upload the OPML file as multipart/form-data")
    parsed = await request.form(max_files=1, max_fields=10, max_part_size=16 * 1024)
    values: dict[str, list[str]] = {}
    data: bytes | None = None
    for key, value in parsed.multi_items():
        if isinstance(value, UploadFile):
            if key == "file":
                data = await value.read(MAX_OPML_UPLOAD + 1)
        else:
            values.setdefault(key, []).append(value)
    await parsed.close()
    return await run_in_threadpool(_feeds_import, ctx, request, Form(values), data)


def _feeds_import(ctx: AdminContext, request: Request, form: Form, data: bytes | None) -> Response:
    who = signed_form(ctx, request, form)
    if who is None:
        return to_login(request)
    require_admin(who, WHAT_ADMINS_DO)
    if not data:
        return _feeds_page(ctx, who, 400, error="file: choose an OPML file to import", field="file")
    section = form.first("section") or None
    try:
        report = import_opml_upload(ctx.web.app, data, section, form.first("version"), who.email)
    except ConfigError as exc:
        return _refused(ctx, who, exc, None)
    done = f"{len(report.added)} feed(s) added, {len(report.skipped)} skipped."
    return _feeds_page(ctx, who, done=done, imported=report)


# ---- special issues ------------------------------------------------------------------------


def _specials_page(
    ctx: AdminContext,
    who: SignedIn,
    status_code: int = 200,
    done: str | None = None,
    error: str | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    app = ctx.web.app
    return admin_page(
        ctx,
        "specials.html",
        status_code=status_code,
        who=who,
        specials=special_issues(app),
        tz=app.config.newsletter.tz,
        timezone=app.config.newsletter.timezone,
        done=done,
        form_error=error,
        field=(error or "").split(":", 1)[0] if error else None,
        values=values or {},
    )


@router.get("/admin/specials")
def specials_page(ctx: Ctx, request: Request, created: str = "") -> Response:
    """The special issues, and the form that creates one."""
    who = current_account(ctx, request)
    if who is None:
        return to_login(request)
    done = f"Special issue {created} created: open its draft below." if created else None
    return _specials_page(ctx, who, done=done)


@router.post("/admin/specials")
async def specials_action(ctx: Ctx, request: Request) -> Response:
    """Create a special issue (editors and admins; CSRF token required)."""
    form = await read_form(request)
    return await run_in_threadpool(_specials_action, ctx, request, form)


def _day(form: Form, field: str) -> date:
    try:
        return date.fromisoformat(form.first(field).strip())
    except ValueError as exc:
        raise IssueError(f"{field}: enter a date as YYYY-MM-DD") from exc


def _specials_action(ctx: AdminContext, request: Request, form: Form) -> Response:
    who = signed_form(ctx, request, form)
    if who is None:
        return to_login(request)
    values = {k: form.first(k) for k in ("name", "from", "to", "title")}
    try:
        made = create_special_issue(
            ctx.web.app,
            values["name"],
            _day(form, "from"),
            _day(form, "to"),
            values["title"],
            who.email,
        )
    except IssueError as exc:
        message = str(exc)
        if message.split(":", 1)[0] not in ("name", "from", "to", "title"):
            message = f"name: {message}" if "special issue name" in message else f"to: {message}"
        return _specials_page(ctx, who, 400, error=message, values=values)
    return RedirectResponse(f"/admin/specials?created={quote(made.period)}", status_code=303)


__all__ = ["MAX_OPML_UPLOAD", "router"]
