"""The issue email in Debian's Chromium in light mode, dark mode (prefers-color-scheme) and as
Outlook recolours it (data-ogsc / data-ogsb): every piece of text keeps a readable contrast
against the box it sits on (WCAG AA, 4.5:1), so no light box keeps light text."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from newsletter.config import load_config
from newsletter.email.render import RenderOptions, make_environment, render_issue
from newsletter.service.checks import demo_content

pytestmark = pytest.mark.slow  # a browser test: `make test` runs it, `make test-fast` does not

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # the demo's items are dated relative to this
AA = 4.5  # WCAG 2 AA for normal text

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")

# For each element that holds text: its colour and the first opaque background behind it.
CONTRAST_JS = """() => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(',').map((x) => parseFloat(x));
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const lum = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const behind = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const seen = new Set();
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!node.textContent.trim() || seen.has(el) || el.closest('.preheader')) continue;
    seen.add(el);
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    const fg = parse(style.color);
    const bg = behind(el);
    const a = lum(fg), b = lum(bg);
    out.push({
      element: el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''),
      text: node.textContent.trim().slice(0, 40),
      color: style.color,
      background: `rgb(${bg.r}, ${bg.g}, ${bg.b})`,
      ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05),
    });
  }
  return out;
}"""

# What Outlook.com does in dark mode, as far as the email's CSS can see it: it recolours the
# message and marks the recoloured elements with data-ogsc (text) and data-ogsb (background).
OUTLOOK_JS = """() => {
  document.body.setAttribute('data-ogsc', '');
  document.body.setAttribute('data-ogsb', '');
  document.body.style.backgroundColor = '#1f1f1f';
}"""


@pytest.fixture(scope="module")
def email_html() -> str:
    """The demo issue (all six sections, a viewpoint, a top story, a financing table and
    events) rendered with the repository's feeds.yaml and templates, as it is sent."""
    config = load_config(ROOT / "feeds.yaml")
    nl = config.newsletter
    content = demo_content(config, NOW)
    options = RenderOptions(
        templates_dir=config.templates_dir,
        timezone=nl.tz,
        language=nl.language,
        sender_name=nl.sender.name,
        base_url="https://news.example.com",
        html_budget_bytes=nl.html_budget_bytes,
        sender_domain=nl.sender.domain,
    )
    rendered, shown = render_issue(make_environment(config.templates_dir), content, options)
    assert {s.id for s in shown.sections if s.items} >= {"hot_topics", "financing", "events"}
    assert shown.viewpoint_html
    return rendered.html


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


def _measure(browser: Any, html: str, scheme: str, outlook: bool, shot: Path) -> list[Any]:
    context = browser.new_context(viewport={"width": 640, "height": 900}, color_scheme=scheme)
    tab = context.new_page()
    tab.set_content(html, wait_until="load")
    if outlook:
        tab.evaluate(OUTLOOK_JS)
    measured: list[Any] = tab.evaluate(CONTRAST_JS)
    tab.screenshot(path=str(shot), full_page=True)
    extra = os.environ.get("NEWSLETTER_SCREENSHOTS_DIR")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(extra) / shot.name)
    context.close()
    return measured


@pytest.mark.parametrize(
    ("scheme", "outlook"),
    [("light", False), ("dark", False), ("light", True)],
    ids=["light", "dark", "outlook-dark"],
)
def test_every_text_is_readable_on_its_box(
    browser: Any, email_html: str, tmp_path: Path, scheme: str, outlook: bool
) -> None:
    name = f"issue-email-{'outlook' if outlook else scheme}.png"
    measured = _measure(browser, email_html, scheme, outlook, tmp_path / name)
    assert len(measured) > 50  # the whole issue was measured, not an empty page
    boxes = {m["element"].split(".", 1)[-1] for m in measured}
    assert {"label", "meta", "event-date", "masthead"} & boxes
    unreadable = [m for m in measured if m["ratio"] < AA]
    assert unreadable == [], "\n".join(
        f"{m['element']} {m['text']!r}: {m['color']} on {m['background']} = {m['ratio']:.2f}"
        for m in unreadable[:15]
    )
    assert (tmp_path / name).stat().st_size > 10_000


def test_dark_mode_changes_the_boxes(browser: Any, email_html: str, tmp_path: Path) -> None:
    """Dark mode is real: the viewpoint, top-story and table-head boxes turn dark."""
    light = _measure(browser, email_html, "light", False, tmp_path / "light.png")
    dark = _measure(browser, email_html, "dark", False, tmp_path / "dark.png")

    def backgrounds(rows: list[Any], element: str) -> set[str]:
        return {m["background"] for m in rows if m["element"] == element}

    for element in ("div.label", "td.fin-head", "p"):
        assert backgrounds(light, element).isdisjoint(backgrounds(dark, element)), element
    dark_backgrounds = {m["background"] for m in dark}
    assert "rgb(255, 255, 255)" not in dark_backgrounds
    assert not any(b in dark_backgrounds for b in ("rgb(255, 248, 230)", "rgb(246, 250, 250)"))
