"""The only feed HTTP: conditional GET with httpx (or, for a plain request, straight to the
guarded pools: the lean path), time/size/redirect limits; addresses are checked on every hop
by ``guard`` (before the request and again when a connection opens)."""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import ssl
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urldefrag, urljoin, urlsplit

import httpcore
import httpx

from newsletter import PRODUCT, __version__
from newsletter.domain.retry import parse_retry_after
from newsletter.errors import FeedError
from newsletter.feeds.guard import (
    ALLOW_PRIVATE,
    DEADLINE,
    AddressRefused,
    GuardedTransport,
    PrivateAddressError,
    as_httpx_error,
    check_address,
    unresolvable,
)

# Re-exported: callers import them from here (the parsing processes from feeds.limits).
from newsletter.feeds.limits import FetchLimits as FetchLimits
from newsletter.feeds.limits import Validators as Validators

USER_AGENT = f"{PRODUCT}/{__version__} (RSS/Atom weekly digest; python-httpx)"
MAX_REDIRECTS = 5
ACCEPT = "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
PERMANENT_REDIRECTS = (301, 308)  # RFC 9110 §15.4.2 and §15.4.9: update stored links
INFLATE_CHUNK = 256 * 1024  # a server cannot park a feed for longer than this


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
    cache_control: str | None = None  # the answer's Cache-Control and Expires, for polling
    expires: str | None = None

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


