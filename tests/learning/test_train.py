"""newsletter.learning.train: training on the shipped labelled data; refusals; thresholds."""

from __future__ import annotations

import math

import pytest

from newsletter.domain.editorial.textmodel import LinearModel, ReadingModel
from newsletter.errors import ModelError
from newsletter.learning import train as training


@pytest.fixture(scope="module")
def shipped() -> list[training.Example]:
    return training.shipped_examples()


def test_the_shipped_data_holds_features_and_labels_only(shipped: list[training.Example]) -> None:
    assert len(shipped) >= 2000
    assert {e.split for e in shipped} == {"train", "dev", "test"}
    # Split by feed: no feed (group) in two parts.
    parts: dict[str, set[str]] = {}
    for e in shipped:
        parts.setdefault(e.group, set()).add(e.split)
    assert all(len(p) == 1 for g, p in parts.items() if g != "authored")
    assert all(
        isinstance(k, int) and isinstance(v, float) for e in shipped[:50] for k, v in e.x.items()
    )


def test_a_tiny_training_set_is_refused_with_what_is_missing() -> None:
    few = [training.example(str(n), "g", f"title {n}", "", n % 2 == 0, None) for n in range(20)]
    with pytest.raises(
        ModelError, match=r"training set too small: 20 items \(10 relevant, 10 not\)"
    ):
        training.fit(few)
    one_sided = [training.example(str(n), "g", f"t {n}", "", True, None) for n in range(80)]
    with pytest.raises(ModelError, match="80 relevant, 0 not"):
        training.fit(one_sided)


@pytest.mark.slow
def test_training_on_the_train_split_does_on_dev_what_the_docs_say(
    shipped: list[training.Example],
) -> None:
    train = [e for e in shipped if e.split == "train"]
    dev = [e for e in shipped if e.split == "dev"]
    model = training.fit(train, dev).model
    figures = training.measure(model, dev)
    # docs/editorial.md, "Relevance": dev precision 0.74, recall 0.86, sections 0.74 (model alone)
    assert figures.precision is not None and figures.precision >= 0.70
    assert figures.recall is not None and figures.recall >= 0.80
    assert figures.section_agreement is not None and figures.section_agreement >= 0.70


def _feed(name: str, health: bool, n: int) -> list[training.Example]:
    """Items of one feed: topical titles and one vague title, all labelled as the feed is."""
    words = (
        ("医药新药获批", "生物技术临床试验", "医疗器械注册")
        if health
        else ("股票行情", "基金收益", "楼市成交")
    )
    titles = [f"{words[i % 3]}{i}" for i in range(n)] + ["一图读懂"]
    return [
        training.example(
            f"{name}-{i}", name, t, "", health, ("industry", "headlines")[i % 2] if health else None
        )
        for i, t in enumerate(titles)
    ]


def test_the_feed_context_reads_a_vague_title_by_its_feed() -> None:
    train = [ex for k in range(12) for ex in _feed(f"h{k}", True, 4)] + [
        ex for k in range(12) for ex in _feed(f"f{k}", False, 4)
    ]
    # Two feeds never seen in training, each with the same vague title.
    health, finance = _feed("new-h", True, 3), _feed("new-f", False, 3)
    with_context = training.fit(train, feed_weight=0.0, context_weight=0.5).model
    without = training.fit(train, feed_weight=0.0, context_weight=0.0).model
    assert with_context.context is not None and without.context is None
    assert without.sections is not None
    assert training.fit(train, with_sections=False).model.sections is None  # relevance only

    def vague(model: ReadingModel) -> tuple[float, float]:
        scores = training.relevance_scores(model.relevance, health + finance, 0.0, model.context)
        return scores[len(health) - 1], scores[-1]

    in_health, in_finance = vague(without)
    assert in_health == pytest.approx(in_finance)  # alone, the title says nothing
    in_health, in_finance = vague(with_context)
    assert in_health > in_finance + 0.1  # read with its feed, it takes the feed's side
    # The reading's way (classify.read_items) scores a feed's items together the same way.
    assert with_context.relevance_of_items([e.x for e in health])[-1] == pytest.approx(in_health)


def test_threshold_with_the_best_f1() -> None:
    model = LinearModel(("no", "yes"), ({1: 1.0},), (0.0,))
    # Scores rise with x[1]: three relevant on top, two not below.
    held = [
        training.Example(str(n), "g", rel, None, {1: value})
        for n, (value, rel) in enumerate(
            [(3.0, True), (2.0, True), (1.0, True), (-1.0, False), (-2.0, False)]
        )
    ]
    cut = training.choose_threshold(model, held)
    assert cut == round(1 / (1 + math.exp(-1.0)), 4)  # the lowest relevant item's score
    assert training.choose_threshold(model, [e for e in held if not e.relevant]) == 0.5


def test_hold_back_is_by_group() -> None:
    examples = [training.example(str(n), f"feed{n % 40}", "t", "", True, None) for n in range(400)]
    train, held = training.hold_back(examples)
    assert held and train
    assert not {e.group for e in train} & {e.group for e in held}
