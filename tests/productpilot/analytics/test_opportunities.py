"""Tests of productpilot.analytics.opportunities."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
import pytest

from productpilot.analytics.opportunities import market_opportunities, user_segments
from productpilot.synthetic import SyntheticConfig, generate

START, END = date(2026, 8, 1), date(2026, 8, 30)  # halves: Aug 1-15 and Aug 16-30


def _group(
    n: int,
    *,
    converted: int,
    first_half: int,
    second_half: int,
    active: bool = True,
    **dims: object,
) -> list[dict[str, object]]:
    rows = []
    for i in range(n):
        if i < first_half:
            seen = START + timedelta(days=i % 15)
        elif i < first_half + second_half:
            seen = END - timedelta(days=i % 15)
        else:
            seen = START - timedelta(days=10)
        rows.append(
            {
                "first_seen": seen,
                "active_days": 3 if active else 0,
                "converted": i < converted,
                **dims,
            }
        )
    return rows


def _hand_built() -> pd.DataFrame:
    rows = (
        _group(
            20, converted=12, first_half=5, second_half=10, platform="web", country="US", plan="pro"
        )
        + _group(
            30, converted=8, first_half=5, second_half=10, platform="web", country="US", plan="free"
        )
        + _group(
            40,
            converted=4,
            first_half=10,
            second_half=10,
            platform="ios",
            country=None,
            plan="free",
        )
        + _group(
            10,
            converted=1,
            first_half=2,
            second_half=2,
            platform="android",
            country="US",
            plan=None,
        )
        + _group(
            5,
            converted=5,
            first_half=0,
            second_half=0,
            active=False,
            platform="ios",
            country="US",
            plan="pro",
        )
    )
    frame = pd.DataFrame(rows)
    frame.insert(0, "distinct_id", [f"u{i}" for i in range(len(frame))])
    return frame  # no "source" column: everyone is "unknown"


def test_hand_built_ranking() -> None:
    # 100 active users, 25 conversions: overall rate 0.25.
    result = market_opportunities(_hand_built(), start=START, end=END)
    assert [(o.dimension, o.value) for o in result] == [
        ("country", "unknown"),  # 40 users at 0.10: 6 conversions of upside, growth 0
        ("platform", "ios"),  # the same users; tie broken by name
        ("plan", "free"),  # 70 users at 12/70: 5.5
        ("platform", "web"),  # score 0, growth 1.0, 50 users
        ("plan", "pro"),  # score 0, growth 1.0, 20 users
        ("country", "US"),  # score 0, growth 22/12 - 1
        ("source", "unknown"),  # everyone: gap 0
    ]
    by_key = {(o.dimension, o.value): o for o in result}
    ios = by_key["platform", "ios"]
    assert (ios.size, ios.conversions, ios.new_first_half, ios.new_second_half) == (40, 4, 10, 10)
    assert ios.penetration == pytest.approx(0.4)
    assert ios.conversion_rate == pytest.approx(0.1)
    assert ios.conversion_gap == pytest.approx(0.15)
    assert ios.score == pytest.approx(6.0)
    assert ios.growth == 0.0
    free = by_key["plan", "free"]
    assert free.conversion_gap == pytest.approx(0.25 - 12 / 70)
    assert free.score == pytest.approx(5.5)
    assert free.growth == pytest.approx(20 / 15 - 1)
    web = by_key["platform", "web"]
    assert web.conversion_gap == pytest.approx(-0.15)
    assert web.score == 0.0
    assert web.growth == 1.0
    assert by_key["country", "US"].growth == pytest.approx(22 / 12 - 1)
    everyone = by_key["source", "unknown"]
    assert (everyone.size, everyone.penetration, everyone.conversion_gap) == (100, 1.0, 0.0)
    assert ("platform", "android") not in by_key  # 10 users < min_users
    assert ("plan", "unknown") not in by_key
    assert [o.rank for o in result] == list(range(1, 8))
    assert json.loads(json.dumps(result[0].to_dict())) == result[0].to_dict()
    small = market_opportunities(
        _hand_built(), dimensions=["platform"], start=START, end=END, min_users=5
    )
    assert [o.value for o in small] == ["ios", "android", "web"]  # android: 10 * 0.15 = 1.5


def test_edge_cases() -> None:
    assert market_opportunities(pd.DataFrame(), start=START, end=END) == []
    inactive = _hand_built().assign(active_days=0)
    assert market_opportunities(inactive, start=START, end=END) == []
    with pytest.raises(ValueError, match="is after"):
        market_opportunities(_hand_built(), start=END, end=START)
    with pytest.raises(ValueError, match="missing columns"):
        market_opportunities(_hand_built().drop(columns="converted"), start=START, end=END)
    no_first_half = _hand_built().assign(first_seen=END)
    assert all(o.growth is None for o in market_opportunities(no_first_half, start=START, end=END))


def test_synthetic_product() -> None:
    config = SyntheticConfig(seed=3, users=800, days=60, anomalies=0)
    events = pd.DataFrame(list(generate(config).events()))
    events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True)
    start, end = config.start, config.start + timedelta(days=config.days - 1)
    users = user_segments(events, start=start, end=end)
    converters = set(events.loc[events["event"] == "convert", "distinct_id"])
    assert set(users.loc[users["converted"], "distinct_id"]) == converters
    signups = events[events["event"] == "signup"].set_index("distinct_id")["properties"]
    sample = users.set_index("distinct_id").loc[signups.index[:50]]
    assert (sample["source"] == [p["source"] for p in signups.iloc[:50]]).all()
    days = events.assign(day=events["timestamp"].dt.date).groupby("distinct_id")["day"].nunique()
    assert (
        users.set_index("distinct_id")["active_days"]
        == days.reindex(users["distinct_id"]).to_numpy()
    ).all()

    result = market_opportunities(users, start=start, end=end, min_users=1)
    total, rate = len(users), users["converted"].mean()
    for dimension in ("country", "platform", "plan", "source"):
        segments = [o for o in result if o.dimension == dimension]
        assert len(segments) > 1
        assert sum(o.size for o in segments) == total
        assert sum(o.penetration for o in segments) == pytest.approx(1.0)
        assert sum(o.conversions for o in segments) == users["converted"].sum()
    for o in result:
        assert o.conversion_gap == pytest.approx(rate - o.conversion_rate)
        assert o.score == pytest.approx(o.size * max(o.conversion_gap, 0.0))
    scores = [o.score for o in result]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > 0
    growing = [o for o in result if o.size >= 50 and o.growth is not None]
    assert sum(o.growth > 0 for o in growing) > len(growing) / 2  # the product grows 3x
