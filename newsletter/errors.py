"""The one error hierarchy: every expected failure is a NewsletterError whose message says what to fix."""

from collections.abc import Callable


class NewsletterError(Exception):
    """An expected failure, reported to the user as one line."""


class ConfigError(NewsletterError):
    """feeds.yaml or a NEWSLETTER_* setting is missing or invalid."""


class DatabaseError(NewsletterError):
    """The database cannot be opened, or its schema is not at the expected revision."""


class DatabaseUnavailableError(DatabaseError):
    """The database cannot take this request now (locked by another writer past the wait, disk
    full, read-only, unreachable): nothing was changed; the same request may work later."""


class DatabaseFullError(DatabaseUnavailableError):
    """The disk holding the database is full (SQLite "database or disk is full", PostgreSQL
    53100 disk_full): the write that met it was rolled back; free space and run it again."""


class FeedError(NewsletterError):
    """One feed could not be fetched or parsed; recorded on the feed, never fatal to the others."""


class TemplateError(NewsletterError):
    """An email template is missing or fails to render."""


class TemplateLimitError(TemplateError):
    """A template ran past its time or output limit (NEWSLETTER_TEMPLATE_TIME_LIMIT,
    NEWSLETTER_TEMPLATE_OUTPUT_LIMIT): stopped, nothing rendered."""


class MailError(NewsletterError):
    """A message could not be handed to the mail transport."""


class MailUnavailableError(MailError):
    """The mail server refused or dropped the connection, or did not answer: worth trying
    again later (unlike a refused login or a TLS failure)."""


class SubscriberError(NewsletterError):
    """A subscriber address or import row is invalid.

    The message is a catalog message (marked with ``N_()`` where it is raised) and its
    ``params`` are filled in after translation, so a page can show it in its reader's language
    (``in_language``); ``str()`` is the English text, for the log, the CLI and the JSON API.
    ``detail`` is English text from elsewhere (a library's reason), shown only in English."""

    def __init__(self, message: str, detail: str | None = None, **params: object) -> None:
        self.message = message
        self.detail = detail
        self.params = params
        super().__init__(self.in_language(lambda text: text))

    def in_language(self, gettext: Callable[[str], str]) -> str:
        """The message through ``gettext`` (a catalog's), its values filled in."""
        translated = gettext(self.message)
        try:
            text = translated % self.params if self.params else translated
        except (KeyError, ValueError, TypeError):  # a translation with a mistyped placeholder
            translated = self.message
            text = self.message % self.params
        if self.detail and translated == self.message:
            text = f"{text}: {self.detail}"
        return text


class IssueError(NewsletterError):
    """An issue cannot be built or sent as asked (unknown period, skipped, already sent)."""


class ModelError(NewsletterError):
    """A reading model that cannot be read or trained; the model in use stays."""


class AccountError(NewsletterError):
    """A workbench account or sign-in problem (unknown account, weak password, wrong role)."""


class BounceError(NewsletterError):
    """A bounce webhook refused (unsigned, forged, replayed, unreadable or not configured);
    ``status`` is the HTTP status it is answered with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
