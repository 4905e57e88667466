"""`newsletter model`: the reading model in use, training it from the editor's decisions, and
rolling back.

Training data: the labelled real items that ship with the package (features only), the
examples of feeds.yaml's ``topic``, and every item an editor dropped (not relevant), restored,
pinned or moved (relevant, in that section) in any issue. Editor and topic examples weigh
``LOCAL_WEIGHT`` times a shipped one: they are this newsletter's own. A part is held back (the
shipped dev split and, once decisions come from MIN_FEEDS_TO_HOLD_BACK feeds or more, a fifth
of the editor's items, by feed); precision and recall on it are
reported for the model in use and the new one. A new model that does clearly worse there is not
installed unless forced. Local models live in ``<data dir>/models``; rollback goes back one.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from newsletter.domain.editorial.textmodel import ReadingModel
from newsletter.errors import ModelError
from newsletter.learning import train as training
from newsletter.learning.store import ModelStore, shipped_path
from newsletter.service.app import App
from newsletter.service.reading import checked_model, model_store
from newsletter.storage.db import session_scope
from newsletter.storage.queries import issues

LOCAL_WEIGHT = 5.0
MIN_FEEDS_TO_HOLD_BACK = 5  # editor decisions from fewer feeds are all trained on
WORSE_BY = 0.05  # a new model whose held-back F1 is this much lower than the current one's


@dataclass(frozen=True)
class ModelStatus:
    """The model in use and the local history."""

    model: ReadingModel
    path: str
    shipped: bool
    history: list[str]
    threshold: float


@dataclass(frozen=True)
class TrainResult:
    """What `model train` did."""

    before: training.Figures
    after: training.Figures
    model: ReadingModel
    installed: bool
    path: str | None
    examples: dict[str, int]
    reason: str


def status(app: App) -> ModelStatus:
    """The model the reading uses now."""
    store = model_store(app)
    path = store.current_path()
    model = checked_model(path)
    threshold = (
        model.threshold
        if app.config.topic.relevance_threshold is None
        else app.config.topic.relevance_threshold
    )
    return ModelStatus(
        model, str(path), path == shipped_path(), [p.name for p in store.versions()], threshold
    )


def _group(feed: str) -> str:
    return training.group_of(f"local:{feed}")


def local_examples(app: App) -> tuple[list[training.Example], list[training.Example]]:
    """The topic's examples (always trained on) and the editor's decisions (some held back)."""
    topic = app.config.topic
    topic_examples = [
        training.example(
            f"topic-{n}",
            "topic",
            ex.title,
            ex.summary,
            ex.relevant,
            ex.section,
            source="topic",
            weight=LOCAL_WEIGHT,
        )
        for n, ex in enumerate(topic.examples, 1)
    ]
    if topic.description:
        topic_examples.append(
            training.example(
                "topic-description",
                "topic",
                topic.description,
                "",
                True,
                None,
                source="topic",
                weight=LOCAL_WEIGHT,
            )
        )
    with session_scope(app.engine) as session:
        labels = issues.editor_labels(session)
    editor = [
        training.example(
            f"editor-{label.item_id}",
            _group(label.feed),
            label.title,
            label.summary,
            label.relevant,
            label.section,
            source="editor",
            weight=LOCAL_WEIGHT,
        )
        for label in labels
    ]
    return topic_examples, editor


def _f1(figures: training.Figures) -> float:
    p, r = figures.precision or 0.0, figures.recall or 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def train(
    app: App,
    *,
    local_only: bool = False,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train a new model from the shipped data, the topic and the editor's decisions; install it
    unless it does clearly worse on the held-back part (or ``force``)."""
    say = progress or (lambda message: None)
    topic_examples, editor = local_examples(app)
    if len({e.group for e in editor}) >= MIN_FEEDS_TO_HOLD_BACK:
        editor_train, editor_held = training.hold_back(editor)
    else:  # too few feeds to hold a fifth of them back: learn from every decision
        editor_train, editor_held = editor, []
    shipped: list[training.Example] = []
    if not local_only:
        say("reading the labelled data shipped with the package")
        shipped = training.shipped_examples()
    train_set = [e for e in shipped if e.split == "train"] + topic_examples + editor_train
    held = [e for e in shipped if e.split == "dev"] + editor_held
    if local_only and not held:
        # Too few feeds to hold any back: every fifth decision is held back instead.
        held = editor_train[::5]
        editor_train = [e for n, e in enumerate(editor_train) if n % 5]
        train_set = topic_examples + editor_train
    counts = {
        "shipped": sum(1 for e in train_set if e.source != "topic" and e.source != "editor"),
        "topic": len(topic_examples),
        "editor": len(editor_train),
        "held back": len(held),
    }
    say(
        f"training on {len(train_set)} items ({counts['shipped']} shipped, "
        f"{counts['topic']} from the topic, {counts['editor']} editor decisions); "
        f"{len(held)} held back"
    )
    current = status(app).model
    version = hashlib.sha1(
        "\n".join(sorted(e.id + str(e.relevant) + str(e.section) for e in train_set)).encode()
    ).hexdigest()[:8]
    trained = training.fit(train_set, held)
    model = trained.model
    model = dataclasses.replace(
        model, version=f"local-{model.version}-{version}", trained_on=counts
    )
    before = training.measure(current, held)
    after = training.measure(model, held)
    worse = _f1(after) < _f1(before) - WORSE_BY
    if worse and not force:
        return TrainResult(
            before,
            after,
            model,
            False,
            None,
            counts,
            f"the new model does worse on the held-back items (F1 {_f1(after):.3f} against "
            f"{_f1(before):.3f}); the model in use is kept (--force installs it anyway)",
        )
    store: ModelStore = model_store(app)
    path = store.add(model)
    return TrainResult(before, after, model, True, str(path), counts, "installed")


def rollback(app: App) -> ModelStatus:
    """Go back to the model in use before the last `model train`."""
    model_store(app).rollback()
    return status(app)


__all__ = ["ModelError", "ModelStatus", "TrainResult", "rollback", "status", "train"]
