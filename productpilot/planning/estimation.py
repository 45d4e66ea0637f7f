"""Effort estimates learnt from the team's own completed work, with a range per item.

The model is a shrunk nearest-neighbour median. For each new item it looks up the most
similar completed items under three TF-IDF views of the text (title twice plus
description as words, the same with word pairs, and the title alone with word pairs;
metadata such as item type, labels, feature and team enters each view as tokens), and
spreads a unit of weight over their efforts, in proportion to ``similarity ** p``, for
``k`` in 10, 20, 40 and ``p`` in 1, 2. The average of those six times three votes is scaled
by how similar the neighbours are (their mean cosine), then mixed with the whole history's
effort distribution at weight ``shrinkage``. The estimate is the median of that mixture,
the range its ``tail`` and ``1 - tail`` quantiles.

Why a median: absolute error is what estimates are judged by, and the median minimises
it; it also keeps the estimate on the scale the team uses (a Fibonacci story point stays
one) without any snapping. Why shrinkage: effort is mostly noise given the text, so an
item unlike anything done before should get the history's median and its wide range,
while one with close look-alikes gets their median and a narrow range.

``shrinkage`` and an optional recency weighting are chosen on the latest part of the
history (or on ``validation``), by mean absolute error (ties: the sharper range); ``tail``
is the narrowest of P25-P75, P20-P80, ..., P0-P100 whose ranges hold at least 80% of
those items (a split-conformal calibration of the quantile level).

Example:
    >>> history = [
    ...     HistoricalItem(key=f"H-{i}-{effort:g}", title=title, effort=effort)
    ...     for i in range(12)
    ...     for title, effort in (("migrate the database", 13.0), ("fix typo", 1.0))
    ... ]
    >>> model = EffortModel.fit(history)
    >>> [e.value for e in model.predict([WorkItem(key="N-1", title="fix a typo")])]
    [1.0]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np

from productpilot.errors import ValidationError
from productpilot.planning.text_features import TfidfVectorizer, metadata_tokens, words

Method = Literal["similar-items", "history-median", "default"]

NEIGHBOURS = (10, 20, 40)
POWERS = (1, 2)
SHRINKAGE_GRID = (0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
RECENCY_GRID = (0.0, 0.5)  # e-folding age as a share of the history; 0 = no decay
TAIL_GRID = (0.25, 0.2, 0.15, 0.1, 0.075, 0.05, 0.025, 0.01, 0.0)  # narrowest first
TARGET_COVERAGE = 0.8
TUNING_SHARE = 0.2
MIN_FIT = 10
MIN_TUNING = 5
DEFAULT_SHRINKAGE = 0.5
DEFAULT_TAIL = 0.1
MIN_HISTORY = 30
SHOWN_NEIGHBOURS = 3


def _check_text(value: Any, name: str, key: str) -> None:
    if value is not None and not isinstance(value, str):
        raise ValidationError(f"item {key!r}: {name} must be text, got {type(value).__name__}")


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkItem:
    """A backlog item to estimate.

    Attributes:
        key: the item's key (e.g. ``"PROJ-42"``).
        title: its title.
        description: its description.
        item_type: story, bug, task, ... when known.
        labels: its labels.
        feature: the feature (epic) it belongs to.
        team: the team that will do it.
    """

    key: str
    title: str
    description: str | None = ""
    item_type: str | None = None
    labels: tuple[str, ...] = ()
    feature: str | None = None
    team: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key.strip():
            raise ValidationError(f"a work item needs a non-empty key, got {self.key!r}")
        for name in ("title", "description", "item_type", "feature", "team"):
            _check_text(getattr(self, name), name, self.key)
        if not f"{self.title or ''}{self.description or ''}".strip():
            raise ValidationError(f"item {self.key!r} has neither a title nor a description")
        object.__setattr__(self, "labels", tuple(self.labels))

    def metadata(self) -> list[str]:
        return [
            *metadata_tokens("type", [self.item_type]),
            *metadata_tokens("label", self.labels),
            *metadata_tokens("feature", [self.feature]),
            *metadata_tokens("team", [self.team]),
        ]


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoricalItem(WorkItem):
    """A completed item with the effort it took (story points or days: one unit per history).

    Attributes:
        effort: a finite number >= 0.
        created_at: when it was created; the history is put in this order when every item
            has it (otherwise the given order is taken as the creation order).
    """

    effort: float
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        WorkItem.__post_init__(self)
        effort = self.effort
        if isinstance(effort, bool) or not isinstance(effort, int | float):
            raise ValidationError(f"item {self.key!r} has no numeric effort: {effort!r}")
        if not math.isfinite(effort) or effort < 0:
            raise ValidationError(f"item {self.key!r} has effort {effort!r}; need a number >= 0")
        object.__setattr__(self, "effort", float(effort))


@dataclass(frozen=True, slots=True)
class SimilarItem:
    """A past item behind an estimate: its key, effort and cosine similarity (mean of views)."""

    key: str
    effort: float
    similarity: float

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "effort": self.effort, "similarity": round(self.similarity, 3)}


@dataclass(frozen=True, slots=True)
class Estimate:
    """The effort estimate of one item.

    Attributes:
        key: the item's key.
        value: the estimate (the median of the predictive distribution).
        low: lower end of the range: a quantile of the predictive distribution, the
            narrowest (P25 to P0) whose ranges held 80% of the held-out efforts.
        high: upper end of the range (the matching upper quantile, P75 to P100).
        method: ``"similar-items"``, ``"history-median"`` (the text did not help on the
            held-out history) or ``"default"`` (too little history).
        explanation: one line saying where the number comes from.
        similar: the most similar past items.
    """

    key: str
    value: float
    low: float
    high: float
    method: Method
    explanation: str
    similar: tuple[SimilarItem, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "method": self.method,
            "explanation": self.explanation,
            "similar": [item.to_dict() for item in self.similar],
        }


def _body(item: WorkItem) -> list[str]:
    title = words(item.title or "")
    # The title twice: it is what the team wrote to name the work, the description is noise.
    return title + title + words(item.description or "") + item.metadata()


def _title(item: WorkItem) -> list[str]:
    return words(item.title or "") + item.metadata()


_VIEWS = ((_body, 1), (_body, 2), (_title, 2))


def _in_creation_order(history: Sequence[HistoricalItem]) -> list[HistoricalItem]:
    items = list(history)
    if items and all(item.created_at is not None for item in items):
        return sorted(items, key=lambda item: item.created_at)  # type: ignore[arg-type,return-value]
    return items


def _validated(history: Sequence[HistoricalItem], name: str) -> list[HistoricalItem]:
    for item in history:
        if not isinstance(item, HistoricalItem):
            raise ValidationError(f"{name} must hold HistoricalItem, got {type(item).__name__}")
    keys = [item.key for item in history]
    if len(set(keys)) != len(keys):
        duplicate = next(key for key in keys if keys.count(key) > 1)
        raise ValidationError(f"{name} holds the key {duplicate!r} more than once")
    return _in_creation_order(history)


@dataclass(frozen=True, slots=True)
class _Votes:
    """Per query item: neighbour mass over the history's effort values, and look-alikes."""

    neighbour_mass: np.ndarray  # (items, values)
    prior: np.ndarray  # (values,), sums to 1
    similarity: np.ndarray  # (items, history), mean cosine over views


