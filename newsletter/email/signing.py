"""DKIM signing (RFC 6376) of finished messages, and loading the signing key from settings."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import dkim
from dkim.crypto import UnparsableKeyError, parse_pem_private_key

from newsletter.errors import ConfigError, MailError

# Headers a receiver shows or acts on. A listed header the message lacks is still named in h=,
# which keeps anyone from adding it later (RFC 6376 §5.4). dkimpy's defaults leave out
# List-Unsubscribe-Post (PITFALLS.md), which RFC 8058 §4 requires to be signed.
SIGNED_HEADERS: tuple[str, ...] = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
    "Reply-To",
)
# Signed once more than they occur (RFC 6376 §8.15): a second From, Subject or
# List-Unsubscribe put above ours in transit breaks the signature instead of being shown.
OVERSIGNED_HEADERS: tuple[str, ...] = (
    "From",
    "To",
    "Subject",
    "Reply-To",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)
# RFC 8301 §3.2: signers MUST use RSA keys of at least 1024 bits; receivers may refuse smaller.
MIN_RSA_BITS = 1024
_LABELS = re.compile(
    r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9])?)*"
)
_PROBE = b"From: probe@example.com\r\nTo: probe@example.com\r\nSubject: probe\r\n\r\nprobe\r\n"


@dataclass(frozen=True)
class DkimSigner:
    """Signs each finished message with one key, selector and domain (relaxed/relaxed).

    ``private_key`` is a PEM RSA key (PKCS#1 or PKCS#8), or, with ``algorithm`` set to
    ``ed25519-sha256``, dkimpy's base64 ed25519 seed (needs the pynacl package).
    """

    selector: str
    domain: str
    private_key: bytes
    headers: tuple[str, ...] = SIGNED_HEADERS
    oversign: tuple[str, ...] = OVERSIGNED_HEADERS
    algorithm: str = "rsa-sha256"

    def sign(self, message: bytes) -> bytes:
        """The message with a DKIM-Signature header on top. Sign after the last header is set:
        any later change to a signed header or the body breaks the signature. Raises MailError
        for bytes that are not a message.

        dkimpy parses the PEM key again on every call (about 0.2 ms); the RSA operation itself,
        in pure Python, costs about 8 ms for a 2048-bit key and dominates.
        """
        signed = [h.lower().encode("ascii") for h in self.headers]
        extra = [h.lower().encode("ascii") for h in self.oversign]
        names = signed + [h for h in extra if h in signed]
        try:
            signature: bytes = dkim.sign(
                message,
                self.selector.encode("ascii"),
                self.domain.encode("ascii"),
                self.private_key,
                canonicalize=(b"relaxed", b"relaxed"),
                signature_algorithm=self.algorithm.encode("ascii"),
                include_headers=names,
            )
        except dkim.DKIMException as exc:
            raise MailError(f"cannot DKIM-sign the message: {exc}") from exc
        return signature + message


def load_signer(
    key_path: Path | None, selector: str | None, domain: str | None
) -> DkimSigner | None:
    """The signer for NEWSLETTER_DKIM_KEY_PATH, _SELECTOR and _DOMAIN; None when none is set.

    Raises ConfigError naming the setting to fix when only some are set, when a value cannot go
    in a DKIM-Signature header, or when the key file cannot be read or cannot sign.
    """
    values = {
        "NEWSLETTER_DKIM_KEY_PATH": key_path,
        "NEWSLETTER_DKIM_SELECTOR": selector,
        "NEWSLETTER_DKIM_DOMAIN": domain,
    }
    missing = [name for name, value in values.items() if value is None or value == ""]
    if len(missing) == len(values):
        return None
    if missing:
        given = " and ".join(name for name in values if name not in missing)
        verb = "is" if " and " not in given else "are"
        raise ConfigError(
            "DKIM signing needs NEWSLETTER_DKIM_KEY_PATH, NEWSLETTER_DKIM_SELECTOR and "
            f"NEWSLETTER_DKIM_DOMAIN together: {given} {verb} set, so set "
            f"{' and '.join(missing)} too, or unset {given} to send unsigned"
        )
    assert key_path is not None and selector is not None and domain is not None
    selector = selector.strip()
    if not _LABELS.fullmatch(selector):
        raise ConfigError(
            f"NEWSLETTER_DKIM_SELECTOR {selector!r} is not a DNS label such as 'news2026' "
            "(the TXT record is looked up at <selector>._domainkey.<domain>)"
        )
    try:
        ascii_domain = domain.strip().rstrip(".").encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ConfigError(f"NEWSLETTER_DKIM_DOMAIN {domain!r} is not a domain name: {exc}") from exc
    if "." not in ascii_domain or not _LABELS.fullmatch(ascii_domain):
        raise ConfigError(
            f"NEWSLETTER_DKIM_DOMAIN {domain!r} is not a domain name such as news.example.com"
        )
    key, algorithm = _read_key(key_path)
    signer = DkimSigner(selector, ascii_domain, key, algorithm=algorithm)
    try:
        signer.sign(_PROBE)
    except MailError as exc:
        raise ConfigError(
            f"NEWSLETTER_DKIM_KEY_PATH {key_path}: the key cannot sign: {exc}; "
            "check the key file (a PEM RSA private key)"
        ) from exc
    return signer


def _read_key(path: Path) -> tuple[bytes, str]:
    """The key bytes as dkimpy reads them, and the signature algorithm they are for."""
    where = f"NEWSLETTER_DKIM_KEY_PATH {path}"
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"{where}: no such file; check the path to the DKIM private key") from exc
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the DKIM private key: {exc}") from exc
    # dkimpy finds the base64 between "--\n" and "\n--": a key saved with CRLF would not parse.
    data = data.replace(b"\r\n", b"\n").strip() + b"\n"
    if b"-----BEGIN" not in data:
        return _ed25519_key(where, data)
    if b"ENCRYPTED" in data:
        raise ConfigError(
            f"{where}: the private key is encrypted with a passphrase; store it unencrypted "
            "(openssl rsa -in key.pem -out plain.pem) and protect the file with its permissions"
        )
    if b"BEGIN RSA PRIVATE KEY" not in data and b"BEGIN PRIVATE KEY" not in data:
        label = data.split(b"\n", 1)[0].decode("ascii", errors="replace")
        raise ConfigError(
            f"{where}: expected a PEM RSA private key ('-----BEGIN PRIVATE KEY-----' or "
            f"'-----BEGIN RSA PRIVATE KEY-----'), found {label!r}"
        )
    try:
        bits = parse_pem_private_key(data)["modulus"].bit_length()
    except (UnparsableKeyError, ValueError, IndexError, KeyError) as exc:
        raise ConfigError(
            f"{where}: not a valid RSA private key ({exc}); generate one with "
            "openssl genrsa -out dkim.pem 2048"
        ) from exc
    if bits < MIN_RSA_BITS:
        raise ConfigError(
            f"{where}: the RSA key has {bits} bits; receivers refuse DKIM keys under "
            f"{MIN_RSA_BITS} bits (RFC 8301), use 2048"
        )
    return data, "rsa-sha256"


def _ed25519_key(where: str, data: bytes) -> tuple[bytes, str]:
    """dkimpy's ed25519 private key form: the base64 32-byte seed (dknewkey --ktype ed25519)."""
    if not re.fullmatch(rb"[A-Za-z0-9+/]{43}=\n", data):
        raise ConfigError(
            f"{where}: not a private key: expected a PEM RSA key or a base64 ed25519 seed "
            "as written by dknewkey"
        )
    if importlib.util.find_spec("nacl") is None:  # dkimpy signs ed25519 with pynacl
        raise ConfigError(
            f"{where}: an ed25519 key needs the pynacl package, which is not installed; "
            "install it or use an RSA key"
        )
    return data.strip(), "ed25519-sha256"
