"""`newsletter serve` and `newsletter preview-url`: help, and clean failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter.cli import main
from tests.conftest import write_config


@pytest.mark.parametrize("command", [["serve"], ["preview-url"]], ids=" ".join)
def test_web_commands_have_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert len(result.output.split("\n\n")[1].strip()) > 20 and "--config" in result.output
    if command == ["serve"]:
        for option in ("--host", "--port", "--workers", "--access-log"):
            assert option in result.output


def test_serve_fails_in_one_line_without_web_templates(tmp_path: Path) -> None:
    (tmp_path / "templates" / "email").mkdir(parents=True)
    config = write_config(tmp_path, [], templates=str(tmp_path / "templates"))
    env = {
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_SECRET_KEY": "s",
    }
    result = CliRunner().invoke(main, ["serve", "--config", str(config), "--port", "1"], env=env)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert "error: web templates folder" in lines[-1] and "does not exist" in lines[-1]
    result = CliRunner().invoke(main, ["serve", "--port", "0"], env=env)
    assert result.exit_code == 2  # a wrong option
