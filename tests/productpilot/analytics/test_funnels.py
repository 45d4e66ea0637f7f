"""Specification of ordered funnels with a conversion window."""

from __future__ import annotations

import doctest
import json
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from productpilot.analytics import funnels as module
from productpilot.analytics.funnels import Funnel, FunnelStep, funnel
from productpilot.synthetic import SyntheticConfig, generate

STEPS = ["signup", "activate", "convert"]
WEEK = timedelta(days=7)
START = datetime(2026, 8, 1, tzinfo=UTC)
END = datetime(2026, 8, 10, tzinfo=UTC)
US = timedelta(microseconds=1)


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 8, day, hour, minute, tzinfo=UTC)


def frame(rows: list[tuple[str, str, datetime]]) -> pd.DataFrame:
    users, names, times = zip(*rows, strict=True) if rows else ((), (), ())
    return pd.DataFrame(
        {
            "distinct_id": list(users),
            "event": list(names),
            "timestamp": pd.to_datetime(list(times), utc=True),
        }
    )


ROWS = [
    # u1 does the three steps: 2 h then 46 h apart.
    ("u1", "signup", at(1, 10)), ("u1", "activate", at(1, 12)), ("u1", "convert", at(3, 10)),
    # u2 activates exactly 7 days after entering (inside: the bound is inclusive), converts
    # 1 microsecond too late.
    ("u2", "signup", at(2, 10)), ("u2", "activate", at(9, 10)),
    ("u2", "convert", at(9, 10) + US),
    # u3 activated before signing up: that does not count.
    ("u3", "activate", datetime(2026, 7, 31, tzinfo=UTC)), ("u3", "signup", at(3)),
    # u4 signed up before start, activated, and signed up again inside: enters at the second
    # signup, and the earlier activation is before it.
    ("u4", "signup", datetime(2026, 7, 31, 23, 59, tzinfo=UTC)), ("u4", "activate", at(1)),
    ("u4", "signup", at(4)),
    # u5 signs up after end: never enters.
    ("u5", "signup", at(11)), ("u5", "activate", at(11, 1)),
    # u6 activates at the very instant of signup (counts as after) but converted before.
    ("u6", "convert", at(5, 8)), ("u6", "signup", at(5, 9)), ("u6", "activate", at(5, 9)),
    # u7 skips a step: converting without activating reaches step 1 only.
    ("u7", "signup", at(6)), ("u7", "convert", at(6, 1)),
    # u8 converts exactly at entry + window; a second signup does not move the entry.
    ("u8", "signup", at(7, 10)), ("u8", "activate", at(7, 11)), ("u8", "signup", at(8)),
    ("u8", "convert", at(14, 10)),
    # Other events are ignored.
    ("u1", "pageview", at(1, 11)), ("u9", "pageview", at(2)),
]  # fmt: skip


def test_worked_by_hand() -> None:
    result = funnel(frame(ROWS), STEPS, window=WEEK, start=START, end=END)
    # Entered: u1, u2, u3, u4, u6, u7, u8 = 7.  Activated: u1, u2, u6, u8 = 4.
    # Converted: u1, u8 = 2.
    # signup -> activate: u1 2 h, u2 7 d, u6 0 s, u8 1 h; median (3600 + 7200) / 2 = 5400 s.
    # activate -> convert: u1 46 h = 165600 s, u8 6 d 23 h = 601200 s; median 383400 s.
    assert result.steps == (
        FunnelStep("signup", 7, None, 1.0, None),
        FunnelStep("activate", 4, 4 / 7, 4 / 7, 5400.0),
        FunnelStep("convert", 2, 0.5, 2 / 7, 383400.0),
    )
    assert (result.entered, result.converted, result.conversion) == (7, 2, 2 / 7)


def test_the_earliest_next_step_is_taken() -> None:
    # Activations at 1:00 and 3:00, a conversion at 2:00: the 1:00 activation is the one
    # that makes the 2:00 conversion in order.
    rows = [("u", "signup", at(1)), ("u", "activate", at(1, 3)), ("u", "activate", at(1, 1))]
    rows.append(("u", "convert", at(1, 2)))
    result = funnel(frame(rows), STEPS, window=WEEK, start=START, end=END)
    assert [s.users for s in result.steps] == [1, 1, 1]
    assert [s.median_seconds_from_previous for s in result.steps] == [None, 3600.0, 3600.0]


