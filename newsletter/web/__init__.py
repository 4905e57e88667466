"""The web app (`newsletter serve`): subscribe and confirm, one-click unsubscribe, preferences,
the archive, the editors' preview and statistics, and the click redirect."""

from newsletter.web.app import create_app, make_app_from_env

__all__ = ["create_app", "make_app_from_env"]
