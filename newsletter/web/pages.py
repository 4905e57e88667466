"""Web pages from the Jinja2 templates in ``templates/web/`` (sandboxed, autoescaped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from starlette.responses import HTMLResponse

from newsletter.email.i18n import WEB_DOMAIN, translations
from newsletter.email.templates import render_template
from newsletter.errors import TemplateError

STYLESHEET = "style.css"


class Pages:
    """Renders the web templates with the newsletter's name and links in every page.

    The pages' own words go through gettext in the newsletter's language (``site["language"]``,
    catalog WEB_DOMAIN): `{{ _("Subscribe") }}` in a template, ``pages.gettext(...)`` for a
    message made in Python. Feed text and configured titles are never translated."""

    def __init__(self, folder: Path, site: dict[str, Any], shared: Path | None = None) -> None:
        """``shared``: a second folder searched after ``folder`` (the workbench's pages use the
        web pages' macro files, such as ``_stats.html``)."""
        if not folder.is_dir():
            raise TemplateError(
                f"web templates folder {folder} does not exist; it belongs next to "
                "templates/email (newsletter.templates in feeds.yaml)"
            )
        self.folder = folder
        self.site = site
        self.env = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader([str(folder), *([str(shared)] if shared else [])]),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.i18n"],
        )
        self.translations = translations(str(site.get("language") or ""), WEB_DOMAIN)
        self.env.install_gettext_translations(  # type: ignore[attr-defined]
            self.translations, newstyle=True
        )
        try:
            self.stylesheet = (folder / STYLESHEET).read_bytes()
        except OSError as exc:
            raise TemplateError(f"cannot read {folder / STYLESHEET}: {exc}") from exc

    def gettext(self, message: str) -> str:
        """A message of the pages' own, in the site's language."""
        return self.translations.gettext(message)

    def html(self, template: str, /, **context: Any) -> str:
        """The page ``template`` rendered with the site values and ``context``."""
        values = {"site": self.site, **context}
        return render_template(self.env, template, values, "web template", variables_doc=None)

    def page(
        self,
        template: str,
        /,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """An HTML response of the page ``template``."""
        return HTMLResponse(
            self.html(template, **context), status_code=status_code, headers=headers
        )


__all__ = ["Pages"]
