"""`newsletter check`: validate feeds.yaml, compile every template, render the demo issue.

Everything here is offline: the demo issue is built from the bundled sample feeds (parsed from
bytes, classified with this feeds.yaml's rules) and rendered with the editor's templates, so a
template that fails at run time fails here first, with its file and line.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import jinja2

from newsletter.config import Config, Settings, load_config, load_settings
from newsletter.demo.samples import load_samples, render_samples
from newsletter.domain.assemble import Candidate, assemble_issue
from newsletter.domain.content import IssueContent
from newsletter.domain.editorial.classify import FeedRules, ReadingRules, read_item
from newsletter.domain.editorial.textmodel import ReadingModel
from newsletter.domain.periods import latest_due_period, period_containing
from newsletter.email.render import RenderOptions, make_environment, markdown_to_html, render_issue
from newsletter.email.sandbox import RenderLimits
from newsletter.errors import NewsletterError
from newsletter.feeds.parse import parse_feed
from newsletter.learning.store import ModelStore, load_model, shipped_path

TEMPLATE_SUFFIXES = (".html", ".htm", ".txt", ".j2", ".jinja", ".jinja2", ".xml")
VIEWPOINT = Path(__file__).resolve().parent.parent / "demo" / "viewpoint.md"


@dataclass(frozen=True)
class CheckLine:
    """One checked thing (a file, or the demo issue) and what came of it."""

    ok: bool
    subject: str
    detail: str
    warning: bool = False  # ok, but likely not what was meant (it does not fail the check)


@dataclass
class CheckReport:
    """Every check's line, in the order they ran."""

    lines: list[CheckLine] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return all(line.ok for line in self.lines)

    def add(self, ok: bool, subject: str, detail: str) -> None:
        """Record one line."""
        self.lines.append(CheckLine(ok, subject, detail))

    def warn(self, subject: str, detail: str) -> None:
        """Record a warning: not an error, but what a new setup often gets wrong."""
        self.lines.append(CheckLine(True, subject, detail, warning=True))


def _shown(path: Path, base: Path) -> str:
    """A path relative to the folder of feeds.yaml when it is inside it."""
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def check_templates(templates_dir: Path, base: Path, report: CheckReport) -> bool:
    """Compile every template file in the sandboxed environment the issue is rendered with;
    True when all of them compile."""
    before = len(report.lines)
    try:
        env = make_environment(templates_dir)
    except NewsletterError as exc:
        report.add(False, _shown(templates_dir, base), str(exc))
        return False
    files = sorted(
        p for p in templates_dir.rglob("*") if p.is_file() and p.suffix in TEMPLATE_SUFFIXES
    )
    if not files:
        report.add(False, _shown(templates_dir, base), "no template files found")
    for path in files:
        name = path.relative_to(templates_dir).as_posix()
        shown = _shown(path, base)
        try:
            env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            report.add(False, f"{shown}, line {exc.lineno}", exc.message or "syntax error")
        except UnicodeDecodeError as exc:
            report.add(False, shown, f"not UTF-8 text: {exc}")
        except jinja2.TemplateError as exc:
            report.add(False, shown, str(exc))
        else:
            report.add(True, shown, "compiles")
    return all(line.ok for line in report.lines[before:])


def demo_content(config: Config, now: datetime, model: ReadingModel | None = None) -> IssueContent:
    """The issue the bundled sample feeds make with this feeds.yaml's sections, rules and the
    reading model."""
    nl = config.newsletter
    rules = ReadingRules(config.rule_order, config.topic, model)
    period = period_containing(now, nl.schedule.weekday, nl.schedule.at, nl.tz)
    if (now - period.start).days < 2:  # early in a period: show the one just due, as the demo
        period = latest_due_period(now, nl.schedule.weekday, nl.schedule.at, nl.tz)
    definitions = {sample["slug"]: sample for sample in load_samples()}
    candidates: list[Candidate] = []
    for sample in render_samples(now, earliest=period.start, latest=min(now, period.end)):
        definition = definitions[sample.slug]
        section = definition.get("section")
        if section not in config.section_ids:
            section = config.sections[0].id
        parsed = parse_feed(
            sample.body,
            url=f"{definition['site']}/feed.xml",
            content_type=sample.content_type,
            language=sample.language,
            now=now,
        )
        for entry in parsed.entries:
            published = entry.published or now
            reading = read_item(
                entry.title,
                entry.summary_text,
                sample.language,
                published.astimezone(nl.tz).date(),
                FeedRules(sample.title, section),
                rules,
            )
            candidates.append(
                Candidate(
                    id=len(candidates) + 1,
                    feed=sample.title,
                    weight=float(definition.get("weight", 1.0)),
                    title=entry.title,
                    url=entry.url,
                    summary=entry.summary_text,
                    published=published,
                    language=sample.language,
                    section=reading.section,
                    reason=reading.reason,
                    facts=reading.facts,
                    relevance=reading.relevance,
                    suggested=reading.suggested,
                )
            )
    content = assemble_issue(config, period, candidates)
    viewpoint = VIEWPOINT.read_text(encoding="utf-8")
    return replace(
        content,
        viewpoint_html=markdown_to_html(viewpoint),
        viewpoint_text=viewpoint.strip(),
        viewpoint_source=VIEWPOINT.name,
    )


def _template_line(exc: BaseException) -> str:
    """The innermost template file and line in an exception's traceback (Jinja keeps them)."""
    found = "template"
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(TEMPLATE_SUFFIXES):
            found = (
                f"template {Path(filename).parent.name}/{Path(filename).name}, line {tb.tb_lineno}"
            )
        tb = tb.tb_next
    return found


