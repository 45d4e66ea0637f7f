"""The NAB scorer: hand-worked rules, and the published numenta scores reproduced exactly."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from productpilot.analytics import nab as module
from productpilot.analytics.nab import (
    STANDARD,
    Layout,
    Profile,
    file_layout,
    load_profiles,
    load_thresholds,
    load_windows,
    probation_length,
    scaled_sigmoid,
    sweep,
)

NAB = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "nab"
PUBLISHED = {"standard": 70.10, "reward_low_FP_rate": 63.12, "reward_low_FN_rate": 74.32}


def test_doctests() -> None:
    assert doctest.testmod(module).failed == 0


def test_scaled_sigmoid_matches_nab_anchor_points() -> None:
    values = scaled_sigmoid(np.array([-1.0, -0.5, 0.0, 1.0, 3.0, 3.01]))
    expected = [0.98661429815, 0.84828363995, 0.0, -0.98661429815, -0.99999938819, -1.0]
    assert values == pytest.approx(expected)


def test_probation_is_fifteen_percent_capped_at_750_rows() -> None:
    assert probation_length(4032) == 604
    assert probation_length(20_000) == 750


def test_window_limits_must_be_timestamps_of_the_file() -> None:
    stamps = pd.date_range("2026-01-01", periods=10, freq="5min")
    assert file_layout(stamps, [(stamps[2], stamps[4])]).windows == ((2, 4),)
    with pytest.raises(ValueError, match="does not match"):
        file_layout(stamps, [(stamps[2] + pd.Timedelta("1min"), stamps[4])])


def layout_with_one_window() -> Layout:
    """100 rows, probation 15, one window over rows 40..49 (width 10)."""
    return Layout(length=100, probation=15, windows=((40, 49),))


def test_only_the_earliest_detection_in_a_window_counts() -> None:
    scores = np.zeros(100)
    scores[[45, 47]] = 1.0
    early = sweep([(layout_with_one_window(), scores)], STANDARD)
    # row 45: position -(49 - 45 + 1) / 10 = -0.5, normalised by the first row's reward
    reward = scaled_sigmoid(np.array(-0.5)) / scaled_sigmoid(np.array(-1.0))
    assert early.raw_at(0.5) == pytest.approx(float(reward))
    assert early.null == -1.0
    assert early.perfect == pytest.approx(1.0)


def test_false_positives_cost_less_right_after_a_window() -> None:
    profile = Profile("p", tp_weight=1.0, fp_weight=0.5, fn_weight=1.0)
    layout = layout_with_one_window()
    for row, position in [(20, None), (52, 3 / 9), (90, 41 / 9)]:
        scores = np.zeros(100)
        scores[row] = 1.0
        raw = sweep([(layout, scores)], profile).raw_at(0.5)
        cost = -1.0 if position is None else float(scaled_sigmoid(np.array(position)))
        assert raw == pytest.approx(-1.0 + 0.5 * cost)  # the window is missed too


def test_probationary_rows_are_ignored() -> None:
    scores = np.zeros(100)
    scores[:15] = 1.0
    assert sweep([(layout_with_one_window(), scores)], STANDARD).raw_at(0.5) == -1.0


def test_detections_are_scores_at_or_above_the_threshold() -> None:
    scores = np.zeros(100)
    scores[40] = 0.7
    result = sweep([(layout_with_one_window(), scores)], STANDARD)
    assert result.score_at(0.7) == pytest.approx(100.0)
    assert result.score_at(0.7000001) == 0.0
    assert result.best() == (0.7, pytest.approx(100.0))


def nab_files(detector: str) -> list[tuple[str, Layout, np.ndarray]]:
    """Each data file's layout and the detector's published per-row anomaly scores."""
    windows = load_windows(NAB / "labels" / "combined_windows.json")
    files = []
    for name, limits in sorted(windows.items()):
        category, file_name = name.split("/")
        path = NAB / "results" / detector / category / f"{detector}_{file_name}"
        frame = pd.read_csv(path)
        layout = file_layout(pd.to_datetime(frame["timestamp"]), limits)
        files.append((name, layout, frame["anomaly_score"].to_numpy()))
    return files


@pytest.fixture(scope="module")
def numenta() -> list[tuple[str, Layout, np.ndarray]]:
    if not NAB.is_dir():
        pytest.skip(f"NAB data not found at {NAB}")
    return nab_files("numenta")


def test_reproduces_the_published_numenta_scores(numenta) -> None:
    profiles = load_profiles(NAB / "config" / "profiles.json")
    thresholds = load_thresholds(NAB / "config" / "thresholds.json", "numenta")
    board = json.loads((NAB / "results" / "final_results.json").read_text())["numenta"]
    for name, published in PUBLISHED.items():
        result = sweep([(layout, scores) for _, layout, scores in numenta], profiles[name])
        assert (result.null, result.perfect) == (-116.0 * profiles[name].fn_weight, 116.0)
        score = result.score_at(thresholds[name])
        assert score == pytest.approx(board[name], abs=1e-9)
        assert round(score, 2) == published


def test_reproduces_the_published_per_file_scores(numenta) -> None:
    threshold = load_thresholds(NAB / "config" / "thresholds.json", "numenta")["standard"]
    published = pd.read_csv(NAB / "results" / "numenta" / "numenta_standard_scores.csv")
    by_file = dict(zip(published["File"], published["Score"], strict=True))
    for name, layout, scores in numenta:
        raw = sweep([(layout, scores)], STANDARD).raw_at(threshold)
        assert raw == pytest.approx(by_file[name], abs=1e-9), name


def test_a_full_sweep_finds_the_best_thresholds(numenta) -> None:
    profiles = load_profiles(NAB / "config" / "profiles.json")
    best = {
        name: sweep([(layout, scores) for _, layout, scores in numenta], profile).best()[1]
        for name, profile in profiles.items()
    }
    assert round(best["standard"], 2) == 70.10
    assert round(best["reward_low_FP_rate"], 2) == 63.21  # NAB's listed threshold gives 63.12
    assert round(best["reward_low_FN_rate"], 2) == 74.32
