"""The Numenta Anomaly Benchmark (NAB) scorer: windows, profiles, threshold sweeps, scores.

A faithful, vectorised port of NAB v1.1's scoring (numenta/NAB @ ea702d7, ``nab/sweeper.py``,
``nab/scorer.py``, ``nab/optimizer.py``); fed NAB's published per-row ``anomaly_score`` output
it reproduces the published scoreboard. The rules:

* A row is a detection when its anomaly score is ``>= threshold``.
* The first ``min(floor(0.15 * rows), 750)`` rows of a file are probationary: ignored.
* Every labelled window scores once: ``-fn_weight`` when missed, else the scaled sigmoid of
  the position of its *earliest* detection (``tp_weight`` at the window's first row, falling
  towards 0 at its last); later detections in the window neither add nor cost.
* A detection outside every window costs ``fp_weight`` times the scaled sigmoid of its
  distance past the preceding window's end (in window widths), or the full ``fp_weight``
  before the first window ends; so a false alarm just after a window costs little.
* A file's raw score is the sum of those; a corpus's is the sum over files. The reported
  score is ``100 * (raw - null) / (perfect - null)``: 0 for a detector that never fires,
  100 for one that fires exactly at the start of every window.

One threshold per profile applies to the whole corpus (NAB's rule). :func:`sweep` scores
every threshold at once in ``O(rows log rows)``: a row changes the score only when the
threshold passes its anomaly score, so the score is a cumulative sum over rows sorted by
score.

Example:
    >>> import numpy as np, pandas as pd
    >>> stamps = pd.date_range("2026-01-01", periods=20, freq="5min")
    >>> layout = file_layout(stamps, [(stamps[10], stamps[14])], probation_percent=0.15)
    >>> scores = np.zeros(20)
    >>> scores[10] = 1.0  # fires on the window's first row
    >>> result = sweep([(layout, scores)], STANDARD)
    >>> round(result.score_at(0.5), 6)
    100.0
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PROBATION_PERCENT = 0.15
PROBATION_CAP = 5000  # NAB caps probation at PROBATION_PERCENT of this many rows


@dataclass(frozen=True, slots=True)
class Profile:
    """A NAB application profile: the weights of true positives, false positives and misses."""

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


STANDARD = Profile("standard", tp_weight=1.0, fp_weight=0.11, fn_weight=1.0)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a data file's anomaly windows lie, in rows.

    Attributes:
        length: rows in the file.
        probation: rows at the start that are not scored.
        windows: ``(first, last)`` row of each window, inclusive, in time order.
    """

    length: int
    probation: int
    windows: tuple[tuple[int, int], ...]


def load_profiles(path: str | Path) -> dict[str, Profile]:
    """NAB's ``config/profiles.json``: profile name -> weights (``CostMatrix``)."""
    raw = json.loads(Path(path).read_text())
    return {
        name: Profile(
            name,
            tp_weight=float(spec["CostMatrix"]["tpWeight"]),
            fp_weight=float(spec["CostMatrix"]["fpWeight"]),
            fn_weight=float(spec["CostMatrix"]["fnWeight"]),
        )
        for name, spec in raw.items()
    }


def load_windows(path: str | Path) -> dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]:
    """NAB's ``labels/combined_windows.json``: data file (relative path) -> window limits."""
    raw: dict[str, list[list[str]]] = json.loads(Path(path).read_text())
    return {
        name: [(pd.Timestamp(start), pd.Timestamp(end)) for start, end in limits]
        for name, limits in raw.items()
    }


def load_thresholds(path: str | Path, detector: str) -> dict[str, float]:
    """NAB's ``config/thresholds.json`` for one detector: profile name -> threshold."""
    raw: dict[str, dict[str, dict[str, Any]]] = json.loads(Path(path).read_text())
    return {profile: float(entry["threshold"]) for profile, entry in raw[detector].items()}


