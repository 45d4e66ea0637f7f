"""Most common paths: runs of consecutive events inside a user's session.

Example:
    >>> import pandas as pd
    >>> from datetime import UTC, datetime
    >>> events = pd.DataFrame({
    ...     "distinct_id": ["a", "a", "a"],
    ...     "event": ["session_start", "pageview", "feature_used"],
    ...     "timestamp": pd.to_datetime(
    ...         ["2026-08-01T10:00Z", "2026-08-01T10:01Z", "2026-08-01T10:02Z"], utc=True),
    ...     "properties": [{}, {"path": "/home"}, {"feature": "alerts"}],
    ... })
    >>> [p.steps for p in top_paths(events, start=datetime(2026, 8, 1, tzinfo=UTC),
    ...                             end=datetime(2026, 8, 2, tzinfo=UTC))]
    [('session_start', 'pageview:/home', 'feature_used')]
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from productpilot.analytics.activity import json_float
from productpilot.analytics.adoption import event_property, window_rows

_INT = np.int64
PAGEVIEW = "pageview"


@dataclass(frozen=True, slots=True)
class PathCount:
    """One path and how often it occurred.

    Attributes:
        steps: the event names in order (``pageview:<path>`` for page views with a path).
        count: occurrences (overlapping runs each count: ``a b a b`` holds ``a b`` twice).
        users: distinct users with at least one occurrence.
        share: ``count`` over all paths of this length in the window (``None`` if none).
    """

    steps: tuple[str, ...]
    count: int
    users: int
    share: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": list(self.steps),
            "count": self.count,
            "users": self.users,
            "share": json_float(self.share),
        }


def step_names(rows: pd.DataFrame) -> np.ndarray:
    """Event names, with ``pageview:<path>`` for page views whose ``path`` is a string."""
    names = rows["event"].astype(str).to_numpy(dtype=object)
    views = np.flatnonzero(names == PAGEVIEW)
    if len(views):
        paths = event_property(rows.iloc[views], "path")
        has = np.array([isinstance(p, str) for p in paths.tolist()], dtype=bool)
        names = names.copy()
        names[views[has]] = [f"{PAGEVIEW}:{path}" for path in paths[has].tolist()]
    return names


def top_paths(
    events: pd.DataFrame,
    *,
    start: datetime,
    end: datetime,
    length: int = 3,
    top: int = 10,
    session_gap: timedelta = timedelta(minutes=30),
    exclude: Collection[str] = (),
) -> list[PathCount]:
    """The ``top`` most frequent runs of ``length`` consecutive events within a session.

    Events in ``[start, end]`` (both inclusive) are ordered per user by time (ties keep
    frame order). A user's session ends when the next event comes more than ``session_gap``
    after the previous one (a gap exactly ``session_gap`` long stays in the session), so a
    path never spans two sessions or two users. Every window of ``length`` consecutive events
    in a session is one occurrence. Page views with a ``path`` property are named
    ``pageview:<path>``. Events whose name is in ``exclude`` (raw names, e.g.
    ``"api_request"``) are removed before sessions and paths are built.

    Vectorised: one sort by (user, time), a cumulative sum for sessions, ``length`` shifted
    code arrays and a factorisation of the paths; no per-event Python except reading
    ``path`` from the page views' property dicts.

    Args:
        events: columns ``distinct_id``, ``event``, ``timestamp`` (tz-aware UTC) and
            ``properties`` (dicts; only for page views' ``path``).
        start: first instant (naive means UTC).
        end: last instant (naive means UTC).
        length: events per path (>= 1).
        top: how many paths to return (>= 1).
        session_gap: inactivity that ends a session (> 0).
        exclude: event names to leave out.

    Returns:
        Up to ``top`` paths by count, then distinct users (both descending), then steps.

    Raises:
        ValueError: ``length`` or ``top`` < 1, ``session_gap`` <= 0, ``start > end`` or
            missing columns.
    """
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    if session_gap <= timedelta(0):
        raise ValueError(f"session_gap must be > 0, got {session_gap}")
    rows, times, _, _ = window_rows(events, start, end)
    if exclude and len(rows):
        kept = np.flatnonzero(~rows["event"].isin(list(exclude)).to_numpy())
        rows, times = rows.iloc[kept], times[kept]
    if len(rows) < length:
        return []
    codes, names = pd.factorize(step_names(rows))
    codes = codes.astype(_INT)
    users = pd.factorize(rows["distinct_id"])[0].astype(_INT)
    order = np.lexsort((times, users))  # by user, then time; stable for equal times
    codes, users, times = codes[order], users[order], times[order]

    gap_ns = session_gap // timedelta(microseconds=1) * 1000
    new_session = np.ones(len(codes), dtype=bool)
    new_session[1:] = (users[1:] != users[:-1]) | (np.diff(times) > gap_ns)
    session = np.cumsum(new_session)

    n_starts = len(codes) - length + 1
    valid = session[:n_starts] == session[length - 1 :]  # the run stays in one session
    if not valid.any():
        return []
    starts = np.flatnonzero(valid)
    columns = {k: codes[starts + k] for k in range(length)}
    radix = max(len(names), 1)
    if radix**length < 2**62:
        key = np.zeros(len(starts), dtype=_INT)
        for k in range(length):
            key = key * radix + columns[k]
        path_id, uniques = pd.factorize(key)
        powers = radix ** np.arange(length - 1, -1, -1, dtype=_INT)
        paths = (np.asarray(uniques, dtype=_INT)[:, None] // powers) % radix
    else:  # too many names for one int64 key: let pandas number the rows' tuples
        frame = pd.DataFrame(columns)
        grouped = frame.groupby(list(range(length)), sort=False)
        path_id = grouped.ngroup().to_numpy()
        paths = grouped.size().index.to_frame(index=False).to_numpy(dtype=_INT)
    path_id = path_id.astype(_INT)
    n_paths = len(paths)
    counts = np.bincount(path_id, minlength=n_paths)
    pair = np.unique(path_id * (int(users.max()) + 1) + users[starts])
    distinct_users = np.bincount(pair // (int(users.max()) + 1), minlength=n_paths)

    # Candidates: every path counting at least as much as the top-th one; ties are then
    # broken by users and by the steps' names, deterministically.
    threshold = np.sort(counts)[::-1][min(top, n_paths) - 1]
    candidates = np.flatnonzero(counts >= threshold)
    total = int(counts.sum())
    ranked = sorted(
        (-int(counts[i]), -int(distinct_users[i]), tuple(str(names[c]) for c in paths[i]))
        for i in candidates
    )[:top]
    return [
        PathCount(steps, -count, -n_users, -count / total if total else None)
        for count, n_users, steps in ranked
    ]
