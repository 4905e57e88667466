"""Provider webhooks over the real app: for Amazon SES (SNS), Postmark, Mailgun and SendGrid,
a valid request suppresses, and forged, unsigned and replayed ones are refused and change
nothing. Keys are made here; the SNS certificate is served over loopback HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from newsletter.demo.server import FeedServer, Route
from newsletter.email.webhooks import url_allowed
from newsletter.service import bounces
from newsletter.service.subscribers import add_subscriber, list_subscribers
from tests.web_helpers import client_for, web_app

READER = "reader@example.org"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:newsletter-bounces"


def _status(app: Any, email: str = READER) -> str:
    return next(s.status for s in list_subscribers(app) if s.email == email)


def _history(app: Any) -> list[tuple[str, str]]:
    return [(h.kind, h.source) for h in bounces.history(app)]


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


# --- Amazon SES through SNS --------------------------------------------------------------------


@pytest.fixture(scope="module")
def sns_key() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def sns_server(sns_key: tuple[rsa.RSAPrivateKey, bytes]) -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.routes["/SimpleNotificationService-test.pem"] = Route(
            sns_key[1], content_type="application/x-pem-file"
        )
        server.routes["/confirm"] = Route(b"<ConfirmSubscriptionResponse/>", "text/xml")
        yield server


def _sns_sign(
    key: rsa.RSAPrivateKey, message: dict[str, str], version: str = "2"
) -> dict[str, str]:
    fields = (
        ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
        if message["Type"] == "Notification"
        else ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
    )
    signed = "".join(f"{k}\n{message[k]}\n" for k in fields if k in message).encode()
    digest = hashes.SHA256() if version == "2" else hashes.SHA1()
    signature = key.sign(signed, padding.PKCS1v15(), digest)
    return {
        **message,
        "SignatureVersion": version,
        "Signature": base64.b64encode(signature).decode(),
    }


def _ses_bounce(
    server: FeedServer, when: datetime, bounce_type: str = "Permanent"
) -> dict[str, str]:
    ses = {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": READER,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": _iso(when),
            "feedbackId": f"fb-{secrets.token_hex(6)}",
        },
        "mail": {"messageId": "m1", "destination": [READER]},
    }
    return {
        "Type": "Notification",
        "MessageId": secrets.token_hex(8),
        "TopicArn": TOPIC,
        "Message": json.dumps(ses),
        "Timestamp": _iso(when),
        "SigningCertURL": server.url("/SimpleNotificationService-test.pem"),
    }


@pytest.fixture
def ses_app(make_app: Any, sns_server: FeedServer) -> Any:
    app = web_app(make_app, ses_sns_topic_arns=TOPIC, ses_sns_cert_urls=sns_server.base_url)
    add_subscriber(app, READER)
    return app


@pytest.mark.parametrize("version", ["1", "2"])
def test_ses_signed_bounce_suppresses(
    ses_app: Any, sns_server: FeedServer, sns_key: Any, version: str
) -> None:
    body = _sns_sign(sns_key[0], _ses_bounce(sns_server, datetime.now(UTC)), version)
    response = client_for(ses_app).post("/webhooks/ses", content=json.dumps(body))
    assert response.status_code == 200, response.text
    assert response.json()["suppressed"] == 1
    assert _status(ses_app) == "bounced"
    (view,) = bounces.history(ses_app)
    assert (view.kind, view.source) == ("hard", "ses") and "5.1.1" in view.diagnostic


def test_ses_complaint_unsubscribes(ses_app: Any, sns_server: FeedServer, sns_key: Any) -> None:
    message = _ses_bounce(sns_server, datetime.now(UTC))
    message["Message"] = json.dumps(
        {
            "notificationType": "Complaint",
            "complaint": {
                "complainedRecipients": [{"emailAddress": READER}],
                "complaintFeedbackType": "abuse",
                "timestamp": _iso(datetime.now(UTC)),
                "feedbackId": "c1",
            },
        }
    )
    response = client_for(ses_app).post(
        "/webhooks/ses", content=json.dumps(_sns_sign(sns_key[0], message))
    )
    assert response.status_code == 200, response.text
    assert _status(ses_app) == "unsubscribed"
    assert _history(ses_app) == [("complaint", "ses")]


def test_ses_refuses_forged_unsigned_replayed_and_foreign(
    ses_app: Any, sns_server: FeedServer, sns_key: Any
) -> None:
    client = client_for(ses_app)
    now = datetime.now(UTC)
    signed = _sns_sign(sns_key[0], _ses_bounce(sns_server, now))
    forged = {**signed, "Message": signed["Message"].replace(READER, "other@example.org")}
    unsigned = {k: v for k, v in signed.items() if k != "Signature"}
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    wrong_key = _sns_sign(other_key, _ses_bounce(sns_server, now))
    old = _sns_sign(sns_key[0], _ses_bounce(sns_server, now - timedelta(hours=2)))
    foreign_cert = _sns_sign(
        sns_key[0],
        {**_ses_bounce(sns_server, now), "SigningCertURL": "http://evil.example/cert.pem"},
    )
    foreign_topic = _sns_sign(
        sns_key[0], {**_ses_bounce(sns_server, now), "TopicArn": TOPIC + "-other"}
    )
    for body, status in (
        (forged, 403),
        (unsigned, 401),
        (wrong_key, 403),
        (old, 409),
        (foreign_cert, 403),
        (foreign_topic, 403),
    ):
        response = client.post("/webhooks/ses", content=json.dumps(body))
        assert response.status_code == status, (body.get("TopicArn"), response.text)
        assert "error" in response.json()
    assert _status(ses_app) == "active" and _history(ses_app) == []
    # The genuine one is accepted once; the same MessageId again is a replay.
    assert client.post("/webhooks/ses", content=json.dumps(signed)).status_code == 200
    again = client.post("/webhooks/ses", content=json.dumps(signed))
    assert again.status_code == 409 and "replay" in again.json()["error"]
    assert len(_history(ses_app)) == 1


def test_sns_subscription_confirmation_visits_the_allowed_url(
    ses_app: Any, sns_server: FeedServer, sns_key: Any
) -> None:
    message = {
        "Type": "SubscriptionConfirmation",
        "MessageId": secrets.token_hex(8),
        "Token": "tok",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe to the topic.",
        "SubscribeURL": sns_server.url("/confirm?Action=ConfirmSubscription&Token=tok"),
        "Timestamp": _iso(datetime.now(UTC)),
        "SigningCertURL": sns_server.url("/SimpleNotificationService-test.pem"),
    }
    response = client_for(ses_app).post(
        "/webhooks/ses", content=json.dumps(_sns_sign(sns_key[0], message))
    )
    assert response.status_code == 200, response.text
    assert response.json()["subscription_confirmed"] is True
    assert "/confirm" in [path for path, _ in sns_server.requests]
    # A confirmation whose URL does not answer is a 502, and its retry is not a replay.
    broken = {**message, "MessageId": "m-broken", "SubscribeURL": sns_server.url("/gone")}
    signed_broken = json.dumps(_sns_sign(sns_key[0], broken))
    assert client_for(ses_app).post("/webhooks/ses", content=signed_broken).status_code == 502
    sns_server.routes["/gone"] = Route(b"ok", "text/plain")
    assert client_for(ses_app).post("/webhooks/ses", content=signed_broken).status_code == 200
    # A confirmation pointing elsewhere is refused before anything is fetched.
    evil = {**message, "MessageId": "m2", "SubscribeURL": "http://evil.example/confirm"}
    refused = client_for(ses_app).post(
        "/webhooks/ses", content=json.dumps(_sns_sign(sns_key[0], evil))
    )
    assert refused.status_code == 403


def test_certificate_url_patterns_match_one_label() -> None:
    patterns = ("https://sns.*.amazonaws.com",)
    assert url_allowed(
        "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem", patterns
    )
    assert not url_allowed("https://sns.x.s3.amazonaws.com/cert.pem", patterns)
    assert not url_allowed("http://sns.eu-west-1.amazonaws.com/cert.pem", patterns)
    assert not url_allowed("https://sns.eu-west-1.amazonaws.com.evil.example/c.pem", patterns)
    assert not url_allowed("https://user@sns.eu-west-1.amazonaws.com/c.pem", patterns)


# --- Postmark ---------------------------------------------------------------------------------


def _postmark(record_id: int, kind: str = "HardBounce") -> bytes:
    return json.dumps(
        {
            "RecordType": "Bounce",
            "ID": record_id,
            "Type": kind,
            "Email": READER,
            "BouncedAt": _iso(datetime.now(UTC)),
            "Description": "The server was unable to deliver your message",
            "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist",
        }
    ).encode()


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_postmark_basic_auth(make_app: Any) -> None:
    app = web_app(make_app, postmark_webhook_user="pm", postmark_webhook_password="s3cret-pm")
    add_subscriber(app, READER)
    client = client_for(app)
    url = "/webhooks/postmark"
    assert client.post(url, content=_postmark(1)).status_code == 401
    assert client.post(url, content=_postmark(1), headers=_basic("pm", "wrong")).status_code == 403
    assert (
        client.post(url, content=_postmark(1), headers=_basic("x", "s3cret-pm")).status_code == 403
    )
    assert _status(app) == "active" and _history(app) == []
    ok = client.post(url, content=_postmark(1), headers=_basic("pm", "s3cret-pm"))
    assert ok.status_code == 200, ok.text
    assert _status(app) == "bounced" and _history(app) == [("hard", "postmark")]
    replay = client.post(url, content=_postmark(1), headers=_basic("pm", "s3cret-pm"))
    assert replay.status_code == 409
    assert len(_history(app)) == 1


# --- Mailgun ----------------------------------------------------------------------------------

MAILGUN_KEY = "key-" + "0" * 8 + "mailgun-signing"


def _mailgun(
    key: str = MAILGUN_KEY,
    when: float | None = None,
    token: str | None = None,
    event: str = "failed",
) -> dict[str, Any]:
    timestamp = str(int(when if when is not None else time.time()))
    token = token or secrets.token_hex(25)
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": {
            "event": event,
            "severity": "permanent",
            "recipient": READER,
            "id": secrets.token_hex(8),
            "timestamp": float(timestamp),
            "delivery-status": {"code": 550, "message": "5.1.1 No such user"},
        },
    }


def test_mailgun_hmac(make_app: Any) -> None:
    app = web_app(make_app, mailgun_signing_key=MAILGUN_KEY)
    add_subscriber(app, READER)
    client = client_for(app)
    url = "/webhooks/mailgun"
    unsigned = _mailgun()
    del unsigned["signature"]
    forged = _mailgun(key="another-key")
    tampered = _mailgun()
    tampered["signature"]["timestamp"] = str(int(tampered["signature"]["timestamp"]) + 1)
    old = _mailgun(when=time.time() - 7200)
    for body, status in ((unsigned, 401), (forged, 403), (tampered, 403), (old, 409)):
        response = client.post(url, json=body)
        assert response.status_code == status, response.text
    assert _status(app) == "active" and _history(app) == []
    valid = _mailgun()
    assert client.post(url, json=valid).status_code == 200
    assert _status(app) == "bounced" and _history(app) == [("hard", "mailgun")]
    # The same token again, even with a fresh event, is a replay.
    reused = _mailgun(token=valid["signature"]["token"], event="complained")
    assert client.post(url, json=reused).status_code == 409
    assert len(_history(app)) == 1


# --- SendGrid ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sendgrid_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, base64.b64encode(public).decode()


def _sendgrid(
    key: ec.EllipticCurvePrivateKey, when: float | None = None, event: str = "spamreport"
) -> tuple[bytes, dict[str, str]]:
    timestamp = str(int(when if when is not None else time.time()))
    body = json.dumps(
        [
            {
                "email": READER,
                "event": event,
                "timestamp": int(timestamp),
                "sg_event_id": secrets.token_hex(8),
            },
            {"email": "other@example.org", "event": "delivered", "timestamp": int(timestamp)},
        ]
    ).encode()
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return body, {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


def test_sendgrid_ecdsa(make_app: Any, sendgrid_key: Any) -> None:
    key, public = sendgrid_key
    app = web_app(make_app, sendgrid_verification_key=public)
    add_subscriber(app, READER)
    client = client_for(app)
    url = "/webhooks/sendgrid"
    body, headers = _sendgrid(key)
    unsigned = {k: v for k, v in headers.items() if "Signature" not in k}
    other = ec.generate_private_key(ec.SECP256R1())
    forged_body, forged_headers = _sendgrid(other)
    tampered = body.replace(b"spamreport", b"bounce")
    old_body, old_headers = _sendgrid(key, when=time.time() - 7200)
    for data, hdrs, status in (
        (body, unsigned, 401),
        (forged_body, forged_headers, 403),
        (tampered, headers, 403),
        (old_body, old_headers, 409),
    ):
        response = client.post(url, content=data, headers=hdrs)
        assert response.status_code == status, response.text
    assert _status(app) == "active" and _history(app) == []
    ok = client.post(url, content=body, headers=headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["events"] == 1  # "delivered" is not a bounce
    assert _status(app) == "unsubscribed" and _history(app) == [("complaint", "sendgrid")]
    assert client.post(url, content=body, headers=headers).status_code == 409


def test_unconfigured_and_unknown_webhooks_are_not_found(make_app: Any) -> None:
    app = web_app(make_app)
    client = client_for(app)
    for provider in ("ses", "postmark", "mailgun", "sendgrid", "other"):
        response = client.post(f"/webhooks/{provider}", content=b"{}")
        assert response.status_code == 404, provider
        assert "error" in response.json()
