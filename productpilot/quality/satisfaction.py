"""Customer satisfaction: Net Promoter Score and CSAT, with confidence intervals.

NPS is the share of promoters (9-10) minus the share of detractors (0-6), in points from
-100 to 100. Each answer is one draw of a three-way multinomial, so the estimate
``p_P - p_D`` has variance ``(p_P + p_D - (p_P - p_D)^2) / n``; the interval is the normal
one, clipped to [-100, 100]. :func:`bootstrap_nps_interval` resamples the answers instead,
which behaves better for small or lopsided samples.

CSAT is the share of satisfied answers (4 or 5 on a 1-5 scale), with the Wilson score
interval, which stays inside [0, 1] and is sound near 0 and 1.

Example:
    >>> result = nps([10, 9, 9, 8, 7, 3, 10, 6, 9, 10])
    >>> (result.promoters, result.passives, result.detractors, result.score)
    (6, 2, 2, 40.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from productpilot.errors import ValidationError


@dataclass(frozen=True, slots=True)
class NetPromoterScore:
    """An NPS estimate.

    Attributes:
        n: answers.
        promoters: answers of 9 or 10.
        passives: answers of 7 or 8.
        detractors: answers of 0 to 6.
        score: ``100 * (promoters - detractors) / n``.
        standard_error: of ``score``, in points.
        low: lower bound of the interval, in points.
        high: upper bound.
        confidence: the interval's confidence level.
    """

    n: int
    promoters: int
    passives: int
    detractors: int
    score: float
    standard_error: float
    low: float
    high: float
    confidence: float


@dataclass(frozen=True, slots=True)
class CustomerSatisfaction:
    """A CSAT estimate (shares between 0 and 1).

    Attributes:
        n: answers.
        satisfied: answers of 4 or 5.
        score: ``satisfied / n``.
        low: Wilson lower bound.
        high: Wilson upper bound.
        confidence: the interval's confidence level.
    """

    n: int
    satisfied: int
    score: float
    low: float
    high: float
    confidence: float


def nps(scores: Iterable[int], *, confidence: float = 0.95) -> NetPromoterScore:
    """The Net Promoter Score of 0-10 answers with its normal confidence interval.

    Raises:
        ValidationError: no answers, an answer outside 0-10 or not a whole number, or a
            confidence level outside (0, 1).

    Example:
        >>> result = nps([10, 10, 0, 8])  # p_P = 0.5, p_D = 0.25
        >>> (result.score, round(result.standard_error, 2))  # 100 * sqrt((0.75 - 0.0625) / 4)
        (25.0, 41.46)
    """
    answers = _answers(scores, 0, 10, "NPS")
    z = _z(confidence)
    n = len(answers)
    promoters = sum(a >= 9 for a in answers)
    detractors = sum(a <= 6 for a in answers)
    p_promoters, p_detractors = promoters / n, detractors / n
    difference = p_promoters - p_detractors
    variance = (p_promoters + p_detractors - difference**2) / n
    error = 100 * math.sqrt(max(variance, 0.0))
    score = 100 * difference
    return NetPromoterScore(
        n=n,
        promoters=promoters,
        passives=n - promoters - detractors,
        detractors=detractors,
        score=score,
        standard_error=error,
        low=max(-100.0, score - z * error),
        high=min(100.0, score + z * error),
        confidence=confidence,
    )


def bootstrap_nps_interval(
    scores: Iterable[int], *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """A percentile-bootstrap interval of the NPS, in points.

    Resampling ``n`` answers with replacement only changes the counts of promoters,
    passives and detractors, so each resample is one multinomial draw of those counts.

    Example:
        >>> bootstrap_nps_interval([10] * 20)  # every resample is all promoters
        (100.0, 100.0)
    """
    answers = _answers(scores, 0, 10, "NPS")
    _z(confidence)
    if resamples < 100:
        raise ValidationError(f"bootstrap needs at least 100 resamples, got {resamples}")
    n = len(answers)
    shares = [sum(a >= 9 for a in answers) / n, sum(7 <= a <= 8 for a in answers) / n]
    shares.append(max(0.0, 1 - sum(shares)))
    counts = np.random.default_rng(seed).multinomial(n, shares, size=resamples)
    resampled = 100 * (counts[:, 0] - counts[:, 2]) / n
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return float(low), float(high)


def csat(scores: Iterable[int], *, confidence: float = 0.95) -> CustomerSatisfaction:
    """The share of 4-5 answers on a 1-5 scale, with the Wilson score interval.

    ``centre = (p + z^2 / 2n) / (1 + z^2 / n)``,
    ``half width = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2)``.

    Example:
        >>> result = csat([5, 4, 4, 3, 1])
        >>> (result.satisfied, result.score)
        (3, 0.6)
    """
    answers = _answers(scores, 1, 5, "CSAT")
    z = _z(confidence)
    n = len(answers)
    satisfied = sum(a >= 4 for a in answers)
    share = satisfied / n
    denominator = 1 + z**2 / n
    centre = (share + z**2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(share * (1 - share) / n + z**2 / (4 * n**2))
    return CustomerSatisfaction(
        n=n,
        satisfied=satisfied,
        score=share,
        low=max(0.0, centre - half),
        high=min(1.0, centre + half),
        confidence=confidence,
    )


def _answers(scores: Iterable[int], lowest: int, highest: int, what: str) -> list[int]:
    answers = []
    for score in scores:
        whole = isinstance(score, int | np.integer) and not isinstance(score, bool)
        if isinstance(score, float) and score.is_integer():
            whole, score = True, int(score)
        if not whole or not lowest <= score <= highest:
            raise ValidationError(
                f"{what} answers are whole numbers from {lowest} to {highest}, got {score!r}"
            )
        answers.append(int(score))
    if not answers:
        raise ValidationError(f"{what}: no answers")
    return answers


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValidationError(f"the confidence level must be between 0 and 1, got {confidence}")
    return float(stats.norm.ppf((1 + confidence) / 2))
