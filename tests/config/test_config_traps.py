"""feeds.yaml traps: YAML 1.1 booleans and dates, typos with a "did you mean", duplicate keys,
line numbers, and the per-feed keys of hostile-input handling (timezone, allow_private)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from newsletter.config import load_config
from newsletter.errors import ConfigError

HEAD = """\
newsletter:
  title: Weekly
  sender: {name: Weekly, email: digest@news.example.com}
sections:
  - id: headlines
    title: Headlines
feeds:
"""


def load(tmp_path: Path, feeds: str, head: str = HEAD) -> str:
    path = tmp_path / "feeds.yaml"
    path.write_text(head + feeds, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path.resolve()}: ")
    return message


FEED = "  - name: STAT\n    url: https://www.statnews.com/feed/\n    section: headlines\n"


@pytest.mark.parametrize("word", ["no", "NO", "off", "yes", "on", "false"])
def test_unquoted_yes_no_is_a_boolean_and_the_error_says_so(tmp_path: Path, word: str) -> None:
    message = load(tmp_path, FEED + f"    language: {word}\n")
    assert "feed 'STAT', field 'language' (line 11): Input should be a valid string" in message
    assert "YAML reads an unquoted yes/no/on/off/true/false as a boolean" in message
    assert 'put the value in quotes, for example "no"' in message


def test_quoted_no_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(HEAD + FEED + '    language: "no"\n', encoding="utf-8")
    assert load_config(path).feeds[0].language == "no"


def test_unquoted_date_is_a_date_and_the_error_says_so(tmp_path: Path) -> None:
    message = load(tmp_path, FEED.replace("name: STAT", "name: 2024-03-15"))
    assert "feed #1, field 'name' (line 8)" in message
    assert (
        'got the date 2024-03-15: YAML reads an unquoted date as a date; write it in quotes, "2024-03-15"'
        in message
    )


def test_a_number_where_text_belongs(tmp_path: Path) -> None:
    message = load(tmp_path, FEED.replace("name: STAT", "name: 012"))
    assert "got the number 10: put text in quotes (YAML reads an unquoted 012 as 10" in message


def test_a_boolean_key(tmp_path: Path) -> None:
    message = load(tmp_path, FEED + "    on: 3\n")
    assert "unknown key True: YAML reads an unquoted yes/no/on/off key as a boolean" in message


@pytest.mark.parametrize(
    ("text", "where", "suggestion"),
    [
        (FEED + "    wieght: 2\n", "feed 'STAT', field 'wieght' (line 11)", "weight"),
        (
            FEED + "    timezon: Asia/Shanghai\n",
            "feed 'STAT', field 'timezon' (line 11)",
            "timezone",
        ),
        (
            FEED + "    allow_privat: true\n",
            "feed 'STAT', field 'allow_privat' (line 11)",
            "allow_private",
        ),
        (FEED + "    encodng: gbk\n", "feed 'STAT', field 'encodng' (line 11)", "encoding"),
    ],
)
def test_unknown_keys_suggest_the_right_one(
    tmp_path: Path, text: str, where: str, suggestion: str
) -> None:
    message = load(tmp_path, text)
    assert f"{where}: unknown key; did you mean {suggestion!r}?" in message
    assert "check the spelling against docs/configuration.md" in message


def test_unknown_keys_elsewhere_suggest_too(tmp_path: Path) -> None:
    head = HEAD.replace("  title: Weekly\n", "  title: Weekly\n  schedul: {day: monday}\n")
    head = head.replace("    title: Headlines\n", "    title: Headlines\n    max_item: 3\n")
    message = load(tmp_path, FEED + "feed: []\n", head)
    assert "field 'newsletter.schedul' (line 3): unknown key; did you mean 'schedule'?" in message
    assert (
        "section 'headlines', field 'max_item' (line 8): unknown key; did you mean 'max_items'?"
        in message
    )
    assert "field 'feed' (line 13): unknown key; did you mean 'feeds'?" in message


def test_a_key_with_no_close_match_lists_the_allowed_keys(tmp_path: Path) -> None:
    message = load(tmp_path, FEED + "    zzzzzz: 1\n")
    assert (
        "unknown key (check the spelling against docs/configuration.md; allowed here: name, url"
        in message
    )


def test_path_is_not_a_key_of_the_file(tmp_path: Path) -> None:
    message = load(tmp_path, FEED + "path: /etc/passwd\n")
    assert "field 'path': unknown key" in message


def test_a_key_given_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    message = load(tmp_path, FEED + "    url: https://other.example.com/feed\n")
    assert "line 11: key 'url' appears twice in the same mapping (first on line 9)" in message


def test_feed_timezone_and_allow_private(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        HEAD + FEED + "    timezone: Asia/Shanghai\n    allow_private: true\n", encoding="utf-8"
    )
    feed = load_config(path).feeds[0]
    assert feed.tz == ZoneInfo("Asia/Shanghai") and feed.allow_private is True
    message = load(tmp_path, FEED + "    timezone: Mars/Olympus\n")
    assert "feed 'STAT', field 'timezone' (line 11): unknown timezone 'Mars/Olympus'" in message


def test_defaults_of_the_new_feed_keys(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(HEAD + FEED, encoding="utf-8")
    feed = load_config(path).feeds[0]
    assert feed.timezone is None and feed.tz is None and feed.allow_private is False


@pytest.mark.parametrize(
    "email", ["digest(x)@news.example.com", "a b@news.example.com", "用户@news.example.com"]
)
def test_sender_address_must_be_writable_in_a_header(tmp_path: Path, email: str) -> None:
    head = HEAD.replace("digest@news.example.com", email)
    assert "field 'newsletter.sender.email'" in load(tmp_path, FEED, head)


@pytest.mark.parametrize(
    "variable", ["NEWSLETTER_MAX_ITEMS_PER_FEED", "NEWSLETTER_FEED_DISABLE_AFTER"]
)
def test_new_settings_are_validated(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    from newsletter.config import load_settings

    monkeypatch.setenv(variable, "0")
    with pytest.raises(ConfigError, match=f"{variable}: must be at least 1"):
        load_settings()
    monkeypatch.setenv(variable, "7")
    settings = load_settings()
    assert 7 in (settings.max_items_per_feed, settings.feed_disable_after)


def test_new_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from newsletter.config import Settings

    for variable in ("NEWSLETTER_MAX_ITEMS_PER_FEED", "NEWSLETTER_FEED_DISABLE_AFTER"):
        monkeypatch.delenv(variable, raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.max_items_per_feed, settings.feed_disable_after) == (200, 10)
