"""Dockerfile and docker-compose.yml: the compose file is valid Compose, and every command it
runs is a `newsletter` invocation that works, run for real against a database and an SMTP
server on loopback (there is no container engine on the test machines)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from newsletter.cli import main
from tests.conftest import POSTGRES_URL, ROOT, write_config
from tests.smtp_server import SmtpServer

COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
# The Compose specification's JSON schema (compose-spec/compose-spec, Apache-2.0), as shipped
# by docker-compose 1.29.2 (Debian's package): the same check as `docker-compose config`.
COMPOSE_SCHEMA = ROOT / "tests" / "data" / "compose_spec.json"
APP_SERVICES = ("web", "scheduler", "worker-1", "worker-2")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def substitute(value: str) -> str:
    """Compose's ${NAME:-default} with nothing set: the default."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_compose_file_matches_the_compose_specification() -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft201909Validator(schema)
    errors = [
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(compose())
    ]
    assert errors == []


def test_schema_check_catches_a_broken_compose_file() -> None:
    """The check above can fail: a misspelled key is reported."""
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    broken = compose()
    broken["services"]["web"]["comand"] = broken["services"]["web"].pop("command")
    validator = jsonschema.Draft201909Validator(schema)
    assert any("comand" in e.message for e in validator.iter_errors(broken))


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_config_accepts_it() -> None:
    """Debian's docker-compose (1.29) validates without a container engine."""
    result = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_services_the_issue_asks_for() -> None:
    services = compose()["services"]
    assert {"db", "mail", *APP_SERVICES} <= set(services)
    assert services["db"]["image"].startswith("postgres:")
    for name in APP_SERVICES:
        service = services[name]
        assert service["build"] == ".", name
        url = substitute(service["environment"]["NEWSLETTER_DATABASE_URL"])
        assert url.startswith("postgresql://"), "the plain scheme, mapped to psycopg 3"
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
    worker_commands = [services[n]["command"] for n in ("worker-1", "worker-2")]
    assert all(c[0] == "worker" for c in worker_commands)


def test_environment_names_are_all_settings() -> None:
    """No misspelled NEWSLETTER_* name in the compose file (it would only be warned about)."""
    from newsletter.config import unknown_variables

    for name in APP_SERVICES:
        names = compose()["services"][name]["environment"]
        assert unknown_variables(names, "compose") == [], name


def test_dockerfile_runs_newsletter_and_copies_what_exists() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r'^ENTRYPOINT \["newsletter"\]$', text, re.MULTILINE)
    for source in re.findall(r"^COPY (.+) \S+$", text, re.MULTILINE):
        for path in source.split():
            assert (ROOT / path).exists(), f"COPY {path}: not in the project"
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.MULTILINE).group(1))  # type: ignore[union-attr]
    result = CliRunner().invoke(main, [*cmd, "--help"])
    assert result.exit_code == 0, result.output
    # What the image's settings name is what the compose file mounts over.
    assert "NEWSLETTER_CONFIG=/srv/newsletter/feeds.yaml" in text
    mounts = compose()["x-newsletter"]["volumes"]
    assert "./feeds.yaml:/srv/newsletter/feeds.yaml:ro" in mounts


@pytest.mark.parametrize("service", APP_SERVICES)
def test_each_command_parses(service: str) -> None:
    """Every option the compose file passes exists, with a valid value (click parses the
    whole command line before --help is acted on only for unknown options, so values are
    checked by running the command with a bad config: usage errors are exit 2)."""
    command = compose()["services"][service]["command"]
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    missing = CliRunner().invoke(main, [*command, "--config", "/nonexistent/feeds.yaml"])
    assert missing.exit_code == 1, missing.output  # got past option parsing to the config
    assert "error: /nonexistent/feeds.yaml: file not found" in missing.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _loopback(command: list[str], ports: dict[str, int]) -> list[str]:
    """The compose command with its listening addresses moved to free loopback ports."""
    out = []
    for arg in command:
        if arg == "0.0.0.0":
            arg = "127.0.0.1"
        elif arg in ports:
            arg = str(ports[arg])
        out.append(arg)
    return out


@pytest.mark.slow
def test_compose_commands_run_together(tmp_path: Path, database_url: str) -> None:
    """Start web, scheduler and both workers as the compose file does (its command lines and
    environment, with the database, the SMTP server and the ports moved to loopback), check
    that each comes up, that /metrics answers with the compose file's token, then stop them
    all with SIGTERM (what `docker compose stop` sends): each exits 0 without a traceback."""
    if POSTGRES_URL and database_url.startswith("sqlite"):
        pytest.skip("run once: on PostgreSQL, as the compose file does")
    config = write_config(tmp_path, [])
    services = compose()["services"]
    ports = {"8000": _free_port(), "9108": _free_port()}
    processes: dict[str, subprocess.Popen[str]] = {}
    logs: dict[str, Path] = {}
    with SmtpServer() as smtp:
        for name in APP_SERVICES:
            env = {k: substitute(str(v)) for k, v in services[name]["environment"].items()}
            env.update(
                # As the compose file writes it: postgresql://, not postgresql+psycopg://.
                NEWSLETTER_DATABASE_URL=database_url.replace(
                    "postgresql+psycopg://", "postgresql://"
                ),
                NEWSLETTER_DATA_DIR=str(tmp_path / "data"),
                NEWSLETTER_CONFIG=str(config),
                NEWSLETTER_SMTP_HOST="127.0.0.1",
                NEWSLETTER_SMTP_PORT=str(smtp.port),
            )
            logs[name] = tmp_path / f"{name}.log"
            with logs[name].open("w") as out:
                processes[name] = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "newsletter",
                        *_loopback(services[name]["command"], ports),
                    ],
                    env={**os.environ, **env},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    text=True,
                    cwd=tmp_path,
                )
        try:
            token = substitute(services["web"]["environment"]["NEWSLETTER_METRICS_TOKEN"])
            ready = {
                "web": lambda: _answers(f"http://127.0.0.1:{ports['8000']}/healthz"),
                "scheduler": lambda: _answers(f"http://127.0.0.1:{ports['9108']}/metrics"),
                "worker-1": lambda: "newsletter worker:" in logs["worker-1"].read_text(),
                "worker-2": lambda: "newsletter worker:" in logs["worker-2"].read_text(),
            }
            deadline = time.monotonic() + 90
            waiting = set(ready)
            while waiting and time.monotonic() < deadline:
                for name in list(waiting):
                    assert processes[name].poll() is None, logs[name].read_text()
                    if ready[name]():
                        waiting.discard(name)
                time.sleep(0.5)
            assert not waiting, {name: logs[name].read_text() for name in waiting}
            metrics = httpx.get(
                f"http://127.0.0.1:{ports['8000']}/metrics",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert metrics.status_code == 200 and "newsletter_database_up 1.0" in metrics.text
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes.values():
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    for name, process in processes.items():
        text = logs[name].read_text()
        assert process.returncode == 0, text
        assert "Traceback" not in text, text
        # JSON lines (NEWSLETTER_LOG_FORMAT=json), with no library INFO chatter.
        records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        assert records or name != "scheduler", text  # web and idle workers log nothing at INFO
        assert all(r["logger"].startswith("newsletter") or r["level"] != "INFO" for r in records), (
            text
        )


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
