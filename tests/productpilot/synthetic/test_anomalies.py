"""Specification of injected anomalies: label format, placement, and visibility in the data."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import numpy as np
import pytest

from productpilot.synthetic import ANOMALY_KINDS, SyntheticConfig, generate

LABEL_KEYS = {"id", "kind", "metric", "start", "end", "segment", "magnitude", "description"}
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Sample:
    """The few event fields the anomaly checks need, kept compact."""

    time: datetime
    event: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class Generated:
    config: SyntheticConfig
    labels: list[dict[str, Any]]
    samples: list[Sample]


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def _generate(config: SyntheticConfig) -> Generated:
    dataset = generate(config)
    samples = [
        Sample(_parse(e["timestamp"]), e["event"], e["properties"]) for e in dataset.events()
    ]
    return Generated(config, dataset.anomalies(), samples)


@pytest.fixture(scope="module", params=[3, 11], ids=lambda seed: f"seed{seed}")
def generated(request: pytest.FixtureRequest) -> Generated:
    return _generate(SyntheticConfig(seed=request.param, users=3000, days=63, anomalies=5))


def _reference_windows(
    generated: Generated, label: dict[str, Any]
) -> list[tuple[datetime, datetime]]:
    """The same clock window one and two weeks before/after, when free of any anomaly."""
    start, end = _parse(label["start"]), _parse(label["end"])
    origin = datetime(*generated.config.start.timetuple()[:3], tzinfo=UTC)
    horizon = origin + timedelta(days=generated.config.days)
    busy = [(_parse(a["start"]), _parse(a["end"])) for a in generated.labels]
    references = []
    for shift in (-2 * WEEK, -WEEK, WEEK, 2 * WEEK):
        lo, hi = start + shift, end + shift
        if lo < origin or hi > horizon:
            continue
        if any(lo < b_hi and b_lo < hi for b_lo, b_hi in busy):
            continue
        references.append((lo, hi))
    assert references, f"no clean reference window for {label['id']}"
    return references


def _around(generated: Generated, label: dict[str, Any]) -> list[Sample]:
    """Samples of the week before to the week after the window, outside every anomaly."""
    lo, hi = _parse(label["start"]) - WEEK, _parse(label["end"]) + WEEK
    anomalous = [(_parse(a["start"]), _parse(a["end"])) for a in generated.labels]
    return [
        s
        for s in generated.samples
        if lo <= s.time < hi and not any(a <= s.time < b for a, b in anomalous)
    ]


def _within(samples: Iterable[Sample], windows: list[tuple[datetime, datetime]]) -> list[Sample]:
    return [s for s in samples if any(lo <= s.time < hi for lo, hi in windows)]


def _matches(sample: Sample, segment: dict[str, Any] | None) -> bool:
    return segment is None or all(sample.properties.get(k) == v for k, v in segment.items())


def _error_rate(samples: list[Sample], label: dict[str, Any]) -> float:
    requests = [s for s in samples if s.event == "api_request" and _matches(s, label["segment"])]
    return float(np.mean([s.properties["error"] for s in requests]))


def _median_latency(samples: list[Sample], label: dict[str, Any]) -> float:
    requests = [s for s in samples if s.event == "api_request" and _matches(s, label["segment"])]
    return float(np.median([s.properties["latency_ms"] for s in requests]))


def _per_window(name: str) -> Callable[[list[Sample], dict[str, Any]], float]:
    def count(samples: list[Sample], label: dict[str, Any]) -> float:
        return float(sum(s.event == name for s in samples))

    return count


def _feature_share(samples: list[Sample], label: dict[str, Any]) -> float:
    """Share of the segment's feature_used events that are for the labelled feature."""
    platform = label["segment"]["platform"]
    uses = [
        s for s in samples if s.event == "feature_used" and s.properties["platform"] == platform
    ]
    return sum(s.properties["feature"] == label["segment"]["feature"] for s in uses) / len(uses)


