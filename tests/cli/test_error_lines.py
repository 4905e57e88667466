"""One `error:` line everywhere: template limits, files the system refuses, unexpected bugs and
unreadable import rows each end a command with one line on stderr and no traceback (checked
in-process and in a real `newsletter` subprocess per family), on both databases."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from newsletter.cli import main
from tests.cli import test_cli
from tests.conftest import ROOT

cli_env = test_cli.cli_env  # the fixture: a loopback feed, a database, feeds.yaml
run = test_cli.run

NESTED_LOOPS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
LONG_OUTPUT = "{% for i in range(100000) %}0123456789{% endfor %}"


def _with_template_line(config: Path, tmp_path: Path, inserted: str) -> None:
    """The repository's templates with ``inserted`` as line 2 of the item partial, used by
    ``config``."""
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    partial = templates / "email" / "sections" / "_item.html"
    lines = partial.read_text(encoding="utf-8").splitlines()
    partial.write_text("\n".join([lines[0], inserted, *lines[1:]]), encoding="utf-8")
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["newsletter"]["templates"] = str(templates)
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _error_lines(stderr: str) -> list[str]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr
    return [line for line in lines if line.startswith("error:")]


def newsletter(env: dict[str, str], *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """The installed command as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "newsletter", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("inserted", "limit", "expected", "where"),
    [
        (
            NESTED_LOOPS,
            {"NEWSLETTER_TEMPLATE_TIME_LIMIT": "2"},
            "took longer than 2 s",
            "sections/_item.html, line 2",
        ),
        # Output is counted as the issue template writes it: the line named is where the
        # issue template includes the section that wrote too much.
        (
            LONG_OUTPUT,
            {"NEWSLETTER_TEMPLATE_OUTPUT_LIMIT": "500000"},
            "wrote more than 500,000 bytes",
            "email/issue.html, line",
        ),
    ],
    ids=["time", "output"],
)
def test_a_template_past_its_limit_is_one_error_line_in_build_send_and_check(
    cli_env: tuple[dict[str, str], Path, str],
    tmp_path: Path,
    inserted: str,
    limit: dict[str, str],
    expected: str,
    where: str,
) -> None:
    """Nested loops or a runaway output stop `build`, `send` and `check` with one line naming
    the template and the setting to change; nothing is frozen or sent."""
    env, config, period = cli_env
    env = {**env, **limit}
    _with_template_line(config, tmp_path, inserted)
    assert run(env, "ingest").exit_code == 0
    assert run(env, "subscribers", "add", "reader@example.com").exit_code == 0
    setting = next(iter(limit))
    for command in (["build", "--week", period], ["send", "--week", period]):
        result = CliRunner().invoke(main, command, env=env)
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit)
        lines = _error_lines(result.output)
        assert len(lines) == 1 and where in lines[0]
        assert expected in lines[0] and setting in lines[0]
    check = CliRunner().invoke(main, ["check"], env=env)
    assert check.exit_code == 1 and expected in check.output and setting in check.output
    status = run(env, "status", "--format", "json")
    assert json.loads(status.output)["issue"] is None  # nothing was frozen
    assert not list((tmp_path / "outbox").glob("*.eml"))
    # The same as a user sees it: one line on stderr, exit 1, in bounded time.
    built = newsletter(env, "build", "--week", period)
    assert built.returncode == 1
    lines = _error_lines(built.stderr)
    assert len(lines) == 1 and expected in lines[0] and where in lines[0]
    assert built.stdout == ""


