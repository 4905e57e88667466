"""newsletter.domain.editorial.textmodel: hashed features and the linear models (NumPy kernel)."""

from __future__ import annotations

import math
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.domain.editorial.textmodel import (
    LinearModel,
    ReadingModel,
    Vector,
    features,
    normalise,
    repeats_title,
    smooth,
    top,
    vector,
    vectors,
)

ITEMS = [
    (
        "FDA approves Vertex's CF therapy after Phase 3 trial",
        "The agency cleared the drug for patients aged six and older, the company said on Tuesday.",
    ),
    ("康泰医疗完成3000万美元B轮融资", "本轮融资由高瓴创投领投，资金将用于产品研发和市场拓展。"),
    ("一图读懂", ""),
    ("", "A summary without a title still has features."),
]


def test_features_are_unit_length_and_deterministic() -> None:
    x = features("康泰医疗完成3000万美元B轮融资", "")
    assert x == features("康泰医疗完成3000万美元B轮融资", "")
    assert math.isclose(sum(v * v for v in x.values()), 1.0)
    assert features("", "") == {}


def test_case_width_and_spacing_do_not_change_features() -> None:
    assert features("FDA Approves  ＡＢＣ-101", "") == features("fda approves abc-101", "")
    assert normalise("  Ｆｕｌｌ\u3000width ") == "full width"


def test_a_summary_that_repeats_the_title_adds_nothing() -> None:
    title = "国家医保局发布2021年医保目录调整方案"
    assert repeats_title(title, title)
    assert repeats_title(title, title + " | 来源：健康界")
    assert not repeats_title(title, "方案明确了调整范围、条件和程序，新冠治疗药物纳入。")
    assert features(title, title) == features(title, "")
    assert features(title, "方案明确了调整范围和程序。") != features(title, "")


def test_two_class_and_multi_class_probabilities() -> None:
    x = {1: 1.0}
    binary = LinearModel(("no", "yes"), ({1: 2.0},), (0.0,))
    p = binary.probabilities(x)
    assert p["yes"] == pytest.approx(1 / (1 + math.exp(-2.0)))
    assert p["no"] + p["yes"] == pytest.approx(1.0)
    multi = LinearModel(("a", "b", "c"), ({1: 1.0}, {1: 3.0}, {}), (0.0, 0.0, 0.0))
    q = multi.probabilities(x)
    assert max(q, key=lambda k: q[k]) == "b" and sum(q.values()) == pytest.approx(1.0)
    assert top(q, ["a", "c"]) == ("a", pytest.approx(q["a"]))
    assert top(q, ["z"]) is None


def test_huge_scores_do_not_overflow() -> None:
    model = LinearModel(("no", "yes"), ({1: 1e6},), (0.0,))
    assert model.probabilities({1: 1.0})["yes"] == pytest.approx(1.0)
    assert model.probabilities({1: -1.0})["yes"] == pytest.approx(0.0)


def test_smooth_pulls_scores_towards_the_feed_mean() -> None:
    assert smooth([0.2, 0.8, 0.5], 0.0) == [0.2, 0.8, 0.5]
    assert smooth([0.2, 0.8], 0.5) == [0.2, 0.8]  # too few items to say what the feed is
    pulled = smooth([0.1, 0.9, 0.8], 0.5)
    assert pulled[0] == pytest.approx(0.5 * 0.1 + 0.5 * 0.6)
    assert pulled[0] > 0.1 and pulled[1] < 0.9


def test_reading_model_scores_relevance_and_sections() -> None:
    word = next(iter(features("biotech", "")))
    model = ReadingModel(
        "t",
        LinearModel(("no", "yes"), ({word: 5.0},), (-1.0,)),
        0.5,
        LinearModel(("financing", "industry"), ({word: 2.0},), (0.0,)),
    )
    assert model.relevance_score("biotech", "") > model.relevance_score("football", "")
    assert set(model.section_scores("biotech", "")) == {"financing", "industry"}


