"""`newsletter model status|train|rollback`: the reading model (relevance and sections)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from newsletter.cli.boundary import config_option, handle_errors, load_app, out


@click.group()
def model() -> None:
    """The reading model: which items belong in this newsletter, and in which section.

    A model ships with the package (trained on labelled real items, docs/labelling.md). Every
    pin, drop, restore and move an editor makes is a label: `model train` learns from them and
    from feeds.yaml's `topic` examples; `model rollback` goes back to the model before."""


def _where(current: Any) -> str:
    """Where the model in use comes from."""
    return "shipped with the package" if current.shipped else str(current.path)


@model.command("status")
@config_option
@handle_errors
def model_status(config_path: Path | None) -> None:
    """The model in use: version, where it comes from, threshold, what it was trained on."""
    from newsletter.service import model as models

    app = load_app(config_path)
    current = models.status(app)
    out.print(f"Reading model {current.model.version} ({_where(current)})")
    out.print(f"  relevance threshold: {current.threshold:.3f}")
    if current.model.sections is not None:
        out.print(f"  sections: {', '.join(current.model.sections.classes)}")
    trained = ", ".join(f"{k} {v}" for k, v in current.model.trained_on.items())
    if trained:
        out.print(f"  trained on: {trained}")
    metrics = ", ".join(f"{k} {v:.3f}" for k, v in current.model.metrics.items())
    if metrics:
        out.print(f"  held-back figures: {metrics}")
    if current.history:
        out.print(f"  local models: {', '.join(current.history)}")
    if not app.config.topic.use_model:
        out.print("  [yellow]turned off in feeds.yaml (topic: use_model: false)[/]")


@model.command("train")
@config_option
@click.option(
    "--local-only",
    is_flag=True,
    help="Train only on this newsletter's labels (topic examples and editor decisions).",
)
@click.option(
    "--force", is_flag=True, help="Install the new model even if it does worse on held-back items."
)
@handle_errors
def model_train(config_path: Path | None, local_only: bool, force: bool) -> None:
    """Retrain from the shipped labelled data, feeds.yaml's topic examples and every pin, drop,
    restore and move in the issue log; print precision and recall before and after on a
    held-back part; keep the previous model for `model rollback`."""
    from newsletter.service import model as models

    app = load_app(config_path)
    result = models.train(
        app, local_only=local_only, force=force, progress=lambda m: out.print(f"  {m}")
    )
    out.print(f"before: {result.before.line()}")
    out.print(f"after:  {result.after.line()}")
    if result.installed:
        out.print(
            f"Installed model {result.model.version} ({result.path}); the next build uses it."
        )
        out.print("`newsletter model rollback` goes back to the previous model.")
    else:
        out.print(f"[yellow]Not installed:[/] {result.reason}")


@model.command("rollback")
@config_option
@handle_errors
def model_rollback(config_path: Path | None) -> None:
    """Go back to the model in use before the last `model train` (the shipped one at the end)."""
    from newsletter.service import model as models

    app = load_app(config_path)
    current = models.rollback(app)
    out.print(
        f"Reading model now {current.model.version} ({_where(current)}); the next build uses it."
    )


COMMANDS = [model]
