"""newsletter.email.signing: DKIM signatures that verify, cover the list headers, and survive SMTP."""

from __future__ import annotations

import base64
import re
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import dkim
import pytest

from newsletter.email.message import build_message
from newsletter.email.signing import DkimSigner, load_signer
from newsletter.email.transports import Envelope, SmtpSettings, SmtpTransport
from newsletter.errors import ConfigError, MailError
from tests.email.test_mailer import PARTS as MAILER_PARTS

SELECTOR = "news2026"
DOMAIN = "news.example.com"
TOKEN = "q3V9cXk2LmZ0c1J2d0pX"
# The mailer tests' message, with lines that start with a dot (SMTP dot-stuffing must not
# change what was signed).
PARTS = replace(
    MAILER_PARTS,
    text="Hello 你好\n\n.a line that starts with a dot\n[1] https://example.com/a\n",
    html="<html><body><p>Hello 你好</p>\n.<p>dot</p></body></html>",
    reply_to="editors@news.example.com",
    language="zh",
)


def openssl(*args: str) -> bytes:
    return subprocess.run(["openssl", *args], check=True, capture_output=True).stdout


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A fresh RSA 2048 key file (made by openssl, not by the code under test) and its DNS TXT
    record."""
    path = tmp_path_factory.mktemp("dkim") / "dkim.pem"
    openssl("genrsa", "-out", str(path), "2048")
    der = openssl("rsa", "-in", str(path), "-pubout", "-outform", "DER")
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
    return path, record


@pytest.fixture(scope="module")
def signer(rsa_key: tuple[Path, bytes]) -> DkimSigner:
    result = load_signer(rsa_key[0], SELECTOR, DOMAIN)
    assert result is not None
    return result


def dns_for(record: bytes) -> Any:
    """A dnsfunc that knows one TXT record: the one at news2026._domainkey.news.example.com."""
    asked: list[bytes] = []

    def dnsfunc(name: bytes, timeout: float = 5) -> bytes | None:
        asked.append(name)
        if name.rstrip(b".") == f"{SELECTOR}._domainkey.{DOMAIN}".encode():
            return record
        return None

    dnsfunc.asked = asked  # type: ignore[attr-defined]
    return dnsfunc


def signature_tags(signed: bytes) -> dict[str, str]:
    head = signed.split(b"\r\n\r\n", 1)[0].decode("ascii")
    match = re.match(r"DKIM-Signature:(.*?)\r\n(?=\S)", head, re.DOTALL)
    assert match, "the DKIM-Signature header comes first"
    value = re.sub(r"\s+", "", match.group(1))
    return dict(tag.split("=", 1) for tag in value.split(";") if tag)


def test_signed_message_verifies(signer: DkimSigner, rsa_key: tuple[Path, bytes]) -> None:
    message = build_message(PARTS)
    signed = signer.sign(message)
    assert signed.startswith(b"DKIM-Signature: ")
    assert signed.endswith(message)  # prepended, the message itself untouched
    dnsfunc = dns_for(rsa_key[1])
    assert dkim.verify(signed, dnsfunc=dnsfunc)
    assert dnsfunc.asked  # the key really came from our record
    tags = signature_tags(signed)
    assert tags["d"] == DOMAIN and tags["s"] == SELECTOR
    assert tags["a"] == "rsa-sha256" and tags["c"] == "relaxed/relaxed"


def test_signature_covers_list_unsubscribe_headers(signer: DkimSigner) -> None:
    signed = signer.sign(build_message(PARTS))
    names = signature_tags(signed)["h"].split(":")
    for header in ("from", "to", "subject", "date", "message-id", "list-id", "reply-to"):
        assert header in names
    # RFC 8058 §4: both one-click headers signed; oversigned so none can be added.
    assert names.count("list-unsubscribe") == 2
    assert names.count("list-unsubscribe-post") == 2
    assert names.count("from") == 2


def test_changing_list_unsubscribe_after_signing_fails(
    signer: DkimSigner, rsa_key: tuple[Path, bytes]
) -> None:
    signed = signer.sign(build_message(PARTS))
    tampered = signed.replace(
        f"/unsubscribe/{TOKEN}".encode(), b"/unsubscribe/AAAAAAAAAAAAAAAAAAAA", 1
    )
    assert tampered != signed
    assert not dkim.verify(tampered, dnsfunc=dns_for(rsa_key[1]))


def test_adding_a_second_list_unsubscribe_fails(
    signer: DkimSigner, rsa_key: tuple[Path, bytes]
) -> None:
    signed = signer.sign(build_message(PARTS))
    head, _, rest = signed.partition(b"\r\n\r\n")
    added = head + b"\r\nList-Unsubscribe: <https://evil.example/x>" + b"\r\n\r\n" + rest
    assert not dkim.verify(added, dnsfunc=dns_for(rsa_key[1]))


def test_changing_the_body_after_signing_fails(
    signer: DkimSigner, rsa_key: tuple[Path, bytes]
) -> None:
    signed = signer.sign(build_message(PARTS))
    assert not dkim.verify(signed.replace(b"Hello", b"Hallo", 1), dnsfunc=dns_for(rsa_key[1]))


def test_signed_message_still_verifies_after_smtp(
    signer: DkimSigner, rsa_key: tuple[Path, bytes], smtp_server: Any
) -> None:
    transport = SmtpTransport(SmtpSettings(host="127.0.0.1", port=smtp_server.port, tls="none"))
    signed = signer.sign(build_message(PARTS))
    try:
        transport.send(
            Envelope(PARTS.sender_email, PARTS.recipient_email, PARTS.message_id, signed)
        )
    finally:
        transport.close()
    (received,) = smtp_server.received
    assert received.data.startswith(b"DKIM-Signature: ")
    assert dkim.verify(received.data, dnsfunc=dns_for(rsa_key[1]))


def test_bytes_that_are_not_a_message_are_a_mail_error(signer: DkimSigner) -> None:
    with pytest.raises(MailError, match="cannot DKIM-sign the message"):
        signer.sign(b"garbage without a colon\r\n\r\nbody\r\n")


def test_load_signer_none_when_nothing_is_set() -> None:
    assert load_signer(None, None, None) is None


@pytest.mark.parametrize(
    ("key", "selector", "domain", "expected"),
    [
        (
            True,
            None,
            None,
            "NEWSLETTER_DKIM_KEY_PATH is set, so set NEWSLETTER_DKIM_SELECTOR and "
            "NEWSLETTER_DKIM_DOMAIN too, or unset NEWSLETTER_DKIM_KEY_PATH to send unsigned",
        ),
        (
            False,
            SELECTOR,
            "",
            "NEWSLETTER_DKIM_SELECTOR is set, so set NEWSLETTER_DKIM_KEY_PATH and "
            "NEWSLETTER_DKIM_DOMAIN too, or unset NEWSLETTER_DKIM_SELECTOR to send unsigned",
        ),
        (
            True,
            SELECTOR,
            None,
            "NEWSLETTER_DKIM_KEY_PATH and NEWSLETTER_DKIM_SELECTOR are set, so set "
            "NEWSLETTER_DKIM_DOMAIN too, or unset NEWSLETTER_DKIM_KEY_PATH and "
            "NEWSLETTER_DKIM_SELECTOR to send unsigned",
        ),
    ],
)
def test_load_signer_names_the_missing_settings(
    rsa_key: tuple[Path, bytes], key: bool, selector: str | None, domain: str | None, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_signer(rsa_key[0] if key else None, selector, domain)
    assert str(info.value) == (
        "DKIM signing needs NEWSLETTER_DKIM_KEY_PATH, NEWSLETTER_DKIM_SELECTOR and "
        f"NEWSLETTER_DKIM_DOMAIN together: {expected}"
    )


def test_missing_key_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.pem"
    with pytest.raises(ConfigError, match=r"NEWSLETTER_DKIM_KEY_PATH .*nope\.pem: no such file"):
        load_signer(path, SELECTOR, DOMAIN)


def test_unreadable_key_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the DKIM private key"):
        load_signer(tmp_path, SELECTOR, DOMAIN)  # a folder


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"hello, not a key\n", "not a private key"),
        (b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "BEGIN PUBLIC KEY"),
        (
            b"-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n",
            "not a valid RSA or Ed25519 private key",
        ),
        (
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            "encrypted with a passphrase",
        ),
        (base64.b64encode(bytes(31)) + b"\n", "not a private key"),  # a seed is 32 bytes
    ],
)
def test_invalid_key_file(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="NEWSLETTER_DKIM_KEY_PATH") as info:
        load_signer(path, SELECTOR, DOMAIN)
    assert expected in str(info.value)


def test_public_key_instead_of_private(tmp_path: Path, rsa_key: tuple[Path, bytes]) -> None:
    path = tmp_path / "public.pem"
    path.write_bytes(openssl("rsa", "-in", str(rsa_key[0]), "-pubout"))
    with pytest.raises(ConfigError, match="expected a PEM private key"):
        load_signer(path, SELECTOR, DOMAIN)


def test_small_rsa_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "small.pem"
    openssl("genrsa", "-out", str(path), "768")
    with pytest.raises(ConfigError, match="768 bits"):
        load_signer(path, SELECTOR, DOMAIN)


def test_pkcs1_key_with_crlf_line_ends(tmp_path: Path, rsa_key: tuple[Path, bytes]) -> None:
    pkcs1 = openssl("rsa", "-in", str(rsa_key[0]), "-traditional")
    assert pkcs1.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    path = tmp_path / "crlf.pem"
    path.write_bytes(pkcs1.replace(b"\n", b"\r\n"))
    signer = load_signer(path, SELECTOR, DOMAIN)
    assert signer is not None
    assert dkim.verify(signer.sign(build_message(PARTS)), dnsfunc=dns_for(rsa_key[1]))


@pytest.mark.parametrize(
    ("selector", "domain", "setting"),
    [
        ("bad selector; x=1", DOMAIN, "NEWSLETTER_DKIM_SELECTOR"),
        (SELECTOR, "localhost", "NEWSLETTER_DKIM_DOMAIN"),
        (SELECTOR, "news.example.com\r\nBcc: x", "NEWSLETTER_DKIM_DOMAIN"),
    ],
)
def test_selector_and_domain_must_be_dns_names(
    rsa_key: tuple[Path, bytes], selector: str, domain: str, setting: str
) -> None:
    with pytest.raises(ConfigError, match=setting):
        load_signer(rsa_key[0], selector, domain)


def test_unicode_domain_is_signed_as_idna(rsa_key: tuple[Path, bytes]) -> None:
    signer = load_signer(rsa_key[0], SELECTOR, "新闻.example.com")
    assert signer is not None
    assert signer.domain == "xn--efvy88h.example.com"


@pytest.fixture(scope="module")
def ed25519_pem(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """An Ed25519 key as openssl writes it (PKCS#8 PEM) and its DNS TXT record (RFC 8463 §4:
    p= is the raw 32-byte public key)."""
    path = tmp_path_factory.mktemp("dkim") / "ed25519.pem"
    openssl("genpkey", "-algorithm", "ed25519", "-out", str(path))
    der = openssl("pkey", "-in", str(path), "-pubout", "-outform", "DER")
    return path, b"v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:])


def test_ed25519_signature_verifies_with_dkimpy(ed25519_pem: tuple[Path, bytes]) -> None:
    signer = load_signer(ed25519_pem[0], SELECTOR, DOMAIN)
    assert signer is not None and signer.algorithm == "ed25519-sha256"
    assert signer.public_record().encode() == ed25519_pem[1]
    signed = signer.sign(build_message(PARTS))
    assert signature_tags(signed)["a"] == "ed25519-sha256"
    assert dkim.verify(signed, dnsfunc=dns_for(ed25519_pem[1]))
    tampered = signed.replace(b"Hello", b"Hallo", 1)
    assert not dkim.verify(tampered, dnsfunc=dns_for(ed25519_pem[1]))


def test_ed25519_seed_as_dknewkey_writes_it(tmp_path: Path) -> None:
    """dkimpy's own key generator form (base64 seed) signs; dkimpy verifies with the record it
    derives itself from the seed (pynacl), not with ours."""
    import nacl.signing

    seed = bytes(range(32))
    path = tmp_path / "dkim.key"
    path.write_bytes(base64.b64encode(seed) + b"\n")
    signer = load_signer(path, SELECTOR, DOMAIN)
    assert signer is not None
    public = nacl.signing.SigningKey(seed).verify_key.encode()
    record = b"v=DKIM1; k=ed25519; p=" + base64.b64encode(public)
    assert signer.public_record().encode() == record
    assert dkim.verify(signer.sign(build_message(PARTS)), dnsfunc=dns_for(record))


def test_rsa_public_record_matches_openssl(signer: DkimSigner, rsa_key: tuple[Path, bytes]) -> None:
    assert signer.public_record().encode() == rsa_key[1]


def test_relaxed_canonicalization_survives_refolding_and_spaces(
    signer: DkimSigner, rsa_key: tuple[Path, bytes]
) -> None:
    """Relaxed/relaxed: a relay that refolds a header or changes runs of spaces and trailing
    blank lines keeps the signature valid; a changed word does not."""
    signed = signer.sign(build_message(PARTS))
    head, body = signed.split(b"\r\n\r\n", 1)
    head = head.replace(b"Subject: ", b"Subject:   \r\n\t ", 1)
    body = body.replace(b"Hello", b"Hello   ", 1) + b"\r\n\r\n"
    assert dkim.verify(head + b"\r\n\r\n" + body, dnsfunc=dns_for(rsa_key[1]))


def test_headers_given_twice_are_all_signed(
    signer: DkimSigner, rsa_key: tuple[Path, bytes]
) -> None:
    message = (
        b"From: a@news.example.com\r\nTo: b@example.com\r\nTo: c@example.com\r\n"
        b"Subject: two\r\n\r\nbody\r\n"
    )
    signed = signer.sign(message)
    names = signature_tags(signed)["h"].split(":")
    assert names.count("to") == 3  # both instances, and once more (oversigned)
    assert names.count("from") == 2
    assert "list-unsubscribe-post" in names  # absent, still named: none can be added later
    assert dkim.verify(signed, dnsfunc=dns_for(rsa_key[1]))
    swapped = signed.replace(b"To: b@", b"To: x@")
    assert not dkim.verify(swapped, dnsfunc=dns_for(rsa_key[1]))


@pytest.mark.parametrize(
    "body",
    [b"", b"\r\n", b"one\r\n", b"one", b"a  \t b \r\n\r\n\r\n", b" lead\r\n\r\nend  "],
)
def test_body_canonicalization_matches_dkimpy(body: bytes) -> None:
    from dkim.canonicalization import Relaxed

    from newsletter.email.signing import relaxed_body

    assert relaxed_body(body) == Relaxed.canonicalize_body(body)


def test_whitespace_runs_collapse_exactly_as_the_rfc_says() -> None:
    """_one_space (split and join, for speed) equals the plain rule, a regex that turns every
    run of spaces and tabs into one space, on every short mix of spaces, tabs, letters and line
    ends, including runs at either end and data made only of spaces."""
    import itertools

    from newsletter.email.signing import _one_space

    rule = re.compile(rb"[ \t]+")
    alphabet = [b" ", b"\t", b"a", b"\r\n"]
    checked = 0
    for length in range(7):
        for parts in itertools.product(alphabet, repeat=length):
            data = b"".join(parts)
            assert _one_space(data) == rule.sub(b" ", data), data
            checked += 1
    assert checked == sum(4**n for n in range(7))