@pytest.mark.parametrize(
    ("inserted", "expected"),
    [
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        (
            "{% macro again(n) %}{{ again(n + 1) }}{% endmacro %}{{ again(0) }}",
            "calls itself without end",
        ),
        ("{{ 10 ** 100000000 }}", "is too large"),
        ("{{ 'x' * 10 ** 9 }}", "NEWSLETTER_TEMPLATE_OUTPUT_LIMIT"),
    ],
)
def test_template_runtime_errors_are_one_line_in_a_real_process(
    cli_env: tuple[dict[str, str], Path, str], tmp_path: Path, inserted: str, expected: str
) -> None:
    env, config, period = cli_env
    _with_template_line(config, tmp_path, inserted)
    assert newsletter(env, "ingest").returncode == 0
    built = newsletter(env, "build", "--week", period)
    assert built.returncode == 1
    lines = _error_lines(built.stderr)
    assert len(lines) == 1, built.stderr
    assert "sections/_item.html, line 2" in lines[0] and expected in lines[0]


def test_files_the_system_refuses_are_one_line_naming_the_path(
    cli_env: tuple[dict[str, str], Path, str], tmp_path: Path
) -> None:
    env, _config, period = cli_env
    assert run(env, "ingest").exit_code == 0
    missing = tmp_path / "no-such-folder" / "issue.html"
    result = CliRunner().invoke(main, ["build", "--week", period, "--out", str(missing)], env=env)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert _error_lines(result.output) == [f"error: {missing}: No such file or directory"]
    # In a real process, and under a path whose folder is a file.
    built = newsletter(env, "build", "--week", period, "--out", str(missing))
    assert built.returncode == 1
    assert _error_lines(built.stderr) == [f"error: {missing}: No such file or directory"]
    a_file = tmp_path / "a-file"
    a_file.write_text("", encoding="utf-8")
    built = newsletter(env, "build", "--week", period, "--out", str(a_file / "issue.html"))
    assert built.returncode == 1
    assert _error_lines(built.stderr) == [f"error: {a_file / 'issue.html'}: Not a directory"]


CRASH = """
import sys
import newsletter.service.issues as issues

def build_issue(*args, **kwargs):
    raise RuntimeError("an unexpected bug\\nover two lines")

issues.build_issue = build_issue
from newsletter.cli import main
main(sys.argv[1:], prog_name="newsletter")
"""


def test_an_unexpected_error_is_one_internal_error_line_and_debug_shows_the_traceback(
    cli_env: tuple[dict[str, str], Path, str], tmp_path: Path
) -> None:
    """A bug (here: build_issue replaced by one that raises, in a real process) is one line
    with exit code 70; --debug or NEWSLETTER_DEBUG=1 shows the traceback instead."""
    env, _config, period = cli_env
    script = tmp_path / "crash.py"
    script.write_text(CRASH, encoding="utf-8")

    def crash(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script), *args],
            env={**os.environ, **env, **extra},
            capture_output=True,
            text=True,
            timeout=300,
        )

    plain = crash("build", "--week", period)
    assert plain.returncode == 70
    assert _error_lines(plain.stderr) == [
        "error: internal error: RuntimeError: an unexpected bug over two lines (a bug; run "
        "with --debug or NEWSLETTER_DEBUG=1 for the traceback)"
    ]
    for debug in (
        crash("--debug", "build", "--week", period),
        crash("build", NEWSLETTER_DEBUG="1"),
    ):
        assert debug.returncode == 1
        assert "Traceback (most recent call last)" in debug.stderr
        assert "RuntimeError: an unexpected bug" in debug.stderr


def test_an_oversized_csv_field_is_one_line_naming_the_row_and_the_import_exits_1(
    cli_env: tuple[dict[str, str], Path, str], tmp_path: Path
) -> None:
    env, _config, _period = cli_env
    path = tmp_path / "readers.csv"
    path.write_text(
        "email,name\n"
        "first@example.com,First\n"
        f'huge@example.com,"{"x" * 200_000}"\n'
        "after@example.com,After\n",
        encoding="utf-8",
    )
    imported = newsletter(env, "subscribers", "import", str(path))
    assert imported.returncode == 1
    assert "Traceback" not in imported.stderr
    assert f"{path}, line 3: a field over 128 KB (131,072 characters)" in imported.stderr
    lines = _error_lines(imported.stderr)
    assert len(lines) == 1 and lines[0].startswith(f"error: 1 row(s) of {path} skipped")
    assert "2 added" in imported.stdout and "1 rows skipped" in imported.stdout
    listed = json.loads(run(env, "subscribers", "list", "--format", "json").output)
    assert sorted(s["email"] for s in listed) == ["after@example.com", "first@example.com"]


