"""DKIM signing (RFC 6376) of finished messages with OpenSSL (the cryptography package): RSA
(rsa-sha256) and Ed25519 (ed25519-sha256, RFC 8463), relaxed/relaxed; loading the key."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

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


PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
_FIELD_NAME = re.compile(rb"[!-9;-~]+")  # RFC 5322 §3.6.8: printable ASCII except colon


def _one_space(data: bytes) -> bytes:
    """Every run of spaces and tabs as one space, in C over the whole body: split at each
    space, drop the empty pieces (the inner spaces of a run), join with one space. A regex
    tried at every position cost 2-10 ms for 100 KB of HTML, and halving the runs with
    ``replace(b"  ", b" ")`` 0.9 ms (the two-byte search stumbles on every single space);
    this takes about 0.25 ms (docs/performance.md, DKIM)."""
    if b"\t" in data:
        data = data.replace(b"\t", b" ")
    if b"  " not in data:
        return data
    joined = b" ".join([piece for piece in data.split(b" ") if piece])
    # A run at either end of the data is one space, not none.
    head = b" " if data.startswith(b" ") else b""
    tail = b" " if data.endswith(b" ") and joined else b""
    return head + joined + tail


def relaxed_body(body: bytes) -> bytes:
    """RFC 6376 §3.4.4: whitespace runs to one space, none at line ends, no empty lines at the
    end; a non-empty body ends with one CRLF."""
    # After the runs are one space each, a line's trailing whitespace is exactly " \r\n".
    body = _one_space(body).replace(b" \r\n", b"\r\n")
    body = body.rstrip(b"\r\n")
    return body + b"\r\n" if body else b""


def relaxed_header(name: bytes, value: bytes) -> bytes:
    """RFC 6376 §3.4.2: lower-case name, unfolded value with whitespace runs as one space and
    none at either end, ``name:value`` and CRLF."""
    if b"\r\n" in value:
        value = value.replace(b"\r\n", b"")
    value = _one_space(value).strip(b" ")
    return name.strip(b" \t").lower() + b":" + value + b"\r\n"


def split_message(message: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The header fields (name, raw value with its folding) in order, and the body. Raises
    MailError for bytes that are not a CRLF message (policy.SMTP)."""
    head, sep, body = message.partition(b"\r\n\r\n")
    if not sep:
        head, body = (message[:-2], b"") if message.endswith(b"\r\n") else (message, b"")
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + b"\r\n" + line)
            continue
        name, colon, value = line.partition(b":")
        if not colon or not _FIELD_NAME.fullmatch(name.rstrip(b" \t")):
            raise MailError(f"cannot DKIM-sign the message: {line[:60]!r} is not a header field")
        fields.append((name.rstrip(b" \t"), value))
    return fields, body


def _fold(tags: list[str], b64: str = "") -> bytes:
    """The DKIM-Signature value: tags on lines under 78 characters; ``b=`` last, its value
    broken every 72 characters (whitespace in b= is ignored by verifiers, RFC 6376 §3.5)."""
    lines: list[str] = []
    line = ""
    for tag in tags:
        piece = f" {tag};"
        if line and len(line) + len(piece) > 76:
            lines.append(line)
            line = ""
        line += piece
    lines.append(line + " b=" + b64[:60])
    lines.extend(" " + b64[i : i + 72] for i in range(60, len(b64), 72))
    return "\r\n".join(lines).encode("ascii")