@pytest.mark.parametrize(
    ("offset", "reached"), [(timedelta(hours=5), 2), (timedelta(hours=5) + US, 1)]
)
def test_window_bound_is_inclusive(offset: timedelta, reached: int) -> None:
    rows = [("u", "signup", at(1)), ("u", "activate", at(1) + offset)]
    result = funnel(frame(rows), STEPS[:2], window=timedelta(hours=5), start=START, end=END)
    assert result.steps[-1].users == reached - 1
    assert result.entered == 1


def test_the_window_runs_from_entry_not_from_the_previous_step() -> None:
    rows = [("u", "signup", at(1)), ("u", "activate", at(4)), ("u", "convert", at(8))]
    result = funnel(frame(rows), STEPS, window=timedelta(days=5), start=START, end=END)
    assert [s.users for s in result.steps] == [1, 1, 0]  # convert is 7 days after entry


@pytest.mark.parametrize(
    ("moment", "entered"),
    [(START, 1), (START - US, 0), (END, 1), (END + US, 0)],
    ids=["at-start", "before-start", "at-end", "after-end"],
)
def test_entry_range_bounds_are_inclusive(moment: datetime, entered: int) -> None:
    result = funnel(frame([("u", "signup", moment)]), STEPS, window=WEEK, start=START, end=END)
    assert result.entered == entered


def test_later_steps_may_fall_after_end() -> None:
    rows = [("u", "signup", END), ("u", "activate", END + timedelta(days=2))]
    result = funnel(frame(rows), STEPS, window=WEEK, start=START, end=END)
    assert [s.users for s in result.steps] == [1, 1, 0]


def test_a_repeated_step_needs_another_event() -> None:
    rows = [("once", "pageview", at(2))]
    rows += [("twice", "pageview", at(2)), ("twice", "pageview", at(2))]  # same instant
    rows += [("thrice", "pageview", at(3, h)) for h in (1, 2, 3)]
    result = funnel(frame(rows), ["pageview"] * 3, window=WEEK, start=START, end=END)
    assert [s.users for s in result.steps] == [3, 2, 1]
    assert result.steps[1].median_seconds_from_previous == 1800.0  # 0 s and 3600 s


def test_a_single_step_funnel() -> None:
    result = funnel(frame(ROWS), ["signup"], window=WEEK, start=START, end=END)
    assert result.steps == (FunnelStep("signup", 7, None, 1.0, None),)
    assert result.conversion == 1.0


@pytest.mark.parametrize(
    "events",
    [
        frame([]),
        pd.DataFrame(),
        frame([("u", "pageview", at(2))]),  # no funnel event
        frame([("u", "activate", at(2)), ("u", "convert", at(3))]),  # nobody enters
    ],
    ids=["empty", "no-columns", "no-step-event", "no-entry"],
)
def test_nobody_in_the_funnel(events: pd.DataFrame) -> None:
    result = funnel(events, STEPS, window=WEEK, start=START, end=END)
    assert result.steps == tuple(FunnelStep(name, 0, None, None, None) for name in STEPS)
    assert result.conversion is None
    assert result.to_dict()["conversion"] is None


