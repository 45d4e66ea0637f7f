"""Specification of cohort retention (productpilot.analytics.retention).

August 2026: the 1st is a Saturday, so Mondays are the 3rd, 10th, 17th, 24th and 31st.
"""

from __future__ import annotations

import doctest
import json
from collections import defaultdict
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from productpilot.analytics import retention as module
from productpilot.analytics.activity import activity_arrays
from productpilot.analytics.retention import Cohort, Retention, retention
from productpilot.synthetic import SyntheticConfig, generate


def aug(day: int) -> date:
    return date(2026, 8, day)


def frame(rows: list[tuple[date, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["day", "distinct_id"])


def reference(
    rows: list[tuple[date, str]], start: date, end: date, period: str, horizon: int
) -> dict[date, tuple[int, tuple[int | None, ...]]]:
    """Retention by definition, with sets: {cohort period: (size, active per N)}."""

    def bucket(day: date) -> date:
        return day - timedelta(days=day.weekday()) if period == "week" else day

    step = timedelta(weeks=1) if period == "week" else timedelta(days=1)
    days_of: dict[str, set[date]] = defaultdict(set)
    for day, user in rows:
        if day <= end:
            days_of[user].add(day)
    cohorts: dict[date, set[str]] = defaultdict(set)
    for user, days in days_of.items():
        cohort = bucket(min(days))
        if bucket(start) <= cohort <= bucket(end):
            cohorts[cohort].add(user)
    found = {}
    for cohort, users in cohorts.items():
        active: list[int | None] = []
        for n in range(horizon + 1):
            target = cohort + n * step
            if target > end:
                active.append(None)
            else:
                active.append(sum(any(bucket(d) == target for d in days_of[u]) for u in users))
        found[cohort] = (len(users), tuple(active))
    return found


# --- worked examples -----------------------------------------------------------------------

DAILY = [
    (aug(1), "a"), (aug(2), "a"), (aug(4), "a"),
    (aug(1), "b"), (aug(1), "b"), (aug(3), "b"),  # a duplicate row is tolerated
    (aug(3), "c"), (aug(4), "c"), (aug(6), "c"),  # Aug 6 is after `end`: ignored
    (date(2026, 7, 30), "d"), (aug(1), "d"), (aug(2), "d"),  # first seen before start
    (aug(5), "e"),
]  # fmt: skip


def test_daily_cohorts_worked_by_hand() -> None:
    result = retention(frame(DAILY), start=aug(1), end=aug(5), horizon=3)
    # Cohort Aug 1 = {a, b}: N=1 (Aug 2) a; N=2 (Aug 3) b; N=3 (Aug 4) a.
    # Cohort Aug 3 = {c}: N=1 (Aug 4) c; N=2 (Aug 5) nobody; N=3 (Aug 6) is after end.
    # Cohort Aug 5 = {e}: only N=0 is observed. d was first seen Jul 30: in no cohort.
    assert result.cohorts == (
        Cohort(aug(1), 2, (2, 1, 1, 1), (1.0, 0.5, 0.5, 0.5)),
        Cohort(aug(3), 1, (1, 1, 0, None), (1.0, 1.0, 0.0, None)),
        Cohort(aug(5), 1, (1, None, None, None), (1.0, None, None, None)),
    )
    # N=0: 4/4. N=1: Aug 1 and Aug 3 cohorts observe it: (1 + 1) / (2 + 1).
    # N=2: (1 + 0) / 3. N=3: only the Aug 1 cohort: 1 / 2.
    assert result.curve == pytest.approx((1.0, 2 / 3, 1 / 3, 0.5))
    assert result.curve_users == (4, 3, 3, 2)


WEEKLY = [
    (aug(3), "a"), (aug(9), "a"), (aug(11), "a"),  # Mon + Sun of week 1 count once
    (aug(6), "b"), (aug(18), "b"),
    (date(2026, 7, 28), "c"), (aug(4), "c"),  # first seen the week before: no cohort
    (aug(12), "d"), (aug(13), "d"),
]  # fmt: skip


def test_weekly_cohorts_are_whole_monday_weeks() -> None:
    # start is a Wednesday: the cohort is the whole week of Mon Aug 3, so `a` (first seen on
    # that Monday, before start) is in it. end (Wed Aug 19) is inside the week of Aug 17.
    result = retention(frame(WEEKLY), start=aug(5), end=aug(19), period="week", horizon=2)
    # Week Aug 3 = {a, b}: week Aug 10 has a; week Aug 17 has b.
    # Week Aug 10 = {d}: week Aug 17 has nobody; week Aug 24 starts after end.
    assert result.cohorts == (
        Cohort(aug(3), 2, (2, 1, 1), (1.0, 0.5, 0.5)),
        Cohort(aug(10), 1, (1, 0, None), (1.0, 0.0, None)),
    )
    assert result.curve == pytest.approx((1.0, 1 / 3, 0.5))


def test_partial_last_period_can_be_left_out() -> None:
    # The week of Aug 17 ends on Aug 23, after end: with include_partial=False it is unobserved.
    result = retention(
        frame(WEEKLY), start=aug(5), end=aug(19), period="week", horizon=2, include_partial=False
    )
    assert [c.active for c in result.cohorts] == [(2, 1, None), (1, None, None)]
    assert result.curve == pytest.approx((1.0, 0.5, None))
    # A complete last week (end on a Sunday) is observed either way.
    complete = retention(
        frame(WEEKLY), start=aug(5), end=aug(23), period="week", horizon=2, include_partial=False
    )
    assert [c.active for c in complete.cohorts] == [(2, 1, 1), (1, 0, None)]


# --- edge cases -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "empty",
    [
        pd.DataFrame({"day": [], "distinct_id": []}),
        pd.DataFrame(),
        frame([(aug(9), "late")]),  # only activity after end
    ],
)
def test_no_activity_gives_no_cohorts(empty: pd.DataFrame) -> None:
    result = retention(empty, start=aug(1), end=aug(5), horizon=3)
    assert result.cohorts == ()
    assert result.curve == (None, None, None, None)
    assert result.curve_users == (0, 0, 0, 0)


def test_a_single_day() -> None:
    result = retention(frame(DAILY), start=aug(5), end=aug(5), horizon=2)
    assert result.cohorts == (Cohort(aug(5), 1, (1, None, None), (1.0, None, None)),)
    assert result.curve == (1.0, None, None)


def test_horizon_zero() -> None:
    result = retention(frame(DAILY), start=aug(1), end=aug(5), horizon=0)
    assert [c.shares for c in result.cohorts] == [(1.0,), (1.0,), (1.0,)]


@pytest.mark.parametrize(
    "convert",
    [
        lambda days: pd.to_datetime(pd.Series(days)),  # datetime64, normalised
        lambda days: pd.to_datetime(pd.Series(days)).dt.tz_localize("UTC"),
        lambda days: pd.Series([d.isoformat() for d in days]),
        lambda days: pd.to_datetime(pd.Series(days)) + pd.Timedelta(hours=13),  # floored
    ],
    ids=["datetime64", "tz-aware", "iso-strings", "with-time"],
)
def test_day_column_types_are_normalised(convert: object) -> None:
    rows = frame(DAILY)
    rows["day"] = convert(rows["day"])  # type: ignore[operator]
    assert retention(rows, start=aug(1), end=aug(5), horizon=3) == retention(
        frame(DAILY), start=aug(1), end=aug(5), horizon=3
    )


def test_missing_values_are_dropped() -> None:
    rows = frame(DAILY)
    rows.loc[len(rows)] = [None, "ghost"]
    rows.loc[len(rows)] = [aug(2), None]
    assert retention(rows, start=aug(1), end=aug(5), horizon=3) == retention(
        frame(DAILY), start=aug(1), end=aug(5), horizon=3
    )


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="after end"):
        retention(frame(DAILY), start=aug(5), end=aug(1))
    with pytest.raises(ValueError, match="horizon"):
        retention(frame(DAILY), start=aug(1), end=aug(5), horizon=-1)
    with pytest.raises(ValueError, match="period"):
        retention(frame(DAILY), start=aug(1), end=aug(5), period="month")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="distinct_id"):
        retention(pd.DataFrame({"day": [aug(1)]}), start=aug(1), end=aug(5))


