"""Sequential tests for experiments that are looked at every day: p-values that stay valid.

Reading a fixed-horizon test every day and stopping at the first ``p < 0.05`` rejects a
true null far more often than 5% of the time (about a quarter of A/A tests over 30 daily
looks). Two remedies, one per way of running an experiment:

* :func:`group_sequential_test`, for a **planned schedule** (say 30 daily looks): a
  Wang-Tsiatis group-sequential design (O'Brien-Fleming or Pocock boundary shape). The
  p-value is the exact probability, under no effect, that the boundary family is crossed
  at any of the planned looks, so the false-positive rate over the whole schedule is
  ``alpha``, not less. Use it when the end date is fixed in advance.
* :func:`msprt`, for **open-ended monitoring** (no end date, any number of looks): the
  mixture sequential probability ratio test of Johari, Koomen, Pekelis and Walsh ("Always
  Valid Inference", 2017/2022). Its p-value and confidence sequence are valid at every look
  however many there are, and the price is conservatism: with a bounded number of looks the
  false-positive rate is well below ``alpha``.

Both take :class:`ArmTotals`: each arm's cumulative users, sum and sum of squares of the
metric at each look (a conversion's sum of squares is its successes). Arrays may carry
leading dimensions (many experiments at once); looks are the last axis.

Example:
    >>> control = ArmTotals.daily_conversions([1000] * 5, [100, 98, 103, 101, 99])
    >>> treatment = ArmTotals.daily_conversions([1000] * 5, [112, 115, 109, 118, 111])
    >>> result = group_sequential_test(control, treatment, design=GroupSequentialDesign(5))
    >>> [bool(value) for value in result.rejected]
    [False, False, False, False, True]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from scipy import interpolate, optimize, special

from productpilot.analytics.activity import json_float
from productpilot.errors import ValidationError
from productpilot.launch.stats import check_alpha, effect_sentence, format_p_value

Shape = Literal["obrien-fleming", "pocock"]
# Wang-Tsiatis exponent: boundary on the z scale proportional to t^(delta - 1/2).
SHAPE_DELTA: dict[str, float] = {"obrien-fleming": 0.5, "pocock": 0.0}
SHAPE_NAMES: dict[str, str] = {"obrien-fleming": "O'Brien-Fleming", "pocock": "Pocock"}
DEFAULT_LOOKS = 30
DEFAULT_EFFECT_SIZE = 0.05
GRID_POINTS = 101  # Simpson nodes per look; tabulated constants agree to 4 decimals
LEVEL_GRID = np.linspace(0.0, 8.0, 81)  # crossing probability is below 1e-14 past 8


# --- inputs --------------------------------------------------------------------------------------


def as_float_array(values: Any, name: str) -> np.ndarray:
    array = np.atleast_1d(np.asarray(values, dtype=float))
    if not np.isfinite(array).all():
        raise ValidationError(f"{name} must not hold NaN or infinite values")
    return array


@dataclass(frozen=True, slots=True, eq=False)
class ArmTotals:
    """One arm's cumulative totals at each look (last axis; leading axes are experiments).

    Attributes:
        n: users so far, non-decreasing, at least 2 at every look.
        total: sum of the metric over those users.
        total_squares: sum of the squared metric (for 0/1 conversions, the successes).
        binary: the metric is a conversion (summaries speak in percentage points).

    Raises:
        ValidationError: shapes differ, values are negative or not finite, users decrease
            from one look to the next, a look has fewer than 2 users, or the sum of squares
            is too small for the sum (a negative variance).
    """

    n: np.ndarray
    total: np.ndarray
    total_squares: np.ndarray
    binary: bool = False

    def __post_init__(self) -> None:
        n = as_float_array(self.n, "users")
        total = as_float_array(self.total, "metric sums")
        squares = as_float_array(self.total_squares, "metric sums of squares")
        if not n.shape == total.shape == squares.shape:
            raise ValidationError(
                f"users, sums and sums of squares differ in shape: "
                f"{n.shape}, {total.shape}, {squares.shape}"
            )
        if (n < 0).any() or (squares < 0).any():
            raise ValidationError("user counts and sums of squares must not be negative")
        if (np.diff(n, axis=-1) < 0).any():
            raise ValidationError("cumulative user counts must not decrease between looks")
        if (n < 2).any():
            raise ValidationError("every look needs at least 2 users per arm")
        # Cauchy-Schwarz: sum^2 <= n * sum of squares; the tolerance absorbs rounding.
        if (total**2 - n * squares > 1e-9 * np.maximum(total**2, 1.0)).any():
            raise ValidationError("a sum of squares is smaller than the sum allows")
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "total_squares", squares)

    @classmethod
    def from_daily(cls, n: Any, total: Any, total_squares: Any) -> ArmTotals:
        """Totals from per-day users, sums and sums of squares (accumulated here).

        Example:
            >>> ArmTotals.from_daily([2, 3], [1.0, 2.0], [1.0, 2.0]).n.tolist()
            [2.0, 5.0]
        """
        arrays = [as_float_array(values, "daily values") for values in (n, total, total_squares)]
        return cls(*(np.cumsum(array, axis=-1) for array in arrays))

    @classmethod
    def conversions(cls, trials: Any, successes: Any) -> ArmTotals:
        """Totals of a 0/1 metric from cumulative trials and successes."""
        trials_array = as_float_array(trials, "trials")
        successes_array = as_float_array(successes, "successes")
        if trials_array.shape != successes_array.shape:
            raise ValidationError(
                f"trials and successes differ in shape: "
                f"{trials_array.shape} != {successes_array.shape}"
            )
        if (successes_array < 0).any():
            raise ValidationError("successes must not be negative")
        if (successes_array > trials_array).any():
            raise ValidationError("successes must not exceed trials")
        return cls(trials_array, successes_array, successes_array, binary=True)

    @classmethod
    def daily_conversions(cls, trials: Any, successes: Any) -> ArmTotals:
        """Totals of a 0/1 metric from per-day trials and successes (accumulated here).

        Example:
            >>> ArmTotals.daily_conversions([100, 100], [10, 12]).total.tolist()
            [10.0, 22.0]
        """
        trials_array = as_float_array(trials, "trials")
        successes_array = as_float_array(successes, "successes")
        if trials_array.shape != successes_array.shape:
            raise ValidationError(
                f"trials and successes differ in shape: "
                f"{trials_array.shape} != {successes_array.shape}"
            )
        if (successes_array < 0).any() or (successes_array > trials_array).any():
            raise ValidationError("daily successes must be between 0 and the day's trials")
        return cls.conversions(
            np.cumsum(trials_array, axis=-1), np.cumsum(successes_array, axis=-1)
        )

    @property
    def mean(self) -> np.ndarray:
        return self.total / self.n

    @property
    def variance(self) -> np.ndarray:
        """Sample variance of the metric (``ddof=1``) at each look."""
        sum_of_squared_deviations = np.maximum(self.total_squares - self.total**2 / self.n, 0.0)
        return sum_of_squared_deviations / (self.n - 1)


@dataclass(frozen=True, slots=True)
class Difference:
    """Treatment minus control at each look, with the unpooled variance of the estimate."""

    control_mean: np.ndarray
    treatment_mean: np.ndarray
    estimate: np.ndarray
    variance: np.ndarray
    pooled_sd: np.ndarray

    @property
    def standard_error(self) -> np.ndarray:
        return np.sqrt(self.variance)

    @property
    def z(self) -> np.ndarray:
        """``estimate / se``; 0 where neither arm varies yet (no evidence either way)."""
        se = self.standard_error
        return np.divide(self.estimate, se, out=np.zeros_like(se), where=se > 0)


def difference(control: ArmTotals, treatment: ArmTotals) -> Difference:
    """The lift at each look, from two arms' totals of the same shape."""
    if control.n.shape != treatment.n.shape:
        raise ValidationError(
            f"control and treatment differ in looks: {control.n.shape} != {treatment.n.shape}"
        )
    variance = control.variance / control.n + treatment.variance / treatment.n
    pooled = np.sqrt(
        ((control.n - 1) * control.variance + (treatment.n - 1) * treatment.variance)
        / (control.n + treatment.n - 2)
    )
    return Difference(control.mean, treatment.mean, treatment.mean - control.mean, variance, pooled)


