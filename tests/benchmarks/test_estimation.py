"""The Deep-SE benchmark's check that the model is better than the median, not luckier."""

import numpy as np

from benchmarks.estimation import against_median


def test_a_model_that_repeats_the_median_changed_nothing_and_proves_nothing() -> None:
    errors = np.array([1.0, 0.0, 2.0, 1.0])

    result = against_median(errors, errors.copy())

    assert result == {"items_changed": 0, "wilcoxon_p": 1.0, "a12": 0.5}


def test_smaller_errors_on_every_item_are_significant_with_a_clear_effect() -> None:
    rng = np.random.default_rng(0)
    median_errors = rng.integers(1, 6, size=60).astype(float)
    errors = np.maximum(median_errors - 1.0, 0.0)

    result = against_median(errors, median_errors)

    assert result["items_changed"] == 60
    assert result["wilcoxon_p"] < 0.001
    assert result["a12"] > 0.6


def test_a_few_lucky_items_among_many_equal_ones_are_not_significant() -> None:
    median_errors = np.ones(100)
    errors = median_errors.copy()
    errors[:2] = 0.0

    result = against_median(errors, median_errors)

    assert result["items_changed"] == 2
    assert result["wilcoxon_p"] > 0.05


def test_larger_errors_give_an_effect_below_one_half() -> None:
    median_errors = np.zeros(30)
    errors = np.ones(30)

    result = against_median(errors, median_errors)

    assert result["wilcoxon_p"] > 0.99
    assert result["a12"] < 0.5
