"""`newsletter init`: start a new newsletter's folder."""

from __future__ import annotations

from pathlib import Path

import click

from newsletter.cli.boundary import handle_errors, out
from newsletter.service.skeleton import init_project

TEMPLATES_PREFIX = "templates/"
LISTED = 10  # up to this many template files are named one by one, more are counted


@click.command()
@click.argument(
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    required=False,
)
@handle_errors
def init(folder: Path) -> None:
    """Start a newsletter in FOLDER (default: the current folder): a starter feeds.yaml, the
    bundled templates/ and an empty editorial/ folder.

    A file that is already there is never replaced: it is listed as kept, and only missing
    files are written, so running it again is safe (and brings back a template you deleted).
    What it writes passes `newsletter check`.
    """
    report = init_project(folder)
    created = [p for p in report.created if p.startswith(TEMPLATES_PREFIX)]
    kept = [p for p in report.kept if p.startswith(TEMPLATES_PREFIX)]
    for path in report.created:
        if not path.startswith(TEMPLATES_PREFIX):
            out.print(f"created {folder / path}")
    for line in _templates(folder, created, "created", "", LISTED):
        out.print(line)
    for path in report.kept:
        if not path.startswith(TEMPLATES_PREFIX):
            out.print(f"kept {folder / path}: already there, not changed")
    for line in _templates(folder, kept, "kept", ": already there, not changed", LISTED):
        out.print(line)
    where = "" if folder == Path(".") else f"cd {folder} && "
    out.print(
        "Next: edit feeds.yaml (title, sender, timezone, schedule, your feeds), then "
        f"`{where}newsletter check`, `newsletter ingest` and "
        f"`newsletter build --out issue.html` (the editor's guide: {_guide()}).",
        markup=False,  # a folder or path may hold [brackets]
    )


def _guide() -> str:
    """Where the editor's guide is: its full path in the source checkout this command runs
    from (a new folder has no docs/ of its own), else where to find it in the source."""
    path = Path(__file__).resolve().parents[2] / "docs" / "editors-guide.md"
    return str(path) if path.is_file() else "docs/editors-guide.md in newsletter's source"


def _templates(folder: Path, paths: list[str], verb: str, note: str, listed: int) -> list[str]:
    """The lines for the template files written or kept: each one, or a count when many."""
    if len(paths) <= listed:
        return [f"{verb} {folder / p}{note}" for p in paths]
    return [f"{verb} {len(paths)} files in {folder / 'templates'}{note}"]


COMMANDS = [init]