def probation_length(rows: int, percent: float = PROBATION_PERCENT) -> int:
    """NAB's probationary rows: ``min(floor(percent * rows), percent * 5000)``."""
    return int(min(math.floor(percent * rows), percent * PROBATION_CAP))


def file_layout(
    timestamps: Sequence[Any] | pd.DatetimeIndex | np.ndarray,
    windows: Iterable[tuple[Any, Any]],
    *,
    probation_percent: float = PROBATION_PERCENT,
) -> Layout:
    """Locate windows given by timestamps in a file's rows.

    Raises:
        ValueError: a window limit is not one of the file's timestamps (NAB requires exact
            matches), or a window ends before it starts.
    """
    index = pd.DatetimeIndex(timestamps)
    kept = ~index.duplicated(keep="first")  # a repeated timestamp means its first row, as NAB
    unique, positions = index[kept], np.flatnonzero(kept)
    rows: list[tuple[int, int]] = []
    for start, end in windows:
        found = unique.get_indexer([pd.Timestamp(start), pd.Timestamp(end)])
        if (found < 0).any() or positions[found[1]] < positions[found[0]]:
            raise ValueError(f"window {start} .. {end} does not match the file's timestamps")
        rows.append((int(positions[found[0]]), int(positions[found[1]])))
    return Layout(len(index), probation_length(len(index), probation_percent), tuple(rows))


def scaled_sigmoid(position: np.ndarray) -> np.ndarray:
    """NAB's ``2 * sigmoid(-5 * position) - 1``, and -1 beyond 3 window widths.

    Position -1 is a window's first row (0.987), 0 its end (0), positive values lie after it.
    """
    position = np.asarray(position, dtype=float)
    value = 2.0 / (1.0 + np.exp(np.minimum(5.0 * position, 50.0))) - 1.0
    return np.where(position > 3.0, -1.0, value)


MAX_TP = float(scaled_sigmoid(np.array(-1.0)))  # a window's first row; normalises TPs to 1


