"""newsletter.config: feeds.yaml into frozen typed objects; errors name file, entry and field."""

from __future__ import annotations

import copy
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pydantic
import pytest
import yaml

from newsletter.config import (
    Config,
    FeedConfig,
    SectionConfig,
    load_config,
    load_settings,
    loading,
    parse_config,
)
from newsletter.errors import ConfigError
from tests.conftest import ROOT, SECTIONS, newsletter_block

SHIPPED = ROOT / "feeds.yaml"


def base_raw() -> dict[str, Any]:
    """A small valid feeds.yaml as data: two sections, two feeds."""
    return {
        "newsletter": newsletter_block(),
        "sections": [
            {"id": "headlines", "title": "Headlines", "keywords": ["FDA"]},
            {
                "id": "financing",
                "title": "Financing",
                "priority": 10,
                "patterns": [r"Series [A-F]"],
            },
        ],
        "feeds": [
            {"name": "STAT News", "url": "https://www.statnews.com/feed/", "section": "headlines"},
            {
                "name": "36氪",
                "url": "https://36kr.com/feed",
                "section": "financing",
                "language": "zh",
                "encoding": "gb18030",
                "weight": 0.8,
            },
        ],
    }


def write_yaml(folder: Path, raw: Any, name: str = "feeds.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def config_error(raw: Any, path: Path = Path("/srv/news/feeds.yaml")) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, path)
    return str(info.value)


# -- valid configuration ----------------------------------------------------------------------


def test_valid_config_loads_into_typed_frozen_objects(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, base_raw())
    config = load_config(path)

    assert isinstance(config, Config)
    assert config.path == path.resolve()
    assert config.base_dir == tmp_path.resolve()
    nl = config.newsletter
    assert nl.title == "Test Health Weekly"
    assert nl.sender.email == "digest@news.example.com"
    assert nl.sender.domain == "news.example.com"
    assert nl.tz == ZoneInfo("Asia/Shanghai")
    assert nl.schedule.weekday == 0 and nl.schedule.at == time(8, 0)
    assert [type(s) for s in config.sections] == [SectionConfig, SectionConfig]
    assert config.section_ids == ("headlines", "financing")
    zh = config.feed("36氪")
    assert isinstance(zh, FeedConfig)
    assert (zh.language, zh.encoding, zh.weight, zh.enabled) == ("zh", "gb18030", 0.8, True)
    assert config.feed("STAT News").weight == 1.0  # default
    assert config.section("financing").patterns == (r"Series [A-F]",)
    # Frozen: configuration is loaded once and never mutated.
    with pytest.raises(pydantic.ValidationError):
        config.newsletter.title = "changed"  # type: ignore[misc]


def test_rule_order_is_priority_then_issue_order() -> None:
    raw = base_raw()
    raw["sections"].append({"id": "events", "title": "Events", "priority": 10})
    config = parse_config(raw, Path("feeds.yaml"))
    # financing and events share priority 10 (issue order breaks the tie); no priority is last.
    assert [s.id for s in config.rule_order] == ["financing", "events", "headlines"]


def test_schedule_is_normalized() -> None:
    raw = base_raw()
    raw["newsletter"]["schedule"] = {"day": "Friday", "time": "7:05"}
    schedule = parse_config(raw, Path("feeds.yaml")).newsletter.schedule
    assert (schedule.day, schedule.time, schedule.weekday, schedule.at) == (
        "friday",
        "07:05",
        4,
        time(7, 5),
    )


def test_relative_templates_folder_resolves_against_the_config_file(tmp_path: Path) -> None:
    raw = base_raw()
    raw["newsletter"]["templates"] = "my-templates"
    config = load_config(write_yaml(tmp_path, raw))
    assert config.templates_dir == (tmp_path / "my-templates").resolve()


def test_keywords_are_stripped_and_empty_ones_refused() -> None:
    raw = base_raw()
    raw["sections"][0]["keywords"] = ["  FDA ", "融资"]
    assert parse_config(raw, Path("f.yaml")).sections[0].keywords == ("FDA", "融资")
    raw["sections"][0]["keywords"] = ["FDA", "   "]
    message = config_error(raw)
    assert "section 'headlines', field 'keywords'" in message
    assert "must not be empty" in message


def test_lookup_of_unknown_section_or_feed_names_the_file() -> None:
    config = parse_config(base_raw(), Path("/srv/news/feeds.yaml"))
    with pytest.raises(ConfigError, match=r"/srv/news/feeds.yaml: no section 'nope'"):
        config.section("nope")
    with pytest.raises(ConfigError, match=r"/srv/news/feeds.yaml: no feed named 'Nope'"):
        config.feed("Nope")


# -- the shipped feeds.yaml -------------------------------------------------------------------


def test_shipped_feeds_yaml_loads() -> None:
    config = load_config(SHIPPED)
    assert config.section_ids == (
        "hot_topics",
        "headlines",
        "financing",
        "events",
        "industry",
        "reports",
    )
    assert len(config.feeds) >= 8
    languages = {feed.language for feed in config.feeds}
    assert {"en", "zh"} <= languages
    assert all(feed.url.startswith(("http://", "https://")) for feed in config.feeds)
    assert all(feed.section in config.section_ids for feed in config.feeds)
    assert config.templates_dir == (ROOT / "templates").resolve()
    assert (config.templates_dir / "email" / "issue.html").is_file()
    # conftest.SECTIONS is the same data the tests build configs from.
    assert [s["id"] for s in SECTIONS] == list(config.section_ids)


# -- errors name the file, the entry and the field ----------------------------------------------


def test_bad_url_scheme_names_file_feed_and_field() -> None:
    raw = base_raw()
    raw["feeds"][0]["url"] = "ftp://files.example.com/feed.xml"
    message = config_error(raw)
    assert message.startswith("/srv/news/feeds.yaml: ")
    assert "feed 'STAT News', field 'url'" in message
    assert "http or https" in message and "ftp://files.example.com/feed.xml" in message


def test_feed_without_name_is_named_by_position() -> None:
    raw = base_raw()
    del raw["feeds"][1]["name"]
    message = config_error(raw)
    assert "feed #2, field 'name'" in message and "required" in message.lower()


def test_unknown_section_referenced_by_a_feed() -> None:
    raw = base_raw()
    raw["feeds"][1]["section"] = "funding"
    message = config_error(raw)
    assert message.startswith("/srv/news/feeds.yaml: ")
    assert "feed '36氪', field 'section'" in message
    assert "'funding' is not one of the sections (headlines, financing)" in message


def test_duplicate_feed_name() -> None:
    raw = base_raw()
    raw["feeds"].append({**raw["feeds"][0], "url": "https://example.com/other.xml"})
    message = config_error(raw)
    assert message.startswith("/srv/news/feeds.yaml: ")
    assert "feed 'STAT News', field 'name': appears twice (feeds #1 and #3)" in message


def test_duplicate_section_id() -> None:
    raw = base_raw()
    raw["sections"].append({"id": "headlines", "title": "Again"})
    message = config_error(raw)
    assert message.startswith("/srv/news/feeds.yaml: ")
    assert "section 'headlines', field 'id': appears twice (sections #1 and #3)" in message


def test_bad_regex_in_patterns() -> None:
    raw = base_raw()
    raw["sections"][1]["patterns"] = [r"Series [A-F", r"ok"]
    message = config_error(raw)
    assert "section 'financing', field 'patterns'" in message
    assert "'Series [A-F' is not a valid regular expression" in message


def test_bad_section_id_shape() -> None:
    raw = base_raw()
    raw["sections"][0]["id"] = "Top Stories"
    message = config_error(raw)
    assert "section 'Top Stories', field 'id'" in message and "lowercase" in message


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../../etc/passwd"])
def test_unknown_timezone(zone: str) -> None:
    raw = base_raw()
    raw["newsletter"]["timezone"] = zone
    message = config_error(raw)
    assert "field 'newsletter.timezone'" in message
    assert f"unknown timezone {zone!r}" in message and "Asia/Shanghai" in message


@pytest.mark.parametrize("value", ["25:00", "8am", "12:60"])
def test_bad_schedule_time(value: str) -> None:
    raw = base_raw()
    raw["newsletter"]["schedule"]["time"] = value
    message = config_error(raw)
    assert "field 'newsletter.schedule.time'" in message
    assert "HH:MM" in message and repr(value) in message


def test_bad_schedule_day() -> None:
    raw = base_raw()
    raw["newsletter"]["schedule"]["day"] = "someday"
    assert "field 'newsletter.schedule.day'" in config_error(raw)


def test_unknown_key_in_a_feed_is_a_typo() -> None:
    raw = base_raw()
    raw["feeds"][1]["wieght"] = 2
    message = config_error(raw)
    assert "feed '36氪', field 'wieght': unknown key" in message
    assert "check the spelling" in message


def test_unknown_key_in_newsletter_and_section_and_top_level() -> None:
    raw = base_raw()
    raw["newsletter"]["titel"] = "Typo"
    raw["sections"][0]["max_item"] = 3
    raw["feed"] = []
    message = config_error(raw)
    assert "field 'newsletter.titel': unknown key" in message
    assert "section 'headlines', field 'max_item': unknown key" in message
    assert "field 'feed': unknown key" in message


def test_several_problems_are_reported_together() -> None:
    raw = base_raw()
    raw["feeds"][0]["url"] = "ftp://x.example.com/"
    raw["feeds"][1]["weight"] = -1
    message = config_error(raw)
    assert "feed 'STAT News', field 'url'" in message
    assert "feed '36氪', field 'weight'" in message


def test_bad_sender_email_and_unknown_encoding() -> None:
    raw = base_raw()
    raw["newsletter"]["sender"]["email"] = "not-an-address"
    raw["feeds"][1]["encoding"] = "klingon-8"
    message = config_error(raw)
    assert "field 'newsletter.sender.email'" in message and "'not-an-address'" in message
    assert "feed '36氪', field 'encoding': unknown encoding 'klingon-8'" in message


@pytest.mark.parametrize(
    ("field", "value"),
    [("title", "Weekly\r\nBcc: victim@example.com"), ("subject", "=?utf-8?q?Hi?= {title}")],
)
def test_header_injection_in_title_or_subject_is_refused(field: str, value: str) -> None:
    raw = base_raw()
    raw["newsletter"][field] = value
    message = config_error(raw)
    assert f"field 'newsletter.{field}'" in message and "one line" in message


@pytest.mark.parametrize(
    "value",
    [
        "editors",
        "editors@news.example.com\r\nBcc: v@example.com",
        "editors@news..example.com",  # an empty label: no message could carry it
        "editors@-news.example.com",
    ],
)
def test_reply_to_must_be_an_address(value: str) -> None:
    raw = base_raw()
    raw["newsletter"]["reply_to"] = value
    message = config_error(raw)
    assert "field 'newsletter.reply_to'" in message and "must be an address" in message


def test_sender_name_with_encoded_word_is_refused() -> None:
    raw = base_raw()
    raw["newsletter"]["sender"]["name"] = "=?utf-8?q?x=0D=0ABcc:_v@example.com?="
    message = config_error(raw)
    assert "field 'newsletter.sender.name'" in message and "'=?'" in message


def test_missing_sections_and_empty_sections() -> None:
    raw = base_raw()
    del raw["sections"]
    assert "field 'sections'" in config_error(raw)
    raw["sections"] = []
    assert "field 'sections'" in config_error(raw)


@pytest.mark.parametrize("raw", [None, [], "just text", 42])
def test_document_that_is_not_a_mapping(raw: Any) -> None:
    message = config_error(raw)
    assert message == (
        "/srv/news/feeds.yaml: expected a mapping with 'newsletter', 'sections' and 'feeds'"
    )


def test_parse_config_does_not_mutate_its_input() -> None:
    raw = base_raw()
    before = copy.deepcopy(raw)
    parse_config(raw, Path("feeds.yaml"))
    assert raw == before


# -- file-level errors ----------------------------------------------------------------------------


def test_yaml_syntax_error_reports_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "newsletter:\n  title: Weekly\nsections:\n  - id: a\n    title: [unclosed\nfeeds: []\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: YAML syntax error at line ")
    line = int(message.split("line ", 1)[1].split(",", 1)[0])
    assert 5 <= line <= 6  # the unclosed flow sequence starts on line 5
    assert "column" in message


