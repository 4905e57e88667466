"""The only feed HTTP: conditional GET with httpx, time/size/redirect limits and address checks."""

from __future__ import annotations

import ipaddress
import socket
import time
import zlib
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from newsletter import PRODUCT, __version__
from newsletter.errors import FeedError

USER_AGENT = f"{PRODUCT}/{__version__} (RSS/Atom weekly digest; python-httpx)"
MAX_REDIRECTS = 5
ACCEPT = "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"


@dataclass(frozen=True)
class FetchLimits:
    """How long and how much one fetch may take, and whether private hosts are allowed."""

    timeout: float = 20.0
    max_bytes: int = 10 * 1024 * 1024
    allow_private: bool = False


@dataclass(frozen=True)
class Validators:
    """HTTP cache validators stored from the previous successful fetch."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """What a fetch returned: a body (status 200) or not-modified (304), with new validators."""

    url: str
    status: int
    body: bytes | None
    content_type: str | None
    validators: Validators

    @property
    def not_modified(self) -> bool:
        """True when the server answered 304."""
        return self.status == 304


def make_client(limits: FetchLimits, max_connections: int = 20) -> httpx.Client:
    """An httpx client for feeds: our User-Agent, no automatic redirects or decompression."""
    return httpx.Client(
        headers={"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
        timeout=httpx.Timeout(limits.timeout),
        follow_redirects=False,
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
    )


def check_address(url: str, allow_private: bool) -> None:
    """Refuse non-http(s) URLs, and hosts that resolve to private/loopback addresses unless allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FeedError(f"URL must be http or https, got {url!r}")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise FeedError(f"cannot resolve host {parts.hostname!r}: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise FeedError(
                f"host {parts.hostname!r} resolves to non-public address {address}; "
                "set NEWSLETTER_ALLOW_PRIVATE_ADDRESSES=true to allow it"
            )


def _read_capped(response: httpx.Response, max_bytes: int, deadline: float) -> bytes:
    """Read the body, decompressing gzip/deflate ourselves with caps on inflated size and time."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    decoder = None
    if encoding in ("gzip", "x-gzip"):
        decoder = zlib.decompressobj(wbits=47)  # 32+15: gzip or zlib header
    elif encoding == "deflate":
        decoder = zlib.decompressobj()
    elif encoding not in ("", "identity"):
        raise FeedError(f"unsupported Content-Encoding {encoding!r}")
    chunks: list[bytes] = []
    total = 0
    for raw in response.iter_raw():
        if time.monotonic() > deadline:
            raise FeedError("body took too long to arrive (total time limit exceeded)")
        if decoder is None:
            data = raw
        else:
            try:
                data = decoder.decompress(raw, max_bytes + 1 - total)
            except zlib.error as exc:
                raise FeedError(f"corrupt {encoding} body: {exc}") from exc
            if decoder.unconsumed_tail:
                raise FeedError(f"feed is larger than the {max_bytes:,} byte limit (decompressed)")
        total += len(data)
        if total > max_bytes:
            raise FeedError(f"feed is larger than the {max_bytes:,} byte limit")
        chunks.append(data)
    if decoder is not None:
        try:
            tail = decoder.flush()
        except zlib.error as exc:
            raise FeedError(f"corrupt {encoding} body: {exc}") from exc
        total += len(tail)
        if total > max_bytes:
            raise FeedError(f"feed is larger than the {max_bytes:,} byte limit (decompressed)")
        chunks.append(tail)
    return b"".join(chunks)


def fetch_feed(
    client: httpx.Client, url: str, validators: Validators, limits: FetchLimits
) -> FetchResult:
    """GET a feed conditionally; 304 is success. Raises FeedError with what to check."""
    headers: dict[str, str] = {}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    current = url
    # httpx timeouts are per read; a trickling server also gets a total deadline.
    deadline = time.monotonic() + limits.timeout * 3
    for _hop in range(MAX_REDIRECTS + 1):
        check_address(current, limits.allow_private)
        try:
            with client.stream("GET", current, headers=headers) as response:
                if response.status_code == 304:
                    return FetchResult(current, 304, None, None, validators)
                if response.status_code in (301, 302, 303, 307, 308):
                    location = response.headers.get("location")
                    if not location:
                        raise FeedError(f"HTTP {response.status_code} redirect without Location")
                    current = urljoin(current, location)
                    continue
                if response.status_code != 200:
                    raise FeedError(
                        f"HTTP {response.status_code} {response.reason_phrase} from {current}"
                    )
                body = _read_capped(response, limits.max_bytes, deadline)
                return FetchResult(
                    url=current,
                    status=200,
                    body=body,
                    content_type=response.headers.get("content-type"),
                    validators=Validators(
                        etag=response.headers.get("etag"),
                        last_modified=response.headers.get("last-modified"),
                    ),
                )
        except httpx.TimeoutException as exc:
            raise FeedError(f"timed out after {limits.timeout:g}s fetching {current}") from exc
        except httpx.HTTPError as exc:
            raise FeedError(f"cannot fetch {current}: {exc.__class__.__name__}: {exc}") from exc
    raise FeedError(f"more than {MAX_REDIRECTS} redirects starting at {url}")