@pytest.mark.parametrize(
    "message", ["a [b] c", "C:\\path\\[/x] end", "x\\[bold]y", "[/]", "no brackets"]
)
def test_an_error_line_shows_brackets_and_backslashes_as_written(message: str) -> None:
    """Feed text and paths can hold [brackets] and backslashes; rich markup must neither eat
    them nor fail on a closing tag they seem to make."""
    from rich.console import Console

    from newsletter.cli.boundary import _escaped

    console = Console(width=200)
    with console.capture() as captured:
        console.print(f"error: {_escaped(message)}", markup=True)
    assert captured.get().strip() == f"error: {message}"


def test_a_missing_certificate_file_is_one_error_line_before_any_feed_is_fetched(
    cli_env: tuple[dict[str, str], Path, str], tmp_path: Path
) -> None:
    env, _config, _period = cli_env
    assert newsletter(env, "db", "upgrade").returncode == 0
    missing = tmp_path / "no-such-bundle.pem"
    done = newsletter({**env, "SSL_CERT_FILE": str(missing)}, "ingest")
    assert done.returncode == 1
    (line,) = _error_lines(done.stderr)
    assert f"SSL_CERT_FILE={missing}" in line and "no such file" in line
    # Nothing was fetched: the feed was never polled.
    status = json.loads(newsletter(env, "feeds", "--format", "json").stdout)
    assert status and all(f["last_fetched_at"] is None and f["status"] == "never" for f in status)


def test_ingest_signal_handlers_last_only_for_its_poll() -> None:
    """stopping_on_signals: the first SIGINT sets the event and runs the callback (no
    KeyboardInterrupt); after the block the handlers that were there before are back; from
    another thread (no handler can be set there) it is a plain event."""
    import os
    import signal
    import threading
    import time

    from newsletter.cli.boundary import stopping_on_signals

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    said = threading.Event()
    with stopping_on_signals(said.set) as stopped:
        os.kill(os.getpid(), signal.SIGINT)
        assert said.wait(10) and stopped.is_set()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before

    # A signal in the block's last moment: by the time the block has ended, the event is set
    # and the callback has returned (it used to run in its thread after the caller had read
    # the event: exit 0, and the "stopping" line after the summary).
    said_late: list[str] = []
    with stopping_on_signals(lambda: (time.sleep(0.2), said_late.append("stopping"))) as late:
        os.kill(os.getpid(), signal.SIGINT)
    assert late.is_set() and said_late == ["stopping"]

    seen: list[bool] = []

    def in_a_thread() -> None:
        with stopping_on_signals(said.set) as event:
            seen.append(event.is_set())

    worker = threading.Thread(target=in_a_thread)
    worker.start()
    worker.join(10)
    assert seen == [False]
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_output_to_a_full_device_is_one_line_saying_it_is_the_output(tmp_path: Path) -> None:
    """`newsletter --help > /dev/full` (click writes it, outside any command) used to end in a
    traceback: now one line that says it is the output; a command's output there is one line
    about the device written (it read "the disk is full", as if the database's were); exit 1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env["NEWSLETTER_CONFIG"] = str(ROOT / "feeds.yaml")
    env["NEWSLETTER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'full.db'}"
    for args in (["--help"], ["--version"], ["feeds"]):
        with open("/dev/full", "w") as full:
            done = subprocess.run(
                [sys.executable, "-m", "newsletter", *args],
                stdout=full,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                timeout=120,
                cwd=tmp_path,
            )
        assert done.returncode == 1, (args, done.stderr)
        lines = done.stderr.splitlines()
        assert lines and lines[-1].startswith(
            "error: could not write the output: "
            if args[0].startswith("--")
            else "error: no space left on the device being written ("
        ), (args, lines)
        assert "Traceback" not in done.stderr, args
