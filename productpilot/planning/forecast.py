"""Monte Carlo delivery forecasts from a team's recent throughput and cycle times.

"When will these N items be done?" is answered by sampling the team's throughput (items
finished per day or per week, zero periods included) from a recent window, accumulating the
samples until N items are done, 10,000 times, and reading dates off the distribution: the
P85 date is the day by which 85% of the simulated futures were done. Weekly sampling keeps
the burstiness of teams that close work in batches; within the period that reaches N, the
items are assumed evenly spread over its days, so forecasts have a resolution of one day.

"When will this started item be done?" samples the cycle times of past items that were at
least as old as this one (a conditional, or survival, forecast).

Real histories are noisy, so :func:`clean_history` drops what cannot be trusted and says so
in a :class:`CleaningReport`: items without a finish date, items finished before they started
(negative cycle times), duplicate keys and finish dates after ``as_of``. Items finished the
day they started are kept (same-day work is real throughput, its cycle time is 0 days).
Cycle-time outliers (above ``Q3 + 3 IQR`` of ``log(1 + days)``) are kept for throughput, as
they did finish that day, but left out of the cycle-time sample.

Dates: ``start`` is the first day of work being forecast; the history used is what finished
before ``start``; a forecast date ``d`` means "done by the end of day ``d``".

Example:
    >>> from datetime import date, timedelta
    >>> days = [date(2026, 1, 1) + timedelta(days=i) for i in range(84)]
    >>> history = clean_history(WorkItem(f"T{i}", finished=d) for i, d in enumerate(days))
    >>> forecast = forecast_completion(history, 10, date(2026, 3, 26))
    >>> forecast.p50, forecast.p95  # one item a day: the 10th is done on day 10
    (datetime.date(2026, 4, 4), datetime.date(2026, 4, 4))
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np

from productpilot.errors import ValidationError

Period = Literal["day", "week"]
NegativePolicy = Literal["drop", "throughput only"]
PERIOD_DAYS: dict[str, int] = {"day": 1, "week": 7}
DEFAULT_PERCENTILES = (50, 85, 95)
DEFAULT_TRIALS = 10_000
DEFAULT_WINDOW_WEEKS = 12
DEFAULT_BLOCK = 1
OUTLIER_FENCE = 3.0  # Tukey's "far out" fence, on log(1 + days): cycle times are skewed
MIN_OUTLIER_SAMPLE = 8
MAX_HORIZON_DAYS = 3650  # simulated futures still unfinished after ten years are reported

# Reasons an item is dropped, in the order they are checked.
MISSING_FINISH = "no finish date"
DUPLICATE = "duplicate key"
AFTER_AS_OF = "finished after as_of"
NEGATIVE = "finished before it started (negative cycle time)"
REASONS = (MISSING_FINISH, DUPLICATE, AFTER_AS_OF, NEGATIVE)


@dataclass(frozen=True, slots=True)
class WorkItem:
    """A finished (or not) item of a team's history.

    Attributes:
        key: the item's key; a repeated key is dropped as a duplicate.
        finished: the day it was done, ``None`` if it is not done.
        started: the day work started (or it was created); gives its cycle time.
    """

    key: str
    finished: date | None
    started: date | None = None


@dataclass(frozen=True, slots=True)
class CleaningReport:
    """What :func:`clean_history` kept, dropped and why.

    Attributes:
        total: items given.
        kept: items kept for throughput.
        dropped: reason -> items dropped for it.
        same_day: kept items finished the day they started (cycle time 0 days).
        negative_kept_for_throughput: items with negative cycle times kept for throughput
            only (``negative="throughput only"``).
        cycle_time_outliers: kept items whose cycle time is left out of the cycle-time sample.
        outlier_fence_days: the cycle time above which an item is an outlier (``None`` when
            fewer than 8 cycle times were known).
        without_cycle_time: kept items with no start date (throughput only).
    """

    total: int
    kept: int
    dropped: dict[str, int]
    same_day: int
    negative_kept_for_throughput: int
    cycle_time_outliers: int
    outlier_fence_days: float | None
    without_cycle_time: int

    def lines(self) -> list[str]:
        """The report as sentences.

        Example:
            >>> clean_history([WorkItem("A", None)]).report.lines()[1]
            'dropped 1: no finish date'
        """
        lines = [f"kept {self.kept} of {self.total} items for throughput"]
        lines += [f"dropped {count}: {reason}" for reason, count in self.dropped.items()]
        if self.negative_kept_for_throughput:
            lines.append(
                f"{self.negative_kept_for_throughput} with negative cycle times kept for "
                "throughput only"
            )
        lines.append(f"{self.same_day} finished the day they started (kept, cycle time 0)")
        if self.outlier_fence_days is not None:
            lines.append(
                f"{self.cycle_time_outliers} cycle times above {self.outlier_fence_days:.1f} "
                "days left out of the cycle-time sample (kept for throughput)"
            )
        if self.without_cycle_time:
            lines.append(f"{self.without_cycle_time} without a start date (throughput only)")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "kept": self.kept,
            "dropped": dict(self.dropped),
            "same_day": self.same_day,
            "negative_kept_for_throughput": self.negative_kept_for_throughput,
            "cycle_time_outliers": self.cycle_time_outliers,
            "outlier_fence_days": self.outlier_fence_days,
            "without_cycle_time": self.without_cycle_time,
        }


@dataclass(frozen=True, slots=True)
class CleanHistory:
    """A cleaned history, one entry per kept item, sorted by finish day.

    Attributes:
        finished: finish days (``datetime64[D]``).
        cycle_times: cycle time in days per item, NaN when unknown, negative or an outlier.
        report: what the cleaning did.
    """

    finished: np.ndarray
    cycle_times: np.ndarray
    report: CleaningReport

    def before(self, day: date) -> CleanHistory:
        """The items finished before ``day`` (what was known when forecasting from ``day``)."""
        keep = self.finished < np.datetime64(day, "D")
        return CleanHistory(self.finished[keep], self.cycle_times[keep], self.report)

    def cycle_time_sample(self) -> np.ndarray:
        """The known, non-outlier cycle times (days)."""
        return self.cycle_times[~np.isnan(self.cycle_times)]


def clean_history(
    items: Iterable[WorkItem],
    *,
    as_of: date | None = None,
    negative: NegativePolicy = "drop",
    outlier_fence: float = OUTLIER_FENCE,
) -> CleanHistory:
    """Drop what cannot be trusted from a team's history, and report it.

    Args:
        items: the history, in any order.
        as_of: finish days after this are dropped (clock skew, bad imports).
        negative: ``"drop"`` items finished before they started (default: such dates come
            from migrations and bulk edits, so neither date can be trusted), or keep them for
            ``"throughput only"`` when the finish date is known to be right.
        outlier_fence: outliers are cycle times above ``Q3 + fence * IQR`` on
            ``log(1 + days)``.

    Returns:
        The kept items' finish days and cycle times, with the :class:`CleaningReport`.

    Example:
        >>> history = clean_history([
        ...     WorkItem("A", date(2026, 1, 5), started=date(2026, 1, 2)),
        ...     WorkItem("B", date(2026, 1, 1), started=date(2026, 1, 2)),  # negative
        ...     WorkItem("C", None),
        ... ])
        >>> history.report.kept, history.report.dropped
        (1, {'no finish date': 1, 'finished before it started (negative cycle time)': 1})
    """
    dropped: Counter[str] = Counter()
    seen: set[str] = set()
    finished: list[date] = []
    cycle: list[float] = []
    total = same_day = negative_kept = without_start = 0
    for item in items:
        total += 1
        if item.finished is None:
            dropped[MISSING_FINISH] += 1
            continue
        if item.key in seen:
            dropped[DUPLICATE] += 1
            continue
        seen.add(item.key)
        if as_of is not None and item.finished > as_of:
            dropped[AFTER_AS_OF] += 1
            continue
        days = math.nan
        if item.started is None:
            without_start += 1
        else:
            days = float((item.finished - item.started).days)
            if days < 0:
                if negative == "drop":
                    dropped[NEGATIVE] += 1
                    continue
                negative_kept += 1
                days = math.nan
            elif days == 0:
                same_day += 1
        finished.append(item.finished)
        cycle.append(days)
    finished_days = np.array(finished, dtype="datetime64[D]")
    cycle_times = np.array(cycle, dtype=float)
    order = np.argsort(finished_days, kind="stable")
    finished_days, cycle_times = finished_days[order], cycle_times[order]
    fence = _outlier_fence(cycle_times, outlier_fence)
    outliers = 0
    if fence is not None:
        is_outlier = cycle_times > fence  # NaN compares False
        outliers = int(is_outlier.sum())
        cycle_times = np.where(is_outlier, np.nan, cycle_times)
    report = CleaningReport(
        total=total,
        kept=len(finished),
        dropped={reason: dropped[reason] for reason in REASONS if dropped[reason]},
        same_day=same_day,
        negative_kept_for_throughput=negative_kept,
        cycle_time_outliers=outliers,
        outlier_fence_days=fence,
        without_cycle_time=without_start,
    )
    return CleanHistory(finished_days, cycle_times, report)


def _outlier_fence(cycle_times: np.ndarray, fence: float) -> float | None:
    known = cycle_times[~np.isnan(cycle_times)]
    if len(known) < MIN_OUTLIER_SAMPLE:
        return None
    q1, q3 = np.quantile(np.log1p(known), [0.25, 0.75])
    return float(np.expm1(q3 + fence * (q3 - q1)))


@dataclass(frozen=True, slots=True)
class ThroughputSample:
    """Items finished per period over the window the forecast samples from.

    Attributes:
        counts: items finished in each period, oldest first, zero periods included.
        period: ``"day"`` or ``"week"``.
        first_day: the first day of the oldest period.
        end: the day after the newest period (the forecast's start).
    """

    counts: np.ndarray
    period: Period
    first_day: date
    end: date

    @property
    def mean(self) -> float:
        return float(self.counts.mean())


def throughput_sample(
    history: CleanHistory,
    end: date,
    *,
    window_weeks: int = DEFAULT_WINDOW_WEEKS,
    period: Period = "week",
    history_start: date | None = None,
) -> ThroughputSample:
    """Items finished per period in the ``window_weeks`` weeks before ``end``.

    Periods are counted back from ``end``; the window is cut at ``history_start`` (default:
    the first finish day ever) so days before the team existed do not count as zeros.

    Raises:
        ValidationError: no period of the window is after ``history_start``.

    Example:
        >>> history = clean_history([WorkItem("A", date(2026, 1, 8)),
        ...                          WorkItem("B", date(2026, 1, 9))])
        >>> throughput_sample(history, date(2026, 1, 15), window_weeks=2).counts.tolist()
        [2]
        >>> throughput_sample(history, date(2026, 1, 15), window_weeks=2,
        ...                   history_start=date(2026, 1, 1)).counts.tolist()
        [0, 2]
    """
    if window_weeks < 1:
        raise ValidationError(f"window_weeks must be at least 1, got {window_weeks}")
    length = PERIOD_DAYS[period]
    end_day = np.datetime64(end, "D")
    finished = history.finished[history.finished < end_day]
    if history_start is None:
        if len(finished) == 0:
            raise ValidationError(f"no items finished before {end}: nothing to forecast from")
        history_start = finished[0].astype(object)
    periods = window_weeks * 7 // length
    # Keep the periods that contain at least one day on or after history_start.
    available = max(0, -(-(end - history_start).days // length))
    periods = min(periods, available)
    if periods == 0:
        raise ValidationError(f"no history between {history_start} and {end}")
    first = end_day - periods * length
    index = (finished[finished >= first] - first).astype(int) // length
    counts = np.bincount(index, minlength=periods)
    return ThroughputSample(counts, period, first.astype(object), end)


@dataclass(frozen=True, slots=True)
class DeliveryForecast:
    """When work will be done: dates at percentiles of the simulated futures.

    Attributes:
        start: the first day of the forecast work.
        items: how many items must be done.
        basis: ``"throughput"`` or ``"cycle time"``.
        trials: simulated futures.
        percentiles: percentile -> the day by which that share of futures were done;
            ``None`` when that share was not done within ten years.
        sample_size: periods (throughput) or cycle times sampled from.
        sample_mean: mean of the sample (items per period, or days).
        period: ``"day"``/``"week"`` for throughput forecasts, ``None`` otherwise.
        offsets: completion day of each trial, days after ``start`` (``inf`` if unfinished).
    """

    start: date
    items: int
    basis: Literal["throughput", "cycle time"]
    trials: int
    percentiles: dict[int, date | None]
    sample_size: int
    sample_mean: float
    period: Period | None = None
    offsets: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)

    @property
    def p50(self) -> date | None:
        return self.percentiles.get(50)

    @property
    def p85(self) -> date | None:
        return self.percentiles.get(85)

    @property
    def p95(self) -> date | None:
        return self.percentiles.get(95)

    def probability_by(self, day: date) -> float:
        """The share of simulated futures done by the end of ``day``.

        Example:
            >>> f = DeliveryForecast(date(2026, 1, 1), 1, "throughput", 4, {}, 1, 1.0,
            ...                      offsets=np.array([0.0, 1.0, 1.0, 3.0]))
            >>> f.probability_by(date(2026, 1, 2))
            0.75
        """
        return float(np.mean(self.offsets <= (day - self.start).days))

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "items": self.items,
            "basis": self.basis,
            "trials": self.trials,
            "percentiles": {
                f"p{p}": d.isoformat() if d else None for p, d in self.percentiles.items()
            },
            "sample_size": self.sample_size,
            "sample_mean": self.sample_mean,
            "period": self.period,
        }


def simulate_completion(
    sample: ThroughputSample,
    items: int,
    *,
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    block: int = 1,
) -> np.ndarray:
    """Days after ``sample.end`` on which the ``items``-th item is done, one per trial.

    Each trial draws periods from ``sample.counts`` with replacement until the running total
    reaches ``items``; within that period the remaining items are spread evenly over its days.
    With ``block > 1`` it draws runs of ``block`` consecutive periods (a circular block
    bootstrap), which keeps slow and fast stretches together instead of averaging them out.
    Blocks are cut to the sample's length. Trials still unfinished after
    :data:`MAX_HORIZON_DAYS` get ``inf``.

    Example:
        >>> sample = ThroughputSample(np.array([7]), "week", date(2026, 1, 1), date(2026, 1, 8))
        >>> simulate_completion(sample, 10, trials=3).tolist()  # day 10 is offset 9
        [9.0, 9.0, 9.0]
    """
    if items < 1:
        raise ValidationError(f"items must be at least 1, got {items}")
    if trials < 1:
        raise ValidationError(f"trials must be at least 1, got {trials}")
    if block < 1:
        raise ValidationError(f"block must be at least 1 period, got {block}")
    block = min(block, len(sample.counts))  # a short history cannot give longer runs
    if sample.counts.max(initial=0) == 0:
        raise ValidationError(
            f"no items finished between {sample.first_day} and {sample.end}: "
            "throughput is zero, so there is no forecast"
        )
    rng = np.random.default_rng(seed)
    length = PERIOD_DAYS[sample.period]
    most_periods = MAX_HORIZON_DAYS // length
    offsets = np.full(trials, np.inf)
    total = np.zeros(trials, dtype=np.int64)
    pending = np.arange(trials)
    done_periods = 0
    # A first chunk that finishes most trials, then more periods only for the slow ones.
    chunk = block * math.ceil((math.ceil(2 * items / sample.mean) + 4) / block)
    n = len(sample.counts)
    while len(pending) and done_periods < most_periods:
        starts = rng.integers(0, n, size=(len(pending), chunk // block, 1))
        index = (starts + np.arange(block)) % n
        draws = sample.counts[index.reshape(len(pending), chunk)]
        running = total[pending, None] + np.cumsum(draws, axis=1)
        reached = running >= items
        finished = reached.any(axis=1)
        rows = np.flatnonzero(finished)
        column = reached[rows].argmax(axis=1)
        before = running[rows, column] - draws[rows, column]
        need = items - before
        within = np.ceil(length * need / draws[rows, column]) - 1
        offsets[pending[rows]] = (done_periods + column) * length + within
        total[pending] = running[:, -1]
        pending = pending[~finished]
        done_periods += chunk
        chunk *= 2
    return offsets


def _percentile_days(
    offsets: np.ndarray, start: date, percentiles: Sequence[int]
) -> dict[int, date | None]:
    result: dict[int, date | None] = {}
    for p in percentiles:
        if not 0 < p < 100:
            raise ValidationError(f"percentiles must be between 0 and 100, got {p}")
        # The smallest day by which at least p% of the futures were done.
        value = float(np.quantile(offsets, p / 100, method="inverted_cdf"))
        result[p] = start + timedelta(days=int(value)) if math.isfinite(value) else None
    return result


def forecast_completion(
    history: CleanHistory,
    items: int,
    start: date,
    *,
    window_weeks: int = DEFAULT_WINDOW_WEEKS,
    period: Period = "week",
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    percentiles: Sequence[int] = DEFAULT_PERCENTILES,
    history_start: date | None = None,
    block: int = DEFAULT_BLOCK,
) -> DeliveryForecast:
    """When ``items`` more items will be done, working from ``start``.

    Args:
        history: the cleaned history; only items finished before ``start`` are used.
        items: how many items remain.
        start: the first day of work.
        window_weeks: how far back throughput is sampled; recent weeks reflect the team
            as it is now.
        period: sample throughput per ``"week"`` (default, keeps batchy teams' variance)
            or per ``"day"``.
        trials: simulated futures.
        seed: the random generator's seed (same inputs and seed, same forecast).
        percentiles: the percentiles to report.
        history_start: when the team started; periods before it are not zeros.
        block: periods drawn together (see :func:`simulate_completion`).

    Raises:
        ValidationError: no throughput in the window, or bad arguments.

    Example:
        >>> days = [date(2026, 1, 1) + timedelta(days=i) for i in range(84)]
        >>> history = clean_history(WorkItem(f"T{i}", finished=d) for i, d in enumerate(days))
        >>> forecast_completion(history, 14, date(2026, 3, 26), period="day").p85
        datetime.date(2026, 4, 8)
    """
    sample = throughput_sample(
        history, start, window_weeks=window_weeks, period=period, history_start=history_start
    )
    offsets = simulate_completion(sample, items, trials=trials, seed=seed, block=block)
    return DeliveryForecast(
        start=start,
        items=items,
        basis="throughput",
        trials=trials,
        percentiles=_percentile_days(offsets, start, percentiles),
        sample_size=len(sample.counts),
        sample_mean=sample.mean,
        period=period,
        offsets=offsets,
    )


def forecast_item(
    history: CleanHistory,
    start: date,
    *,
    position: int | None = None,
    started_on: date | None = None,
    window_weeks: int = DEFAULT_WINDOW_WEEKS,
    period: Period = "week",
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    percentiles: Sequence[int] = DEFAULT_PERCENTILES,
    block: int = DEFAULT_BLOCK,
) -> DeliveryForecast:
    """When one item will be done.

    A queued item at ``position`` (1 = next to finish) is done when ``position`` items are
    done, so it gets the throughput forecast for ``position`` items. A started item (give
    ``started_on``) gets a cycle-time forecast: past cycle times at least as long as its
    current age, added to ``started_on`` (done no earlier than ``start``).

    Raises:
        ValidationError: neither or both of ``position``/``started_on``; no past item lived
            as long as a started item already has (its forecast would be a guess).

    Example:
        >>> history = clean_history(
        ...     WorkItem(f"T{i}", date(2026, 1, 10 + i), started=date(2026, 1, 10))
        ...     for i in range(10))  # cycle times 0..9 days
        >>> forecast = forecast_item(history, date(2026, 2, 1), started_on=date(2026, 1, 26))
        >>> forecast.p85  # 6 days old: the past items that reached 6 days took 6 to 9
        datetime.date(2026, 2, 4)
    """
    if (position is None) == (started_on is None):
        raise ValidationError("give exactly one of position (queued item) or started_on")
    if position is not None:
        return forecast_completion(
            history,
            position,
            start,
            window_weeks=window_weeks,
            period=period,
            trials=trials,
            seed=seed,
            percentiles=percentiles,
            block=block,
        )
    assert started_on is not None
    age = (start - started_on).days
    if age < 0:
        raise ValidationError(f"started_on {started_on} is after the forecast start {start}")
    known = history.before(start).cycle_time_sample()
    longer = known[known >= age]
    if len(longer) == 0:
        raise ValidationError(
            f"the item is {age} days old, older than all {len(known)} past items: "
            "its cycle time is beyond the history"
        )
    rng = np.random.default_rng(seed)
    offsets = rng.choice(longer, size=trials) - age  # days after start; 0 means today
    return DeliveryForecast(
        start=start,
        items=1,
        basis="cycle time",
        trials=trials,
        percentiles=_percentile_days(offsets, start, percentiles),
        sample_size=len(longer),
        sample_mean=float(longer.mean()),
        offsets=offsets,
    )
