"""Tests of feature adoption, breadth and adoption change."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from scipy import stats

from productpilot.analytics.adoption import (
    adoption_change,
    feature_adoption,
    two_proportion_test,
)
from productpilot.synthetic import SyntheticConfig, generate

DAY = datetime(2026, 8, 1, tzinfo=UTC)


def frame(rows: list[tuple[str, str, datetime, dict]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "distinct_id": [r[0] for r in rows],
            "event": [r[1] for r in rows],
            "timestamp": pd.to_datetime([r[2] for r in rows], utc=True),
            "properties": [r[3] for r in rows],
        }
    )


def use(user: str, feature: str, hours: float, platform: str = "web") -> tuple:
    return (
        user,
        "feature_used",
        DAY + timedelta(hours=hours),
        {"feature": feature, "platform": platform},
    )


def view(user: str, hours: float, platform: str = "web") -> tuple:
    return (user, "pageview", DAY + timedelta(hours=hours), {"path": "/home", "platform": platform})


@pytest.fixture
def events() -> pd.DataFrame:
    # Five active users in [DAY, DAY + 2 d]:
    #   a: alerts x2, dashboards      -> breadth 2
    #   b: alerts                     -> breadth 1
    #   c: dashboards on day 2        -> breadth 1
    #   d, e: page views only         -> breadth 0
    # f used exports 3 days later, outside the window; it is not active either.
    return frame(
        [
            use("a", "alerts", 1),
            use("a", "alerts", 2),
            use("a", "dashboards", 3),
            use("b", "alerts", 5, "ios"),
            use("c", "dashboards", 30, "ios"),
            view("d", 4),
            view("e", 6, "ios"),
            use("f", "exports", 72),
            ("g", "feature_used", DAY + timedelta(hours=7), {"platform": "web"}),  # no feature
        ]
    )


def test_hand_built_adoption(events: pd.DataFrame) -> None:
    result = feature_adoption(events, start=DAY, end=DAY + timedelta(days=2))
    # Active users a, b, c, d, e and g (g's event has no feature but is an event): 6.
    assert result.active_users == 6
    alerts, dashboards = result.features
    assert (alerts.feature, alerts.users, alerts.events) == ("alerts", 2, 3)
    assert alerts.adoption_rate == pytest.approx(2 / 6)
    assert alerts.events_per_user == 1.5
    assert alerts.first_used == date(2026, 8, 1)
    assert (dashboards.feature, dashboards.users, dashboards.first_used) == (
        "dashboards",
        2,
        date(2026, 8, 1),
    )
    # Breadth: g, d, e use none; b, c one; a two. Mean (0*3 + 1*2 + 2*1) / 6.
    assert result.breadth_histogram == (3, 2, 1)
    assert result.mean_breadth == pytest.approx(4 / 6)
    assert result.segments == ()
    json.dumps(result.to_dict())


def test_given_active_users_and_bounds(events: pd.DataFrame) -> None:
    result = feature_adoption(events, start=DAY, end=DAY + timedelta(days=2), active_users=10)
    assert result.features[0].adoption_rate == 0.2
    assert sum(result.breadth_histogram) == 10
    assert result.breadth_histogram[0] == 7
    with pytest.raises(ValueError, match="below the"):
        feature_adoption(events, start=DAY, end=DAY + timedelta(days=2), active_users=2)
    with pytest.raises(ValueError, match="after end"):
        feature_adoption(events, start=DAY + timedelta(days=1), end=DAY)
    # Both bounds are inclusive: exactly the instant of a's first use.
    only = feature_adoption(events, start=DAY + timedelta(hours=1), end=DAY + timedelta(hours=1))
    assert only.active_users == 1
    assert only.features[0].users == 1


def test_segments(events: pd.DataFrame) -> None:
    result = feature_adoption(events, start=DAY, end=DAY + timedelta(days=2), segment="platform")
    ios, web = result.segments
    # ios: b (alerts), c (dashboards), e (view) -> 3 active; web: a, d, g -> 3 active.
    assert (ios.segment_value, ios.active_users, web.segment_value, web.active_users) == (
        "ios",
        3,
        "web",
        3,
    )
    # Same feature order as overall, zero-filled.
    assert [f.feature for f in ios.features] == ["alerts", "dashboards"]
    assert [f.users for f in ios.features] == [1, 1]
    assert [f.users for f in web.features] == [1, 1]
    assert ios.breadth_histogram == (1, 2, 0)
    assert web.breadth_histogram == (2, 0, 1)
    assert result.group("web") is web
    assert result.group(None) is result.overall


def test_empty_and_missing_columns() -> None:
    empty = feature_adoption(pd.DataFrame(), start=DAY, end=DAY + timedelta(days=1))
    assert empty.active_users == 0
    assert empty.features == ()
    assert empty.breadth_histogram == (0,)
    assert empty.mean_breadth is None
    with pytest.raises(ValueError, match="lack column"):
        feature_adoption(pd.DataFrame({"event": ["x"]}), start=DAY, end=DAY)


def test_breadth_sums_to_active_users_on_random_data() -> None:
    rng = pd.Series(range(3000)).sample(frac=1, random_state=3).to_numpy()
    rows = [
        (
            f"u{i % 97}",
            "feature_used" if i % 3 else "pageview",
            DAY + timedelta(minutes=int(i)),
            {"feature": f"f{i % 5}", "platform": ["web", "ios", "android"][i % 7 % 3]},
        )
        for i in rng
    ]
    result = feature_adoption(
        frame(rows), start=DAY, end=DAY + timedelta(days=1), segment="platform"
    )
    for group in (result.overall, *result.segments):
        assert sum(group.breadth_histogram) == group.active_users
        for f in group.features:
            assert f.users <= group.active_users


def test_two_proportion_test_matches_chi_square() -> None:
    # The pooled z-test squared is Pearson's chi-square on the 2x2 table (no correction).
    z, p = two_proportion_test(30, 100, 15, 100)
    chi2, p_chi, _, _ = stats.chi2_contingency([[30, 70], [15, 85]], correction=False)
    assert z**2 == pytest.approx(chi2)
    assert p == pytest.approx(p_chi)
    assert z < 0
    assert two_proportion_test(0, 10, 0, 10) == (0.0, 1.0)
    assert two_proportion_test(1, 0, 1, 10) == (None, None)


def test_adoption_change_by_segment() -> None:
    # Previous week: 10 of 20 web users and 10 of 20 ios users use alerts.
    # Current week: web unchanged (10 of 20), ios falls to 1 of 20.
    rows = []
    for week, ios_users in ((0, 10), (7, 1)):
        for i in range(20):
            hours = 24 * week + i
            rows.append(view(f"w{i}", hours))
            rows.append(view(f"i{i}", hours, "ios"))
            if i < 10:
                rows.append(use(f"w{i}", "alerts", hours + 0.5))
            if i < ios_users:
                rows.append(use(f"i{i}", "alerts", hours + 0.5, "ios"))
    events = frame(rows)
    previous = (DAY, DAY + timedelta(days=7) - timedelta(microseconds=1))
    current = (DAY + timedelta(days=7), DAY + timedelta(days=14))
    changes = adoption_change(events, current=current, previous=previous, segment="platform")
    ios, web = changes
    assert (ios.segment_value, web.segment_value) == ("ios", "web")
    assert (ios.previous_rate, ios.current_rate) == (0.5, 0.05)
    assert ios.absolute_change == pytest.approx(-0.45)
    assert ios.relative_change == pytest.approx(-0.9)
    # pooled p = 11/40; z = -0.45 / sqrt(p (1 - p) (2 / 20))
    pooled = 11 / 40
    assert ios.z == pytest.approx(-0.45 / math.sqrt(pooled * (1 - pooled) * 0.1))
    assert ios.significant
    assert ios.p_value < 0.01
    assert web.absolute_change == 0
    assert not web.significant
    assert web.p_value == 1.0
    json.dumps([c.to_dict() for c in changes])
    overall = adoption_change(events, current=current, previous=previous)
    assert [(c.segment, c.segment_value, c.current_users) for c in overall] == [(None, None, 11)]


def test_small_changes_are_not_significant() -> None:
    # 5 of 20 -> 4 of 20: a real-looking drop of 20% but far from significant.
    assert two_proportion_test(5, 20, 4, 20)[1] > 0.5


def test_synthetic_adoption_drop_is_detected() -> None:
    # users=6000 over 42 days, seed 2: the generator breaks `alerts` on android for 46 h
    # from 2026-09-02 (events kept with probability 0.12). Comparing that window with the
    # same clock window a week earlier, only android alerts falls significantly.
    # Not every seed is detectable: windows early in the period (the population starts
    # empty) hold too few users in the segment for a test on users to reach p < 0.05.
    dataset = generate(SyntheticConfig(seed=2, users=6000, days=42, anomalies=5))
    (label,) = [a for a in dataset.anomalies() if a["kind"] == "feature_adoption_drop"]
    assert label["segment"] == {"feature": "alerts", "platform": "android"}
    start = pd.Timestamp(label["start"])
    end = pd.Timestamp(label["end"]) - pd.Timedelta(microseconds=1)  # labels end exclusive
    week = timedelta(days=7)
    since = (start - week).strftime("%Y-%m-%dT%H")
    until = pd.Timestamp(label["end"]).strftime("%Y-%m-%dT%H")
    rows = [e for e in dataset.events() if since <= e["timestamp"][:13] < until]
    events = pd.DataFrame(rows, columns=["distinct_id", "event", "timestamp", "properties"])
    events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True)
    changes = adoption_change(
        events, current=(start, end), previous=(start - week, end - week), segment="platform"
    )
    fell = [c for c in changes if c.significant and c.absolute_change < 0]
    assert [(c.feature, c.segment_value) for c in fell] == [("alerts", "android")]
    (drop,) = fell
    assert drop.relative_change < -0.5
    others = [c for c in changes if c.feature == "alerts" and c.segment_value != "android"]
    assert all(not c.significant for c in others)
