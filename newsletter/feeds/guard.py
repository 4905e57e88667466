"""The DNS-rebinding guard: address checks, and an httpx transport that connects only to them.

Address checks happen twice on every hop: ``check_address`` refuses a URL whose host resolves
to a non-public address before any request, and ``GuardedTransport`` resolves the host once
more when it opens a connection, checks every address and connects to the checked IP itself.
The second check is the one that counts: DNS may answer differently between the two (DNS
rebinding), and the operating system never resolves the name again. TLS still verifies the
certificate for the host name (httpcore passes it as SNI), and the Host header is unchanged.
"""

from __future__ import annotations

import contextvars
import ipaddress
import os
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpcore
import httpx

from newsletter.errors import ConfigError, FeedError
from newsletter.feeds.pool import KeepAlivePool

# Request extension read by GuardedTransport: may this request connect to a private address?
ALLOW_PRIVATE = "newsletter.allow_private"
# The monotonic time by which the current fetch must end; read by every socket read and write.
DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "newsletter_fetch_deadline", default=None
)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: an IPv4 address inside IPv6


class AddressRefused(httpcore.ConnectError):
    """The transport refused to connect: the host resolved to a non-public address."""


class PrivateAddressError(FeedError):
    """The feed's own host resolves to a non-public address, which the settings do not allow:
    a setting to change (NEWSLETTER_ALLOW_PRIVATE_ADDRESSES, a feed's ``allow_private``), not a
    failing feed, so ingest neither backs off nor disables the feed for it (a redirect to such
    an address is the server's doing and stays a plain FeedError)."""


# ---- addresses ----------------------------------------------------------------------------


