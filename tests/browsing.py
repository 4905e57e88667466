"""Shared by the browser and web system tests: a real `newsletter serve` on 127.0.0.1 (started,
waited for, stopped), Debian's Chromium driven by Playwright, and the checks on what a page
shows (nothing wider than the viewport; full-page screenshots)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.smtp_server import free_port

CHROMIUM = Path("/usr/bin/chromium")
# PITFALLS.md: Debian's chromium, headless, without its sandbox, GPU or background traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# The elements wider than the viewport, for a useful failure message.
OVERFLOW_JS = """() => {
  const width = window.innerWidth;
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 0.5 && box.width > 0) {
      wide.push(el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') +
                ' right=' + Math.round(box.right));
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: width,
          wide: wide.slice(0, 10)};
}"""


def newsletter(*args: str) -> list[str]:
    """The command line of `newsletter ARGS` with this interpreter."""
    return [sys.executable, "-m", "newsletter", *args]


class Server:
    """A running `newsletter serve`: its base URL and everything it has printed so far."""

    def __init__(self, base_url: str, proc: subprocess.Popen[bytes]) -> None:
        self.base_url = base_url
        self.proc = proc
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.decode(errors="replace"))

    def url(self, path: str) -> str:
        """An absolute URL on this server."""
        return f"{self.base_url}{path}"

    @property
    def output(self) -> str:
        """What the server printed (its log), so far."""
        return "".join(self.lines)

    def stop(self) -> str:
        """SIGTERM, wait, and the whole output."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        return self.output


@contextmanager
def serve(
    env: dict[str, str],
    cwd: Path,
    *,
    ready_path: str = "/healthz",
    preexec_fn: Callable[[], None] | None = None,
    wait_seconds: float = 60.0,
    port: int | None = None,
) -> Iterator[Server]:
    """`newsletter serve` on a free port of 127.0.0.1 with ``env`` (NEWSLETTER_BASE_URL is set
    to its address), until ``ready_path`` answers 200 (a generous wait: other test runs share
    the two cores); its output goes through a pipe (no file: a test may forbid the process to
    write files), and it is stopped with SIGTERM. ``port``: a port chosen beforehand (a test
    that builds links to the server before starting it), else a free one."""
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        newsletter("serve", "--host", "127.0.0.1", "--port", str(port)),
        env={**env, "NEWSLETTER_BASE_URL": base_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        preexec_fn=preexec_fn,
    )
    server = Server(base_url, proc)
    try:
        _wait_until_up(server.url(ready_path), server, wait_seconds)
        yield server
    finally:
        server.stop()


def _wait_until_up(url: str, server: Server, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            server.stop()
            raise AssertionError(
                f"newsletter serve exited with {server.proc.returncode}:\n{server.output}"
            )
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"newsletter serve did not answer at {url}:\n{server.output}")


def require_chromium() -> Any:
    """Playwright's sync API, or the calling test module is skipped (no Chromium, no package)."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)",
            allow_module_level=True,
        )
    return pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright, closed afterwards."""
    sync_api = require_chromium()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def watched_page(context: Any, timeout_ms: int = 10_000) -> Any:
    """A new tab whose script errors, CSP violations and failed responses collect in
    ``tab.problems``."""
    tab = context.new_page()
    tab.set_default_timeout(timeout_ms)
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(str(e)))
    tab.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    tab.problems = problems
    return tab


def fits(tab: Any, what: str) -> dict[str, Any]:
    """Assert nothing is wider than the viewport; returns the measurement."""
    measured: dict[str, Any] = tab.evaluate(OVERFLOW_JS)
    assert measured["scrollWidth"] <= measured["innerWidth"], f"{what} overflows: {measured}"
    return measured


def screenshot(tab: Any, folder: Path, name: str, *, full_page: bool = True) -> Path:
    """A screenshot of a page (the whole page, or what the viewport shows) or of one element
    (a locator), under ``folder``, copied to NEWSLETTER_SCREENSHOTS_DIR when set."""
    path = folder / f"{name}.png"
    folder.mkdir(parents=True, exist_ok=True)
    if hasattr(tab, "goto"):
        tab.screenshot(path=str(path), full_page=full_page)
    else:
        tab.screenshot(path=str(path))
    assert path.stat().st_size > 1000
    extra = os.environ.get("NEWSLETTER_SCREENSHOTS_DIR")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / path.name)
    return path
