"""Ordered conversion funnels with a conversion window, vectorised over raw events.

Example:
    >>> import pandas as pd
    >>> from datetime import UTC, datetime, timedelta
    >>> events = pd.DataFrame({
    ...     "distinct_id": ["a", "a", "b"],
    ...     "event": ["signup", "activate", "signup"],
    ...     "timestamp": pd.to_datetime(
    ...         ["2026-08-01T10:00Z", "2026-08-01T12:00Z", "2026-08-01T11:00Z"], utc=True),
    ... })
    >>> result = funnel(events, ["signup", "activate"], window=timedelta(days=1),
    ...                 start=datetime(2026, 8, 1, tzinfo=UTC),
    ...                 end=datetime(2026, 8, 2, tzinfo=UTC))
    >>> [(s.name, s.users, s.conversion_from_previous) for s in result.steps]
    [('signup', 2, None), ('activate', 1, 0.5)]
    >>> result.steps[1].median_seconds_from_previous
    7200.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from productpilot.analytics.activity import json_float

_INT = np.int64
_NAT = np.iinfo(_INT).min  # NaT as int64 nanoseconds


@dataclass(frozen=True, slots=True)
class FunnelStep:
    """One step of a funnel.

    Attributes:
        name: the event name of the step.
        users: users who reached the step (in order, within the window).
        conversion_from_previous: ``users / previous step's users`` (``None`` for the first
            step, or when the previous step has no user).
        conversion_from_first: ``users / first step's users`` (``None`` when nobody entered).
        median_seconds_from_previous: median time from the previous step to this one over
            the users who reached it, in seconds (``None`` for the first step or no user).
    """

    name: str
    users: int
    conversion_from_previous: float | None
    conversion_from_first: float | None
    median_seconds_from_previous: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "users": self.users,
            "conversion_from_previous": json_float(self.conversion_from_previous),
            "conversion_from_first": json_float(self.conversion_from_first),
            "median_seconds_from_previous": json_float(self.median_seconds_from_previous),
        }


@dataclass(frozen=True, slots=True)
class Funnel:
    """A funnel's steps and its parameters.

    Attributes:
        steps: one entry per step, in funnel order.
        window: the conversion window.
        start: entry range start (UTC, inclusive).
        end: entry range end (UTC, inclusive).
    """

    steps: tuple[FunnelStep, ...]
    window: timedelta
    start: datetime
    end: datetime

    @property
    def entered(self) -> int:
        """Users who entered the funnel."""
        return self.steps[0].users

    @property
    def converted(self) -> int:
        """Users who reached the last step."""
        return self.steps[-1].users

    @property
    def conversion(self) -> float | None:
        """Overall conversion, ``converted / entered`` (``None`` when nobody entered)."""
        return self.converted / self.entered if self.entered else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "window_seconds": self.window.total_seconds(),
            "entered": self.entered,
            "converted": self.converted,
            "conversion": json_float(self.conversion),
            "steps": [step.to_dict() for step in self.steps],
        }


def _utc(moment: datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)


def _nanoseconds(timestamps: pd.Series) -> np.ndarray:
    """UTC nanoseconds since the epoch (naive values are taken as UTC)."""
    stamps = pd.to_datetime(timestamps, utc=True)
    return stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").view(_INT)


def funnel(
    events: pd.DataFrame,
    steps: Sequence[str],
    *,
    window: timedelta,
    start: datetime,
    end: datetime,
) -> Funnel:
    """An ordered funnel: how many users did each step, in order, within the window.

    A user enters at their first ``steps[0]`` event with ``start <= timestamp <= end``. They
    reach step ``k`` if, after reaching step ``k - 1`` at time ``t``, they have a
    ``steps[k]`` event at a time ``>= t`` (an event at the same instant counts as after) and
    ``<= entry + window`` (both window bounds inclusive). Each step takes the earliest such
    event, which never loses a later step. Steps after ``end`` count if they are within the
    window and in ``events``: to see every conversion of late entrants, pass events up to
    ``end + window``. When an event name repeats in ``steps``, each step needs its own event.

    Only ``distinct_id``, ``event`` and ``timestamp`` are read; rows with a missing value are
    dropped. The work is vectorised: a few sorts and binary searches per step.

    Args:
        events: columns ``distinct_id`` (str), ``event`` (str) and ``timestamp``
            (tz-aware UTC datetimes; naive ones are taken as UTC).
        steps: event names, in funnel order (at least one).
        window: conversion window from entry (>= 0).
        start: first instant of entry (naive means UTC).
        end: last instant of entry (naive means UTC).

    Returns:
        The funnel; with no event every step has 0 users.

    Raises:
        ValueError: no step, a negative window, ``start > end`` or missing columns.

    Example:
        >>> import pandas as pd
        >>> from datetime import datetime, timedelta
        >>> events = pd.DataFrame({
        ...     "distinct_id": ["a", "a"], "event": ["signup", "convert"],
        ...     "timestamp": pd.to_datetime(["2026-08-01", "2026-08-09"], utc=True)})
        >>> late = funnel(events, ["signup", "convert"], window=timedelta(days=7),
        ...               start=datetime(2026, 8, 1), end=datetime(2026, 8, 31))
        >>> [step.users for step in late.steps]  # converted after 8 days: outside the window
        [1, 0]
    """
    steps = [str(step) for step in steps]
    if not steps:
        raise ValueError("a funnel needs at least one step")
    if window < timedelta(0):
        raise ValueError(f"window must be >= 0, got {window}")
    low, high = _utc(start), _utc(end)
    if low > high:
        raise ValueError(f"start ({low}) is after end ({high})")
    reached, medians = _reach(events, steps, window, low, high)
    found = []
    for k, name in enumerate(steps):
        users = reached[k]
        previous = reached[k - 1] if k else 0
        found.append(
            FunnelStep(
                name=name,
                users=users,
                conversion_from_previous=users / previous if k and previous else None,
                conversion_from_first=users / reached[0] if reached[0] else None,
                median_seconds_from_previous=medians[k],
            )
        )
    return Funnel(tuple(found), window, low.to_pydatetime(), high.to_pydatetime())


def _reach(
    events: pd.DataFrame,
    steps: list[str],
    window: timedelta,
    low: pd.Timestamp,
    high: pd.Timestamp,
) -> tuple[list[int], list[float | None]]:
    """Users reaching each step and the median seconds from the previous step."""
    nobody: tuple[list[int], list[float | None]] = ([0] * len(steps), [None] * len(steps))
    if len(events) == 0:
        return nobody
    missing = {"distinct_id", "event", "timestamp"} - set(events.columns)
    if missing:
        raise ValueError(
            f"events lack column(s) {sorted(missing)}: needs distinct_id, event, timestamp"
        )
    # One factorisation of the event names selects the funnel's events and numbers their step
    # names (cheaper than isin + a categorical on a million strings).
    distinct_steps = list(dict.fromkeys(steps))
    step_code = {name: code for code, name in enumerate(distinct_steps)}
    codes, names_found = pd.factorize(events["event"])
    lookup = np.array([step_code.get(name, -1) for name in names_found] + [-1], dtype=_INT)
    names = lookup[codes]  # code -1 (a missing name) picks the trailing -1
    rows = np.flatnonzero(names >= 0)
    users = pd.factorize(events["distinct_id"].iloc[rows])[0].astype(_INT)
    times = _nanoseconds(events["timestamp"].iloc[rows])
    known = (users >= 0) & (times != _NAT)
    names, users, times = names[rows][known], users[known], times[known]
    if len(times) == 0:
        return nobody
    users = pd.factorize(users)[0].astype(_INT)  # renumber 0..n_users - 1 without gaps

    # Rank every event by (timestamp, row order): rank order is time order, and ties keep
    # a stable order so a repeated step can ask for "a later event than the one I used".
    order = np.argsort(times, kind="stable")
    times, users, names = times[order], users[order], names[order]
    n_events, n_users = len(times), int(users.max()) + 1
    # Per step name: keys user * n_events + rank, sorted, so that one binary search finds a
    # user's first event of that name at or after a given rank (the rank is the position).
    all_keys = users * n_events + np.arange(n_events, dtype=_INT)
    keys = {name: np.sort(all_keys[names == code]) for code, name in enumerate(distinct_steps)}

    # Step 1: the first entry event within [start, end].
    entry_keys = keys[steps[0]]
    entry_ranks = entry_keys % n_events
    inside = (times[entry_ranks] >= low.value) & (times[entry_ranks] <= high.value)
    entry_keys = entry_keys[inside]
    entrants = entry_keys // n_events  # sorted: keep each user's first entry event
    first_entry = np.ones(len(entrants), dtype=bool)
    first_entry[1:] = entrants[1:] != entrants[:-1]
    current, rank = entrants[first_entry], entry_keys[first_entry] % n_events
    at = times[rank]
    latest = np.iinfo(_INT).max
    window_ns = min(window // timedelta(microseconds=1), latest // 1000) * 1000
    deadline = np.full(n_users, latest, dtype=_INT)
    deadline[current] = np.where(at > latest - window_ns, latest, at + window_ns)
    # The last rank each user used per step name (-1: none yet).
    used: dict[str, np.ndarray] = {}
    used.setdefault(steps[0], np.full(n_users, -1, dtype=_INT))[current] = rank

    reached, medians = [len(current)], [None]
    for name in steps[1:]:
        lower = np.searchsorted(times, at, side="left")  # first rank at or after `at`
        if name in used:
            lower = np.maximum(lower, used[name][current] + 1)
        step_keys = keys[name]
        index = np.searchsorted(step_keys, current * n_events + lower, side="left")
        hit = index < len(step_keys)
        index = np.where(hit, index, 0)
        found = step_keys[index] if len(step_keys) else np.zeros(len(index), _INT)
        hit &= found // n_events == current
        found_rank = found % n_events
        hit &= times[found_rank] <= deadline[current]
        elapsed = times[found_rank[hit]] - at[hit]
        current, at, rank = current[hit], times[found_rank[hit]], found_rank[hit]
        used.setdefault(name, np.full(n_users, -1, dtype=_INT))[current] = rank
        reached.append(len(current))
        medians.append(float(np.median(elapsed)) / 1e9 if len(elapsed) else None)
    return reached, medians