def test_timestamps_in_other_zones_or_naive_are_utc() -> None:
    reference = funnel(frame(ROWS), STEPS, window=WEEK, start=START, end=END)
    events = frame(ROWS)
    events["timestamp"] = events["timestamp"].dt.tz_convert("America/New_York")
    assert funnel(events, STEPS, window=WEEK, start=START, end=END) == reference
    events["timestamp"] = events["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None)
    naive = funnel(
        events, STEPS, window=WEEK, start=START.replace(tzinfo=None), end=END.replace(tzinfo=None)
    )
    assert naive.steps == reference.steps
    assert naive.start == START  # reported in UTC


def test_row_order_and_missing_values_do_not_matter() -> None:
    reference = funnel(frame(ROWS), STEPS, window=WEEK, start=START, end=END)
    shuffled = frame(ROWS).sample(frac=1.0, random_state=3)
    shuffled.loc[len(shuffled)] = [None, "signup", pd.Timestamp(at(2))]
    shuffled.loc[len(shuffled)] = ["u10", "signup", pd.NaT]
    assert funnel(shuffled, STEPS, window=WEEK, start=START, end=END) == reference


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one step"):
        funnel(frame(ROWS), [], window=WEEK, start=START, end=END)
    with pytest.raises(ValueError, match="window"):
        funnel(frame(ROWS), STEPS, window=-WEEK, start=START, end=END)
    with pytest.raises(ValueError, match="after end"):
        funnel(frame(ROWS), STEPS, window=WEEK, start=END, end=START)
    with pytest.raises(ValueError, match="timestamp"):
        funnel(frame(ROWS).drop(columns="timestamp"), STEPS, window=WEEK, start=START, end=END)


def reference(
    rows: list[tuple[str, str, datetime]],
    steps: list[str],
    window: timedelta,
    start: datetime,
    end: datetime,
) -> list[tuple[int, float | None]]:
    """The funnel by definition, one user at a time: (users, median seconds) per step."""
    by_user: dict[str, list[tuple[datetime, int, str]]] = defaultdict(list)
    for position, (user, name, moment) in enumerate(rows):
        by_user[user].append((moment, position, name))
    users, gaps = [0] * len(steps), [[] for _ in steps]  # type: ignore[var-annotated]
    for events in by_user.values():
        events.sort()
        entries = [e for e in events if e[2] == steps[0] and start <= e[0] <= end]
        if not entries:
            continue
        current, used = entries[0], {entries[0][1]}
        users[0] += 1
        for k, name in enumerate(steps[1:], start=1):
            later = [
                e
                for e in events
                if e[2] == name
                and current[0] <= e[0] <= entries[0][0] + window
                and e[1] not in used
            ]
            if not later:
                break
            gaps[k].append((later[0][0] - current[0]).total_seconds())
            current = later[0]
            used.add(current[1])
            users[k] += 1
    return [(n, statistics.median(g) if g else None) for n, g in zip(users, gaps, strict=True)]


@pytest.mark.parametrize("seed", range(8))
def test_matches_the_definition_on_random_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    names = ["a", "b", "c", "d"]
    # Few distinct instants, so ties between steps are common.
    rows = [
        (f"u{rng.integers(0, 25)}", names[rng.integers(0, 4)], at(1) + timedelta(hours=int(h)))
        for h in rng.integers(0, 60, 300)
    ]
    steps = [["a", "b", "c"], ["a", "b", "a", "c"], ["b", "b", "d"], ["c", "a"]][seed % 4]
    window = timedelta(hours=int(rng.integers(0, 30)))
    start, end = at(1, 6), at(2, 12)
    result = funnel(frame(rows), steps, window=window, start=start, end=end)
    expected = reference(rows, steps, window, start, end)
    assert [(s.users, s.median_seconds_from_previous) for s in result.steps] == expected
    counts = [s.users for s in result.steps]
    assert counts == sorted(counts, reverse=True)  # never increases
    for step in result.steps[1:]:
        assert step.conversion_from_previous is None or 0 <= step.conversion_from_previous <= 1


def test_to_dict_is_json() -> None:
    result = funnel(frame(ROWS), STEPS, window=WEEK, start=START, end=END)
    document = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert document == {
        "start": "2026-08-01T00:00:00+00:00",
        "end": "2026-08-10T00:00:00+00:00",
        "window_seconds": 604800.0,
        "entered": 7,
        "converted": 2,
        "conversion": 2 / 7,
        "steps": [
            {
                "name": "signup",
                "users": 7,
                "conversion_from_previous": None,
                "conversion_from_first": 1.0,
                "median_seconds_from_previous": None,
            },
            {
                "name": "activate",
                "users": 4,
                "conversion_from_previous": 4 / 7,
                "conversion_from_first": 4 / 7,
                "median_seconds_from_previous": 5400.0,
            },
            {
                "name": "convert",
                "users": 2,
                "conversion_from_previous": 0.5,
                "conversion_from_first": 2 / 7,
                "median_seconds_from_previous": 383400.0,
            },
        ],
    }


def test_synthetic_signup_funnel() -> None:
    config = SyntheticConfig.preset("tiny", seed=1)
    dataset = generate(config)
    events = pd.DataFrame(dataset.events(), columns=["distinct_id", "event", "timestamp"])
    events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True)
    start = datetime.combine(config.start, datetime.min.time(), UTC)
    end = datetime.combine(config.end, datetime.min.time(), UTC)
    result = funnel(events, STEPS, window=end - start, start=start, end=end)
    assert isinstance(result, Funnel)
    counts = [s.users for s in result.steps]
    assert counts == sorted(counts, reverse=True)
    assert counts[1] > 0
    # The generator gives each user at most one of each, signup < activate < convert, all in
    # the period: a window as long as the period sees every one of them.
    totals = dataset.event_counts()
    assert counts == [totals["signup"], totals["activate"], totals["convert"]]
    assert all(s.median_seconds_from_previous > 0 for s in result.steps[1:])  # type: ignore[operator]
    # A one-hour window keeps only the fastest activations.
    fast = funnel(events, STEPS, window=timedelta(hours=1), start=start, end=end)
    assert 0 <= fast.steps[1].users < counts[1]


def test_docstring_examples_run() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0
    assert results.failed == 0
