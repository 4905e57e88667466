"""The import contracts in pyproject.toml hold on the package, and each one fails when broken:
a copy of the package gets one forbidden import and lint-imports must refuse it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# (contract id, module file, the line that breaks it)
BREAKS = [
    ("layers", "newsletter/domain/periods.py", "from newsletter.service import app as _up"),
    ("layers", "newsletter/feeds/parse.py", "from newsletter.storage import db as _side"),
    ("layers", "newsletter/storage/models.py", "from newsletter.email import render as _side"),
    ("layers", "newsletter/service/ingest.py", "from newsletter.cli import boundary as _up"),
    ("pure-domain", "newsletter/domain/editorial/sections.py", "import httpx as _io"),
    ("pure-domain", "newsletter/domain/assemble.py", "import sqlmodel as _io"),
    ("pure-domain", "newsletter/domain/text.py", "import jinja2 as _io"),
    ("pure-domain", "newsletter/domain/periods.py", "import smtplib as _io"),
    ("pure-domain", "newsletter/domain/editorial/financing.py", "import feedparser as _io"),
    ("thin-entry-points", "newsletter/cli/catalog.py", "from newsletter.storage import db as _x"),
    ("thin-entry-points", "newsletter/web/archive.py", "from newsletter.email import transports"),
    ("thin-entry-points", "newsletter/cli/scheduler.py", "import sqlalchemy as _x"),
    ("no-sql-in-services", "newsletter/service/editing.py", "from sqlmodel import select as _q"),
    ("no-sql-in-services", "newsletter/service/archive.py", "import sqlalchemy as _q"),
    ("sql-only-in-storage", "newsletter/feeds/fetch.py", "import sqlalchemy as _db"),
    ("sql-only-in-storage", "newsletter/email/render.py", "from sqlmodel import Session as _db"),
    ("smtp-only-in-email", "newsletter/storage/db.py", "import smtplib as _smtp"),
    ("smtp-only-in-email", "newsletter/feeds/parse.py", "import smtplib as _smtp"),
    ("terminal-only-in-cli", "newsletter/service/ingest.py", "import rich as _tty"),
    ("terminal-only-in-cli", "newsletter/web/app.py", "import click as _tty"),
    ("pure-domain", "newsletter/domain/editorial/textmodel.py", "import sklearn as _fit"),
    ("pure-domain", "newsletter/domain/editorial/classify.py", "import numpy as _fit"),
    ("training-only-in-learning", "newsletter/service/reading.py", "import sklearn as _fit"),
    ("training-only-in-learning", "newsletter/feeds/parse.py", "import scipy as _fit"),
    ("training-only-in-learning", "newsletter/service/reading.py", "import numpy as _fit"),
]


def _lint(root: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    args = [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(root / "pyproject.toml")]
    for contract in contracts:
        args += ["--contract", contract]
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_the_package_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout
    assert result.stdout.count("KEPT") == 8


@pytest.mark.slow
@pytest.mark.parametrize(("contract", "module", "line"), BREAKS)
def test_each_contract_fails_when_broken(
    tmp_path: Path, contract: str, module: str, line: str
) -> None:
    shutil.copytree(
        ROOT / "newsletter", tmp_path / "newsletter", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    assert target.exists(), module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    result = _lint(tmp_path, contract)
    assert result.returncode != 0, f"{contract} still kept with {line!r} in {module}"
    assert "BROKEN" in result.stdout
    assert module.removesuffix(".py").replace("/", ".") in result.stdout