def _false_positive_costs(layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Which rows lie outside every window, and the unweighted cost of a detection there.

    The cost is the scaled sigmoid of the distance past the preceding window's last row, in
    ``width - 1`` rows (so it is near 0 just after a window); -1 before the first window.
    """
    outside = np.ones(layout.length, dtype=bool)
    costs = np.full(layout.length, -1.0)
    rows = np.arange(layout.length, dtype=float)
    for k, (first, last) in enumerate(layout.windows):
        outside[first : last + 1] = False
        following = layout.windows[k + 1][0] if k + 1 < len(layout.windows) else layout.length
        after = slice(last + 1, following)
        costs[after] = scaled_sigmoid((rows[after] - last) / float(max(last - first, 1)))
    return outside, costs


def _window_rewards(first: int, last: int, probation: int, profile: Profile) -> np.ndarray:
    """The reward of a window's earliest detection on each of its scored rows (decreasing)."""
    rows = np.arange(max(first, probation), last + 1)
    width = float(last - first + 1)
    return scaled_sigmoid(-(last - rows + 1) / width) * profile.tp_weight / MAX_TP


def _window_events(
    scores: np.ndarray, rewards: np.ndarray, profile: Profile
) -> tuple[np.ndarray, np.ndarray]:
    """How one window's score changes as the threshold falls: ``(at score, change)`` pairs.

    Only the earliest detection counts and rewards fall along the window, so the window's
    score changes exactly when the threshold reaches a new running maximum of its scores
    (read in row order): that row becomes the earliest detection. The first change turns a
    miss (``-fn_weight``) into that row's reward; each later one swaps a reward for an
    earlier, larger one.

    Args:
        scores: the anomaly scores of the window's scored rows.
        rewards: their rewards, from :func:`_window_rewards`.
        profile: the weights.
    """
    running_max = np.maximum.accumulate(scores)
    record = np.ones(len(scores), dtype=bool)
    record[1:] = scores[1:] > running_max[:-1]
    at, reward = scores[record], rewards[record]
    change = np.empty(len(at))
    change[-1] = reward[-1] + profile.fn_weight  # the highest score: the first detection
    change[:-1] = reward[:-1] - reward[1:]
    return at, change


@dataclass(frozen=True, slots=True)
class Sweep:
    """A detector's raw NAB score at every threshold, for one profile.

    Attributes:
        profile: the profile scored.
        thresholds: distinct anomaly scores, descending, after ``inf`` (nothing detected).
        raw: raw score with detections at ``score >= thresholds[i]``.
        null: raw score of a detector that never fires (``raw[0]``).
        perfect: raw score of a detector firing exactly at every window's first row.
    """

    profile: Profile
    thresholds: np.ndarray
    raw: np.ndarray
    null: float
    perfect: float

    def normalise(self, raw: float) -> float:
        """``100 * (raw - null) / (perfect - null)``; 0 for a corpus without windows."""
        span = self.perfect - self.null
        return 100.0 * (raw - self.null) / span if span else 0.0

    def raw_at(self, threshold: float) -> float:
        """Raw score with detections at ``score >= threshold``."""
        passing = int(np.searchsorted(-self.thresholds[1:], -threshold, side="right"))
        return float(self.raw[passing])

    def score_at(self, threshold: float) -> float:
        """Normalised score at ``threshold``."""
        return self.normalise(self.raw_at(threshold))

    def best(self) -> tuple[float, float]:
        """The threshold with the highest score (the highest such threshold), and its score.

        This is a full sweep, as NAB's ``optimizer.py`` does.
        """
        i = int(np.argmax(self.raw))
        return float(self.thresholds[i]), self.normalise(float(self.raw[i]))


def sweep(files: Iterable[tuple[Layout, np.ndarray]], profile: Profile) -> Sweep:
    """Score a corpus at every threshold.

    Args:
        files: each file's layout and per-row anomaly scores (NaN never detects).
        profile: the weights.

    Returns:
        The raw score for every threshold that changes it, with the null and perfect scores.

    Raises:
        ValueError: a file's scores do not have one value per row.
    """
    at: list[np.ndarray] = [np.zeros(0)]
    change: list[np.ndarray] = [np.zeros(0)]
    null = perfect = 0.0
    for layout, raw_scores in files:
        scores = np.nan_to_num(np.asarray(raw_scores, dtype=float), nan=-np.inf)
        if len(scores) != layout.length:
            raise ValueError(f"{len(scores)} scores for a file of {layout.length} rows")
        outside, costs = _false_positive_costs(layout)
        outside[: layout.probation] = False
        at.append(scores[outside])
        change.append(costs[outside] * profile.fp_weight)
        for first, last in layout.windows:
            if last < layout.probation:
                continue  # a window inside probation is not scored at all
            rewards = _window_rewards(first, last, layout.probation, profile)
            start = last + 1 - len(rewards)
            window_at, window_change = _window_events(scores[start : last + 1], rewards, profile)
            at.append(window_at)
            change.append(window_change)
            null -= profile.fn_weight
            perfect += float(rewards[0])
    return _cumulate(profile, np.concatenate(at), np.concatenate(change), null, perfect)


def _cumulate(
    profile: Profile, at: np.ndarray, change: np.ndarray, null: float, perfect: float
) -> Sweep:
    """Sum score changes from the highest anomaly score down, one total per distinct score."""
    order = np.argsort(-at, kind="stable")
    at, totals = at[order], null + np.cumsum(change[order])
    last_of_value = np.ones(len(at), dtype=bool)
    last_of_value[:-1] = at[1:] != at[:-1]
    keep = last_of_value & (at > -np.inf)
    return Sweep(
        profile,
        thresholds=np.concatenate([[np.inf], at[keep]]),
        raw=np.concatenate([[null], totals[keep]]),
        null=null,
        perfect=perfect,
    )