# --- results -------------------------------------------------------------------------------------


def json_array(values: np.ndarray) -> list[Any]:
    """Nested lists with ``None`` for NaN and infinities."""
    return np.where(np.isfinite(values), values, None).tolist()


@dataclass(frozen=True, slots=True)
class SequentialLook:
    """The sequential test at one look.

    Attributes:
        method: ``"mSPRT"`` or ``"group sequential (O'Brien-Fleming, 30 looks)"``.
        metric: the metric's name, for :meth:`summary`.
        alpha: error rate the p-value and interval control.
        look: 1-based look number.
        planned_looks: the schedule's length (``None`` for open-ended mSPRT).
        control_mean: control's mean so far.
        treatment_mean: treatment's mean so far.
        estimate: treatment minus control.
        standard_error: unpooled standard error of the estimate.
        z: ``estimate / standard_error``.
        z_boundary: ``|z|`` that rejects at this look.
        p_value: the sequential p-value (non-increasing over looks).
        ci_low: lower bound of the always-valid interval (``-inf`` when unknown).
        ci_high: upper bound.
        percentage_points: the metric is a conversion.
    """

    method: str
    metric: str
    alpha: float
    look: int
    planned_looks: int | None
    control_mean: float
    treatment_mean: float
    estimate: float
    standard_error: float
    z: float
    z_boundary: float
    p_value: float
    ci_low: float
    ci_high: float
    percentage_points: bool = False

    @property
    def rejected(self) -> bool:
        """The null of no difference is rejected at ``alpha``: safe to stop and call it."""
        return self.p_value <= self.alpha

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "metric": self.metric,
            "alpha": self.alpha,
            "look": self.look,
            "planned_looks": self.planned_looks,
            "control_mean": json_float(self.control_mean),
            "treatment_mean": json_float(self.treatment_mean),
            "estimate": json_float(self.estimate),
            "standard_error": json_float(self.standard_error),
            "z": json_float(self.z),
            "z_boundary": json_float(self.z_boundary),
            "p_value": json_float(self.p_value),
            "ci_low": json_float(self.ci_low),
            "ci_high": json_float(self.ci_high),
            "rejected": self.rejected,
            "summary": self.summary(),
        }

    def summary(self) -> str:
        """``"Look 12 of 30: Conversion +1.2 pp (+8.1%, 95% CI +0.1 to +2.3 pp), sequential
        p = 0.021 (mSPRT): significant"``."""
        of = f" of {self.planned_looks}" if self.planned_looks else ""
        relative = self.estimate / self.control_mean if self.control_mean != 0 else None
        verdict = "significant" if self.rejected else "not significant yet"
        sentence = effect_sentence(
            self.metric,
            self.estimate,
            self.ci_low,
            self.ci_high,
            alpha=self.alpha,
            percentage_points=self.percentage_points,
            relative=relative,
            p_value_text=f"sequential {format_p_value(self.p_value)} ({self.method})",
        )
        return f"Look {self.look}{of}: {sentence}: {verdict}"