class _CookiesWhenSet(httpx.Cookies):
    """The client's cookie jar, asked to read a response only when it sets a cookie.

    httpx builds the standard library's request and response views for every response it
    hands the jar, set cookies or not: about a tenth of the CPU of a 304 (a re-poll is
    mostly 304s). A response without ``Set-Cookie`` adds nothing to the jar either way."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


class FeedClient(httpx.Client):
    """The feed client ``make_client`` returns: an httpx client whose guarded transport
    ``fetch_feed`` may also use directly (the lean path, ``_lean_open``)."""

    def __init__(
        self, *, headers: dict[str, str], timeout: httpx.Timeout, transport: GuardedTransport
    ) -> None:
        super().__init__(
            headers=headers, timeout=timeout, follow_redirects=False, transport=transport
        )
        self.guard = transport


def make_client(limits: FetchLimits, max_connections: int = 20) -> httpx.Client:
    """An httpx client for feeds: our User-Agent, address checks on every connection, no
    automatic redirects or decompression; cookies kept for the client's life (a server that
    sets one on a redirect gets it back on the next hop)."""
    pool = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    client = FeedClient(
        headers={"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
        timeout=httpx.Timeout(limits.timeout),
        transport=GuardedTransport(pool, allow_private=limits.allow_private),
    )
    # httpx keeps the jar in ``_cookies`` (its ``cookies`` setter copies into a plain
    # Cookies); where a later httpx keeps it elsewhere, the client stays as httpx made it.
    if type(getattr(client, "_cookies", None)) is httpx.Cookies:
        client._cookies = _CookiesWhenSet(client._cookies.jar)
    return client


# ---- the lean path ------------------------------------------------------------------------
# httpx's client builds, for every request, a Request (parsing the URL, normalising the
# headers), a Response and the stream wrappers around its body: about 40 % of the CPU of a
# conditional GET answered 304 on loopback, and a re-poll is mostly that. A GET of a plain URL
# (one httpx would send unchanged) by the feed client, with no cookie in its jar, goes straight
# to the guarded pools instead, with the bytes httpx would send (a test compares the two);
# any other request takes httpx's path.

_PLAIN_URL = re.compile(
    r"(https?)://([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)(?::([1-9][0-9]{0,4}))?"
    r"(/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*)?(\?[A-Za-z0-9\-._~!$&'()*+,;=:@/?]*)?"
)
_IPV4_STYLE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")  # httpx checks these as IPv4
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HTTPX_LOG = logging.getLogger("httpx")  # httpx logs every request at INFO; so does this path


@dataclass(frozen=True)
class PlainURL:
    """A URL as httpcore takes it, in the form httpx would give it."""

    scheme: bytes
    host: bytes
    port: int | None  # None: the scheme's default
    target: bytes  # path and query
    netloc: bytes  # the Host header


def plain_url(url: str) -> PlainURL | None:
    """The parts of an http(s) URL made only of characters httpx sends unchanged (no
    percent-escapes, user, fragment or dot segments; host case and a default port are
    normalised as httpx does); None for any other URL, which httpx's own parser handles."""
    found = _PLAIN_URL.fullmatch(url)
    if found is None:
        return None
    scheme, host, port_text, path, query = found.groups()
    if path and "/." in path:  # httpx removes dot segments (RFC 3986 §5.2.4)
        return None
    host = host.lower()
    if _IPV4_STYLE.fullmatch(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return None  # httpx refuses it with its own words
    port = int(port_text) if port_text else None
    if port is not None and port > 65535:
        return None
    if port == _DEFAULT_PORTS[scheme]:
        port = None
    netloc = host if port is None else f"{host}:{port}"
    target = (path or "/") + (query or "")
    return PlainURL(scheme.encode(), host.encode(), port, target.encode(), netloc.encode())


class _Answer(Protocol):
    """What ``fetch_feed`` reads of a response: an httpx one, or the lean path's."""

    @property
    def status_code(self) -> int: ...

    @property
    def reason_phrase(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def iter_raw(self) -> Iterator[bytes]: ...

    def read(self) -> bytes: ...

    def close(self) -> None: ...


class _LeanResponse:
    """An httpcore response as ``fetch_feed`` reads it, with httpx's headers and errors."""

    def __init__(self, response: httpcore.Response) -> None:
        self._response = response
        self.status_code = response.status
        self.headers = httpx.Headers(response.headers)  # case-insensitive, values joined

    @property
    def reason_phrase(self) -> str:
        reason = self._response.extensions.get("reason_phrase")
        if isinstance(reason, bytes):
            return reason.decode("ascii", errors="ignore")
        return httpx.codes.get_reason_phrase(self.status_code)

    def iter_raw(self) -> Iterator[bytes]:
        """The body as it arrives, undecoded; httpcore's errors as httpx's."""
        stream = self._response.stream
        assert isinstance(stream, Iterable)
        try:
            for chunk in stream:
                if chunk:
                    yield chunk
        except Exception as exc:
            error = as_httpx_error(exc)
            if error is exc:
                raise
            raise error from exc
        self.close()  # as httpx does: read to its end, the connection goes back to the pool

    def read(self) -> bytes:
        """The rest of the body, undecoded (only redirects and 304s are read this way)."""
        return b"".join(self.iter_raw())

    def close(self) -> None:
        self._response.close()


def _jar_is_empty(client: httpx.Client) -> bool:
    """No cookie to send. Counting the jar walks it without its lock: a cookie another thread
    stores meanwhile may stop the walk, and then httpx's path (which locks) takes the request."""
    try:
        return not len(client.cookies)
    except RuntimeError:  # "dictionary changed size during iteration"
        return False


def _lean_open(
    client: httpx.Client, url: str, headers: dict[str, str], private_ok: bool
) -> _LeanResponse | None:
    """GET ``url`` by the lean path, or None when httpx's path must take it."""
    if not isinstance(client, FeedClient) or client.is_closed or not _jar_is_empty(client):
        return None
    parts = plain_url(url)
    if parts is None:
        return None
    # httpx's order: Host, the client's headers, then this request's (none of them the
    # client's: fetch_feed adds only the cache validators).
    raw = [(b"Host", parts.netloc), *client.headers.raw]
    raw.extend((name.encode("ascii"), value.encode("ascii")) for name, value in headers.items())
    request = httpcore.Request(
        b"GET",
        httpcore.URL(scheme=parts.scheme, host=parts.host, port=parts.port, target=parts.target),
        headers=raw,
        extensions={ALLOW_PRIVATE: private_ok, "timeout": client.timeout.as_dict()},
    )
    response = _LeanResponse(client.guard.handle_core(request))
    try:
        if "set-cookie" in response.headers:
            seen = httpx.Response(
                response.status_code,
                headers=response.headers,
                request=httpx.Request("GET", url, headers=raw),
            )
            client.cookies.extract_cookies(seen)
        if _HTTPX_LOG.isEnabledFor(logging.INFO):
            version = response._response.extensions.get("http_version", b"HTTP/1.1")
            _HTTPX_LOG.info(
                'HTTP Request: %s %s "%s %d %s"',
                "GET",
                httpx.URL(url),
                version.decode("ascii", errors="ignore"),
                response.status_code,
                response.reason_phrase,
            )
    except BaseException:
        response.close()
        raise
    return response


def _httpx_open(
    client: httpx.Client, url: str, headers: dict[str, str], private_ok: bool
) -> httpx.Response:
    """GET ``url`` through httpx (what ``client.stream`` does); the caller closes it."""
    request = client.build_request(
        "GET", url, headers=headers, extensions={ALLOW_PRIVATE: private_ok}
    )
    return client.send(request, stream=True)


# ---- fetching -----------------------------------------------------------------------------


def _too_large(max_bytes: int, detail: str = "") -> FeedError:
    return FeedError(f"feed is larger than the {max_bytes:,} byte limit{detail}")


def _read_capped(response: _Answer, max_bytes: int, deadline: float) -> bytes:
    """Read the body, decompressing gzip/deflate ourselves with caps on inflated size and time."""
    chunks: list[bytes] = []
    try:
        return _read_into(chunks, response, max_bytes, deadline)
    except BaseException:
        # The error's traceback keeps this frame (and the megabytes read so far) alive for as
        # long as someone holds the error, such as a Future in a pool: let the bytes go now.
        chunks.clear()
        raise


def _read_into(chunks: list[bytes], response: _Answer, max_bytes: int, deadline: float) -> bytes:
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
    detail = "" if decoder is None else " (decompressed)"
    for data in _pieces(response, decoder, encoding, deadline, max_bytes):
        total += len(data)
        if total > max_bytes:
            raise _too_large(max_bytes, detail)
        chunks.append(data)
    return b"".join(chunks)


def _pieces(
    response: _Answer,
    decoder: zlib._Decompress | None,
    encoding: str,
    deadline: float,
    max_bytes: int,
) -> Iterator[bytes]:
    """The body as it arrives, inflated by ``decoder`` (if any) in small pieces, never past
    one byte over ``max_bytes`` in all: one call asked for megabytes allocates (and resizes) a
    buffer that large, doubling the peak for a gzip bomb."""
    inflated = 0
    try:
        for raw in response.iter_raw():
            if time.monotonic() > deadline:
                raise FeedError("body took too long to arrive (total time limit exceeded)")
            if decoder is None:
                yield raw
                continue
            while raw:
                data = decoder.decompress(raw, min(INFLATE_CHUNK, max_bytes + 1 - inflated))
                inflated += len(data)
                yield data
                if not data and decoder.unconsumed_tail == raw:
                    break  # no progress (the stream ended): the rest is trailing garbage
                raw = decoder.unconsumed_tail
        if decoder is not None:
            yield decoder.flush()
    except zlib.error as exc:
        raise FeedError(f"corrupt {encoding} body: {exc}") from exc


def _short(url: str, limit: int = 200) -> str:
    return url if len(url) <= limit else url[: limit - 1] + "…"


def _status_error(response: _Answer, url: str) -> FeedHTTPError:
    status = response.status_code
    message = f"HTTP {status} {response.reason_phrase} from {url}"
    retry_after = None
    if status in (429, 503):
        retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
        if retry_after is not None:
            message += f"; the server asks to wait {_delay_text(retry_after)} (Retry-After)"
    return FeedHTTPError(message, status, retry_after)


# OpenSSL's reasons when an https request meets a server that answers in plain HTTP.
_PLAIN_HTTP_REASONS = (
    "WRONG_VERSION_NUMBER",
    "HTTP_REQUEST",
    "PACKET_LENGTH_TOO_LONG",
    "RECORD_LAYER_FAILURE",
)


def _network_reason(exc: httpx.HTTPError, url: str) -> str:
    """What went wrong on the network, in words that say what to check; the library's own
    text for anything not recognised (it still names the failure)."""
    cause: BaseException | None = exc
    seen = 0
    while cause is not None and seen < 8:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused (nothing answers at that address and port; check the URL and whether the site is up)"
        if isinstance(cause, socket.gaierror):
            return unresolvable(urlsplit(url).hostname or url, cause)
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"the site's TLS certificate is not trusted ({cause.verify_message}); check the URL, or SSL_CERT_FILE for a private certificate authority"
        if isinstance(cause, ssl.SSLEOFError):
            return "the server closed the connection during the TLS handshake; try again later, or check that the address serves https"
        if isinstance(cause, ssl.SSLError):
            reason = str(cause.reason or cause)
            if reason.upper().replace(" ", "_") in _PLAIN_HTTP_REASONS:
                return f"TLS failed ({reason}); is it an https address of a site that speaks plain http?"
            return f"the TLS handshake failed ({reason})"
        if isinstance(cause, ConnectionResetError):
            return "the server closed the connection (connection reset); try again later"
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    if isinstance(exc, httpx.RemoteProtocolError):
        text = str(exc)
        if "without sending a response" in text:
            return "the server closed the connection without answering; try again later"
        return f"the server's answer is not valid HTTP ({text.split(':', 1)[0].strip()})"
    return f"{exc.__class__.__name__}: {exc}"


def _delay_text(delay: timedelta) -> str:
    seconds = int(delay.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


# A redirect's body read to its end (so its connection goes back to the pool) when it says it
# is at most this big; a bigger or unsized one is left, and its connection closed.
DRAIN_LIMIT = 64 * 1024


def _drain_small(response: _Answer) -> None:
    """Read a redirect's small body to its end, raw: never decoded (a few hundred bytes of
    gzip in gzip would inflate to hundreds of MB), and never more than DRAIN_LIMIT bytes."""
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) <= DRAIN_LIMIT:
        _drain_raw(response)


def _drain_raw(response: _Answer) -> None:
    read = 0
    for chunk in response.iter_raw():
        read += len(chunk)
        if read > DRAIN_LIMIT:  # more than it said: leave it, its connection is closed
            return


def _validator(value: str | None) -> str | None:
    """An ETag or Last-Modified as it can be sent back: printable ASCII, else None (a hostile
    server's `ETag: "caf\xe9"` would otherwise fail every later poll of the feed)."""
    if value and value.isascii() and value.isprintable():
        return value
    return None


def fetch_feed(
    client: httpx.Client, url: str, validators: Validators, limits: FetchLimits
) -> FetchResult:
    """GET a feed conditionally; 304 is success. Raises FeedError with what to check.

    Follows at most MAX_REDIRECTS redirects, refusing a loop (a URL seen twice in one chain)
    and checking every hop's address; the whole fetch ends within ``limits.total_seconds``.
    """
    headers: dict[str, str] = {}
    if etag := _validator(validators.etag):
        headers["If-None-Match"] = etag
    if last_modified := _validator(validators.last_modified):
        headers["If-Modified-Since"] = last_modified
    current = url
    chain = [urldefrag(url)[0]]
    permanent: str | None = None
    leading_permanent = True
    # httpx timeouts are per read; a trickling server also gets a total deadline.
    deadline = time.monotonic() + limits.total_seconds
    token = DEADLINE.set(deadline)
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            private_ok = limits.allows_private(current)
            try:
                check_address(current, private_ok)
            except PrivateAddressError as exc:
                if current == url:
                    raise  # the feed's own address: the settings' refusal
                raise FeedError(str(exc)) from exc  # a redirect there: the server's doing
            try:
                response: _Answer | None = _lean_open(client, current, headers, private_ok)
                if response is None:
                    response = _httpx_open(client, current, headers, private_ok)
                try:
                    status = response.status_code
                    if status == 304:
                        # A 304 has no body (RFC 9110 §15.4.5), but the connection goes back to
                        # the pool only once the response is read to its end: without this,
                        # every re-polled feed of one host opened a new connection (and a new
                        # TLS handshake).
                        _drain_raw(response)
                        return FetchResult(
                            current,
                            304,
                            None,
                            None,
                            validators,
                            permanent,
                            response.headers.get("cache-control"),
                            response.headers.get("expires"),
                        )
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
                        _drain_small(response)
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
                            etag=_validator(response.headers.get("etag")),
                            last_modified=_validator(response.headers.get("last-modified")),
                        ),
                        permanent_url=permanent,
                        cache_control=response.headers.get("cache-control"),
                        expires=response.headers.get("expires"),
                    )
                finally:
                    response.close()
            except httpx.TimeoutException as exc:
                if time.monotonic() >= deadline - 0.01:
                    raise FeedError(
                        f"took longer than the total time limit of {limits.total_seconds:g}s "
                        f"fetching {current}"
                    ) from exc
                raise FeedError(f"timed out after {limits.timeout:g}s fetching {current}") from exc
            except httpx.HTTPError as exc:
                if isinstance(exc.__cause__, AddressRefused):
                    refused = PrivateAddressError if current == url else FeedError
                    raise refused(str(exc.__cause__)) from exc
                raise FeedError(f"cannot fetch {current}: {_network_reason(exc, current)}") from exc
        raise FeedError(f"more than {MAX_REDIRECTS} redirects starting at {url}")
    finally:
        DEADLINE.reset(token)
