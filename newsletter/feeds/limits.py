"""What one fetch may do (time, size, private addresses) and the validators it sends.

Plain values without the HTTP client: a parsing process receives them inside each FeedJob
(``newsletter.service.parsing``) and so imports this module, never httpx (about a tenth of a
second of CPU in each parsing process). ``newsletter.feeds.fetch`` uses and re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class FetchLimits:
    """How long and how much one fetch may take, and which private hosts are allowed.

    ``allow_private`` allows every private address (NEWSLETTER_ALLOW_PRIVATE_ADDRESSES);
    ``allow_private_hosts`` allows only these host names (a feed's ``allow_private: true``
    allows its own host, not the hosts it redirects to).
    """

    timeout: float = 20.0
    max_bytes: int = 10 * 1024 * 1024
    allow_private: bool = False
    allow_private_hosts: frozenset[str] = field(default_factory=frozenset)
    total_timeout: float | None = None  # default: three times ``timeout``

    @property
    def total_seconds(self) -> float:
        """The most one fetch may take, redirects and a trickling body included."""
        return self.total_timeout if self.total_timeout is not None else self.timeout * 3

    def allows_private(self, url: str) -> bool:
        """Whether this URL's host may resolve to a private address."""
        if self.allow_private:
            return True
        host = (urlsplit(url).hostname or "").lower()
        return bool(host) and host in self.allow_private_hosts


@dataclass(frozen=True)
class Validators:
    """HTTP cache validators stored from the previous successful fetch."""

    etag: str | None = None
    last_modified: str | None = None