@dataclass(frozen=True, slots=True, eq=False)
class SequentialResult:
    """A sequential test at every look (last axis; leading axes are experiments).

    Attributes mirror :class:`SequentialLook`, as arrays of the inputs' shape.
    """

    method: str
    metric: str
    alpha: float
    planned_looks: int | None
    control_mean: np.ndarray
    treatment_mean: np.ndarray
    estimate: np.ndarray
    standard_error: np.ndarray
    z: np.ndarray
    z_boundary: np.ndarray
    p_value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    percentage_points: bool = False
    rejected: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rejected", self.p_value <= self.alpha)

    @property
    def ever_rejected(self) -> np.ndarray | bool:
        """Rejected at some look so far (per experiment when batched)."""
        value = self.rejected.any(axis=-1)
        return bool(value) if np.ndim(value) == 0 else value

    def look(self, index: int = -1) -> SequentialLook:
        """One look (the latest by default) of a single experiment."""
        if self.p_value.ndim != 1:
            raise ValueError("look() needs a single experiment, not a batch")
        looks = self.p_value.shape[-1]
        position = index % looks
        return SequentialLook(
            method=self.method,
            metric=self.metric,
            alpha=self.alpha,
            look=position + 1,
            planned_looks=self.planned_looks,
            control_mean=float(self.control_mean[position]),
            treatment_mean=float(self.treatment_mean[position]),
            estimate=float(self.estimate[position]),
            standard_error=float(self.standard_error[position]),
            z=float(self.z[position]),
            z_boundary=float(self.z_boundary[position]),
            p_value=float(self.p_value[position]),
            ci_low=float(self.ci_low[position]),
            ci_high=float(self.ci_high[position]),
            percentage_points=self.percentage_points,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "metric": self.metric,
            "alpha": self.alpha,
            "planned_looks": self.planned_looks,
            "control_mean": json_array(self.control_mean),
            "treatment_mean": json_array(self.treatment_mean),
            "estimate": json_array(self.estimate),
            "standard_error": json_array(self.standard_error),
            "z": json_array(self.z),
            "z_boundary": json_array(self.z_boundary),
            "p_value": json_array(self.p_value),
            "ci_low": json_array(self.ci_low),
            "ci_high": json_array(self.ci_high),
            "rejected": self.rejected.tolist(),
        }

    def summary(self) -> str:
        """The latest look's sentence (single experiment)."""
        return self.look().summary()


