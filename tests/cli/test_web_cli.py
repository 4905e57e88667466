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


def test_serve_on_another_port_than_the_base_url_says_so(tmp_path: Path) -> None:
    """Trying `serve --port 8011` with the default NEWSLETTER_BASE_URL (localhost:8000): the
    emails' links would miss it, and the first lines say so with the setting to change."""
    import os
    import socket
    import subprocess
    import sys

    from newsletter.cli.web import local_port_mismatch

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = write_config(tmp_path, [])
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")} | {
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_SECRET_KEY": "s",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "serve", "--config", str(config), "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        listening = ""
        while "listening on" not in listening:  # after the migration's log lines
            listening = proc.stderr.readline()
            assert listening, "serve ended before it listened"
        warning = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert f"listening on http://127.0.0.1:{port}" in listening
    assert warning.strip() == (
        f"warning: NEWSLETTER_BASE_URL is http://localhost:8000, but this serves port {port}: "
        f"the links in the emails and pages lead to port 8000; set "
        f"NEWSLETTER_BASE_URL=http://localhost:{port}"
    )
    assert local_port_mismatch("http://localhost:8000", 8000) is None
    assert local_port_mismatch("https://news.example.com", 8011) is None  # behind a proxy
    assert local_port_mismatch("http://localhost:99999", 8000) is None  # `check` reports it
    ipv6 = local_port_mismatch("http://[::1]:8000", 8001)
    assert ipv6 is not None and ipv6.endswith("NEWSLETTER_BASE_URL=http://[::1]:8001")
    assert local_port_mismatch("http://127.0.0.1", 80) is None
