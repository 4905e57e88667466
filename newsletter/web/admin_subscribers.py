"""The workbench's subscriber pages: search and status filter with paging, one subscriber's
consent evidence, bounces and deliveries, CSV export, and a CSV import in two steps (upload
and check the detected columns, then import).

Editors and admins see the list and each subscriber; export and import (the whole audience
out, many addresses in) are for admins. Sessions and CSRF work as on every workbench page
(newsletter.web.admin): without a session a page redirects to the sign-in form and a POST
changes nothing; a POST without the session's CSRF token is refused with 403."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from newsletter.errors import DatabaseUnavailableError, SubscriberError
from newsletter.service.accounts import SignedIn
from newsletter.service.audience import (
    STATUS_FILTERS,
    ImportPreview,
    import_upload,
    preview_upload,
    save_upload,
    search,
    subscriber_detail,
)
from newsletter.service.subscribers import ImportReport, export_csv
from newsletter.web.admin import (
    AdminContext,
    Ctx,
    admin_page,
    check_csrf,
    current_account,
    require_admin,
    signed_form,
    to_login,
)
from newsletter.web.forms import MAX_FIELD_BYTES, Form, media_type, read_form

router = APIRouter()
MAX_UPLOAD_BYTES = 32 * 1024 * 1024  # a 40,000-row Mailchimp export is about 8 MB
IMPORT_PATH = "/admin/subscribers/import"
IMPORT_STOPPED = (
    "The database stopped taking writes during the import (the server log says why). The rows "
    "imported before that are stored. Press Import again when it takes writes: rows already "
    "there count as unchanged."
)
log = logging.getLogger(__name__)


@router.get("/admin/subscribers")
def subscribers_page(
    ctx: Ctx, request: Request, q: str = "", status: str = "", page: str = "1"
) -> Response:
    """Subscribers by address: search by address or name, filter by status, 50 a page."""
    who = current_account(ctx, request)
    if who is None:
        return to_login(request)
    error = None
    try:
        number = int(page) if page.strip().isdigit() else 0
        if number < 1:
            raise SubscriberError("page: must be a whole number, 1 or more")
        found = search(ctx.web.app, q, status, number)
    except SubscriberError as exc:
        error = str(exc)
        found = search(ctx.web.app)
    return admin_page(
        ctx,
        "subscribers.html",
        status_code=400 if error else 200,
        who=who,
        found=found,
        statuses=STATUS_FILTERS,
        error=error,
    )


@router.get("/admin/subscribers.csv")
def subscribers_csv(ctx: Ctx, request: Request) -> Response:
    """Every subscriber as CSV, as `newsletter subscribers export` writes it (admins only)."""
    who = current_account(ctx, request)
    if who is None:
        return to_login(request)
    require_admin(who, "export the subscribers")
    return Response(
        export_csv(ctx.web.app),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="subscribers.csv"',
            "Cache-Control": "no-store",
        },
    )


def _import_page(
    ctx: AdminContext,
    who: SignedIn,
    status_code: int = 200,
    preview: ImportPreview | None = None,
    report: ImportReport | None = None,
    error: str | None = None,
    chosen: dict[str, str] | None = None,
) -> Response:
    return admin_page(
        ctx,
        "subscribers_import.html",
        status_code=status_code,
        who=who,
        preview=preview,
        report=report,
        error=error,
        chosen=chosen or {},
        max_megabytes=MAX_UPLOAD_BYTES // (1024 * 1024),
    )


@router.get(IMPORT_PATH)
def import_form(ctx: Ctx, request: Request) -> Response:
    """Step 1: the upload form (admins only)."""
    who = current_account(ctx, request)
    if who is None:
        return to_login(request)
    require_admin(who, "import subscribers")
    return _import_page(ctx, who)


@router.post(IMPORT_PATH)
async def import_upload_step(ctx: Ctx, request: Request) -> Response:
    """Step 1 sent: keep the file and show its columns as detected, to check or change."""
    who = await run_in_threadpool(current_account, ctx, request)
    if who is None:
        return to_login(request)
    require_admin(who, "import subscribers")
    if media_type(request) != "multipart/form-data":
        raise HTTPException(415, "send the file with the form (multipart/form-data)")
    form = await request.form(max_files=1, max_fields=10, max_part_size=MAX_FIELD_BYTES)
    token = form.get("csrf_token")
    check_csrf(Form({"csrf_token": [token if isinstance(token, str) else ""]}), who.csrf_token)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _import_page(ctx, who, 400, error="file: choose a CSV file to upload")
    return await run_in_threadpool(_keep_and_preview, ctx, who, upload)


def _keep_and_preview(ctx: AdminContext, who: SignedIn, upload: UploadFile) -> Response:
    upload_id = save_upload(ctx.web.app, upload.file)
    try:
        preview = preview_upload(ctx.web.app, upload_id)
    except SubscriberError as exc:
        return _import_page(ctx, who, 400, error=str(exc))
    return _import_page(ctx, who, preview=preview)


@router.post(IMPORT_PATH + "/run")
async def import_run(ctx: Ctx, request: Request) -> Response:
    """Step 2: import the kept file with the chosen columns, in the CLI import's batches."""
    form = await read_form(request)
    # Database work happens in the thread pool, off the event loop.
    return await run_in_threadpool(_import_run, ctx, request, form)


def _import_run(ctx: AdminContext, request: Request, form: Form) -> Response:
    who = signed_form(ctx, request, form)
    if who is None:
        return to_login(request)
    require_admin(who, "import subscribers")
    upload_id = form.first("upload")
    chosen = {
        "email_column": form.first("email_column"),
        "name_column": form.first("name_column"),
        "update_names": form.first("update_names"),
    }
    try:
        report = import_upload(
            ctx.web.app,
            upload_id,
            chosen["email_column"],
            chosen["name_column"],
            update_names=chosen["update_names"] == "on",
        )
    except DatabaseUnavailableError as exc:
        # Some batches may be stored: say so (not the generic "nothing was changed"), keep the
        # upload, and offer the same form again. The database's own words go to the log only.
        log.warning("subscriber import by %s stopped: %s", who.email, exc)
        try:
            preview = preview_upload(ctx.web.app, upload_id)
        except SubscriberError:
            preview = None
        return _import_page(
            ctx,
            who,
            503,
            preview=preview,
            error=IMPORT_STOPPED,
            chosen=chosen,
        )
    except SubscriberError as exc:
        try:
            preview = preview_upload(ctx.web.app, upload_id)
        except SubscriberError:
            preview = None
        return _import_page(ctx, who, 400, preview=preview, error=str(exc), chosen=chosen)
    return _import_page(ctx, who, report=report)


@router.get("/admin/subscribers/{subscriber_id:int}")
def subscriber_page(ctx: Ctx, request: Request, subscriber_id: int) -> Response:
    """One subscriber: status, consent evidence, unsubscribe time, bounces and deliveries."""
    who = current_account(ctx, request)
    if who is None:
        return to_login(request)
    detail = subscriber_detail(ctx.web.app, subscriber_id)
    if detail is None:
        raise HTTPException(404, "no such subscriber; search for the address on /admin/subscribers")
    return admin_page(ctx, "subscriber.html", who=who, s=detail)


__all__ = ["IMPORT_PATH", "MAX_UPLOAD_BYTES", "router"]
