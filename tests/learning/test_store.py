"""newsletter.learning.store: model files (JSON, gzip), the shipped model, local history."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

import pytest

from newsletter.domain.editorial.textmodel import LinearModel, ReadingModel
from newsletter.errors import ModelError
from newsletter.learning.store import ModelStore, load_model, save_model, shipped_path


def tiny(version: str) -> ReadingModel:
    return ReadingModel(
        version,
        LinearModel(("no", "yes"), ({3: 0.5, 7: -1.25},), (0.1,)),
        0.4,
        LinearModel(("financing", "industry"), ({3: 1.0},), (0.0,)),
        feed_weight=0.3,
        trained_on={"shipped": 10},
        metrics={"held_precision": 0.8},
    )


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "m.json.gz"
    save_model(tiny("v1"), path)
    assert load_model(path) == tiny("v1")
    again = tmp_path / "again.json.gz"
    save_model(tiny("v1"), again)
    assert path.read_bytes() == again.read_bytes()  # no time stamp: same model, same bytes


def test_a_feed_context_round_trips_and_a_format_2_file_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "m.json.gz"
    model = dataclasses.replace(
        tiny("v1"), context=LinearModel(("no", "yes"), ({5: 0.75},), (0.0,))
    )
    save_model(model, path)
    assert load_model(path) == model
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        assert json.load(handle)["format"] == 3
    plain = tmp_path / "plain.json.gz"
    save_model(tiny("v1"), plain)  # no context: format 2, as versions before it read
    with gzip.open(plain, "rt", encoding="utf-8") as handle:
        assert json.load(handle)["format"] == 2
    older = tmp_path / "older.json.gz"
    older.write_bytes(gzip.compress(json.dumps(GOOD).encode(), mtime=0))
    assert load_model(older).context is None


def test_the_shipped_model_loads_offline() -> None:
    model = load_model(shipped_path())
    assert model.version.startswith("shipped-")
    assert 0.0 < model.threshold < 1.0
    assert model.sections is not None and "financing" in model.sections.classes


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not gzip", "cannot read model"),
        (gzip.compress(b"{not json", mtime=0), "cannot read model"),
        (gzip.compress(b'{"format": 99}', mtime=0), "unknown model format 99"),
        (gzip.compress(b'{"format": 2, "version": "x"}', mtime=0), "is damaged"),
        (gzip.compress(b'{"format": 1}', mtime=0), "model of format 1"),
    ],
    ids=["not gzip", "not json", "unknown format", "missing fields", "older format"],
)
def test_a_damaged_model_file_is_a_clear_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.json.gz"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=message):
        load_model(path)
    with pytest.raises(ModelError, match="cannot read model"):
        load_model(tmp_path / "missing.json.gz")


def test_a_weight_too_big_for_a_float_is_a_damaged_model(tmp_path: Path) -> None:
    """A JSON integer weight of 10**400 raised OverflowError, not the clear ModelError."""
    data = json.loads(gzip.decompress(shipped_path().read_bytes()))
    data["relevance"]["weights"][0]["value"][0] = 10**400
    path = tmp_path / "huge.json.gz"
    path.write_bytes(gzip.compress(json.dumps(data).encode(), mtime=0))
    with pytest.raises(ModelError, match="is damaged"):
        load_model(path)


def test_history_add_and_rollback(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    assert store.current_path() == shipped_path()
    with pytest.raises(ModelError, match="no trained model to roll back"):
        store.rollback()
    first = store.add(tiny("a"))
    second = store.add(tiny("b"))
    assert store.current_path() == second and store.current().version == "b"
    assert store.rollback() == first and store.current().version == "a"
    assert store.rollback() == shipped_path()
    # A pointer to a file that is gone falls back to the shipped model.
    store.add(tiny("c")).unlink()
    assert store.current_path() == shipped_path()


GOOD = {
    "format": 2,
    "version": "v",
    "threshold": 0.4,
    "n_features": 16,
    "relevance": {
        "classes": ["no", "yes"],
        "weights": [{"index": [1], "value": [0.5]}],
        "intercepts": [0.0],
    },
    "sections": None,
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"n_features": 0}, "n_features must be a positive whole number"),
        ({"threshold": float("nan")}, "threshold must be a finite number"),
        ({"threshold": 3.0}, "between 0 and 1"),
        (
            {
                "relevance": {
                    "classes": ["a", "b"],
                    "weights": [{"index": [1], "value": [1.0]}],
                    "intercepts": [0.0],
                }
            },
            "relevance classes",
        ),
        (
            {
                "relevance": {
                    "classes": ["no", "yes"],
                    "weights": [{"index": [1], "value": [1.0]}],
                    "intercepts": [],
                }
            },
            "expected 1 intercept",
        ),
        (
            {
                "relevance": {
                    "classes": ["no", "yes"],
                    "weights": [{"index": [99], "value": [1.0]}],
                    "intercepts": [0.0],
                }
            },
            "bucket 99 is not in 0..15",
        ),
        (
            {
                "relevance": {
                    "classes": ["no", "yes"],
                    "weights": [{"index": [1], "value": ["x"]}],
                    "intercepts": [0.0],
                }
            },
            "weight must be a finite number",
        ),
        (
            {
                "relevance": {
                    "classes": ["no", "yes"],
                    "weights": [{"index": [1, True], "value": [0.5, 0.5]}],
                    "intercepts": [0.0],
                }
            },
            "bucket True is not in 0..15",
        ),
        (
            {
                "relevance": {
                    "classes": ["no", "yes"],
                    "weights": [{"index": [1, 2], "value": [0.5, float("inf")]}],
                    "intercepts": [0.0],
                }
            },
            "weight must be a finite number, got inf",
        ),
        (
            {
                "sections": {
                    "classes": ["a", "b", "c"],
                    "weights": [{"index": [], "value": []}],
                    "intercepts": [0.0],
                }
            },
            "expected 3 weight vector",
        ),
    ],
    ids=[
        "no features",
        "nan threshold",
        "threshold out of range",
        "wrong classes",
        "no intercept",
        "bucket out of range",
        "string weight",
        "boolean bucket",
        "infinite weight",
        "too few section vectors",
    ],
)
def test_well_formed_json_with_bad_content_is_refused(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    import json

    path = tmp_path / "odd.json.gz"
    path.write_bytes(gzip.compress(json.dumps({**GOOD, **change}).encode(), mtime=0))
    with pytest.raises(ModelError, match=message) as raised:
        load_model(path)
    assert str(path) in str(raised.value)


def test_whole_number_weights_load_as_floats(tmp_path: Path) -> None:
    """A file written by hand (or another tool) may give a weight as 1 rather than 1.0: it is
    checked one by one, as any vector not of plain floats, and read as a float."""
    path = tmp_path / "ints.json.gz"
    relevance = {"classes": ["no", "yes"], "weights": [{"index": [1, 2], "value": [1, 0.5]}]}
    data = {**GOOD, "relevance": {**relevance, "intercepts": [0]}}
    path.write_bytes(gzip.compress(json.dumps(data).encode(), mtime=0))
    weights = load_model(path).relevance.weights[0]
    assert weights == {1: 1.0, 2: 0.5}
    assert all(type(v) is float for v in weights.values())


def test_a_json_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.json.gz"
    path.write_bytes(gzip.compress(b"[1, 2]", mtime=0))
    with pytest.raises(ModelError, match="is damaged \\(not a JSON object\\)"):
        load_model(path)
