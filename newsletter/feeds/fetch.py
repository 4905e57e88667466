"""The only feed HTTP: conditional GET with httpx, time/size/redirect limits and address checks.

Address checks happen twice on every hop: ``check_address`` refuses a URL whose host resolves
to a non-public address before any request, and the client's transport (``make_client``)
resolves the host once more when it opens a connection, checks every address and connects to
the checked IP itself. The second check is the one that counts: DNS may answer differently
between the two (DNS rebinding), and the operating system never resolves the name again.
TLS still verifies the certificate for the host name (httpcore passes it as SNI), and the
Host header is unchanged.
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
import ssl
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urldefrag, urljoin, urlsplit

import httpcore
import httpx

from newsletter import PRODUCT, __version__
from newsletter.errors import FeedError

USER_AGENT = f"{PRODUCT}/{__version__} (RSS/Atom weekly digest; python-httpx)"
MAX_REDIRECTS = 5
ACCEPT = "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
PERMANENT_REDIRECTS = (301, 308)  # RFC 9110 §15.4.2 and §15.4.9: update stored links
MAX_RETRY_AFTER = timedelta(days=7)
INFLATE_CHUNK = 256 * 1024  # a server cannot park a feed for longer than this
# Request extension read by GuardedTransport: may this request connect to a private address?
ALLOW_PRIVATE = "newsletter.allow_private"
# The monotonic time by which the current fetch must end; read by every socket read and write.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "newsletter_fetch_deadline", default=None
)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: an IPv4 address inside IPv6


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


@dataclass(frozen=True)
class FetchResult:
    """What a fetch returned: a body (status 200) or not-modified (304), with new validators.

    ``permanent_url`` is where the leading 301/308 redirects of the chain pointed (None when
    the first answer was not a permanent redirect); the caller decides when to adopt it.
    """

    url: str
    status: int
    body: bytes | None
    content_type: str | None
    validators: Validators
    permanent_url: str | None = None

    @property
    def not_modified(self) -> bool:
        """True when the server answered 304."""
        return self.status == 304


class FeedHTTPError(FeedError):
    """The server answered with an error status; ``retry_after`` is its Retry-After, if any."""

    def __init__(self, message: str, status: int, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def is_gone(self) -> bool:
        """410 Gone: the publisher removed the feed on purpose (RFC 9110 §15.5.11)."""
        return self.status == 410


class AddressRefused(httpcore.ConnectError):
    """The transport refused to connect: the host resolved to a non-public address."""


# ---- addresses ----------------------------------------------------------------------------


def resolve_host(host: str, port: int) -> list[str]:
    """The IP addresses of a host, in the resolver's order, without duplicates.

    A module-level function so tests can stand in for DNS (monkeypatch ``fetch.resolve_host``).
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in found:
            found.append(address)
    return found


def is_public_address(address: IPAddress) -> bool:
    """True for a global unicast address: not loopback, private, link-local (169.254.169.254),
    carrier-grade NAT (100.64/10), unspecified, multicast or reserved, and no IPv6 address that
    carries such an IPv4 address inside it (::ffff:127.0.0.1, 6to4, Teredo, NAT64)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded: ipaddress.IPv4Address | None = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_public_address(embedded):
            return False
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
        or not address.is_global
    )


def _refusal(host: str, address: str) -> str:
    return (
        f"host {host!r} resolves to non-public address {address}; "
        "set NEWSLETTER_ALLOW_PRIVATE_ADDRESSES=true (or allow_private: true on the feed in "
        "feeds.yaml) to allow it"
    )


def public_addresses(host: str, port: int) -> list[str]:
    """Resolve a host and return its addresses, all of them public; AddressRefused otherwise."""
    try:
        addresses = resolve_host(host, port)
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve host {host!r}: {exc}") from exc
    if not addresses:
        raise httpcore.ConnectError(f"cannot resolve host {host!r}: no addresses")
    for text in addresses:
        # A scoped IPv6 address ("fe80::1%eth0") is link-local anyway; drop the scope to parse.
        if not is_public_address(ipaddress.ip_address(text.split("%", 1)[0])):
            raise AddressRefused(_refusal(host, text))
    return addresses


def check_address(url: str, allow_private: bool) -> None:
    """Refuse non-http(s) URLs, and hosts that resolve to private/loopback addresses unless allowed."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise FeedError(f"URL must be http or https, got {url!r} ({exc})") from exc
    if parts.scheme not in ("http", "https") or not hostname:
        raise FeedError(f"URL must be http or https, got {url!r}")
    if allow_private:
        return
    try:
        public_addresses(hostname, port or (443 if parts.scheme == "https" else 80))
    except AddressRefused as exc:
        raise FeedError(str(exc)) from exc
    except httpcore.ConnectError as exc:
        raise FeedError(str(exc)) from exc