# --- mSPRT ---------------------------------------------------------------------------------------


def mixture_variance(diff: Difference, mixture_sd: float | None, effect_size: float) -> np.ndarray:
    """``tau^2`` at each look: ``mixture_sd^2``, or ``(effect_size * pooled sd)^2``."""
    if mixture_sd is not None:
        if not mixture_sd > 0 or not math.isfinite(mixture_sd):
            raise ValidationError(f"mixture_sd must be a positive number, got {mixture_sd!r}")
        return np.full_like(diff.estimate, float(mixture_sd) ** 2)
    if not effect_size > 0 or not math.isfinite(effect_size):
        raise ValidationError(f"effect_size must be a positive number, got {effect_size!r}")
    return (effect_size * diff.pooled_sd) ** 2


def msprt(
    control: ArmTotals,
    treatment: ArmTotals,
    *,
    alpha: float = 0.05,
    mixture_sd: float | None = None,
    effect_size: float = DEFAULT_EFFECT_SIZE,
    metric: str = "Metric",
) -> SequentialResult:
    """Always-valid p-values and confidence sequence of the lift: the normal-mixture SPRT.

    With the lift estimate ``d ~ N(theta, V)`` at a look (``V`` the unpooled variance) and a
    ``N(0, tau^2)`` mixture over ``theta``, the mixture likelihood ratio against
    ``theta = 0`` is ``Lambda = sqrt(V / (V + tau^2)) exp(d^2 tau^2 / (2 V (V + tau^2)))``
    (Johari et al. 2022, eq. 11, with ``2 sigma^2 / n`` generalised to ``V``). It is a
    martingale under the null, so by Ville's inequality ``P(sup Lambda >= 1 / alpha) <=
    alpha``: the p-value ``min(1, min over looks of 1 / Lambda)`` may be read at every look.
    The confidence sequence inverts the same test at every ``theta``,
    ``d +- sqrt(V (V + tau^2) / tau^2 (2 log(1 / alpha) + log((V + tau^2) / V)))``, and is
    intersected over looks.

    ``tau`` should be the size of effect you expect: larger detects large effects sooner and
    small ones later. Without ``mixture_sd`` it is ``effect_size`` pooled standard
    deviations of the metric, re-estimated at each look (a plug-in, like ``V``).

    Args:
        control: control's cumulative totals per look.
        treatment: treatment's, same shape.
        alpha: error rate, in ``(0, 1)``.
        mixture_sd: ``tau`` in the metric's units (from past experiments' effects).
        effect_size: ``tau`` in pooled standard deviations when ``mixture_sd`` is unset.
        metric: the metric's name for summaries.

    Returns:
        Per-look estimate, always-valid p-value, interval and the ``|z|`` that rejects.

    Raises:
        ValidationError: bad totals (see :class:`ArmTotals`), shapes that differ, ``alpha``
            outside ``(0, 1)`` or a non-positive ``tau``.

    Example:
        >>> control = ArmTotals.daily_conversions([2000] * 3, [200, 190, 210])
        >>> treatment = ArmTotals.daily_conversions([2000] * 3, [260, 250, 255])
        >>> result = msprt(control, treatment, metric="Conversion")
        >>> [bool(value) for value in result.rejected]
        [False, True, True]
    """
    alpha = check_alpha(alpha)
    diff = difference(control, treatment)
    tau2 = mixture_variance(diff, mixture_sd, effect_size)
    v = diff.variance
    varies = (v > 0) & (tau2 > 0)
    # Looks where neither arm varies yet get placeholders, overwritten below, so the
    # formulas never divide by 0.
    safe_v = np.where(varies, v, 1.0)
    tau2 = np.where(varies, tau2, 1.0)
    log_lambda = np.where(
        varies,
        0.5 * np.log(safe_v / (safe_v + tau2))
        + diff.estimate**2 * tau2 / (2 * safe_v * (safe_v + tau2)),
        0.0,  # no variation yet: the likelihood ratio carries no evidence
    )
    p_value = np.minimum.accumulate(np.minimum(1.0, np.exp(-log_lambda)), axis=-1)
    z_boundary = np.where(
        varies,
        np.sqrt(
            (safe_v + tau2) / tau2 * (2 * math.log(1 / alpha) + np.log((safe_v + tau2) / safe_v))
        ),
        np.inf,
    )
    radius = np.where(varies, z_boundary * np.sqrt(safe_v), np.inf)
    low = np.maximum.accumulate(diff.estimate - radius, axis=-1)
    high = np.minimum.accumulate(diff.estimate + radius, axis=-1)
    return SequentialResult(
        method="mSPRT",
        metric=metric,
        alpha=alpha,
        planned_looks=None,
        control_mean=diff.control_mean,
        treatment_mean=diff.treatment_mean,
        estimate=diff.estimate,
        standard_error=diff.standard_error,
        z=diff.z,
        z_boundary=z_boundary,
        p_value=p_value,
        ci_low=low,
        ci_high=high,
        percentage_points=control.binary and treatment.binary,
    )


