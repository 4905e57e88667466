"""`newsletter serve` and `preview-url`: the web app."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

import click

from newsletter.cli.boundary import at_least_info, config_option, err, handle_errors, load_app


@click.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes (each keeps its own rate-limit counts).",
)
@click.option(
    "--access-log",
    is_flag=True,
    help="Log every request. Off by default: paths hold subscriber and confirmation tokens.",
)
@handle_errors
def serve(config_path: Path | None, host: str, port: int, workers: int, access_log: bool) -> None:
    """Run the web app: subscribe and confirm, one-click unsubscribe, preferences, the archive,
    the editors' preview and the click redirect (see docs/web.md).

    Put it behind a reverse proxy that terminates TLS, set NEWSLETTER_BASE_URL to the public
    address and NEWSLETTER_TRUST_PROXY_HEADERS=true. Stop with Ctrl-C or SIGTERM.
    """
    import os

    import uvicorn

    from newsletter.web import create_app

    at_least_info()
    app = load_app(config_path)  # settings, feeds.yaml and the schema are checked once, here
    app.secret()  # created now if it has to be, not by several workers at once
    err.print(
        f"newsletter serve: listening on http://{host}:{port} with {workers} worker(s); "
        f"public address {app.settings.base_url}; Ctrl-C to stop"
    )
    mismatch = local_port_mismatch(app.settings.base_url, port)
    if mismatch:
        err.print(f"warning: {mismatch}")
    if workers == 1:
        uvicorn.run(
            create_app(app),
            host=host,
            port=port,
            proxy_headers=False,  # X-Forwarded-For is read only with NEWSLETTER_TRUST_PROXY_HEADERS
            server_header=False,
            access_log=access_log,
            log_config=None,  # our handler and format (newsletter.logs); uvicorn.error at WARNING
        )
        return
    if config_path is not None:
        os.environ["NEWSLETTER_CONFIG"] = str(config_path.resolve())  # for the workers
    app.engine.dispose()
    uvicorn.run(
        "newsletter.web:make_app_from_env",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        proxy_headers=False,
        server_header=False,
        access_log=access_log,
        log_config=None,
    )


def local_port_mismatch(base_url: str, port: int) -> str | None:
    """Why the emails' links will miss this server, when NEWSLETTER_BASE_URL is this machine on
    another port (trying `serve --port 8001` with the default http://localhost:8000); None
    otherwise (a public address is the reverse proxy's, whatever port this listens on)."""
    parts = urlsplit(base_url)
    if (parts.hostname or "") not in ("localhost", "127.0.0.1", "::1"):
        return None
    try:
        expected = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a port out of range: `check` reports the setting, not this warning
        return None
    if expected == port:
        return None
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    local = f"{parts.scheme}://{host}:{port}"
    return (
        f"NEWSLETTER_BASE_URL is {base_url}, but this serves port {port}: the links in the "
        f"emails and pages lead to port {expected}; set NEWSLETTER_BASE_URL={local}"
    )


@click.command("preview-url")
@config_option
@handle_errors
def preview_url(config_path: Path | None) -> None:
    """Print the address of the editors' preview with its secret token (keep it private).

    The token is NEWSLETTER_PREVIEW_TOKEN, else derived from the secret key.
    """
    from newsletter.service.preview import preview_token

    app = load_app(config_path)
    sys.stdout.write(f"{app.settings.base_url}/preview?token={preview_token(app)}\n")


COMMANDS = [serve, preview_url]
