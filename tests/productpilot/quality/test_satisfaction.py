"""Specification of NPS and CSAT with their confidence intervals, checked by hand."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from productpilot.errors import ValidationError
from productpilot.quality import satisfaction as module
from productpilot.quality.satisfaction import bootstrap_nps_interval, csat, nps

Z95 = stats.norm.ppf(0.975)  # 1.959964...


def test_nps_and_its_normal_interval_worked_by_hand() -> None:
    # Promoters 10, 9, 9, 10, 9, 10 = 6; passives 8, 7 = 2; detractors 3, 6 = 2; n = 10.
    # NPS = 100 * (0.6 - 0.2) = 40. Var = (0.6 + 0.2 - 0.4^2) / 10 = 0.064, SE = 25.298 pts.
    result = nps([10, 9, 9, 8, 7, 3, 10, 6, 9, 10])
    assert (result.n, result.promoters, result.passives, result.detractors) == (10, 6, 2, 2)
    assert result.score == pytest.approx(40.0)
    assert result.standard_error == pytest.approx(100 * math.sqrt(0.064))
    assert result.standard_error == pytest.approx(25.2982, abs=1e-4)
    assert result.low == pytest.approx(40 - Z95 * 25.29822, abs=1e-4)  # 40 - 49.5836 = -9.5836
    assert result.high == pytest.approx(89.5836, abs=1e-4)
    assert result.confidence == 0.95


def test_the_nps_interval_narrows_with_confidence_and_is_clipped_to_its_range() -> None:
    scores = [10, 9, 9, 8, 7, 3, 10, 6, 9, 10]
    narrow = nps(scores, confidence=0.8)
    assert narrow.high - narrow.low == pytest.approx(2 * stats.norm.ppf(0.9) * 25.29822, abs=1e-4)
    # p_P = 0.75, p_D = 0.25: Var = (1 - 0.25) / 4 = 0.1875, SE = 43.30: 50 + 84.9 -> 100.
    lopsided = nps([10, 10, 10, 0])
    assert lopsided.standard_error == pytest.approx(100 * math.sqrt(0.1875))
    assert (lopsided.score, lopsided.high) == (50.0, 100.0)
    unanimous = nps([9] * 12)
    assert (unanimous.score, unanimous.standard_error, unanimous.low, unanimous.high) == (
        100.0,
        0.0,
        100.0,
        100.0,
    )


def test_the_nps_variance_matches_a_simulation_of_the_multinomial() -> None:
    # 200 answers with p_P = 0.5, p_D = 0.2: the formula's SE against the spread of 20,000
    # simulated surveys.
    scores = [10] * 100 + [7] * 60 + [2] * 40
    rng = np.random.default_rng(7)
    counts = rng.multinomial(200, [0.5, 0.3, 0.2], size=20_000)
    simulated = 100 * (counts[:, 0] - counts[:, 2]) / 200
    assert nps(scores).standard_error == pytest.approx(simulated.std(), rel=0.02)


def test_the_bootstrap_interval_is_close_to_the_normal_one_on_a_fair_sample() -> None:
    scores = [10] * 100 + [7] * 60 + [2] * 40
    low, high = bootstrap_nps_interval(scores, resamples=4000, seed=3)
    normal = nps(scores)
    assert low == pytest.approx(normal.low, abs=1.5)
    assert high == pytest.approx(normal.high, abs=1.5)
    assert bootstrap_nps_interval(scores, seed=3) == bootstrap_nps_interval(scores, seed=3)
    with pytest.raises(ValidationError, match="at least 100 resamples"):
        bootstrap_nps_interval(scores, resamples=10)


def test_csat_with_the_wilson_interval_worked_by_hand() -> None:
    # 3 satisfied of 5: p = 0.6. z^2 = 3.8415; denominator 1 + 3.8415 / 5 = 1.76829;
    # centre (0.6 + 0.38415) / 1.76829 = 0.55655; half width 1.95996 / 1.76829 *
    # sqrt(0.24 / 5 + 3.8415 / 100) = 0.32583 -> [0.2307, 0.8824].
    result = csat([5, 4, 4, 3, 1])
    assert (result.n, result.satisfied, result.score) == (5, 3, 0.6)
    assert result.low == pytest.approx(0.2307, abs=1e-4)
    assert result.high == pytest.approx(0.8824, abs=1e-4)
    assert (result.low, result.high) == pytest.approx(proportion_confint(3, 5, method="wilson"))


def test_the_wilson_interval_stays_inside_zero_and_one() -> None:
    # All satisfied: the upper bound is exactly 1, the lower 1 / (1 + z^2 / n).
    perfect = csat([5] * 10)
    assert perfect.high == pytest.approx(1.0)
    assert perfect.low == pytest.approx(1 / (1 + Z95**2 / 10))
    none = csat([1, 2, 3])
    assert none.low == pytest.approx(0.0)
    assert none.high == pytest.approx(proportion_confint(0, 3, method="wilson")[1])


def test_bad_answers_are_refused_with_a_clear_message() -> None:
    for scores, message in [
        ([11], "whole numbers from 0 to 10, got 11"),
        ([-1], "got -1"),
        ([7.5], "got 7.5"),
        ([True], "got True"),
        (["9"], "got '9'"),
        ([], "no answers"),
    ]:
        with pytest.raises(ValidationError, match=message):
            nps(scores)
    assert nps([9.0, np.int64(10)]).promoters == 2  # whole floats and numpy ints are fine
    with pytest.raises(ValidationError, match="from 1 to 5, got 0"):
        csat([0])
    with pytest.raises(ValidationError, match="between 0 and 1"):
        csat([5], confidence=1.0)


def test_docstring_examples() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0
    assert results.failed == 0
