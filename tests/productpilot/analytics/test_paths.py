"""Tests of top paths within sessions."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from productpilot.analytics.paths import top_paths
from productpilot.synthetic import SyntheticConfig, generate

T0 = datetime(2026, 8, 1, tzinfo=UTC)
END = T0 + timedelta(days=1)


def frame(rows: list[tuple[str, str, float, dict | None]]) -> pd.DataFrame:
    """Rows of (user, event, minutes after T0, properties)."""
    return pd.DataFrame(
        {
            "distinct_id": [r[0] for r in rows],
            "event": [r[1] for r in rows],
            "timestamp": pd.to_datetime([T0 + timedelta(minutes=r[2]) for r in rows], utc=True),
            "properties": [r[3] or {} for r in rows],
        }
    )


def test_hand_built_paths() -> None:
    # a: session_start, /home, feature_used at 0-2 min, then 40 min of silence (> 30 min gap:
    #    a new session), then session_start, /home, feature_used again.
    # b: session_start, /home, feature_used, /docs (rows given out of order on purpose).
    # Paths of 3 within sessions:
    #   (session_start, pageview:/home, feature_used): a twice, b once -> count 3, users 2
    #   (pageview:/home, feature_used, pageview:/docs): b once
    # Runs crossing a's session break (e.g. /home, feature_used, session_start) do not count.
    events = frame(
        [
            ("a", "session_start", 0, None),
            ("a", "pageview", 1, {"path": "/home"}),
            ("a", "feature_used", 2, {"feature": "alerts"}),
            ("a", "session_start", 42, None),
            ("a", "pageview", 43, {"path": "/home"}),
            ("a", "feature_used", 44, {"feature": "alerts"}),
            ("b", "pageview", 11, {"path": "/docs"}),
            ("b", "session_start", 5, None),
            ("b", "feature_used", 7, None),
            ("b", "pageview", 6, {"path": "/home"}),
        ]
    )
    result = top_paths(events, start=T0, end=END)
    assert [(p.steps, p.count, p.users) for p in result] == [
        (("session_start", "pageview:/home", "feature_used"), 3, 2),
        (("pageview:/home", "feature_used", "pageview:/docs"), 1, 1),
    ]
    assert result[0].share == 0.75
    json.dumps([p.to_dict() for p in result])
    # With a one-hour gap a's two sessions are one: three more runs across the old break.
    merged = top_paths(events, start=T0, end=END, session_gap=timedelta(hours=1))
    assert sum(p.count for p in merged) == 6
    # Length 1 counts events; top cuts the list; ties are broken by users then names.
    singles = top_paths(events, start=T0, end=END, length=1, top=2)
    assert [(p.steps, p.count) for p in singles] == [
        (("feature_used",), 3),
        (("pageview:/home",), 3),
    ]


def test_window_exclude_and_errors() -> None:
    events = frame(
        [
            ("a", "pageview", 0, {"path": "/home"}),
            ("a", "api_request", 1, None),
            ("a", "pageview", 2, {}),  # no path: plain "pageview"
            ("a", "pageview", 60 * 30, {"path": "/late"}),  # outside the window below
        ]
    )
    inside = top_paths(events, start=T0, end=T0 + timedelta(hours=1), length=2)
    assert [p.steps for p in inside] == [
        ("api_request", "pageview"),
        ("pageview:/home", "api_request"),
    ]
    skipped = top_paths(
        events, start=T0, end=T0 + timedelta(hours=1), length=2, exclude=["api_request"]
    )
    assert [p.steps for p in skipped] == [("pageview:/home", "pageview")]
    assert top_paths(pd.DataFrame(), start=T0, end=END) == []
    assert top_paths(events, start=T0, end=END, length=5) == []
    for bad in ({"length": 0}, {"top": 0}, {"session_gap": timedelta(0)}):
        with pytest.raises(ValueError, match="must be"):
            top_paths(events, start=T0, end=END, **bad)
    with pytest.raises(ValueError, match="after end"):
        top_paths(events, start=END, end=T0)


def test_matches_a_brute_force_count() -> None:
    # Random events; the brute force walks each user's time-sorted events in Python.
    rng = np.random.default_rng(5)
    n = 3000
    users = rng.integers(0, 40, n)
    minutes = rng.integers(0, 24 * 60, n).astype(float)
    names = rng.choice(["a", "b", "c", "pageview"], n)
    rows = [
        (f"u{u}", str(e), float(m), {"path": "/x"} if e == "pageview" and m % 2 else {})
        for u, e, m in zip(users, names, minutes, strict=True)
    ]
    events = frame(rows)
    gap = timedelta(minutes=20)
    result = top_paths(events, start=T0, end=END, length=3, top=1000, session_gap=gap)
    expected: Counter = Counter()
    who: dict = {}
    order = events.assign(row=range(n)).sort_values(["distinct_id", "timestamp", "row"])
    for user, group in order.groupby("distinct_id"):
        steps = [
            "pageview:/x" if e == "pageview" and p.get("path") else e
            for e, p in zip(group["event"], group["properties"], strict=True)
        ]
        times = list(group["timestamp"])
        for i in range(len(steps) - 2):
            if all(times[k + 1] - times[k] <= gap for k in range(i, i + 2)):
                key = tuple(steps[i : i + 3])
                expected[key] += 1
                who.setdefault(key, set()).add(user)
    assert {p.steps: p.count for p in result} == dict(expected)
    assert {p.steps: p.users for p in result} == {k: len(v) for k, v in who.items()}
    counts = [(p.count, p.users) for p in result]
    assert counts == sorted(counts, reverse=True)


def test_synthetic_sessions() -> None:
    # In the generator a session's events are at most a few minutes apart and sessions of a
    # user are rarely within 30 min of each other, so the most common 2-step path that starts
    # a session is `session_start` followed by a page view, API request or feature use, and
    # no path that is found has `signup` anywhere but first.
    dataset = generate(SyntheticConfig.preset("tiny", seed=1))
    events = pd.DataFrame(
        dataset.events(), columns=["distinct_id", "event", "timestamp", "properties"]
    )
    events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True)
    start, end = events["timestamp"].min(), events["timestamp"].max()
    result = top_paths(events, start=start, end=end, length=2, top=200)
    assert result
    assert all(p.count >= p.users >= 1 for p in result)
    assert all("signup" not in p.steps[1:] for p in result)
    # Paths never span two users: a user with k events has at most k - 1 paths of 2.
    total = sum(p.count for p in top_paths(events, start=start, end=end, length=2, top=10**6))
    assert total <= len(events) - events["distinct_id"].nunique()
    with_starts = [p for p in result if p.steps[0] == "session_start"]
    assert with_starts[0].steps[1].startswith(("pageview", "api_request", "feature_used"))


def test_many_names_use_the_tuple_fallback() -> None:
    # 2,000 distinct names ** 6 steps does not fit an int64 key: pandas numbers the tuples.
    rows = [("a", f"e{i % 2000}", i * 0.01, None) for i in range(4000)]
    result = top_paths(frame(rows), start=T0, end=END, length=6, top=3)
    # The sequence repeats every 2,000 events, so most 6-runs occur twice (the ones that
    # wrap past the end of the second cycle occur once); ties are broken by the names.
    assert [p.count for p in result] == [2, 2, 2]
    assert result[0].steps == tuple(f"e{i}" for i in range(6))