class _Index:
    """The searchable history: one TF-IDF matrix per view, efforts as value indices."""

    def __init__(self, history: Sequence[HistoricalItem]) -> None:
        self.keys = [item.key for item in history]
        efforts = np.array([item.effort for item in history])
        self.values, self.value_index = np.unique(efforts, return_inverse=True)
        min_df = 1 if len(history) < 50 else 2  # a small history has few repeated words
        self.views = []
        for tokens_of, n in _VIEWS:
            documents = [tokens_of(item) for item in history]
            vectorizer = TfidfVectorizer(ngrams=n, min_df=min_df).fit(documents)
            self.views.append((tokens_of, vectorizer, vectorizer.transform(documents)))

    def __len__(self) -> int:
        return len(self.keys)

    def recency_weights(self, recency: float) -> np.ndarray:
        n = len(self)
        if recency <= 0:
            return np.ones(n)
        age = (n - 1) - np.arange(n)
        return np.exp(-age / (recency * n))

    def votes(self, items: Sequence[WorkItem], recency: float) -> _Votes:
        weights_by_age = self.recency_weights(recency)
        n_values = len(self.values)
        prior = np.bincount(self.value_index, weights=weights_by_age, minlength=n_values)
        mass = np.zeros((len(items), n_values))
        similarity = np.zeros((len(items), len(self)))
        rows = np.arange(len(items))[:, None]
        votes = 0
        for tokens_of, vectorizer, matrix in self.views:
            query = vectorizer.transform([tokens_of(item) for item in items])
            cosine = np.clip((query @ matrix.T).toarray(), 0.0, 1.0)
            similarity += cosine / len(self.views)
            order = np.argsort(-cosine, axis=1, kind="stable")[:, : max(NEIGHBOURS)]
            nearest = np.take_along_axis(cosine, order, axis=1)
            for k in NEIGHBOURS:
                for power in POWERS:
                    weight = nearest[:, :k] ** power * weights_by_age[order[:, :k]]
                    total = weight.sum(axis=1, keepdims=True)
                    # A unit vote split over the neighbours, worth their mean similarity:
                    # look-alikes speak loudly, strangers hardly at all.
                    share = np.divide(weight, total, out=np.zeros_like(weight), where=total > 0)
                    share *= nearest[:, :k].mean(axis=1, keepdims=True)
                    np.add.at(mass, (rows, self.value_index[order[:, :k]]), share)
                    votes += 1
        return _Votes(mass / votes, prior / prior.sum(), similarity)