def test_activity_arrays_deduplicate_and_sort() -> None:
    arrays = activity_arrays(frame([(aug(2), "b"), (aug(1), "a"), (aug(2), "b"), (aug(1), "b")]))
    assert len(arrays) == 3
    pairs = [(arrays.ids[u], int(d)) for u, d in zip(arrays.users, arrays.days, strict=True)]
    day1 = (aug(1) - date(1970, 1, 1)).days
    assert pairs == [("b", day1), ("b", day1 + 1), ("a", day1)]  # by user code, then day


# --- properties ---------------------------------------------------------------------------------


def random_rows(seed: int, users: int = 40, days: int = 40) -> list[tuple[date, str]]:
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(users):
        first = int(rng.integers(0, days))
        active = rng.random(days - first) < rng.uniform(0.05, 0.6)
        active[0] = True
        rows += [(date(2026, 7, 10) + timedelta(days=first + int(i)), f"u{user}") for i in
                 np.flatnonzero(active)]  # fmt: skip
    return rows


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("period", ["day", "week"])
def test_matches_the_definition_on_random_data(seed: int, period: str) -> None:
    rows = random_rows(seed)
    start, end = date(2026, 7, 20), date(2026, 8, 12)
    result = retention(frame(rows), start=start, end=end, period=period, horizon=6)  # type: ignore[arg-type]
    expected = reference(rows, start, end, period, 6)
    assert {c.period: (c.size, c.active) for c in result.cohorts} == expected
    for cohort in result.cohorts:
        assert cohort.shares[0] == 1.0
        observed = [s for s in cohort.shares if s is not None]
        assert all(0.0 <= s <= 1.0 for s in observed)
        assert cohort.shares[: len(observed)] == tuple(observed)  # None only at the end
    # The curve is the size-weighted mean of the cohorts that observe N.
    for n, value in enumerate(result.curve):
        seen = [c for c in result.cohorts if c.active[n] is not None]
        if not seen:
            assert value is None
        else:
            assert value == pytest.approx(
                sum(c.active[n] for c in seen) / sum(c.size for c in seen)  # type: ignore[misc]
            )


