"""Routes for mail providers' bounce and complaint webhooks: POST /webhooks/{provider}.

Only translates between HTTP and ``service.bounces``: a refused request (unsigned, forged,
replayed, not configured) is a BounceError, answered by ``web.app`` with its status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from newsletter.service.bounces import receive_webhook
from newsletter.web.context import WebContext, web_context

router = APIRouter()
Ctx = Annotated[WebContext, Depends(web_context)]
MAX_WEBHOOK_BYTES = 1024 * 1024  # SendGrid posts events in batches


@router.post("/webhooks/{provider}")
async def webhook(ctx: Ctx, request: Request, provider: str) -> Response:
    """Check the request's signature and record its events (a 2xx tells the provider it
    need not retry)."""
    body = await request.body()
    outcome = await run_in_threadpool(
        receive_webhook,
        ctx.app,
        provider,
        dict(request.headers),
        body,
        None,
        request.app.state.sns,
    )
    return JSONResponse(
        {
            "provider": outcome.provider,
            "events": outcome.events,
            "recorded": outcome.recorded.recorded,
            "suppressed": len(outcome.recorded.suppressed),
            "subscription_confirmed": outcome.confirmed_subscription,
        }
    )