def _quantiles(mixture: np.ndarray, values: np.ndarray, level: float) -> np.ndarray:
    """The ``level`` quantile of each row's discrete distribution over ``values``."""
    cumulative = np.cumsum(mixture, axis=1)
    threshold = level * cumulative[:, -1:]
    tolerance = 1e-12 * cumulative[:, -1:]
    # Level 0: the smallest value with any mass at all.
    passed = cumulative > tolerance if level <= 0 else cumulative >= threshold - tolerance
    return values[np.argmax(passed, axis=1)]


@dataclass(frozen=True, slots=True)
class Tuning:
    """How the model was tuned on held-out history.

    Attributes:
        items: held-out items used (0: not tuned, defaults taken).
        shrinkage: weight of the history distribution against the neighbours' votes;
            ``None``: the history distribution alone (the text did not help).
        recency: e-folding age of the history weights, as a share of the history (0: none).
        tail: the range is the ``tail`` and ``1 - tail`` quantiles.
        mae: mean absolute error of the chosen model on the held-out items.
        median_mae: that of the history median on the same items.
        coverage: share of held-out efforts inside their ranges.
    """

    items: int
    shrinkage: float | None
    recency: float
    tail: float
    mae: float | None = None
    median_mae: float | None = None
    coverage: float | None = None


def _mixture(votes: _Votes, shrinkage: float | None) -> np.ndarray:
    """Neighbour votes plus ``shrinkage`` times the history distribution; ``None``: the
    history distribution alone (not a huge shrinkage: where the history splits evenly, even
    a tiny vote would pick the side of its median)."""
    if shrinkage is None:
        return np.tile(votes.prior, (len(votes.neighbour_mass), 1))
    return votes.neighbour_mass + shrinkage * votes.prior


def _calibrate(
    mixture: np.ndarray, values: np.ndarray, actual: np.ndarray
) -> tuple[float, float, float]:
    """The narrowest tail whose ranges hold ``TARGET_COVERAGE`` of ``actual``, with the
    coverage and mean width it gives."""
    for tail in TAIL_GRID:
        low = _quantiles(mixture, values, tail)
        high = _quantiles(mixture, values, 1 - tail)
        covered = float(((actual >= low) & (actual <= high)).mean())
        if covered >= TARGET_COVERAGE or tail == TAIL_GRID[-1]:
            return tail, covered, float((high - low).mean())
    raise AssertionError("TAIL_GRID is empty")


def _tune(index: _Index, held_out: Sequence[HistoricalItem]) -> Tuning:
    actual = np.array([item.effort for item in held_out])
    median = float(np.median(index.values[index.value_index]))
    candidates = []
    for recency in RECENCY_GRID:
        votes = index.votes(held_out, recency)
        # The history median alone first: on a full tie it is the simpler story.
        for shrinkage in (None, *SHRINKAGE_GRID):
            mixture = _mixture(votes, shrinkage)
            mae = float(np.abs(_quantiles(mixture, index.values, 0.5) - actual).mean())
            tail, coverage, width = _calibrate(mixture, index.values, actual)
            # Equal errors (common: estimates are medians on a coarse scale) go to the
            # sharper calibrated range.
            candidates.append(
                (round(mae, 9), width, len(candidates), shrinkage, recency, tail, coverage)
            )
    mae, _, _, shrinkage, recency, tail, coverage = min(candidates)
    return Tuning(
        items=len(held_out),
        shrinkage=shrinkage,
        recency=recency,
        tail=tail,
        mae=mae,
        median_mae=float(np.abs(actual - median).mean()),
        coverage=coverage,
    )