def msprt_latest(
    control: ArmTotals,
    treatment: ArmTotals,
    *,
    previous: SequentialLook | None = None,
    alpha: float = 0.05,
    mixture_sd: float | None = None,
    effect_size: float = DEFAULT_EFFECT_SIZE,
    metric: str = "Metric",
) -> SequentialLook:
    """Today's mSPRT look from today's cumulative totals and yesterday's look.

    Stateless: the running minimum of the p-value and the running intersection of the
    interval are carried by ``previous``, so a daily job stores one :class:`SequentialLook`
    per experiment instead of the whole history. Without ``previous`` the look stands alone
    (``1 / Lambda`` is itself always valid; the running minimum only makes it monotone).

    Args:
        control: control's cumulative totals now (one look: scalars).
        treatment: treatment's cumulative totals now.
        previous: the look returned yesterday, if any.
        alpha: error rate, in ``(0, 1)``.
        mixture_sd: ``tau`` in the metric's units (see :func:`msprt`).
        effect_size: ``tau`` in pooled standard deviations when ``mixture_sd`` is unset.
        metric: the metric's name for the summary.

    Returns:
        The look, numbered one after ``previous``.

    Raises:
        ValidationError: more than one look given, or the inputs :func:`msprt` rejects.

    Example:
        >>> day1 = msprt_latest(ArmTotals(1000, 100, 100), ArmTotals(1000, 130, 130))
        >>> day2 = msprt_latest(ArmTotals(2000, 200, 200), ArmTotals(2000, 205, 205),
        ...                     previous=day1)
        >>> day2.look, day2.p_value == min(day1.p_value, day2.p_value)
        (2, True)
    """
    if control.n.shape != (1,) or treatment.n.shape != (1,):
        raise ValidationError("msprt_latest takes one look per arm: pass today's totals only")
    today = msprt(
        control,
        treatment,
        alpha=alpha,
        mixture_sd=mixture_sd,
        effect_size=effect_size,
        metric=metric,
    ).look()
    if previous is None:
        return today
    return SequentialLook(
        **{
            **{name: getattr(today, name) for name in SequentialLook.__slots__},
            "look": previous.look + 1,
            "p_value": min(previous.p_value, today.p_value),
            "ci_low": max(previous.ci_low, today.ci_low),
            "ci_high": min(previous.ci_high, today.ci_high),
        }
    )


# --- group-sequential design ---------------------------------------------------------------------


def simpson_weights(points: int, width: float) -> np.ndarray:
    weights = np.ones(points)
    weights[1:-1:2] = 4.0
    weights[2:-1:2] = 2.0
    return weights * width / (3 * (points - 1))


