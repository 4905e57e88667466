"""Reading models on disk: the one shipped in the package, and local ones `model train` writes.

A model is one gzip-compressed JSON file (never a pickle: loading it runs no code). Local models
live in ``<data dir>/models/``: ``reading-<version>.json.gz`` for every trained version and
``current`` naming the one in use; `model rollback` points ``current`` back at the previous
one. With no local model, the shipped one is used.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from newsletter.domain.editorial.textmodel import N_FEATURES, LinearModel, ReadingModel
from newsletter.errors import ModelError

SHIPPED = "reading.json.gz"
CURRENT = "current"
# 2: character n-grams hashed arithmetically (NumPy), not by CRC-32; a format-1 model's buckets
# mean other n-grams, so it is refused rather than misread. 3: a model with a feed context
# ("context"); a model without one is still written as format 2, so versions that know only
# format 2 read it, and refuse a format-3 file rather than score without its context.
FORMAT = 2
CONTEXT_FORMAT = 3
READABLE_FORMATS = (FORMAT, CONTEXT_FORMAT)


def shipped_path() -> Path:
    """The model file that ships in the package."""
    return Path(str(resources.files("newsletter.learning") / "data" / SHIPPED))


def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _is_plain(index: list[Any], value: list[Any], n_features: int) -> bool:
    """Whether every bucket is a whole number in range and every weight a finite float (what
    save_model writes), checked in C loops: a model has over 100,000 weights, and checking
    them one by one in Python was most of the time a parsing process took to load it. When
    this says no, _linear checks each one and names the first that is wrong."""
    return (
        set(map(type, index)) <= {int}
        and (not index or (min(index) >= 0 and max(index) < n_features))
        and set(map(type, value)) <= {float}
        and all(map(math.isfinite, value))
    )


def _linear(data: Any, what: str, n_features: int) -> LinearModel:
    """One linear model, checked: one vector per class (one for two classes), an intercept per
    vector, whole-number buckets within range, finite weights."""
    if not isinstance(data, dict):
        raise ValueError(f"{what} must be an object")
    classes = data.get("classes")
    if (
        not isinstance(classes, list)
        or len(classes) < 2
        or not all(isinstance(c, str) for c in classes)
    ):
        raise ValueError(f"{what}: classes must be a list of two or more names")
    vectors = data.get("weights")
    intercepts = data.get("intercepts")
    expected = 1 if len(classes) == 2 else len(classes)
    if not isinstance(vectors, list) or len(vectors) != expected:
        raise ValueError(f"{what}: expected {expected} weight vector(s)")
    if not isinstance(intercepts, list) or len(intercepts) != expected:
        raise ValueError(f"{what}: expected {expected} intercept(s)")
    weights = []
    for vector in vectors:
        if not isinstance(vector, dict):
            raise ValueError(f"{what}: a weight vector must be an object")
        index, value = vector.get("index"), vector.get("value")
        if not isinstance(index, list) or not isinstance(value, list) or len(index) != len(value):
            raise ValueError(f"{what}: index and value must be lists of one length")
        if _is_plain(index, value, n_features):
            weights.append(dict(zip(index, value, strict=True)))
            continue
        for bucket in index:
            if (
                isinstance(bucket, bool)
                or not isinstance(bucket, int)
                or not 0 <= bucket < n_features
            ):
                raise ValueError(f"{what}: bucket {bucket!r} is not in 0..{n_features - 1}")
        weights.append(dict(zip(index, (_finite(v, f"{what} weight") for v in value), strict=True)))
    return LinearModel(
        tuple(classes), tuple(weights), tuple(_finite(b, f"{what} intercept") for b in intercepts)
    )


def _linear_json(model: LinearModel) -> dict[str, Any]:
    return {
        "classes": list(model.classes),
        "weights": [
            {"index": list(w.keys()), "value": [round(v, 6) for v in w.values()]}
            for w in model.weights
        ],
        "intercepts": list(model.intercepts),
    }


def model_from_json(data: Any, source: str = "model file") -> ReadingModel:
    """A model from its JSON form, checked (raises ModelError naming ``source`` and the problem:
    a model that loads is one the reading can apply to any item)."""
    try:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("format") == 1:
            raise ModelError(
                f"{source}: a model of format 1 (made by an older version, whose features this "
                "version no longer computes): `newsletter model train` makes a new one"
            )
        if data.get("format") not in READABLE_FORMATS:
            raise ModelError(
                f"{source}: unknown model format {data.get('format')!r} (expected {FORMAT} "
                f"or {CONTEXT_FORMAT})"
            )
        n_features = data.get("n_features", N_FEATURES)
        if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
            raise ValueError(f"n_features must be a positive whole number, got {n_features!r}")
        relevance = _linear(data["relevance"], "relevance", n_features)
        if relevance.classes != ("no", "yes"):
            raise ValueError(
                f"relevance classes must be ['no', 'yes'], got {list(relevance.classes)}"
            )
        threshold = _finite(data["threshold"], "threshold")
        feed_weight = _finite(data.get("feed_weight", 0.0), "feed_weight")
        if not 0.0 <= threshold <= 1.0 or not 0.0 <= feed_weight <= 1.0:
            raise ValueError("threshold and feed_weight must be between 0 and 1")
        sections = data.get("sections")
        context = _linear(data["context"], "context", n_features) if data.get("context") else None
        if context is not None and context.classes != ("no", "yes"):
            raise ValueError(f"context classes must be ['no', 'yes'], got {list(context.classes)}")
        return ReadingModel(
            version=str(data["version"]),
            relevance=relevance,
            threshold=threshold,
            sections=_linear(sections, "sections", n_features) if sections else None,
            n_features=n_features,
            feed_weight=feed_weight,
            context=context,
            trained_on=dict(data.get("trained_on", {})),
            metrics=dict(data.get("metrics", {})),
        )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ModelError(f"{source} is damaged ({detail})") from exc


def model_to_json(model: ReadingModel) -> dict[str, Any]:
    """The JSON form of a model."""
    data: dict[str, Any] = {
        "format": FORMAT if model.context is None else CONTEXT_FORMAT,
        "version": model.version,
        "threshold": model.threshold,
        "n_features": model.n_features,
        "feed_weight": model.feed_weight,
        "trained_on": dict(model.trained_on),
        "metrics": dict(model.metrics),
        "relevance": _linear_json(model.relevance),
        "sections": _linear_json(model.sections) if model.sections else None,
    }
    if model.context is not None:
        data["context"] = _linear_json(model.context)
    return data


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> ReadingModel:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, EOFError, ValueError) as exc:
        raise ModelError(f"cannot read model {path}: {exc}") from exc
    return model_from_json(data, f"model {path}")


def load_model(path: Path) -> ReadingModel:
    """Read a model file (cached per process while the file is unchanged)."""
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise ModelError(f"cannot read model {path}: {exc.strerror or exc}") from exc
    return _load(str(path), mtime)


def save_model(model: ReadingModel, path: Path) -> None:
    """Write a model file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with (
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=6, mtime=0) as packed,
        io.TextIOWrapper(packed, encoding="utf-8") as handle,
    ):  # no time stamp in the file: the same model gives the same bytes
        json.dump(model_to_json(model), handle, separators=(",", ":"))
    os.replace(tmp, path)


