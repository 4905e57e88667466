"""Fetching feeds over real TLS on loopback: a certificate authority and a server certificate
made by openssl for the test, the trusted certificates read on the first https request."""

from __future__ import annotations

import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from newsletter.demo.server import FeedServer, Route
from newsletter.errors import ConfigError, FeedError
from newsletter.feeds.fetch import FetchLimits, Validators, fetch_feed, make_client
from newsletter.feeds.guard import GuardedTransport

FEED = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
    b"<item><title>Over TLS</title><guid>t1</guid></item></channel></rss>"
)
LIMITS = FetchLimits(timeout=5.0, max_bytes=1024 * 1024, allow_private=True)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=cwd)


def _authority(folder: Path, name: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ca.pem (trusted by the tests), other.pem (an authority that signed nothing), and
    server.pem/server.key for 127.0.0.1 signed by ca."""
    folder = tmp_path_factory.mktemp("tls")
    _authority(folder, "ca")
    _authority(folder, "other")
    (folder / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
    )
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
        "-out", "server.csr", "-subj", "/CN=127.0.0.1",
        cwd=folder,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-out", "server.pem", "-extfile", "server.ext",
        cwd=folder,
    )  # fmt: skip
    return folder


class _Feed(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(FEED)))
        self.end_headers()
        self.wfile.write(FEED)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def tls_url(certificates: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates / "server.pem", certificates / "server.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/feed.xml"
    server.shutdown()
    server.server_close()


def test_a_feed_over_tls_signed_by_a_trusted_authority_is_fetched(
    tls_url: str, certificates: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates / "ca.pem"))
    with make_client(LIMITS) as client:
        fetched = fetch_feed(client, tls_url, Validators(), LIMITS)
    assert fetched.body == FEED


def test_a_certificate_from_an_untrusted_authority_is_refused(
    tls_url: str, certificates: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates / "other.pem"))
    with (
        make_client(LIMITS) as client,
        pytest.raises(FeedError, match=r"the site.s TLS certificate is not trusted \("),
    ):
        fetch_feed(client, tls_url, Validators(), LIMITS)


def test_the_default_bundle_does_not_trust_a_test_authority(
    tls_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with (
        make_client(LIMITS) as client,
        pytest.raises(FeedError, match=r"the site.s TLS certificate is not trusted \("),
    ):
        fetch_feed(client, tls_url, Validators(), LIMITS)


def test_http_feeds_never_read_the_certificate_bundle(
    tls_url: str, certificates: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates / "ca.pem"))
    transport = GuardedTransport(httpx.Limits(max_connections=4), allow_private=True)
    with FeedServer() as server, httpx.Client(transport=transport) as client:
        server.routes["/feed.xml"] = Route(body=FEED, content_type="application/rss+xml")
        assert fetch_feed(client, server.url("/feed.xml"), Validators(), LIMITS).body == FEED
        assert not transport.trust.loaded
        assert transport.trust.context.cert_store_stats()["x509_ca"] == 0
        # The first https request reads it, once, into the context both pools share.
        assert fetch_feed(client, tls_url, Validators(), LIMITS).body == FEED
        assert transport.trust.loaded
        assert transport.trust.context.cert_store_stats()["x509_ca"] == 1


def test_a_certificate_file_that_is_not_pem_is_a_config_error_at_the_first_https_request(
    tls_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    garbage = tmp_path / "bundle.pem"
    garbage.write_text("not a certificate\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(garbage))
    with make_client(LIMITS) as client, pytest.raises(ConfigError, match="SSL_CERT_FILE="):
        fetch_feed(client, tls_url, Validators(), LIMITS)


def test_a_missing_certificate_file_or_folder_is_a_config_error_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="no such file"):
        make_client(LIMITS)
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="no such folder"):
        make_client(LIMITS)


def test_a_redirect_from_http_to_https_reads_the_certificates_first(
    tls_url: str, certificates: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates / "ca.pem"))
    transport = GuardedTransport(httpx.Limits(max_connections=4), allow_private=True)
    with FeedServer() as server, httpx.Client(transport=transport) as client:
        server.routes["/old.xml"] = Route(status=301, headers={"Location": tls_url})
        fetched = fetch_feed(client, server.url("/old.xml"), Validators(), LIMITS)
    assert fetched.body == FEED and fetched.url == tls_url
    assert transport.trust.loaded


def test_the_context_checks_what_httpx_s_default_context_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    ours = GuardedTransport(httpx.Limits(max_connections=1)).trust.context
    theirs = httpx.create_ssl_context()
    assert ours.verify_mode == theirs.verify_mode == ssl.CERT_REQUIRED
    assert ours.check_hostname and theirs.check_hostname
    assert ours.verify_flags == theirs.verify_flags
    assert ours.options == theirs.options
    assert ours.minimum_version == theirs.minimum_version
