"""Specification of effort estimation: a shrunk nearest-neighbour median with ranges."""

from __future__ import annotations

import doctest
import json
import math
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from productpilot.errors import ValidationError
from productpilot.planning import estimation as module
from productpilot.planning import text_features
from productpilot.planning.estimation import (
    EffortModel,
    HistoricalItem,
    WorkItem,
    estimate_backlog,
)
from tests.integrations.shared_data import shared_dir

LARGE = (
    "migrate the {} database to the new cluster",
    "rewrite the {} service for multi region failover",
    "build the {} data pipeline with backfill",
)
SMALL = ("fix typo in the {} page", "update the {} button label", "correct wording of {} email")
COMPONENTS = ("orders", "billing", "search", "profile", "reports", "invoices", "catalog", "admin")
START = datetime(2026, 1, 1, tzinfo=UTC)


def synthetic_history(n: int = 60, seed: int = 0) -> list[HistoricalItem]:
    """Large work (8 or 13 points) and small work (1 or 2) whose titles tell them apart."""
    rng = random.Random(seed)
    items = []
    for i in range(n):
        large = i % 2 == 0
        template = rng.choice(LARGE if large else SMALL)
        items.append(
            HistoricalItem(
                key=f"H-{i}",
                title=template.format(rng.choice(COMPONENTS)),
                effort=float(rng.choice((8, 13) if large else (1, 2))),
                created_at=START + timedelta(days=i),
            )
        )
    return items


def test_the_text_separates_large_from_small_work() -> None:
    model = EffortModel.fit(synthetic_history())
    big, small = model.predict(
        [
            WorkItem(key="N-1", title="migrate the shipping database to the new cluster"),
            WorkItem(key="N-2", title="fix typo in the shipping page"),
        ]
    )
    assert big.value >= 8
    assert small.value <= 2
    assert big.method == small.method == "similar-items"
    assert all(s.effort >= 8 for s in big.similar)  # the look-alikes it names are large too
    assert big.similar[0].key in big.explanation


def test_beats_the_history_median_on_later_items() -> None:
    history = synthetic_history(100, seed=1)
    model = EffortModel.fit(history[:70])
    later = history[70:]
    actual = np.array([item.effort for item in later])
    predicted = np.array([e.value for e in model.predict(later)])
    median = np.median([item.effort for item in history[:70]])
    assert np.abs(actual - predicted).mean() < 0.5 * np.abs(actual - median).mean()
    assert model.tuning.items == 14  # the latest 20% of 70 tuned it
    assert model.tuning.mae is not None
    assert model.tuning.median_mae is not None
    assert model.tuning.mae < model.tuning.median_mae


def test_estimates_stay_on_the_scale_of_the_history() -> None:
    history = synthetic_history()
    scale = {item.effort for item in history}
    estimates = EffortModel.fit(history).predict(history[:20])
    assert {e.value for e in estimates} <= scale
    assert {e.low for e in estimates} | {e.high for e in estimates} <= scale


def test_ranges_hold_the_value_and_widen_when_nothing_similar_was_done() -> None:
    model = EffortModel.fit(synthetic_history())
    familiar, novel = model.predict(
        [
            WorkItem(key="N-1", title="fix typo in the orders page"),
            WorkItem(key="N-2", title="quantum teleportation hamster"),
        ]
    )
    for estimate in (familiar, novel):
        assert estimate.low <= estimate.value <= estimate.high
    assert novel.high - novel.low > familiar.high - familiar.low
    assert novel.similar == ()
    assert "no similar past item" in novel.explanation


def test_metadata_counts_when_the_text_does_not_differ() -> None:
    history = [
        HistoricalItem(
            key=f"M-{i}",
            title="update the component",
            item_type="epic" if i % 2 else "bug",
            team="core",
            effort=13.0 if i % 2 else 1.0,
        )
        for i in range(40)
    ]
    model = EffortModel.fit(history)
    epic, bug = model.predict(
        [
            WorkItem(key="E", title="update the component", item_type="epic"),
            WorkItem(key="B", title="update the component", item_type="bug"),
        ]
    )
    assert (epic.value, bug.value) == (13.0, 1.0)


def test_text_without_signal_gives_the_history_median() -> None:
    efforts = (1.0, 2.0, 3.0, 5.0, 8.0)
    history = [
        HistoricalItem(key=f"S-{i}", title="do the work", effort=efforts[i % 5]) for i in range(50)
    ]
    model = EffortModel.fit(history)
    (estimate,) = model.predict([WorkItem(key="N", title="do the work")])
    assert model.method == estimate.method == "history-median"
    assert estimate.value == 3.0
    assert "median of 50 past items" in estimate.explanation


def test_validation_tunes_but_is_never_searched() -> None:
    history = synthetic_history(80)
    model = EffortModel.fit(history[:50], validation=history[50:])
    assert model.tuning.items == 30
    assert model.history_size == 50
    assert model.tuning.coverage is not None
    assert model.tuning.coverage >= 0.8
    estimates = model.predict(history[50:])
    searched = {s.key for e in estimates for s in e.similar}
    assert searched <= {item.key for item in history[:50]}


def test_fitting_is_deterministic_and_follows_created_at_not_list_order() -> None:
    history = synthetic_history()
    queries = [WorkItem(key=f"Q-{i}", title=item.title) for i, item in enumerate(history[:15])]
    first = EffortModel.fit(history).predict(queries)
    again = EffortModel.fit(list(history)).predict(queries)
    shuffled = list(history)
    random.Random(3).shuffle(shuffled)
    reordered = EffortModel.fit(shuffled).predict(queries)
    assert first == again == reordered