def test_yaml_bad_indentation_reports_line(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("newsletter:\n  title: A\n title: B\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"YAML syntax error at line 3, column \d+"):
        load_config(path)


def test_a_tab_in_the_indentation_is_named(tmp_path: Path) -> None:
    """PyYAML says only "found character that cannot start any token" for a tab; the error
    says it is a tab (at the start of a line, and after spaces)."""
    for indent in ("\t", "    \t"):
        path = tmp_path / "feeds.yaml"
        path.write_text(f"newsletter:\n  title: A\n{indent}sender: x\n", encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            load_config(path)
        message = str(info.value)
        assert "YAML syntax error at line 3" in message
        assert message.endswith(
            "(a tab: YAML indents with spaces only; replace the tab with spaces)"
        )
    path.write_text("newsletter:\n  title: A\n title: B\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "a tab" not in str(info.value)
    # A tab inside a flow or quoted value is legal YAML: an error there has another cause.
    for text in (
        "newsletter: {title: a,\n\tfooter: b}}\n",
        'newsletter:\n  title: "a\n\tb" x: y\n',
    ):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert "a tab" not in str(info.value), text


def test_feeds_yaml_is_read_by_libyaml_and_errors_still_name_the_line(tmp_path: Path) -> None:
    """The C parser (libyaml) reads feeds.yaml; its nodes carry the lines that errors name,
    and it reads the same data as PyYAML's own parser (anchors and merge keys included)."""
    assert loading.SafeLoader is yaml.CSafeLoader
    raw = base_raw()
    raw["feeds"][1]["weight"] = "heavy"
    text = yaml.safe_dump(raw, sort_keys=False) + "extra: &x {a: 1}\nmore:\n  <<: *x\n  b: 2\n"
    _lines, data = loading._read_yaml(text, tmp_path / "feeds.yaml")
    assert data == yaml.load(text, Loader=yaml.SafeLoader)
    del data["extra"], data["more"]
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    weight_line = next(
        n for n, line in enumerate(path.read_text().splitlines(), 1) if "weight: heavy" in line
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    name = raw["feeds"][1]["name"]
    assert f"feed '{name}', field 'weight' (line {weight_line})" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "feeds.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: file not found")
    assert "--config" in message and "NEWSLETTER_CONFIG" in message


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_bytes("newsletter:\n  title: 医疗\n".encode("gb18030"))
    with pytest.raises(ConfigError, match=rf"^{path}: cannot read"):
        load_config(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(path)


def test_validation_error_from_file_names_the_resolved_path(tmp_path: Path) -> None:
    raw = base_raw()
    raw["feeds"][0]["url"] = "ftp://example.com/x"
    path = write_yaml(tmp_path, raw)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path.resolve()}: feed 'STAT News', field 'url'")


# -- NEWSLETTER_* settings ----------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No NEWSLETTER_* variables from the outside, and no .env file in the working folder."""
    import os

    for name in list(os.environ):
        if name.startswith("NEWSLETTER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_settings_defaults_and_environment(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("NEWSLETTER_SMTP_TLS", "tls")
    clean_env.setenv("NEWSLETTER_BASE_URL", "https://news.example.com/")
    clean_env.setenv("NEWSLETTER_DATA_DIR", str(tmp_path / "d"))
    clean_env.setenv("NEWSLETTER_SMTP_PASSWORD", "hunter2")
    settings = load_settings()
    assert settings.base_url == "https://news.example.com"  # trailing slash dropped
    assert settings.resolved_smtp_port == 465
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'd').resolve()}/newsletter.db"
    assert settings.resolved_outbox_dir == tmp_path / "d" / "outbox"
    assert settings.allow_private_addresses is False
    assert settings.smtp_password is not None and "hunter2" not in repr(settings)


def test_settings_read_a_dotenv_file(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("NEWSLETTER_POLL_MINUTES=15\n", encoding="utf-8")
    assert load_settings().poll_minutes == 15


def test_settings_sources_in_order(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As pydantic-settings read them: names case-insensitive, the environment over .env,
    values given to Settings() over both, unknown names ignored, defaults validated."""
    from newsletter.config import Settings
    from newsletter.config.settings import environment_values

    (tmp_path / ".env").write_text(
        "NEWSLETTER_POLL_MINUTES=15\nnewsletter_fetch_timeout=3.5\n"
        "NEWSLETTER_BASE_URL=https://env-file.example/\nNEWSLETTER_NOT_A_SETTING=1\n",
        encoding="utf-8",
    )
    clean_env.setenv("NEWSLETTER_POLL_MINUTES", "20")
    clean_env.setenv("Newsletter_Smtp_Host", "mail.example")
    settings = Settings()
    assert settings.poll_minutes == 20  # the environment wins over .env
    assert settings.fetch_timeout == 3.5  # a lower-case name in .env
    assert settings.smtp_host == "mail.example"  # a mixed-case name in the environment
    assert settings.base_url == "https://env-file.example"  # validated (slash dropped)
    assert {"poll_minutes", "fetch_timeout", "smtp_host", "base_url"} <= settings.model_fields_set
    assert Settings(poll_minutes=5).poll_minutes == 5  # given values win over both
    without_file = Settings(_env_file=None)
    assert (without_file.poll_minutes, without_file.fetch_timeout) == (20, 20.0)
    assert Settings(_env_file=None).base_url == "http://localhost:8000"  # the default
    assert "not_a_setting" not in environment_values(tmp_path / ".env", {})
    assert environment_values(None, {"NEWSLETTER_SMTP_PORT": "2525", "OTHER": "x"}) == {
        "smtp_port": "2525"
    }


def test_a_dotenv_line_without_a_value_sets_nothing(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A bare name in .env (no "="), as pydantic-settings read it: ignored, not an empty or
    missing value that fails validation or counts as given."""
    from newsletter.config import Settings

    (tmp_path / ".env").write_text(
        "NEWSLETTER_DEBUG\nNEWSLETTER_SMTP_PORT\nNEWSLETTER_CONFIG\nNEWSLETTER_POLL_MINUTES=15\n",
        encoding="utf-8",
    )
    settings = Settings()
    assert settings.poll_minutes == 15
    assert settings.smtp_port is None
    assert settings.model_fields_set == {"poll_minutes"}


def test_a_dotenv_file_that_is_not_utf8_is_a_config_error_naming_it(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An editor's .env saved in another encoding: one error naming the file and the fix, not
    an internal error (it was a UnicodeDecodeError out of pydantic-settings before)."""
    (tmp_path / ".env").write_bytes("NEWSLETTER_BASE_URL=https://新闻.example\n".encode("gb18030"))
    with pytest.raises(ConfigError, match=r"cannot read \.env: byte \d+ is not UTF-8; save"):
        load_settings()


def test_an_unreadable_dotenv_in_a_real_process_is_one_error_line(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import subprocess
    import sys

    (tmp_path / ".env").write_bytes(b"NEWSLETTER_POLL_MINUTES=\xff\xfe\n")
    result = subprocess.run(
        [sys.executable, "-m", "newsletter", "ingest"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot read .env" in errors[0], result.stderr


def test_settings_defaults_are_validated(clean_env: pytest.MonkeyPatch) -> None:
    """A default goes through the same checks as a given value (pydantic-settings did that)."""
    from newsletter.config import Settings

    assert Settings.model_config.get("validate_default") is True
    assert Settings().parse_workers >= 1


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("NEWSLETTER_FETCH_TIMEOUT", "soon", "valid number"),
        ("NEWSLETTER_BASE_URL", "ftp://news.example.com", "must be an http(s) URL"),
        ("NEWSLETTER_MAIL_TRANSPORT", "pigeon", "'file' or 'smtp'"),
        ("NEWSLETTER_FETCH_CONCURRENCY", "0", "must be at least 1"),
        ("NEWSLETTER_SMTP_TLS", "yes", "'none', 'starttls' or 'tls'"),
        ("NEWSLETTER_ALLOW_PRIVATE_ADDRESSES", "perhaps", "valid boolean"),
    ],
)
def test_settings_errors_name_the_variable(
    clean_env: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    clean_env.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith("invalid setting: ")
    assert f"{variable}: " in message and expected in message
    assert "Value error," not in message  # pydantic's prefix is noise for users


def test_settings_overrides_are_validated_too(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="NEWSLETTER_POLL_MINUTES: must be at least 1"):
        load_settings(poll_minutes=0)


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        (
            {"examples": [{"title": "x", "section": "nope"}]},
            "topic example #1, field 'section': 'nope' is not one of the sections",
        ),
        (
            {"exclude_patterns": ["(unclosed"]},
            "pattern '(unclosed' is not a valid regular expression",
        ),
        ({"exclude": [" "]}, "keywords must not be empty strings"),
        ({"relevance_threshold": 1.5}, "relevance_threshold"),
        ({"per_source_cap": 0}, "per_source_cap"),
        ({"exclud": ["招聘"]}, "did you mean 'exclude'"),
    ],
    ids=["unknown section", "bad pattern", "empty keyword", "threshold", "cap", "misspelled key"],
)
def test_topic_errors_name_what_to_fix(topic: dict[str, Any], expected: str) -> None:
    raw = base_raw()
    raw["topic"] = topic
    assert expected in config_error(raw)


def test_feed_filters_refuse_empty_keywords() -> None:
    raw = base_raw()
    raw["feeds"][0]["include"] = [""]
    assert "keywords must not be empty strings" in config_error(raw)