def test_to_dict_is_json() -> None:
    result = retention(frame(DAILY), start=aug(1), end=aug(5), horizon=3)
    document = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert document["cohorts"][1] == {
        "period": "2026-08-03",
        "size": 1,
        "active": [1, 1, 0, None],
        "shares": [1.0, 1.0, 0.0, None],
    }
    assert document["curve_users"] == [4, 3, 3, 2]
    assert set(document) == {
        "period", "start", "end", "horizon", "cohorts", "curve", "curve_users"
    }  # fmt: skip


# --- on synthetic data ---------------------------------------------------------------------------


def synthetic_activity(config: SyntheticConfig) -> pd.DataFrame:
    events = pd.DataFrame(generate(config).events(), columns=["distinct_id", "timestamp"])
    days = pd.to_datetime(events["timestamp"], utc=True).dt.tz_localize(None).dt.normalize()
    return pd.DataFrame({"day": days, "distinct_id": events["distinct_id"]}).drop_duplicates()


def test_synthetic_retention_decays() -> None:
    config = SyntheticConfig(seed=1, users=800, days=60, anomalies=0)
    activity = synthetic_activity(config)
    end = config.start + timedelta(days=config.days - 1)
    result = retention(activity, start=config.start, end=end, horizon=30)
    assert isinstance(result, Retention)
    # Everyone signs up in the period, so the cohorts hold every user.
    assert sum(c.size for c in result.cohorts) == activity["distinct_id"].nunique()
    assert all(c.shares[0] == 1.0 for c in result.cohorts)
    d1, d7, d30 = result.curve[1], result.curve[7], result.curve[30]
    assert d1 is not None
    assert d7 is not None
    assert d30 is not None
    # docs/synthetic-data.md: day-1 ~ 0.29, day-7 ~ 0.13, day-30 ~ 0.07.
    assert 0.15 < d1 < 0.45
    assert d1 > d7 > d30 > 0
    weekly = retention(activity, start=config.start, end=end, period="week", horizon=6)
    assert weekly.curve[1] is not None
    assert weekly.curve[1] > weekly.curve[4]


def test_docstring_examples_run() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0
    assert results.failed == 0
