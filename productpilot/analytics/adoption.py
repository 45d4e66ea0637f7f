"""Feature adoption and breadth from ``feature_used`` events, and its change between windows.

A user *adopts* a feature in a window when they have a ``feature_used`` event with
``properties.feature`` equal to it in the window; the adoption rate divides adopters by the
window's active users (distinct users with any event in the window, unless given). Breadth is
how many distinct features each active user used. Pure pandas/numpy; scipy for the z-test.

Example:
    >>> import pandas as pd
    >>> from datetime import UTC, datetime
    >>> events = pd.DataFrame({
    ...     "distinct_id": ["a", "a", "b"],
    ...     "event": ["feature_used", "feature_used", "pageview"],
    ...     "timestamp": pd.to_datetime(
    ...         ["2026-08-01T10:00Z", "2026-08-01T11:00Z", "2026-08-01T12:00Z"], utc=True),
    ...     "properties": [{"feature": "alerts"}, {"feature": "alerts"}, {"path": "/home"}],
    ... })
    >>> result = feature_adoption(events, start=datetime(2026, 8, 1, tzinfo=UTC),
    ...                           end=datetime(2026, 8, 2, tzinfo=UTC))
    >>> [(f.feature, f.users, f.adoption_rate, f.events_per_user) for f in result.features]
    [('alerts', 1, 0.5, 2.0)]
    >>> result.breadth_histogram, result.mean_breadth
    ((1, 1), 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from productpilot.analytics.activity import json_float

FEATURE_EVENT = "feature_used"
_INT = np.int64
_NAT = np.iinfo(_INT).min
_COLUMNS = {"distinct_id", "event", "timestamp"}


# -- shared helpers (paths.py uses them too) -----------------------------------------------


def utc(moment: datetime) -> pd.Timestamp:
    """A UTC ``Timestamp`` (naive means UTC)."""
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)


def nanoseconds(timestamps: pd.Series) -> np.ndarray:
    """UTC nanoseconds since the epoch as int64 (naive values are UTC; NaT gives int64 min)."""
    stamps = pd.to_datetime(timestamps, utc=True)
    return stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").view(_INT)


def check_columns(events: pd.DataFrame, needed: set[str]) -> None:
    missing = needed - set(events.columns)
    if missing:
        raise ValueError(f"events lack column(s) {sorted(missing)}: needs {sorted(needed)}")


def event_property(events: pd.DataFrame, name: str) -> np.ndarray:
    """A property of each row as an object array (``None`` when absent).

    A top-level column called ``name`` wins (flattened frames); otherwise the value is read
    from the ``properties`` dicts. One pass of plain Python over the rows given, so callers
    select their rows first.
    """
    if name in events.columns:
        return events[name].to_numpy(dtype=object, na_value=None)
    if "properties" not in events.columns:
        return np.full(len(events), None, dtype=object)
    column = events["properties"].to_numpy(dtype=object)
    return np.array(
        [p.get(name) if isinstance(p, dict) else None for p in column.tolist()], dtype=object
    )


def window_rows(
    events: pd.DataFrame, start: datetime, end: datetime
) -> tuple[pd.DataFrame, np.ndarray, pd.Timestamp, pd.Timestamp]:
    """The rows with a user, an event and a timestamp in ``[start, end]``, and their times."""
    low, high = utc(start), utc(end)
    if low > high:
        raise ValueError(f"start ({low}) is after end ({high})")
    if len(events) == 0:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in sorted(_COLUMNS)})
        return empty, np.zeros(0, _INT), low, high
    check_columns(events, _COLUMNS)
    times = nanoseconds(events["timestamp"])
    keep = (times != _NAT) & (times >= low.value) & (times <= high.value)
    keep &= events["distinct_id"].notna().to_numpy() & events["event"].notna().to_numpy()
    rows = np.flatnonzero(keep)
    return events.iloc[rows], times[rows], low, high


# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeatureStats:
    """Adoption of one feature in a window (and segment).

    Attributes:
        feature: the ``properties.feature`` value.
        users: distinct users with a ``feature_used`` event of the feature.
        adoption_rate: ``users / active_users`` (``None`` when there is no active user).
        events: ``feature_used`` events of the feature.
        events_per_user: ``events / users`` (``None`` when ``users == 0``).
        first_used: UTC date of the first use in the window (``None`` when unused).
    """

    feature: str
    users: int
    adoption_rate: float | None
    events: int
    events_per_user: float | None
    first_used: date | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "users": self.users,
            "adoption_rate": json_float(self.adoption_rate),
            "events": self.events,
            "events_per_user": json_float(self.events_per_user),
            "first_used": self.first_used.isoformat() if self.first_used else None,
        }


@dataclass(frozen=True, slots=True)
class AdoptionGroup:
    """Adoption of every feature and breadth, for everyone or one segment value.

    Attributes:
        segment_value: the segment property's value (``None`` for the whole population).
        active_users: the denominator of the adoption rates.
        features: one entry per feature seen in the window (in any segment), most adopted
            first, then by name; features unused in this group have 0 users.
        breadth_histogram: ``breadth_histogram[k]`` = active users who used exactly ``k``
            distinct features, ``k = 0 .. len(features)``; sums to ``active_users``.
        mean_breadth: mean distinct features per active user (``None`` with none).
    """

    segment_value: str | None
    active_users: int
    features: tuple[FeatureStats, ...]
    breadth_histogram: tuple[int, ...]
    mean_breadth: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment_value": self.segment_value,
            "active_users": self.active_users,
            "features": [f.to_dict() for f in self.features],
            "breadth_histogram": [
                {"features": k, "users": n} for k, n in enumerate(self.breadth_histogram)
            ],
            "mean_breadth": json_float(self.mean_breadth),
        }


@dataclass(frozen=True, slots=True)
class FeatureAdoption:
    """Feature adoption over ``[start, end]``.

    Attributes:
        start: window start (UTC, inclusive).
        end: window end (UTC, inclusive).
        segment: the segment property name, or ``None``.
        overall: the whole population.
        segments: one group per segment value (sorted by value), empty without ``segment``.
    """

    start: datetime
    end: datetime
    segment: str | None
    overall: AdoptionGroup
    segments: tuple[AdoptionGroup, ...]

    @property
    def active_users(self) -> int:
        return self.overall.active_users

    @property
    def features(self) -> tuple[FeatureStats, ...]:
        return self.overall.features

    @property
    def breadth_histogram(self) -> tuple[int, ...]:
        return self.overall.breadth_histogram

    @property
    def mean_breadth(self) -> float | None:
        return self.overall.mean_breadth

    def group(self, segment_value: str | None) -> AdoptionGroup | None:
        """The group of a segment value (``None``: the whole population)."""
        if segment_value is None:
            return self.overall
        return next((g for g in self.segments if g.segment_value == segment_value), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "segment": self.segment,
            "overall": self.overall.to_dict(),
            "segments": [g.to_dict() for g in self.segments],
        }


# -- computation ---------------------------------------------------------------------------


def feature_adoption(
    events: pd.DataFrame,
    *,
    start: datetime,
    end: datetime,
    active_users: int | None = None,
    segment: str | None = None,
) -> FeatureAdoption:
    """Per-feature adoption, use intensity and breadth over ``[start, end]`` (both inclusive).

    * ``users``: distinct users with a ``feature_used`` event of the feature in the window;
      ``adoption_rate = users / active users``; ``events_per_user = events / users``;
      ``first_used``: UTC date of its first use in the window.
    * Active users: distinct users with any event of the frame in the window, or
      ``active_users`` when given (for the whole population only; it must be at least the
      number of feature users, and segments always count their own active users).
    * Breadth: ``breadth_histogram[k]`` active users used exactly ``k`` distinct features
      (``k = 0..n_features``, so it sums to the active users); ``mean_breadth`` its mean.
    * ``segment``: a property name (``"platform"``, ``"plan"``...). An event belongs to the
      segment value of its own property; a segment's active users are the distinct users
      with an event of that value in the window (a user whose value changes counts in both).
      Events without the property count only in ``overall``.

    ``feature_used`` events without a ``feature`` are ignored. Properties are read from the
    ``properties`` dicts, or from a top-level column of that name when the frame has one.

    Args:
        events: columns ``distinct_id``, ``event``, ``timestamp`` (tz-aware UTC) and
            ``properties`` (dicts).
        start: first instant (naive means UTC).
        end: last instant (naive means UTC).
        active_users: the overall denominator, if known elsewhere (e.g. from DAU rollups).
        segment: the property to split by.

    Returns:
        The adoption; an empty window gives 0 active users and ``None`` rates.

    Raises:
        ValueError: ``start > end``, missing columns, or ``active_users`` negative or below
            the number of feature users.
    """
    rows, times, low, high = window_rows(events, start, end)
    if active_users is not None and active_users < 0:
        raise ValueError(f"active_users must be >= 0, got {active_users}")
    users, user_ids = pd.factorize(rows["distinct_id"])
    users = users.astype(_INT)
    is_feature = (rows["event"] == FEATURE_EVENT).to_numpy()
    feature_rows = np.flatnonzero(is_feature)
    names = event_property(rows.iloc[feature_rows], "feature")
    named = np.array([isinstance(n, str) for n in names.tolist()], dtype=bool)
    feature_rows, names = feature_rows[named], names[named]
    codes, feature_names = pd.factorize(names)
    codes = codes.astype(_INT)
    uses = pd.DataFrame(
        {"user": users[feature_rows], "feature": codes, "time": times[feature_rows]}
    )
    n_features = len(feature_names)

    overall = _group(None, uses, len(user_ids), n_features, feature_names)
    if active_users is not None:
        adopters = int(uses["user"].nunique())
        if active_users < adopters:
            raise ValueError(f"active_users ({active_users}) is below the {adopters} feature users")
        overall = _group(None, uses, active_users, n_features, feature_names)
    order = [f.feature for f in overall.features]
    groups: list[AdoptionGroup] = []
    if segment is not None:
        values = event_property(rows, segment)
        present = np.array([v is not None for v in values.tolist()], dtype=bool)
        seg_codes, seg_names = pd.factorize(
            pd.Series(values[present], dtype=object).astype(str), sort=True
        )
        seg_all = np.full(len(rows), -1, dtype=_INT)
        seg_all[present] = seg_codes
        seg_active = (
            pd.DataFrame({"seg": seg_all[present], "user": users[present]})
            .drop_duplicates()
            .groupby("seg")
            .size()
            .reindex(range(len(seg_names)), fill_value=0)
            .to_numpy()
        )
        seg_of_use = seg_all[feature_rows]
        for code, value in enumerate(seg_names):
            mine = uses[seg_of_use == code]
            group = _group(str(value), mine, int(seg_active[code]), n_features, feature_names)
            by_name = {f.feature: f for f in group.features}
            groups.append(
                AdoptionGroup(
                    group.segment_value,
                    group.active_users,
                    tuple(by_name[name] for name in order),
                    group.breadth_histogram,
                    group.mean_breadth,
                )
            )
    return FeatureAdoption(
        low.to_pydatetime(), high.to_pydatetime(), segment, overall, tuple(groups)
    )


def _group(
    value: str | None,
    uses: pd.DataFrame,
    active: int,
    n_features: int,
    feature_names: Sequence[str],
) -> AdoptionGroup:
    """Per-feature stats and breadth of one population (``uses``: user, feature, time)."""
    counts = np.bincount(uses["feature"], minlength=n_features)
    pairs = uses.drop_duplicates(["user", "feature"])
    adopters = np.bincount(pairs["feature"], minlength=n_features)
    first = (
        uses.groupby("feature")["time"].min().reindex(range(n_features), fill_value=_NAT)
    ).to_numpy()
    stats_ = []
    for code, name in enumerate(feature_names):
        n_users, n_events = int(adopters[code]), int(counts[code])
        first_used = None
        if first[code] != _NAT:
            first_used = pd.Timestamp(int(first[code]), unit="ns").date()
        stats_.append(
            FeatureStats(
                feature=str(name),
                users=n_users,
                adoption_rate=n_users / active if active else None,
                events=n_events,
                events_per_user=n_events / n_users if n_users else None,
                first_used=first_used,
            )
        )
    stats_.sort(key=lambda f: (-f.users, f.feature))
    breadth = np.bincount(
        np.bincount(pairs["user"])[np.unique(pairs["user"])] if len(pairs) else [],
        minlength=n_features + 1,
    ).astype(_INT)
    breadth[0] = active - int(breadth[1:].sum())
    mean = float((breadth * np.arange(n_features + 1)).sum() / active) if active else None
    return AdoptionGroup(value, active, tuple(stats_), tuple(int(b) for b in breadth), mean)


@dataclass(frozen=True, slots=True)
class AdoptionChange:
    """Adoption of a feature (in a segment) in the current window against the previous one.

    Attributes:
        feature: the feature.
        segment: the segment property name, or ``None`` for the whole population.
        segment_value: the segment's value, or ``None``.
        previous_users: adopters in the previous window.
        previous_active: active users in the previous window.
        previous_rate: ``previous_users / previous_active`` (``None`` when no one was active).
        current_users: adopters in the current window.
        current_active: active users in the current window.
        current_rate: ``current_users / current_active`` (``None`` when no one is active).
        absolute_change: ``current_rate - previous_rate`` (``None`` if either is unknown).
        relative_change: ``absolute_change / previous_rate`` (``None`` if that is 0 or
            unknown).
        z: two-proportion z statistic (pooled), ``None`` when undefined.
        p_value: its two-sided p-value, ``None`` when undefined.
        significant: ``p_value < alpha``.
    """

    feature: str
    segment: str | None
    segment_value: str | None
    previous_users: int
    previous_active: int
    previous_rate: float | None
    current_users: int
    current_active: int
    current_rate: float | None
    absolute_change: float | None
    relative_change: float | None
    z: float | None
    p_value: float | None
    significant: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "segment": self.segment,
            "segment_value": self.segment_value,
            "previous_users": self.previous_users,
            "previous_active": self.previous_active,
            "previous_rate": json_float(self.previous_rate),
            "current_users": self.current_users,
            "current_active": self.current_active,
            "current_rate": json_float(self.current_rate),
            "absolute_change": json_float(self.absolute_change),
            "relative_change": json_float(self.relative_change),
            "z": json_float(self.z),
            "p_value": json_float(self.p_value),
            "significant": self.significant,
        }


def two_proportion_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float | None, float | None]:
    """Pooled two-proportion z-test of ``x2 / n2`` against ``x1 / n1``: ``(z, p_value)``.

    ``z = (p2 - p1) / sqrt(p (1 - p) (1 / n1 + 1 / n2))`` with ``p = (x1 + x2) / (n1 + n2)``;
    two-sided ``p_value = 2 (1 - Phi(|z|))``. ``(None, None)`` when a sample is empty, and
    ``(0.0, 1.0)`` when both rates are 0 or both are 1 (no variance, no difference).
    """
    if n1 <= 0 or n2 <= 0:
        return None, None
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return 0.0, 1.0
    z = (x2 / n2 - x1 / n1) / math.sqrt(variance)
    return z, float(2 * stats.norm.sf(abs(z)))


def adoption_change(
    events: pd.DataFrame,
    *,
    current: tuple[datetime, datetime],
    previous: tuple[datetime, datetime],
    segment: str | None = None,
    alpha: float = 0.05,
) -> list[AdoptionChange]:
    """Adoption rate per feature (and segment value) in ``current`` against ``previous``.

    Both windows are ``(start, end)``, inclusive, computed by :func:`feature_adoption` from
    the same frame (so active users are the frame's). Each feature seen in either window
    gets a row per group: the whole population when ``segment`` is ``None``, else every
    segment value seen in either window (and no overall row). The p-value is the pooled
    two-proportion z-test (:func:`two_proportion_test`). The two windows usually share users,
    which the test treats as independent samples; since a user's adoption is positively
    correlated across windows, this overstates the variance of the difference, so the test
    errs on the side of not flagging.

    Returns:
        Changes sorted by segment value, then feature name.

    Raises:
        ValueError: a window with ``start > end``, missing columns, or ``alpha`` outside
            ``(0, 1)``.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    now = feature_adoption(events, start=current[0], end=current[1], segment=segment)
    before = feature_adoption(events, start=previous[0], end=previous[1], segment=segment)
    if segment is None:
        values: list[str | None] = [None]
    else:
        values = sorted(
            {g.segment_value for g in now.segments} | {g.segment_value for g in before.segments}
        )
    names = sorted({f.feature for f in now.features} | {f.feature for f in before.features})
    changes = []
    for value in values:
        group_now, group_before = now.group(value), before.group(value)
        n2 = group_now.active_users if group_now else 0
        n1 = group_before.active_users if group_before else 0
        users_now = {f.feature: f.users for f in group_now.features} if group_now else {}
        users_before = {f.feature: f.users for f in group_before.features} if group_before else {}
        for name in names:
            x2, x1 = users_now.get(name, 0), users_before.get(name, 0)
            rate2 = x2 / n2 if n2 else None
            rate1 = x1 / n1 if n1 else None
            diff = rate2 - rate1 if rate1 is not None and rate2 is not None else None
            relative = diff / rate1 if diff is not None and rate1 else None
            z, p = two_proportion_test(x1, n1, x2, n2)
            changes.append(
                AdoptionChange(
                    feature=name,
                    segment=segment,
                    segment_value=value,
                    previous_users=x1,
                    previous_active=n1,
                    previous_rate=rate1,
                    current_users=x2,
                    current_active=n2,
                    current_rate=rate2,
                    absolute_change=diff,
                    relative_change=relative,
                    z=z,
                    p_value=p,
                    significant=p is not None and p < alpha,
                )
            )
    return changes