def check_demo_issue(
    config: Config,
    base_url: str,
    report: CheckReport,
    now: datetime | None = None,
    model: ReadingModel | None = None,
    limits: RenderLimits | None = None,
) -> None:
    """Render the demo issue with the editor's templates; a runtime error names file and line,
    a render past ``limits`` names the limit."""
    nl = config.newsletter
    try:
        content = demo_content(config, now or datetime.now(UTC), model)
        options = RenderOptions(
            templates_dir=config.templates_dir,
            timezone=nl.tz,
            language=nl.language,
            sender_name=nl.sender.name,
            base_url=base_url,
            html_budget_bytes=nl.html_budget_bytes,
            sender_domain=nl.sender.domain,
        )
        rendered, shown = render_issue(
            make_environment(config.templates_dir, limits), content, options
        )
    except NewsletterError as exc:
        report.add(False, "demo issue", str(exc))
        return
    except (ArithmeticError, AttributeError, LookupError, TypeError, ValueError) as exc:
        # A template computing something impossible ({{ 1 / 0 }}, {{ items[99] }}) raises the
        # Python error itself; name the template line it came from.
        report.add(False, "demo issue", f"{_template_line(exc)}: {exc.__class__.__name__}: {exc}")
        return
    sections = sum(1 for s in shown.sections if s.items)
    detail = (
        f"{shown.period}: {shown.item_count} items in {sections} sections, "
        f"{rendered.html_bytes:,} bytes of HTML, {len(rendered.text):,} characters of text"
    )
    if rendered.warnings:
        detail += f" ({len(rendered.warnings)} size warning(s): {rendered.warnings[-1]})"
    report.add(True, "demo issue", detail)


def run_checks(config_path: Path | None = None, now: datetime | None = None) -> CheckReport:
    """Settings, feeds.yaml, every template and the demo issue; the report says what failed."""
    report = CheckReport()
    base_url = "http://localhost:8000"
    limits = RenderLimits()
    models = ModelStore(Path("data") / "models")
    settings = Settings.model_construct()
    settings_ok = False
    try:
        settings = load_settings()
    except NewsletterError as exc:
        report.add(False, "settings", str(exc))
        path = config_path or Path("feeds.yaml")
    else:
        settings_ok = True
        path = config_path or settings.config
        models = ModelStore(settings.anchored(path).data_dir / "models")
        report.add(True, "settings", "NEWSLETTER_* values are valid")
        base_url = settings.base_url
        limits = RenderLimits(settings.template_time_limit, settings.template_output_limit)
    try:
        config = load_config(path)
    except NewsletterError as exc:
        report.add(False, str(path), str(exc).removeprefix(f"{path.resolve()}: "))
        return report
    report.add(
        True,
        str(path),
        f"{_count(len(config.sections), 'section')}, {_count(len(config.feeds), 'feed')}, valid",
    )
    if settings_ok:
        check_addresses(config, settings, report)
    model = check_model(config, models, report)
    # A template that does not compile would only fail the render again.
    if check_templates(config.templates_dir, config.base_dir, report):
        check_demo_issue(config, base_url, report, now, model, limits)
    return report


LOCAL_NAMES = ("localhost", "localhost.localdomain")


def is_private_literal(host: str) -> bool:
    """Whether a URL's host is, as written, a loopback, private or link-local address (or
    localhost): one that `ingest` refuses without allow_private. Names are not looked up."""
    if host.lower().rstrip(".") in LOCAL_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local


def check_addresses(config: Config, settings: Settings, report: CheckReport) -> None:
    """Warnings for what works on the editor's machine and not as meant: a feed on a local
    address that ingest will refuse, and links to localhost in mail sent for real."""
    if not settings.allow_private_addresses:
        for feed in config.feeds:
            host = urlsplit(feed.url).hostname or ""
            if feed.enabled and not feed.allow_private and is_private_literal(host):
                report.warn(
                    f"feed '{feed.name}'",
                    f"{host} is a local address: `newsletter ingest` refuses it unless the feed "
                    "has allow_private: true (or NEWSLETTER_ALLOW_PRIVATE_ADDRESSES=true)",
                )
    base_host = urlsplit(settings.base_url).hostname or ""
    if settings.mail_transport == "smtp" and is_private_literal(base_host):
        report.warn(
            "settings",
            f"NEWSLETTER_BASE_URL is {settings.base_url} and mail goes out by smtp: the "
            "unsubscribe, archive and click links in real mail will not work for readers",
        )


def check_model(config: Config, models: ModelStore, report: CheckReport) -> ReadingModel | None:
    """The reading model in use: its version, where it comes from, its threshold."""
    if not config.topic.use_model:
        report.add(True, "reading model", "turned off (topic: use_model: false in feeds.yaml)")
        return None
    path = models.current_path()
    try:
        model = load_model(path)
    except NewsletterError as exc:
        report.add(False, "reading model", str(exc))
        return None
    where = "shipped with the package" if path == shipped_path() else f"trained locally, {path}"
    threshold = (
        model.threshold
        if config.topic.relevance_threshold is None
        else config.topic.relevance_threshold
    )
    report.add(
        True,
        "reading model",
        f"version {model.version} ({where}); relevance threshold {threshold:.2f}; "
        f"sections: {', '.join(model.sections.classes) if model.sections else 'none'}",
    )
    return model


def _count(n: int, noun: str) -> str:
    """``n`` and the noun, plural unless one: "1 feed", "3 feeds"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