def resolve_host(host: str, port: int) -> list[str]:
    """The IP addresses of a host, in the resolver's order, without duplicates.

    A module-level function so tests can stand in for DNS (monkeypatch ``guard.resolve_host``).
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


def unresolvable(host: str, exc: BaseException | None) -> str:
    """The words for a host name that does not resolve (the one wording for every path)."""
    if isinstance(exc, socket.gaierror) and exc.strerror:
        why = exc.strerror
    elif isinstance(exc, UnicodeError):
        why = "not a valid host name"
    elif exc is not None:
        why = str(exc)
    else:
        why = "no addresses"
    return f"cannot resolve the host name {host!r} ({why}); check the URL's host"


def public_addresses(host: str, port: int) -> list[str]:
    """Resolve a host and return its addresses, all of them public; AddressRefused otherwise."""
    try:
        addresses = resolve_host(host, port)
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(unresolvable(host, exc)) from exc
    if not addresses:
        raise httpcore.ConnectError(unresolvable(host, None))
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
        raise PrivateAddressError(str(exc)) from exc
    except httpcore.ConnectError as exc:
        raise FeedError(f"cannot fetch {url}: {exc}") from exc


# ---- the transport ------------------------------------------------------------------------


def _remaining(timeout: float | None, error: type[Exception]) -> float | None:
    """This read's timeout, shortened to what is left of the fetch's total time."""
    deadline = DEADLINE.get()
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
        try:
            inner = self._inner.start_tls(
                ssl_context, server_hostname, _remaining(timeout, httpcore.ConnectTimeout)
            )
        except BaseException:
            self._inner.close()  # the TCP connection would otherwise wait for the collector
            raise
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


# httpcore errors as the httpx errors they stand for, the most specific first (the httpx
# client and fetch_feed catch httpx errors; the httpcore one stays as __cause__).
_HTTPX_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


def as_httpx_error(exc: Exception) -> Exception:
    """The httpx error an httpcore error stands for (raise it ``from exc``), or ``exc`` itself
    when it is not an httpcore error."""
    for core_error, httpx_error in _HTTPX_ERRORS:
        if isinstance(exc, core_error):
            return httpx_error(str(exc))
    return exc


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        error = as_httpx_error(exc)
        if error is exc:
            raise
        raise error from exc


class _ResponseStream(httpx.SyncByteStream):
    """An httpcore response body as an httpx stream, with httpx errors."""

    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class _PoolTransport(httpx.BaseTransport):
    """An httpx transport over a keep-alive pool (``feeds.pool``) that opens its connections
    through ``backend`` (httpcore's public ``network_backend``); requests, responses and errors
    are translated as httpx's own HTTPTransport does."""

    def __init__(
        self, backend: httpcore.NetworkBackend, limits: httpx.Limits, ssl_context: ssl.SSLContext
    ) -> None:
        assert limits.max_connections is not None  # make_client always sets it
        self._pool = KeepAlivePool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=(
                limits.max_connections
                if limits.max_keepalive_connections is None  # httpx: None is no limit
                else limits.max_keepalive_connections
            ),
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            response = self._pool.handle_request(core_request)
        assert isinstance(response.stream, Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    def handle_core(self, request: httpcore.Request) -> httpcore.Response:
        """An httpcore request straight to the pool (the lean path of ``fetch``); httpcore
        errors come out as they are."""
        return self._pool.handle_request(request)

    def close(self) -> None:
        self._pool.close()


class TrustOnDemand:
    """The TLS context both pools share, its trusted certificates read on the first https
    request rather than when the transport is made.

    Reading the CA bundle costs tens of milliseconds, which a poll of http feeds (a re-poll
    of local or intranet feeds, the start-up of every run) need not pay. The context is the
    one httpx would make (``ssl.create_default_context`` with ``SSL_CERT_FILE``,
    ``SSL_CERT_DIR`` or certifi's bundle, and the stricter checks that function adds from
    Python 3.13): it verifies certificates and host names from the start, so a connection that
    somehow went out before the bundle was read would fail verification, never pass
    unchecked. A ``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` that is not there is a ConfigError when
    the transport is made, before any request."""

    def __init__(self) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, host names
        if sys.version_info >= (3, 13):  # as ssl.create_default_context does there
            self.context.verify_flags |= ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN
        keylog = os.environ.get("SSLKEYLOGFILE")
        if keylog and not sys.flags.ignore_environment:
            self.context.keylog_filename = keylog  # as ssl.create_default_context does
        self.source = self._source()
        self.loaded = False
        self._lock = threading.Lock()

    @staticmethod
    def _source() -> tuple[str, str] | None:
        """Where the trusted certificates come from: ("SSL_CERT_FILE", path), ("SSL_CERT_DIR",
        path), or None for certifi's bundle; checked to exist."""
        for variable, exists in (
            ("SSL_CERT_FILE", os.path.isfile),
            ("SSL_CERT_DIR", os.path.isdir),
        ):
            value = os.environ.get(variable)
            if value:
                if not exists(value):
                    raise ConfigError(
                        f"{variable}={value}: no such {'file' if variable.endswith('FILE') else 'folder'}"
                        f"; set it to the trusted certificates (PEM) or unset it"
                    )
                return variable, value
        return None

    def load(self) -> None:
        """Read the trusted certificates once (thread-safe; later calls return at once).
        Raises ConfigError when they cannot be read."""
        if self.loaded:
            return
        with self._lock:
            if self.loaded:
                return
            try:
                if self.source is None:
                    import certifi

                    self.context.load_verify_locations(cafile=certifi.where())
                elif self.source[0] == "SSL_CERT_FILE":
                    self.context.load_verify_locations(cafile=self.source[1])
                else:
                    self.context.load_verify_locations(capath=self.source[1])
            except (OSError, ssl.SSLError) as exc:
                where = "=".join(self.source) if self.source else "certifi's bundle"
                raise ConfigError(
                    f"cannot read the trusted certificates ({where}): {exc}; "
                    "check the file or unset the variable"
                ) from exc
            self.loaded = True


class GuardedTransport(httpx.BaseTransport):
    """Two connection pools: one that checks every address it connects to, and one (for
    requests carrying the ALLOW_PRIVATE extension) that does not. Separate pools, so a
    connection opened for an allowed intranet feed is never reused by a checked request."""

    def __init__(self, limits: httpx.Limits, allow_private: bool = False) -> None:
        self.allow_private = allow_private
        # One TLS context for both pools (contexts are safe to share between connections and
        # threads); its CA bundle is read by the first https request.
        self.trust = TrustOnDemand()
        self._checked = _PoolTransport(_Backend(check=True), limits, self.trust.context)
        self._open = _PoolTransport(_Backend(check=False), limits, self.trust.context)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            self.trust.load()
        allowed = bool(request.extensions.get(ALLOW_PRIVATE, self.allow_private))
        return (self._open if allowed else self._checked).handle_request(request)

    def handle_core(self, request: httpcore.Request) -> httpcore.Response:
        """The lean path of ``fetch.fetch_feed``: an httpcore request, built without httpx's
        request and response models, sent to the pool ``handle_request`` would choose, with the
        same TLS and address checks. Errors are httpx errors (``as_httpx_error``), as from
        ``handle_request``; the response body's errors are left to the caller to translate."""
        if request.url.scheme == b"https":
            self.trust.load()
        allowed = bool(request.extensions.get(ALLOW_PRIVATE, self.allow_private))
        try:
            return (self._open if allowed else self._checked).handle_core(request)
        except Exception as exc:
            error = as_httpx_error(exc)
            if error is exc:
                raise
            raise error from exc

    def close(self) -> None:
        self._checked.close()
        self._open.close()