def _effort_text(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True, slots=True)
class EffortModel:
    """A fitted effort model; build it with :meth:`EffortModel.fit`.

    Attributes:
        tuning: the chosen settings and their held-out scores.
        history_size: completed items the estimates draw on.
    """

    tuning: Tuning
    history_size: int
    _index: _Index = field(repr=False, compare=False)

    @classmethod
    def fit(
        cls,
        history: Sequence[HistoricalItem],
        validation: Sequence[HistoricalItem] | None = None,
    ) -> EffortModel:
        """Learn from completed items.

        Without ``validation`` the latest 20% of the history (by ``created_at``, or as
        given) tunes the settings, then the model is refitted on all of it. With
        ``validation`` (items done after the history) those tune it, and only ``history``
        is searched, which is how a benchmark keeps its test period unseen.

        Args:
            history: at least 10 completed items, oldest first unless all have
                ``created_at``.
            validation: optional held-out items for tuning only.

        Returns:
            The fitted model.

        Raises:
            ValidationError: too little history, a duplicate key, or an item that is not a
                :class:`HistoricalItem`.

        Example:
            >>> TITLES = ("small chore", "medium feature", "large epic")
            >>> items = [HistoricalItem(key=f"K-{i}", title=TITLES[i % 3], effort=i % 3 + 1)
            ...          for i in range(30)]
            >>> EffortModel.fit(items).history_size
            30
        """
        ordered = _validated(history, "history")
        if len(ordered) < MIN_FIT:
            raise ValidationError(
                f"effort model needs at least {MIN_FIT} completed items, got {len(ordered)}"
            )
        if validation is not None:
            held_out = _validated(validation, "validation")
            if not held_out:
                raise ValidationError("validation holds no items")
            index = _Index(ordered)
            return cls(_tune(index, held_out), len(ordered), index)
        cut = len(ordered) - round(len(ordered) * TUNING_SHARE)
        if len(ordered) - cut < MIN_TUNING or cut < MIN_FIT:
            tuning = Tuning(items=0, shrinkage=DEFAULT_SHRINKAGE, recency=0.0, tail=DEFAULT_TAIL)
        else:
            tuning = _tune(_Index(ordered[:cut]), ordered[cut:])
        return cls(tuning, len(ordered), _Index(ordered))

    @property
    def method(self) -> Method:
        return "history-median" if self.tuning.shrinkage is None else "similar-items"

    def predict(self, items: Sequence[WorkItem]) -> list[Estimate]:
        """Estimate each item: value, range, method and the past items behind it.

        Example:
            >>> TITLES = ("small chore", "medium feature", "large epic")
            >>> items = [HistoricalItem(key=f"K-{i}", title=TITLES[i % 3], effort=i % 3 + 1)
            ...          for i in range(30)]
            >>> estimate = EffortModel.fit(items).predict([WorkItem(key="N", title="an epic")])[0]
            >>> (estimate.value, estimate.method, estimate.similar[0].effort)
            (3.0, 'similar-items', 3.0)
        """
        items = list(items)
        for item in items:
            if not isinstance(item, WorkItem):
                raise ValidationError(f"can only estimate WorkItem, got {type(item).__name__}")
        if not items:
            return []
        index, tuning = self._index, self.tuning
        votes = index.votes(items, tuning.recency)
        mixture = _mixture(votes, tuning.shrinkage)
        value = _quantiles(mixture, index.values, 0.5)
        low = _quantiles(mixture, index.values, tuning.tail)
        high = _quantiles(mixture, index.values, 1 - tuning.tail)
        median = float(_quantiles(votes.prior[None, :], index.values, 0.5)[0])
        order = np.argsort(-votes.similarity, axis=1, kind="stable")[:, :SHOWN_NEIGHBOURS]
        estimates = []
        for row, item in enumerate(items):
            similar = tuple(
                SimilarItem(
                    index.keys[j],
                    float(index.values[index.value_index[j]]),
                    float(votes.similarity[row, j]),
                )
                for j in order[row]
                if votes.similarity[row, j] > 0
            )
            estimates.append(
                Estimate(
                    key=item.key,
                    value=float(value[row]),
                    low=float(low[row]),
                    high=float(high[row]),
                    method=self.method,
                    explanation=self._explain(similar, median),
                    similar=similar,
                )
            )
        return estimates

    def _explain(self, similar: tuple[SimilarItem, ...], median: float) -> str:
        if self.method == "history-median":
            return (
                f"median of {self.history_size} past items ({_effort_text(median)}); "
                "on held-out history the text did not beat it"
            )
        if not similar:
            return f"no similar past item: median of {self.history_size} ({_effort_text(median)})"
        shown = ", ".join(
            f"{s.key} {_effort_text(s.effort)} (sim {s.similarity:.2f})" for s in similar
        )
        return f"similar past items: {shown}; pulled towards the median {_effort_text(median)}"