@dataclass(frozen=True)
class DkimSigner:
    """Signs each finished message with one key, selector and domain (relaxed/relaxed):
    ``rsa-sha256`` for an RSA key, ``ed25519-sha256`` (RFC 8463) for an Ed25519 key.

    OpenSSL does the signature (about 1 ms for RSA 2048, 0.05 ms for Ed25519, measured in
    docs/performance.md); the key is parsed once, when the signer is made.
    """

    selector: str
    domain: str
    key: PrivateKey = field(repr=False)
    headers: tuple[str, ...] = SIGNED_HEADERS
    oversign: tuple[str, ...] = OVERSIGNED_HEADERS

    @property
    def algorithm(self) -> str:
        """The a= tag: rsa-sha256 or ed25519-sha256."""
        return "ed25519-sha256" if isinstance(self.key, ed25519.Ed25519PrivateKey) else "rsa-sha256"

    def public_record(self) -> str:
        """The DNS TXT record to publish at ``<selector>._domainkey.<domain>``."""
        public = self.key.public_key()
        if isinstance(public, ed25519.Ed25519PublicKey):
            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode('ascii')}"
        der = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"

    def sign(self, message: bytes, now: float | None = None) -> bytes:
        """The message with a DKIM-Signature header on top. Sign after the last header is set:
        any later change to a signed header or the body breaks the signature. Raises MailError
        for bytes that are not a message.

        Each listed header is signed in every instance it has, from the bottom up (RFC 6376
        §5.4.2); a listed header the message lacks is still named in h=, and the oversigned
        ones are named once more than they occur, so none can be added later (§8.15).
        """
        fields, body = split_message(message)
        body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest()).decode()
        by_name: dict[bytes, list[bytes]] = {}
        for name, value in fields:
            by_name.setdefault(name.lower(), []).append(value)
        present = Counter(name.lower() for name, _ in fields)
        names: list[str] = []
        hashed = bytearray()
        oversigned = {h.lower() for h in self.oversign}
        for header in self.headers:
            lower = header.lower()
            count = present.get(lower.encode("ascii"), 0)
            values = by_name.get(lower.encode("ascii"), [])
            for value in reversed(values):  # the last instance first (§5.4.2)
                hashed += relaxed_header(lower.encode("ascii"), value)
            extra = 1 if lower in oversigned and count else 0
            names.extend([lower] * (max(count, 1) + extra))
        tags = [
            "v=1",
            f"a={self.algorithm}",
            "c=relaxed/relaxed",
            f"d={self.domain}",
            f"s={self.selector}",
            f"t={int(time.time() if now is None else now)}",
            "h=" + ":".join(names),
            f"bh={body_hash}",
        ]
        unsigned = _fold(tags)
        # §3.7: the DKIM-Signature header itself, b= empty, without its final CRLF.
        hashed += relaxed_header(b"dkim-signature", unsigned)[:-2]
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            # RFC 8463 §3: Ed25519 signs the SHA-256 hash of the header data.
            signature = self.key.sign(hashlib.sha256(bytes(hashed)).digest())
        else:
            signature = self.key.sign(bytes(hashed), padding.PKCS1v15(), hashes.SHA256())
        value = _fold(tags, base64.b64encode(signature).decode("ascii"))
        return b"DKIM-Signature:" + value + b"\r\n" + message


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
    signer = DkimSigner(selector, ascii_domain, _read_key(key_path))
    try:
        signer.sign(_PROBE)
    except MailError as exc:
        raise ConfigError(
            f"NEWSLETTER_DKIM_KEY_PATH {key_path}: the key cannot sign: {exc}; "
            "check the key file (a PEM RSA or Ed25519 private key)"
        ) from exc
    return signer


def _read_key(path: Path) -> PrivateKey:
    """The private key in the file: PEM RSA (PKCS#1 or PKCS#8), PEM Ed25519 (PKCS#8, as
    ``openssl genpkey -algorithm ed25519`` writes it), or dkimpy's base64 Ed25519 seed
    (``dknewkey --ktype ed25519``)."""
    where = f"NEWSLETTER_DKIM_KEY_PATH {path}"
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"{where}: no such file; check the path to the DKIM private key") from exc
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the DKIM private key: {exc}") from exc
    data = data.replace(b"\r\n", b"\n").strip() + b"\n"
    if b"-----BEGIN" not in data:
        return _ed25519_seed(where, data)
    if b"ENCRYPTED" in data:
        raise ConfigError(
            f"{where}: the private key is encrypted with a passphrase; store it unencrypted "
            "(openssl pkey -in key.pem -out plain.pem) and protect the file with its permissions"
        )
    if b"BEGIN RSA PRIVATE KEY" not in data and b"BEGIN PRIVATE KEY" not in data:
        label = data.split(b"\n", 1)[0].decode("ascii", errors="replace")
        raise ConfigError(
            f"{where}: expected a PEM private key ('-----BEGIN PRIVATE KEY-----' or "
            f"'-----BEGIN RSA PRIVATE KEY-----'), found {label!r}"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(
            f"{where}: not a valid RSA or Ed25519 private key ({exc}); generate one with "
            "openssl genrsa -out dkim.pem 2048 (or openssl genpkey -algorithm ed25519)"
        ) from exc
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(
            f"{where}: a {type(key).__name__.removeprefix('_')} key cannot sign DKIM; "
            "use RSA (openssl genrsa -out dkim.pem 2048) or Ed25519"
        )
    if key.key_size < MIN_RSA_BITS:
        raise ConfigError(
            f"{where}: the RSA key has {key.key_size} bits; receivers refuse DKIM keys under "
            f"{MIN_RSA_BITS} bits (RFC 8301), use 2048"
        )
    return key


def _ed25519_seed(where: str, data: bytes) -> ed25519.Ed25519PrivateKey:
    """dkimpy's Ed25519 private key form: the base64 32-byte seed."""
    if not re.fullmatch(rb"[A-Za-z0-9+/]{43}=\n", data):
        raise ConfigError(
            f"{where}: not a private key: expected a PEM RSA or Ed25519 key, or a base64 "
            "Ed25519 seed as written by dknewkey"
        )
    return ed25519.Ed25519PrivateKey.from_private_bytes(base64.b64decode(data.strip()))