def crossing_probability(
    level: float, fractions: np.ndarray, delta: float, points: int = GRID_POINTS
) -> float:
    """``P(|Z_j| >= level * t_j^(-delta) for some look j)`` under no effect.

    ``Z_j = S_j / sqrt(t_j)`` where ``S`` is a Brownian motion in information time ``t``
    (Jennison and Turnbull 2000, ch. 19): the density of ``S_j`` on the continuation region
    ``|S_j| < level * t_j^(1/2 - delta)`` is propagated look to look by a normal kernel on
    Simpson grids, and the probability of leaving the region at each look is summed (summing
    the small crossing terms rather than taking 1 minus the staying mass keeps the tail
    accurate far below 1e-10).
    """
    bounds = level * fractions ** (0.5 - delta)
    sd = math.sqrt(fractions[0])
    total = 2 * special.ndtr(-bounds[0] / sd)
    grid = np.linspace(-bounds[0], bounds[0], points)
    density = np.exp(-0.5 * (grid / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
    for j in range(1, len(fractions)):
        sd = math.sqrt(fractions[j] - fractions[j - 1])
        mass = simpson_weights(points, 2 * bounds[j - 1]) * density
        total += mass @ (
            special.ndtr((grid - bounds[j]) / sd) + special.ndtr((-bounds[j] - grid) / sd)
        )
        if j == len(fractions) - 1:
            break
        new_grid = np.linspace(-bounds[j], bounds[j], points)
        kernel = np.exp(-0.5 * ((new_grid[:, None] - grid[None, :]) / sd) ** 2)
        density = kernel @ mass / (sd * math.sqrt(2 * math.pi))
        grid = new_grid
    return float(min(1.0, total))


@lru_cache(maxsize=32)
def crossing_interpolant(
    fractions: tuple[float, ...], delta: float
) -> interpolate.PchipInterpolator:
    """``log`` crossing probability as a monotone function of the level, for one design."""
    array = np.asarray(fractions)
    log_probability = [
        math.log(max(crossing_probability(level, array, delta), 1e-300)) for level in LEVEL_GRID
    ]
    return interpolate.PchipInterpolator(LEVEL_GRID, log_probability)


@dataclass(frozen=True, slots=True)
class GroupSequentialDesign:
    """A planned schedule of looks and the shape of its rejection boundary.

    Attributes:
        looks: planned looks (days), at least 1.
        shape: ``"obrien-fleming"`` (strict early, close to the fixed-horizon 1.96 at the
            end: the usual choice) or ``"pocock"`` (the same boundary at every look).
        information_fractions: each look's share of the final information (sample size),
            increasing and ending at 1; equal steps ``j / looks`` when omitted.

    Raises:
        ValidationError: fewer than 1 look, an unknown shape, or fractions that are not
            ``looks`` increasing values in ``(0, 1]`` ending at 1.
    """

    looks: int = DEFAULT_LOOKS
    shape: Shape = "obrien-fleming"
    information_fractions: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.looks, bool) or not isinstance(self.looks, int) or self.looks < 1:
            raise ValidationError(f"looks must be a whole number >= 1, got {self.looks!r}")
        if self.shape not in SHAPE_DELTA:
            raise ValidationError(f"shape must be one of {sorted(SHAPE_DELTA)}, got {self.shape!r}")
        if self.information_fractions is not None:
            fractions = np.asarray(self.information_fractions, dtype=float)
            if (
                fractions.shape != (self.looks,)
                or not np.isfinite(fractions).all()
                or fractions[0] <= 0
                or (np.diff(fractions) <= 0).any()
                or not math.isclose(fractions[-1], 1.0)
            ):
                raise ValidationError(
                    f"information_fractions must be {self.looks} increasing values in (0, 1] "
                    "ending at 1"
                )
            object.__setattr__(self, "information_fractions", tuple(fractions.tolist()))

    @property
    def name(self) -> str:
        return f"group sequential ({SHAPE_NAMES[self.shape]}, {self.looks} looks)"

    @property
    def fractions(self) -> np.ndarray:
        if self.information_fractions is not None:
            return np.asarray(self.information_fractions)
        return np.arange(1, self.looks + 1) / self.looks

    @property
    def delta(self) -> float:
        return SHAPE_DELTA[self.shape]

    def p_value(self, level: Any) -> np.ndarray:
        """Crossing probability of the boundary family through ``level`` (any shape).

        ``level`` is the standardised statistic ``max over looks so far of |z_j| t_j^delta``
        (see :meth:`statistic`).
        """
        interpolant = crossing_interpolant(tuple(self.fractions.tolist()), self.delta)
        clipped = np.clip(np.asarray(level, dtype=float), LEVEL_GRID[0], LEVEL_GRID[-1])
        return np.minimum(1.0, np.exp(interpolant(clipped)))

    def critical_value(self, alpha: float = 0.05) -> float:
        """The level whose boundary is crossed with probability ``alpha`` under no effect.

        Example:
            >>> round(GroupSequentialDesign(5, "pocock").critical_value(0.05), 3)  # J&T: 2.413
            2.413
        """
        alpha = check_alpha(alpha)
        if self.p_value(LEVEL_GRID[-1]) >= alpha:
            raise ValidationError(f"alpha {alpha} is too small for this design")
        return float(
            optimize.brentq(
                lambda level: float(self.p_value(level)) - alpha,
                LEVEL_GRID[0],
                LEVEL_GRID[-1],
                xtol=1e-10,
            )
        )

    def boundaries(self, alpha: float = 0.05) -> np.ndarray:
        """The ``|z|`` that rejects at each planned look.

        Example:
            >>> # Jennison and Turnbull's Table 2.3: C_B(4, 0.05) = 2.024, times sqrt(4 / j).
            >>> GroupSequentialDesign(4).boundaries(0.05).round(3).tolist()
            [4.049, 2.863, 2.337, 2.024]
        """
        return self.critical_value(alpha) * self.fractions ** (-self.delta)

    def statistic(self, z: np.ndarray) -> np.ndarray:
        """``max over looks so far of |z_j| t_j^delta`` for z-statistics at the first looks."""
        looks = z.shape[-1]
        if looks > self.looks:
            raise ValidationError(f"{looks} looks observed but the design plans {self.looks}")
        return np.maximum.accumulate(np.abs(z) * self.fractions[:looks] ** self.delta, axis=-1)


def group_sequential_test(
    control: ArmTotals,
    treatment: ArmTotals,
    *,
    design: GroupSequentialDesign | None = None,
    alpha: float = 0.05,
    metric: str = "Metric",
) -> SequentialResult:
    """The lift at each look of a planned schedule, with exact-``alpha`` sequential p-values.

    A Wang-Tsiatis design: reject at look ``j`` when ``|z_j| >= c t_j^(-delta)``. The
    sequential p-value at a look is the probability under no effect that *some* boundary of
    the family through the most extreme point seen so far is crossed at *any* planned look,
    ``P(max_j |Z_j| t_j^delta >= max_{j <= k} |z_j| t_j^delta)`` from the multivariate
    normal of the cumulative z-statistics (``corr(Z_i, Z_j) = sqrt(t_i / t_j)``). It is a
    true p-value at every level and never increases, and ``p <= alpha`` exactly when the
    ``alpha`` boundary has been crossed, so over the full schedule the false-positive rate
    is ``alpha``. The intervals are the repeated confidence intervals
    ``estimate +- boundary_k * se_k``, which cover the lift at all looks at once with
    probability ``1 - alpha``.

    The guarantee needs the schedule fixed in advance: more looks than planned, or stopping
    the experiment early for futility and restarting it, void it (use :func:`msprt` then).

    Args:
        control: control's cumulative totals at the looks so far (at most ``design.looks``).
        treatment: treatment's, same shape.
        design: the schedule; 30 equally spaced looks, O'Brien-Fleming shape by default.
        alpha: error rate over the schedule, in ``(0, 1)``.
        metric: the metric's name for summaries.

    Returns:
        Per-look estimate, sequential p-value, repeated interval and boundary.

    Raises:
        ValidationError: bad totals, more looks than planned, or ``alpha`` outside ``(0, 1)``.

    Example:
        >>> control = ArmTotals.daily_conversions([500] * 3, [50, 50, 50])
        >>> treatment = ArmTotals.daily_conversions([500] * 3, [50, 50, 50])
        >>> group_sequential_test(control, treatment).look().p_value
        1.0
    """
    alpha = check_alpha(alpha)
    design = design or GroupSequentialDesign()
    diff = difference(control, treatment)
    z = diff.z
    statistic = design.statistic(z)
    looks = z.shape[-1]
    z_boundary = np.broadcast_to(design.boundaries(alpha)[:looks], z.shape)
    se = diff.standard_error
    radius = np.where(se > 0, z_boundary * se, np.inf)
    return SequentialResult(
        method=design.name,
        metric=metric,
        alpha=alpha,
        planned_looks=design.looks,
        control_mean=diff.control_mean,
        treatment_mean=diff.treatment_mean,
        estimate=diff.estimate,
        standard_error=diff.standard_error,
        z=z,
        z_boundary=np.array(z_boundary),
        p_value=design.p_value(statistic),
        ci_low=diff.estimate - radius,
        ci_high=diff.estimate + radius,
        percentage_points=control.binary and treatment.binary,
    )
