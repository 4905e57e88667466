"""`newsletter init`: a new newsletter's folder (a starter feeds.yaml, the bundled templates
and an editorial/ folder), written without ever replacing a file that is already there."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from newsletter.errors import NewsletterError

# The starter feeds.yaml and the bundled templates (newsletter/skeleton/templates is the
# repository's templates/ folder, shipped in the wheel as package data).
SKELETON = Path(__file__).resolve().parent.parent / "skeleton"
TEMPLATES = SKELETON / "templates"
EDITORIAL = "editorial"


@dataclass
class InitReport:
    """What `init` wrote and what it left alone, as paths relative to the folder."""

    folder: Path
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def skeleton_files() -> list[tuple[Path, str]]:
    """(source, path relative to the new folder) of every file `init` writes."""
    if not TEMPLATES.is_dir():
        raise NewsletterError(
            f"the bundled templates are missing from this installation ({TEMPLATES}); "
            "reinstall the package"
        )
    files = [(SKELETON / "feeds.yaml", "feeds.yaml")]
    files += [
        (path, path.relative_to(SKELETON).as_posix())
        for path in sorted(TEMPLATES.rglob("*"))
        if path.is_file()
    ]
    return files


def init_project(folder: Path) -> InitReport:
    """Write the starter files into ``folder`` (made if missing). A file that exists already is
    kept as it is and listed in ``kept``: running it again, or over an edited folder, changes
    nothing but the files that are missing."""
    report = InitReport(folder=folder)
    files = skeleton_files()
    _check_stays_inside(folder, [relative for _, relative in files])
    editorial = folder / EDITORIAL
    if (editorial.exists() or editorial.is_symlink()) and not editorial.is_dir():
        raise NewsletterError(
            f"{editorial} is there and is not a folder; move it away and run init again"
        )
    folder.mkdir(parents=True, exist_ok=True)
    for source, relative in files:
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            # "x": never replaces anything there, a symlink included, even one made meanwhile.
            with target.open("xb") as written:
                written.write(source.read_bytes())
        except FileExistsError:
            report.kept.append(relative)
        else:
            report.created.append(relative)
    if editorial.is_dir():
        report.kept.append(f"{EDITORIAL}/")
    else:
        editorial.mkdir()
        report.created.append(f"{EDITORIAL}/")
    return report


def _check_stays_inside(folder: Path, relatives: list[str]) -> None:
    """Refuse (before writing anything) when a folder on the way to a file is a link that
    leads out of ``folder``: init would write the templates wherever it points."""
    root = folder.resolve()
    for relative in relatives:
        parent = (folder / relative).parent
        while parent != folder and not (parent.exists() or parent.is_symlink()):
            parent = parent.parent  # the nearest folder there already decides where it goes
        if parent.is_symlink() and not parent.exists():
            raise NewsletterError(f"{parent} is a link to nothing; remove it and run init again")
        if parent.exists() and not parent.resolve().is_relative_to(root):
            raise NewsletterError(
                f"{parent} is a link to {parent.resolve()}, outside {folder}; init writes only "
                "inside its folder: remove the link or run init in another folder"
            )