def test_feed_context_shifts_the_items_of_a_feed_alike() -> None:
    bio, football = features("biotech", ""), features("football", "")
    word = next(iter(bio))
    relevance = LinearModel(("no", "yes"), ({word: 2.0},), (-1.0,))
    plain = ReadingModel("t", relevance, 0.5, None)
    # Without a context the items of a feed are read one by one.
    assert plain.relevance_of_items([bio, football]) == [
        pytest.approx(plain.relevance.probabilities(x)["yes"]) for x in (bio, football)
    ]
    context = LinearModel(("no", "yes"), ({word: 4.0},), (0.0,))
    model = ReadingModel("t", relevance, 0.5, None, context=context)
    together = model.relevance_of_items([bio, football])
    # The shift is the context weights on the feed's mean features, the same for every item.
    shift = (context.decision(bio)[0] + context.decision(football)[0]) / 2
    for x, score in zip((bio, football), together, strict=True):
        logit = relevance.decision(x)[0] + shift
        assert score == pytest.approx(1 / (1 + math.exp(-logit)))
    # Read alone, an item is its own feed context.
    assert model.relevance_of(football) == pytest.approx(model.relevance_of_items([football])[0])
    assert model.relevance_of(football) < together[1] < together[0]


def test_no_n_gram_spans_the_title_and_the_summary() -> None:
    for title, summary in ITEMS:
        both = set(features(title, summary))
        assert both == set(features(title, "")) | set(features("", summary)), title


def test_the_summary_counts_at_half_weight_and_is_cut() -> None:
    x = features("", "abc abc")
    assert features("", "abc abc " * 100) != x  # longer, but only its first 200 characters
    assert features("", "abc abc " * 100) == features("", ("abc abc " * 100)[:200])


def test_vectors_and_dicts_are_the_same_features() -> None:
    for title, summary in ITEMS:
        v = vector(title, summary)
        assert list(v.keys) == sorted(v.keys.tolist()) and len(set(v.keys.tolist())) == len(v.keys)
        assert v.as_dict() == features(title, summary)
        back = Vector.of(v.as_dict())
        assert back.keys.tolist() == v.keys.tolist() and back.values.tolist() == v.values.tolist()


def test_scores_are_the_sparse_dot_products() -> None:
    """The NumPy scoring gives what a plain dict loop gives, for buckets with and without
    weights, beyond the largest weighted bucket too."""
    xs = [features(t, s) for t, s in ITEMS]
    keys = sorted({k for x in xs for k in x})
    weights = tuple({k: (k % 7 - 3) / 3.0 for k in keys[i::3]} for i in range(3))
    model = LinearModel(("a", "b", "c"), weights, (0.1, -0.2, 0.3))
    for x in [*xs, {}, {max(keys) + 5: 1.0}]:
        expected = [
            b + sum(v * w.get(k, 0.0) for k, v in x.items())
            for w, b in zip(weights, model.intercepts, strict=True)
        ]
        assert model.decision(x) == pytest.approx(expected, abs=1e-12)
        assert model.decision(Vector.of(x)) == pytest.approx(expected, abs=1e-12)


def _same(a: Vector, b: Vector) -> bool:
    """The same keys and the same weights, bit for bit."""
    return (
        a.keys.dtype == b.keys.dtype
        and a.keys.tolist() == b.keys.tolist()
        and a.values.tobytes() == b.values.tobytes()
    )


def test_features_of_a_feed_at_once_are_each_items_own() -> None:
    """vectors (the items of a feed read together) gives vector's result for each item, bit
    for bit: the scores and the rounded relevance written to the database cannot differ."""
    items = [*ITEMS, ("", ""), ("Same title", "Same title"), ("x", "x" * 5000), ("", "")]
    assert all(
        _same(a, b) for a, b in zip(vectors(items), [vector(*i) for i in items], strict=True)
    )
    assert vectors([]) == []
    assert [v.keys.tolist() for v in vectors([("", ""), ("", "")])] == [[], []]
    small = [("abc", "a long summary"), ("医疗", "")]
    batch, alone = vectors(small, n_features=64), [vector(*i, n_features=64) for i in small]
    assert all(_same(a, b) for a, b in zip(batch, alone, strict=True))


_TEXT = st.text(st.sampled_from("ab cd-E'\u00e9\u533b\u7597\u3000\uff21\n1"), max_size=300)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_TEXT, _TEXT), max_size=8))
def test_features_at_once_equal_one_by_one(items: list[tuple[str, str]]) -> None:
    assert all(
        _same(a, b) for a, b in zip(vectors(items), [vector(*i) for i in items], strict=True)
    )


_SPACES = st.text(
    st.sampled_from("a B\t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u2028\u3000\u200b\ufeff")
)


@settings(max_examples=300, deadline=None)
@given(_SPACES)
def test_normalise_collapses_the_whitespace_the_regex_did(text: str) -> None:
    """normalise splits on str.split()'s whitespace: the same as the \\s+ it replaced."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    assert normalise(text) == re.sub(r"\s+", " ", folded).strip()