# Metric, whether it is a count (compared with the same clock window in other weeks) rather
# than a rate (compared with the surrounding two weeks), and the smallest
# (for spikes) or largest (for drops) observed ratio that counts as "clearly visible".
CHECKS: dict[str, tuple[Callable[[list[Sample], dict[str, Any]], float], bool, float]] = {
    "error_rate_spike": (_error_rate, False, 3.0),
    "latency_regression": (_median_latency, False, 1.4),
    "signup_spike": (_per_window("signup"), True, 2.0),
    "traffic_drop": (_per_window("session_start"), True, 0.5),
    "feature_adoption_drop": (_feature_share, False, 0.5),
}


def test_default_config_plans_five_anomalies_one_of_each_kind() -> None:
    labels = generate(SyntheticConfig(seed=1)).anomalies()
    assert len(labels) == 5
    assert sorted(label["kind"] for label in labels) == sorted(ANOMALY_KINDS)


def test_labels_have_the_documented_format(generated: Generated) -> None:
    for index, label in enumerate(generated.labels, start=1):
        assert set(label) == LABEL_KEYS
        assert label["id"] == f"a{index}"
        assert label["kind"] in ANOMALY_KINDS
        assert isinstance(label["magnitude"], float)
        assert isinstance(label["description"], str)
        assert label["description"]
        assert label["segment"] is None or isinstance(label["segment"], dict)
        assert label["start"].endswith("Z")
        assert _parse(label["start"]) < _parse(label["end"])


def test_anomalies_avoid_the_first_two_weeks_and_do_not_overlap(generated: Generated) -> None:
    origin = datetime(*generated.config.start.timetuple()[:3], tzinfo=UTC)
    windows = sorted((_parse(a["start"]), _parse(a["end"])) for a in generated.labels)
    assert windows[0][0] >= origin + timedelta(days=14)
    assert windows[-1][1] <= origin + timedelta(days=generated.config.days)
    for (_, end), (next_start, _) in pairwise(windows):
        assert end < next_start


@pytest.mark.parametrize("kind", sorted(CHECKS))
def test_each_labelled_anomaly_is_visible_in_the_events(generated: Generated, kind: str) -> None:
    metric, is_count, threshold = CHECKS[kind]
    labels = [label for label in generated.labels if label["kind"] == kind]
    assert labels, f"no {kind} planned"
    for label in labels:
        window = [(_parse(label["start"]), _parse(label["end"]))]
        inside = metric(_within(generated.samples, window), label)
        if is_count:
            # Counts follow the weekly and daily cycle: compare with the same clock window.
            references = _reference_windows(generated, label)
            baseline = np.mean([metric(_within(generated.samples, [r]), label) for r in references])
        else:
            baseline = metric(_around(generated, label), label)
        ratio = inside / baseline
        if label["magnitude"] > 1:
            assert ratio > threshold, (label, inside, baseline)
            # The label's magnitude is the true multiplier, within sampling noise.
            assert label["magnitude"] / 3 < ratio < label["magnitude"] * 3
        else:
            assert ratio < threshold, (label, inside, baseline)


def test_signup_spike_users_come_from_the_campaign(generated: Generated) -> None:
    label = next(a for a in generated.labels if a["kind"] == "signup_spike")
    window = [(_parse(label["start"]), _parse(label["end"]))]
    sources = [
        s.properties["source"] for s in _within(generated.samples, window) if s.event == "signup"
    ]
    assert sources.count("campaign") > len(sources) / 2


def test_without_anomalies_the_labelled_windows_look_normal(generated: Generated) -> None:
    calm = _generate(SyntheticConfig(seed=generated.config.seed, users=3000, days=63, anomalies=0))
    assert calm.labels == []
    spike = next(a for a in generated.labels if a["kind"] == "error_rate_spike")
    window = [(_parse(spike["start"]), _parse(spike["end"]))]
    assert _error_rate(_within(calm.samples, window), spike) < 0.03
    assert _error_rate(_within(generated.samples, window), spike) > 0.03


def test_anomaly_count_is_configurable_and_deterministic() -> None:
    config = SyntheticConfig(seed=9, days=120, anomalies=8)
    first, second = generate(config).anomalies(), generate(config).anomalies()
    assert len(first) == 8
    assert first == second
    assert first != generate(SyntheticConfig(seed=10, days=120, anomalies=8)).anomalies()