@dataclass(frozen=True)
class ModelStore:
    """The local models of one installation (``<data dir>/models``)."""

    root: Path

    def versions(self) -> list[Path]:
        """Local model files, oldest first."""
        if not self.root.is_dir():
            return []
        return sorted(self.root.glob("reading-*.json.gz"), key=lambda p: p.stat().st_mtime_ns)

    def current_path(self) -> Path:
        """The model in use: the local one ``current`` names, else the shipped one."""
        pointer = self.root / CURRENT
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except OSError:
            return shipped_path()
        path = self.root / name
        return path if name and path.is_file() else shipped_path()

    def current(self) -> ReadingModel:
        """The model in use."""
        return load_model(self.current_path())

    def add(self, model: ReadingModel) -> Path:
        """Store a newly trained model and make it current; the previous stays for rollback."""
        path = self.root / f"reading-{model.version}.json.gz"
        save_model(model, path)
        history = self._history()
        history.append(path.name)
        self._write_history(history)
        return path

    def rollback(self) -> Path:
        """Make the model before the current one current again; returns its path."""
        history = self._history()
        if not history:
            raise ModelError("no trained model to roll back; the shipped model is in use")
        history.pop()
        self._write_history(history)
        return self.current_path()

    def _history(self) -> list[str]:
        try:
            text = (self.root / "history").read_text(encoding="utf-8")
        except OSError:
            return []
        return [line for line in text.splitlines() if (self.root / line).is_file()]

    def _write_history(self, history: list[str]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for name, text in (
            ("history", "\n".join(history) + "\n"),
            (CURRENT, history[-1] if history else ""),
        ):
            tmp = self.root / f".{name}.tmp"
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, self.root / name)