def _fallback(
    history: Sequence[HistoricalItem],
    item: WorkItem,
    reason: str,
    default_by_type: Mapping[str, float],
    default_effort: float | None,
) -> Estimate:
    def estimate(value: float, low: float, high: float, source: str) -> Estimate:
        return Estimate(item.key, value, low, high, "default", f"{reason}; {source}")

    if item.item_type is not None and item.item_type in default_by_type:
        value = float(default_by_type[item.item_type])
        return estimate(value, value, value, f"configured default for {item.item_type!r}")
    same_type = [h.effort for h in history if item.item_type and h.item_type == item.item_type]
    pool, what = (
        (same_type, f"{item.item_type!r} items")
        if len(same_type) >= 3
        else (
            [h.effort for h in history],
            "items",
        )
    )
    if pool:
        efforts = np.array(pool)
        low, value, high = np.quantile(efforts, [0.1, 0.5, 0.9], method="inverted_cdf")
        return estimate(float(value), float(low), float(high), f"median of {len(pool)} past {what}")
    if default_effort is not None:
        value = float(default_effort)
        return estimate(value, value, value, "configured default effort")
    raise ValidationError(
        f"cannot estimate {item.key!r}: no history and no default effort for its type"
    )


def estimate_backlog(
    history: Sequence[HistoricalItem],
    items: Sequence[WorkItem],
    *,
    min_history: int = MIN_HISTORY,
    default_by_type: Mapping[str, float] | None = None,
    default_effort: float | None = None,
) -> list[Estimate]:
    """Estimate backlog items from the team's history, or by clear defaults without enough.

    With at least ``min_history`` completed items, :class:`EffortModel` estimates each
    item. With fewer, each estimate has ``method == "default"`` and says why: a configured
    default for the item's type first, else the median of the past items of that type
    (three or more) or of all past items, with their P10-P90 as the range, else
    ``default_effort``.

    Args:
        history: completed items.
        items: items to estimate.
        min_history: least history for the learnt model (at least 10).
        default_by_type: effort per item type, used when the history is short.
        default_effort: effort for an item when the history is short and empty of help.

    Returns:
        One estimate per item, in order.

    Raises:
        ValidationError: bad items or settings, or no way to estimate an item.

    Example:
        >>> done = [HistoricalItem(key="A-1", title="fix typo", effort=1),
        ...         HistoricalItem(key="A-2", title="new login", effort=5)]
        >>> estimate = estimate_backlog(done, [WorkItem(key="B-1", title="fix link")])[0]
        >>> (estimate.value, estimate.method)
        (1.0, 'default')
    """
    if min_history < MIN_FIT:
        raise ValidationError(f"min_history must be at least {MIN_FIT}, got {min_history}")
    defaults = dict(default_by_type or {})
    for name, value in [*defaults.items(), ("default_effort", default_effort)]:
        if value is not None and (not math.isfinite(value) or value < 0):
            raise ValidationError(f"default effort for {name!r} must be >= 0, got {value!r}")
    ordered = _validated(history, "history")
    if len(ordered) >= min_history:
        return EffortModel.fit(ordered).predict(items)
    reason = f"only {len(ordered)} completed items (fewer than {min_history})"
    for item in items:
        if not isinstance(item, WorkItem):
            raise ValidationError(f"can only estimate WorkItem, got {type(item).__name__}")
    return [_fallback(ordered, item, reason, defaults, default_effort) for item in items]
