"""Rendering Jinja2 templates; every Jinja error becomes a TemplateError naming file and line."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from newsletter.email.sandbox import render_limited
from newsletter.errors import TemplateError, TemplateLimitError

_TEMPLATE_SUFFIXES = (".html", ".txt", ".htm", ".j2")


def render_template(
    env: jinja2.Environment,
    name: str,
    context: Mapping[str, Any],
    label: str = "template",
    variables_doc: str | None = "docs/editors-guide.md",
) -> str:
    """The template ``name`` rendered with ``context``. TemplateError that says which template
    (called ``label`` in the message), file and line to fix, for whatever Jinja raises; an
    unknown variable points to ``variables_doc``, where the variables are listed. A render
    past the environment's time or output limit (newsletter.email.sandbox) is
    TemplateLimitError, naming the limit to raise."""
    try:
        return render_limited(env.get_template(name), context)
    except TemplateLimitError as exc:
        raise TemplateLimitError(f"{label} {_where(exc, name)}: {exc}") from exc
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"{label} {exc.name} not found in {_folder(env)}") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"{label} {exc.name or name}, line {exc.lineno}: {exc.message}"
        ) from exc
    except jinja2.UndefinedError as exc:
        hint = f" (check the variable names in {variables_doc})" if variables_doc else ""
        raise TemplateError(f"{label} {_where(exc, name)}: {exc.message}{hint}") from exc
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(f"{label} {_where(exc, name)}: refused by the sandbox: {exc}") from exc
    except jinja2.TemplateError as exc:
        raise TemplateError(f"{label} {_where(exc, name)}: {exc}") from exc
    except RecursionError as exc:
        raise TemplateError(
            f"{label} {_where(exc, name)}: a macro or include calls itself without end"
        ) from exc
    except OverflowError as exc:  # the sandbox's cap on range(), among others
        raise TemplateError(f"{label} {_where(exc, name)}: {exc}") from exc
    except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError) as exc:
        # A template's own expression failed ({{ 1/0 }}, {{ "a" + 1 }}, {{ items[99] }}).
        kind = type(exc).__name__
        raise TemplateError(f"{label} {_where(exc, name)}: {kind}: {exc}") from exc


def _folder(env: jinja2.Environment) -> str:
    if isinstance(env.loader, jinja2.FileSystemLoader):
        return ", ".join(str(path) for path in env.loader.searchpath)
    return "the templates"


def _where(exc: BaseException, fallback: str) -> str:
    """The template file and line a runtime error happened in (Jinja puts them in the traceback)."""
    found = fallback
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(_TEMPLATE_SUFFIXES):
            found = f"{Path(filename).parent.name}/{Path(filename).name}, line {tb.tb_lineno}"
        tb = tb.tb_next
    return found