def test_short_history_falls_back_to_stated_defaults() -> None:
    history = [
        HistoricalItem(key="A-1", title="fix typo", item_type="bug", effort=1),
        HistoricalItem(key="A-2", title="fix link", item_type="bug", effort=2),
        HistoricalItem(key="A-3", title="fix label", item_type="bug", effort=2),
        HistoricalItem(key="A-4", title="new login", item_type="story", effort=8),
        HistoricalItem(key="A-5", title="new signup", item_type="story", effort=5),
    ]
    items = [
        WorkItem(key="B-1", title="fix color", item_type="bug"),
        WorkItem(key="B-2", title="new billing", item_type="story"),
        WorkItem(key="B-3", title="set up alerts", item_type="spike"),
    ]
    bug, story, spike = estimate_backlog(
        history, items, min_history=30, default_by_type={"spike": 3}
    )
    assert {bug.method, story.method, spike.method} == {"default"}
    assert "only 5 completed items (fewer than 30)" in bug.explanation
    assert (bug.value, bug.low, bug.high) == (2.0, 1.0, 2.0)
    assert "median of 3 past 'bug' items" in bug.explanation
    assert story.value == 2.0  # two stories are too few: the median of all five items
    assert "median of 5 past items" in story.explanation
    assert (spike.value, spike.low, spike.high) == (3.0, 3.0, 3.0)
    assert "configured default for 'spike'" in spike.explanation


def test_enough_history_uses_the_model() -> None:
    estimates = estimate_backlog(
        synthetic_history(), [WorkItem(key="N", title="fix typo in the orders page")]
    )
    assert estimates[0].method == "similar-items"


def test_no_history_needs_a_default() -> None:
    item = WorkItem(key="N", title="anything")
    (estimate,) = estimate_backlog([], [item], default_effort=5)
    assert (estimate.value, estimate.method) == (5.0, "default")
    with pytest.raises(ValidationError, match="no history and no default"):
        estimate_backlog([], [item])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"effort": -1}, "need a number >= 0"),
        ({"effort": None}, "no numeric effort"),
        ({"effort": math.nan}, "need a number >= 0"),
        ({"effort": "3"}, "no numeric effort"),
        ({"effort": True}, "no numeric effort"),
        ({"effort": 1, "title": "  ", "description": ""}, "neither a title nor a description"),
        ({"effort": 1, "key": ""}, "non-empty key"),
        ({"effort": 1, "description": 42}, "description must be text"),
    ],
)
def test_bad_history_items_are_rejected(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        HistoricalItem(**{"key": "K-1", "title": "a task", **fields})  # type: ignore[arg-type]


def test_bad_histories_and_settings_are_rejected() -> None:
    history = synthetic_history(20)
    with pytest.raises(ValidationError, match="at least 10 completed items"):
        EffortModel.fit(history[:9])
    with pytest.raises(ValidationError, match="'H-0' more than once"):
        EffortModel.fit([*history, history[0]])
    with pytest.raises(ValidationError, match="HistoricalItem"):
        EffortModel.fit([*history, WorkItem(key="W", title="not done")])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="validation holds no items"):
        EffortModel.fit(history, validation=[])
    with pytest.raises(ValidationError, match="neither a title nor a description"):
        WorkItem(key="W", title="")
    with pytest.raises(ValidationError, match="min_history"):
        estimate_backlog(history, [], min_history=3)
    with pytest.raises(ValidationError, match="must be >= 0"):
        estimate_backlog(history[:3], [], default_by_type={"bug": -2})


def test_estimates_serialise_to_json() -> None:
    (estimate,) = EffortModel.fit(synthetic_history()).predict(
        [WorkItem(key="N", title="build the orders data pipeline", labels=["etl"])]
    )
    payload = json.loads(json.dumps(estimate.to_dict(), allow_nan=False))
    assert payload["key"] == "N"
    assert payload["low"] <= payload["value"] <= payload["high"]
    assert payload["similar"][0]["effort"] >= 8


def test_tfidf_rows_have_unit_length_and_unknown_text_is_zero() -> None:
    documents = [["fix", "typo"], ["fix", "database"], ["migrate", "database"]]
    vectorizer = text_features.TfidfVectorizer(ngrams=2, min_df=1).fit(documents)
    matrix = vectorizer.transform([*documents, ["unseen"]]).toarray()
    assert np.allclose(np.linalg.norm(matrix[:3], axis=1), 1.0)
    assert not matrix[3].any()
    assert "fix typo" in vectorizer.vocabulary
    # A rarer shared word says more: "typo" (1 document) outweighs "fix" (2).
    typo, fix = vectorizer.vocabulary["typo"], vectorizer.vocabulary["fix"]
    assert matrix[0, typo] > matrix[0, fix]


@pytest.mark.parametrize("target", [module, text_features])
def test_docstring_examples(target: object) -> None:
    results = doctest.testmod(target)  # type: ignore[arg-type]
    assert results.attempted > 0
    assert results.failed == 0


def test_a_slice_of_deep_se_beats_its_median() -> None:
    frame = pd.read_csv(shared_dir("deep-se") / "duracloud.csv", keep_default_na=False)
    items = [
        HistoricalItem(
            key=r.issuekey, title=r.title, description=r.description, effort=r.storypoint
        )
        for r in frame.itertuples(index=False)
    ]
    history, later = items[:200], items[200:280]
    actual = np.array([item.effort for item in later])
    predicted = np.array([e.value for e in EffortModel.fit(history).predict(later)])
    median = np.median([item.effort for item in history])
    assert np.abs(actual - predicted).mean() < np.abs(actual - median).mean()