# ---- the transport ------------------------------------------------------------------------


def _remaining(timeout: float | None, error: type[Exception]) -> float | None:
    """This read's timeout, shortened to what is left of the fetch's total time."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("total time limit exceeded")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose reads and writes never outlive the current fetch's deadline.

    httpx's timeouts are per read, so a server sending one byte per second (in the headers as
    much as in the body) would otherwise hold a fetch forever.
    """

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _remaining(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _remaining(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _remaining(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> object:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """Opens TCP connections; with ``check`` it resolves the host itself, refuses non-public
    addresses and connects to the address it checked (never to a name the OS resolves again)."""

    def __init__(self, check: bool) -> None:
        self.check = check
        self._sync = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _remaining(timeout, httpcore.ConnectTimeout)
        if not self.check:
            stream = self._sync.connect_tcp(host, port, timeout, local_address, socket_options)
            return _DeadlineStream(stream)
        error: Exception | None = None
        for address in public_addresses(host, port):
            try:
                stream = self._sync.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc  # try the next address, as socket.create_connection does
                continue
            return _DeadlineStream(stream)
        assert error is not None
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("feeds are never fetched over a Unix socket")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def _http_transport(backend: _Backend, limits: httpx.Limits) -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(limits=limits)
    # httpx has no public way to pass an httpcore network backend: swap the (still unused)
    # connection pool for one built the same way with ours.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=backend,
    )
    return transport


class GuardedTransport(httpx.BaseTransport):
    """Two connection pools: one that checks every address it connects to, and one (for
    requests carrying the ALLOW_PRIVATE extension) that does not. Separate pools, so a
    connection opened for an allowed intranet feed is never reused by a checked request."""

    def __init__(self, limits: httpx.Limits, allow_private: bool = False) -> None:
        self.allow_private = allow_private
        self._checked = _http_transport(_Backend(check=True), limits)
        self._open = _http_transport(_Backend(check=False), limits)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        allowed = bool(request.extensions.get(ALLOW_PRIVATE, self.allow_private))
        return (self._open if allowed else self._checked).handle_request(request)

    def close(self) -> None:
        self._checked.close()
        self._open.close()


def make_client(limits: FetchLimits, max_connections: int = 20) -> httpx.Client:
    """An httpx client for feeds: our User-Agent, address checks on every connection, no
    automatic redirects or decompression."""
    pool = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx.Client(
        headers={"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
        timeout=httpx.Timeout(limits.timeout),
        follow_redirects=False,
        transport=GuardedTransport(pool, allow_private=limits.allow_private),
    )


# ---- fetching -----------------------------------------------------------------------------


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A Retry-After header (RFC 9110 §10.2.3: seconds or an HTTP date) as a delay from now,
    between zero and MAX_RETRY_AFTER; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        # Nine digits are over thirty years; longer strings are not worth converting.
        delay = timedelta(seconds=int(value)) if len(value) <= 9 else MAX_RETRY_AFTER
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # RFC 9110 §5.6.7: HTTP dates are GMT
        delay = when - now
    return max(timedelta(0), min(delay, MAX_RETRY_AFTER))


def _too_large(max_bytes: int, detail: str = "") -> FeedError:
    return FeedError(f"feed is larger than the {max_bytes:,} byte limit{detail}")


def _read_capped(response: httpx.Response, max_bytes: int, deadline: float) -> bytes:
    """Read the body, decompressing gzip/deflate ourselves with caps on inflated size and time."""
    chunks: list[bytes] = []
    try:
        return _read_into(chunks, response, max_bytes, deadline)
    except BaseException:
        # The error's traceback keeps this frame (and the megabytes read so far) alive for as
        # long as someone holds the error, such as a Future in a pool: let the bytes go now.
        chunks.clear()
        raise


def _read_into(
    chunks: list[bytes], response: httpx.Response, max_bytes: int, deadline: float
) -> bytes:
    encoding = response.headers.get("content-encoding", "").strip().lower()
    decoder = None
    if encoding in ("gzip", "x-gzip"):
        decoder = zlib.decompressobj(wbits=47)  # 32+15: gzip or zlib header
    elif encoding == "deflate":
        decoder = zlib.decompressobj()
    elif encoding not in ("", "identity"):
        raise FeedError(f"unsupported Content-Encoding {encoding!r}")
    declared = response.headers.get("content-length", "")
    if decoder is None and declared.isdigit() and len(declared) < 20 and int(declared) > max_bytes:
        # Refuse before reading: the server says how big the body is.
        raise _too_large(max_bytes, f" (the server announced {int(declared):,} bytes)")
    total = 0
    for raw in response.iter_raw():
        if time.monotonic() > deadline:
            raise FeedError("body took too long to arrive (total time limit exceeded)")
        if decoder is None:
            total += len(raw)
            if total > max_bytes:
                raise _too_large(max_bytes)
            chunks.append(raw)
            continue
        while raw:
            # Inflate in small pieces: one call asked for megabytes allocates (and resizes)
            # a buffer that large, doubling the peak for a gzip bomb.
            try:
                data = decoder.decompress(raw, min(INFLATE_CHUNK, max_bytes + 1 - total))
            except zlib.error as exc:
                raise FeedError(f"corrupt {encoding} body: {exc}") from exc
            total += len(data)
            if total > max_bytes:
                raise _too_large(max_bytes, " (decompressed)")
            chunks.append(data)
            if not data and decoder.unconsumed_tail == raw:
                break  # no progress (the stream ended): the rest is trailing garbage
            raw = decoder.unconsumed_tail
    if decoder is not None:
        try:
            tail = decoder.flush()
        except zlib.error as exc:
            raise FeedError(f"corrupt {encoding} body: {exc}") from exc
        total += len(tail)
        if total > max_bytes:
            raise _too_large(max_bytes, " (decompressed)")
        chunks.append(tail)
    return b"".join(chunks)


def _short(url: str, limit: int = 200) -> str:
    return url if len(url) <= limit else url[: limit - 1] + "…"


def _status_error(response: httpx.Response, url: str) -> FeedHTTPError:
    status = response.status_code
    message = f"HTTP {status} {response.reason_phrase} from {url}"
    retry_after = None
    if status in (429, 503):
        retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
        if retry_after is not None:
            message += f"; the server asks to wait {_delay_text(retry_after)} (Retry-After)"
    return FeedHTTPError(message, status, retry_after)


def _delay_text(delay: timedelta) -> str:
    seconds = int(delay.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def fetch_feed(
    client: httpx.Client, url: str, validators: Validators, limits: FetchLimits
) -> FetchResult:
    """GET a feed conditionally; 304 is success. Raises FeedError with what to check.

    Follows at most MAX_REDIRECTS redirects, refusing a loop (a URL seen twice in one chain)
    and checking every hop's address; the whole fetch ends within ``limits.total_seconds``.
    """
    headers: dict[str, str] = {}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    current = url
    chain = [urldefrag(url)[0]]
    permanent: str | None = None
    leading_permanent = True
    # httpx timeouts are per read; a trickling server also gets a total deadline.
    deadline = time.monotonic() + limits.total_seconds
    token = _DEADLINE.set(deadline)
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            private_ok = limits.allows_private(current)
            check_address(current, private_ok)
            try:
                with client.stream(
                    "GET", current, headers=headers, extensions={ALLOW_PRIVATE: private_ok}
                ) as response:
                    status = response.status_code
                    if status == 304:
                        return FetchResult(current, 304, None, None, validators, permanent)
                    if status in REDIRECT_STATUSES:
                        location = response.headers.get("location")
                        if not location:
                            raise FeedError(f"HTTP {status} redirect without Location")
                        target = urljoin(current, location.strip())
                        if leading_permanent and status in PERMANENT_REDIRECTS:
                            permanent = target
                        else:
                            leading_permanent = False
                        normalized = urldefrag(target)[0]
                        if normalized in chain:
                            hops = " -> ".join(_short(u) for u in [*chain, normalized])
                            raise FeedError(f"redirect loop: {hops}; check the feed URL")
                        chain.append(normalized)
                        current = target
                        continue
                    if status != 200:
                        raise _status_error(response, current)
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
                        permanent_url=permanent,
                    )
            except httpx.TimeoutException as exc:
                if time.monotonic() >= deadline - 0.01:
                    raise FeedError(
                        f"took longer than the total time limit of {limits.total_seconds:g}s "
                        f"fetching {current}"
                    ) from exc
                raise FeedError(f"timed out after {limits.timeout:g}s fetching {current}") from exc
            except httpx.HTTPError as exc:
                if isinstance(exc.__cause__, AddressRefused):
                    raise FeedError(str(exc.__cause__)) from exc
                raise FeedError(f"cannot fetch {current}: {exc.__class__.__name__}: {exc}") from exc
        raise FeedError(f"more than {MAX_REDIRECTS} redirects starting at {url}")
    finally:
        _DEADLINE.reset(token)
