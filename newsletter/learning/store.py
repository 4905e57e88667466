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
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from newsletter.domain.editorial.textmodel import N_FEATURES, LinearModel, ReadingModel
from newsletter.errors import ModelError

SHIPPED = "reading.json.gz"
CURRENT = "current"
FORMAT = 1


def shipped_path() -> Path:
    """The model file that ships in the package."""
    return Path(str(resources.files("newsletter.learning") / "data" / SHIPPED))


def _linear(data: Mapping[str, Any]) -> LinearModel:
    weights = tuple(
        dict(zip(vector["index"], vector["value"], strict=True)) for vector in data["weights"]
    )
    return LinearModel(tuple(data["classes"]), weights, tuple(data["intercepts"]))


def _linear_json(model: LinearModel) -> dict[str, Any]:
    return {
        "classes": list(model.classes),
        "weights": [
            {"index": list(w.keys()), "value": [round(v, 6) for v in w.values()]}
            for w in model.weights
        ],
        "intercepts": list(model.intercepts),
    }


def model_from_json(data: Mapping[str, Any]) -> ReadingModel:
    """A model from its JSON form (raises ModelError on anything unexpected)."""
    try:
        if data.get("format") != FORMAT:
            raise ModelError(f"unknown model format {data.get('format')!r} (expected {FORMAT})")
        return ReadingModel(
            version=str(data["version"]),
            relevance=_linear(data["relevance"]),
            threshold=float(data["threshold"]),
            sections=_linear(data["sections"]) if data.get("sections") else None,
            n_features=int(data.get("n_features", N_FEATURES)),
            feed_weight=float(data.get("feed_weight", 0.0)),
            trained_on=dict(data.get("trained_on", {})),
            metrics=dict(data.get("metrics", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"model file is damaged ({type(exc).__name__}: {exc})") from exc


def model_to_json(model: ReadingModel) -> dict[str, Any]:
    """The JSON form of a model."""
    return {
        "format": FORMAT,
        "version": model.version,
        "threshold": model.threshold,
        "n_features": model.n_features,
        "feed_weight": model.feed_weight,
        "trained_on": dict(model.trained_on),
        "metrics": dict(model.metrics),
        "relevance": _linear_json(model.relevance),
        "sections": _linear_json(model.sections) if model.sections else None,
    }


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> ReadingModel:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, EOFError, ValueError) as exc:
        raise ModelError(f"cannot read model {path}: {exc}") from exc
    return model_from_json(data)


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
