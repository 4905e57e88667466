"""The application context every use case receives: settings, config and the database engine."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsletter.config import Config, FeedConfig, Settings, load_config
from newsletter.errors import ConfigError
from newsletter.storage import db
from newsletter.storage.db import Engine

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    # Rendering (Jinja2, premailer) and the mail transports are imported when a command
    # renders or sends, not by every command: `newsletter ingest` starts without them.
    from newsletter.email.render import RenderOptions
    from newsletter.email.sandbox import RenderLimits
    from newsletter.email.transports import Transport

    MailTransport = Transport
    """The mail transport's interface, for entry points that hand one to the services."""


def __getattr__(name: str) -> Any:
    """``MailTransport``, imported on first use (see above)."""
    if name == "MailTransport":
        from newsletter.email.transports import Transport

        return Transport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class App:
    """Loaded once at the edge and passed in: nothing reads the environment after this."""

    settings: Settings
    config: Config
    engine: Engine
    config_stamp: tuple[int, int, int] | None = None  # feeds.yaml's (inode, mtime, size) as read

    @cached_property
    def feeds_by_name(self) -> dict[str, FeedConfig]:
        """The configured feeds by name."""
        return {f.name: f for f in self.config.feeds}

    def replace_config(self, config: Config) -> None:
        """Use a new feeds.yaml from now on (the web wrote it): pages, drafts and the next
        ingest in this process see it at once."""
        self.config = config
        self.config_stamp = config_stamp(config.path)
        self.__dict__.pop("feeds_by_name", None)  # the cached_property, computed again

    def reload_config_if_changed(self) -> bool:
        """Read feeds.yaml again when it changed on disk since it was read (another web worker
        or an editor wrote it); True when it did. A file that no longer loads is logged once
        and the configuration in use stays (`newsletter check` says what is wrong)."""
        stamp = config_stamp(self.config.path)
        if stamp is None or stamp == self.config_stamp:
            return False
        try:
            config = load_config(self.config.path)
        except ConfigError as exc:
            self.config_stamp = stamp  # not again until the file changes once more
            log.warning(
                "feeds.yaml changed but does not load; still using the previous one: %s", exc
            )
            return False
        self.replace_config(config)
        return True

    def secret(self) -> bytes:
        """The secret key: NEWSLETTER_SECRET_KEY, else one generated once into the data folder."""
        if self.settings.secret_key is not None:
            return self.settings.secret_key.get_secret_value().encode()
        path = self.settings.data_dir / "secret.key"
        if not path.exists():
            _create_secret(path)
        return path.read_text().strip().encode()

    def render_options(self) -> RenderOptions:
        """Template folder, timezone and links for rendering."""
        from newsletter.email.render import RenderOptions

        nl = self.config.newsletter
        return RenderOptions(
            templates_dir=self.config.templates_dir,
            timezone=nl.tz,
            language=nl.language,
            sender_name=nl.sender.name,
            base_url=self.settings.base_url,
            html_budget_bytes=nl.html_budget_bytes,
            sender_domain=nl.sender.domain,
            calendar_attachments=nl.calendar_attachments,
        )

    def render_limits(self) -> RenderLimits:
        """How long one template render may take and how much it may write (settings)."""
        from newsletter.email.sandbox import RenderLimits

        s = self.settings
        return RenderLimits(s.template_time_limit, s.template_output_limit)

    def transport(self) -> Transport:
        """The configured mail transport (file outbox or SMTP relay)."""
        from newsletter.email.transports import FileTransport, SmtpSettings, SmtpTransport

        s = self.settings
        if s.mail_transport == "file":
            return FileTransport(s.resolved_outbox_dir)
        return SmtpTransport(
            SmtpSettings(
                host=s.smtp_host,
                port=s.resolved_smtp_port,
                tls=s.smtp_tls,
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                timeout=s.smtp_timeout,
            )
        )


def open_app(settings: Settings, config_path: Path | None = None, upgrade: bool = True) -> App:
    """Load feeds.yaml, open the database and bring its schema up to date."""
    path = config_path or settings.config
    # Only the default ./feeds.yaml gets the hint; a path the user named is reported as it is.
    if not path.exists() and config_path is None and "config" not in settings.model_fields_set:
        raise ConfigError(
            f"{path}: file not found; run from the project folder, pass --config PATH or set "
            "NEWSLETTER_CONFIG, or start a new newsletter here with `newsletter init`"
        )
    config = load_config(path)
    # Data, outbox and key files are found from feeds.yaml's folder, wherever the command runs.
    settings = settings.anchored(path)
    engine = db.make_engine(settings.resolved_database_url)
    if upgrade:
        db.upgrade(engine)
    return App(settings=settings, config=config, engine=engine, config_stamp=config_stamp(path))


def config_stamp(path: Path) -> tuple[int, int, int] | None:
    """What tells that feeds.yaml changed: its inode (a rename replaces it), mtime and size."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


def _create_secret(path: Path) -> None:
    """Write a new secret key to path unless another thread or process wins the race.

    The key is written whole to a private file first and then linked into place, so a concurrent
    reader sees either no file or the complete key, never an empty one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
        with contextlib.suppress(FileExistsError):  # another sender made it first: use that one
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)
