"""SMTP over STARTTLS and implicit TLS against a real aiosmtpd server: certificates are verified."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from newsletter.email.transports import Envelope, SmtpSettings, SmtpTransport
from newsletter.errors import MailError
from tests.smtp_server import RecordingHandler, free_port

MESSAGE = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nbody\r\n"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = auth_data.login == b"digest" and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def starttls_server(certificate: tuple[Path, Path]) -> Iterator[tuple[RecordingHandler, int]]:
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
    )
    controller.start()
    yield handler, port
    controller.stop()


def envelope() -> Envelope:
    return Envelope("a@example.com", "b@example.com", "<x@example.com>", MESSAGE)


def test_starttls_with_login_delivers(
    starttls_server: tuple[RecordingHandler, int], certificate: tuple[Path, Path]
) -> None:
    handler, port = starttls_server
    settings = SmtpSettings(
        "127.0.0.1", port, "starttls", username="digest", password="s3cret", timeout=5
    )
    transport = SmtpTransport(settings, context=trusting(certificate))
    transport.send(envelope())
    transport.send(envelope())  # the same connection is reused
    transport.close()
    assert len(handler.received) == 2


def test_untrusted_certificate_is_refused(starttls_server: tuple[RecordingHandler, int]) -> None:
    _handler, port = starttls_server
    transport = SmtpTransport(
        SmtpSettings("127.0.0.1", port, "starttls", username="digest", password="s3cret", timeout=5)
    )
    with pytest.raises(MailError, match=r"TLS with SMTP server 127\.0\.0\.1"):
        transport.send(envelope())


def test_wrong_password_names_the_settings(
    starttls_server: tuple[RecordingHandler, int], certificate: tuple[Path, Path]
) -> None:
    _handler, port = starttls_server
    settings = SmtpSettings(
        "127.0.0.1", port, "starttls", username="digest", password="wrong", timeout=5
    )
    with pytest.raises(MailError, match="NEWSLETTER_SMTP_PASSWORD"):
        SmtpTransport(settings, context=trusting(certificate)).send(envelope())


def test_implicit_tls_delivers(certificate: tuple[Path, Path]) -> None:
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, ssl_context=server_context(certificate)
    )
    controller.start()
    try:
        transport = SmtpTransport(
            SmtpSettings("127.0.0.1", port, "tls", timeout=5), context=trusting(certificate)
        )
        transport.send(envelope())
        transport.close()
    finally:
        controller.stop()
    assert len(handler.received) == 1
