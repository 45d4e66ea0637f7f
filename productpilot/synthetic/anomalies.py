"""Injected anomalies: where they go, what they do to the data, and the labels kept for them.

Anomalies are planned from their own random stream before any data is generated, then the
population (signup spikes) and the event simulation (everything else) consult the plan. The
labels are therefore exact ground truth for detector evaluation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Final

import numpy as np

from productpilot.synthetic.catalogue import ENDPOINTS, PLATFORMS
from productpilot.synthetic.clock import DAY_US, HOUR_US, iso_seconds
from productpilot.synthetic.config import ANOMALY_FREE_DAYS, SyntheticConfig
from productpilot.synthetic.features import FeatureSpec
from productpilot.synthetic.rng import Stream, stream

ERROR_RATE_SPIKE: Final = "error_rate_spike"
LATENCY_REGRESSION: Final = "latency_regression"
TRAFFIC_DROP: Final = "traffic_drop"
SIGNUP_SPIKE: Final = "signup_spike"
FEATURE_ADOPTION_DROP: Final = "feature_adoption_drop"
ANOMALY_KINDS: Final[tuple[str, ...]] = (
    ERROR_RATE_SPIKE,
    LATENCY_REGRESSION,
    TRAFFIC_DROP,
    SIGNUP_SPIKE,
    FEATURE_ADOPTION_DROP,
)


@dataclass(frozen=True, slots=True)
class _KindShape:
    metric: str
    hours: tuple[int, int]  # inclusive range of the window's length
    start_hours: tuple[int, int]  # allowed UTC start hour, [lo, hi)
    magnitude: tuple[float, float]  # uniform range of the multiplier applied to the metric


# Start hours are when the effect is observable: spikes and outages in busy hours, deploys
# (latency regressions, broken mobile releases) during the working day, campaigns at US morning.
_SHAPES: Final[dict[str, _KindShape]] = {
    ERROR_RATE_SPIKE: _KindShape("error_rate", (2, 6), (8, 17), (6.0, 12.0)),
    LATENCY_REGRESSION: _KindShape("latency_ms", (20, 40), (9, 18), (1.8, 3.0)),
    TRAFFIC_DROP: _KindShape("sessions", (3, 8), (8, 16), (0.1, 0.3)),
    SIGNUP_SPIKE: _KindShape("signups", (6, 12), (12, 17), (3.0, 5.0)),
    FEATURE_ADOPTION_DROP: _KindShape("feature_usage", (36, 60), (9, 18), (0.1, 0.3)),
}
# Only endpoints with enough traffic to make a regression measurable.
_REGRESSION_ENDPOINTS: Final = tuple(i for i, e in enumerate(ENDPOINTS) if e.weight >= 0.1)
_MOBILE_PLATFORMS: Final = (PLATFORMS.index("ios"), PLATFORMS.index("android"))
# An adoption drop is only visible for a feature with an established baseline.
_ADOPTION_BASELINE_DAYS: Final = 14


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One injected anomaly, in generator units (µs from the period start).

    ``endpoint``, ``feature`` and ``platform`` are catalogue indices (-1 when not used) so the
    simulation can apply the effect with array comparisons.
    """

    id: str
    kind: str
    metric: str
    start_us: int
    end_us: int
    magnitude: float
    description: str
    endpoint: int = -1
    feature: int = -1
    feature_name: str = ""
    platform: int = -1

    def overlaps(self, lo_us: int, hi_us: int) -> bool:
        """Whether the window [start_us, end_us) intersects [lo_us, hi_us)."""
        return self.start_us < hi_us and lo_us < self.end_us

    def segment(self) -> dict[str, Any] | None:
        """Event-property filters selecting the affected events, or None for all events."""
        if self.kind == LATENCY_REGRESSION:
            endpoint = ENDPOINTS[self.endpoint]
            return {"method": endpoint.method, "endpoint": endpoint.path}
        if self.kind == FEATURE_ADOPTION_DROP:
            return {"feature": self.feature_name, "platform": PLATFORMS[self.platform]}
        return None

    def to_label(self, start: date) -> dict[str, Any]:
        """The public label: id, kind, metric, start, end, segment, magnitude, description."""
        return {
            "id": self.id,
            "kind": self.kind,
            "metric": self.metric,
            "start": iso_seconds(start, self.start_us),
            "end": iso_seconds(start, self.end_us),
            "segment": self.segment(),
            "magnitude": self.magnitude,
            "description": self.description,
        }


def plan_anomalies(
    config: SyntheticConfig, features: tuple[FeatureSpec, ...]
) -> tuple[Anomaly, ...]:
    """Choose kinds, windows and magnitudes for ``config.anomalies`` anomalies.

    The eligible part of the period (after day 14) is cut into equal slots, one per anomaly,
    so windows never overlap and are spread over the period. Kinds cycle through a seeded
    permutation of all kinds, so five anomalies cover every kind once.

    Example:
        >>> from productpilot.synthetic.features import feature_specs
        >>> config = SyntheticConfig(seed=1)
        >>> sorted(a.kind for a in plan_anomalies(config, feature_specs(config)))[0]
        'error_rate_spike'
    """
    count = config.anomalies
    if count == 0:
        return ()
    rng = stream(config.seed, Stream.ANOMALIES)
    order = rng.permutation(len(ANOMALY_KINDS))
    first_hour = ANOMALY_FREE_DAYS * 24
    slot_hours = (config.days - ANOMALY_FREE_DAYS) * 24 / count
    planned: list[Anomaly] = []
    for i in range(count):
        kind = ANOMALY_KINDS[int(order[i % len(order)])]
        lo = first_hour + math.ceil(i * slot_hours)
        # Leave a one-hour gap to the next slot so windows cannot touch.
        hi = first_hour + math.floor((i + 1) * slot_hours) - 1
        # Each kind draws the same numbers in the same order, so one substitution below
        # cannot shift the windows of later anomalies.
        duration_draw, start_draw, magnitude_draw, pick_draw, pick_draw2 = rng.random(5).tolist()
        feature = _adoption_drop_feature(features, lo * HOUR_US, pick_draw)
        if kind == FEATURE_ADOPTION_DROP and feature < 0:
            kind = ERROR_RATE_SPIKE  # no feature with a baseline yet; keep the count
        shape = _SHAPES[kind]
        hours = shape.hours[0] + int(duration_draw * (shape.hours[1] - shape.hours[0] + 1))
        start_hour = _pick_start(lo, hi, hours, shape.start_hours, start_draw)
        low, high = shape.magnitude
        magnitude = round(low + magnitude_draw * (high - low), 2)
        anomaly = Anomaly(
            id=f"a{i + 1}",
            kind=kind,
            metric=shape.metric,
            start_us=start_hour * HOUR_US,
            end_us=(start_hour + hours) * HOUR_US,
            magnitude=magnitude,
            description="",
        )
        if kind == LATENCY_REGRESSION:
            endpoint = _REGRESSION_ENDPOINTS[int(pick_draw * len(_REGRESSION_ENDPOINTS))]
            anomaly = replace(anomaly, endpoint=endpoint)
        elif kind == FEATURE_ADOPTION_DROP:
            platform = _MOBILE_PLATFORMS[int(pick_draw2 * len(_MOBILE_PLATFORMS))]
            anomaly = replace(
                anomaly,
                feature=feature,
                feature_name=features[feature].name,
                platform=platform,
            )
        planned.append(replace(anomaly, description=_describe(anomaly, hours)))
    return tuple(planned)


def _pick_start(lo: int, hi: int, hours: int, allowed: tuple[int, int], draw: float) -> int:
    """An absolute start hour in [lo, hi - hours] whose hour of day is allowed."""
    candidates = [h for h in range(lo, hi - hours + 1) if allowed[0] <= h % 24 < allowed[1]]
    if not candidates:  # cannot happen with >= 3-day slots, but never fail on it
        candidates = list(range(lo, max(lo, hi - hours) + 1))
    return candidates[int(draw * len(candidates))]


def _adoption_drop_feature(features: tuple[FeatureSpec, ...], at_us: int, draw: float) -> int:
    """Index of a feature open to all plans with an established baseline at ``at_us``."""
    cutoff = at_us - _ADOPTION_BASELINE_DAYS * DAY_US
    candidates = [i for i, f in enumerate(features) if f.release_us <= cutoff and len(f.plans) == 3]
    if not candidates:
        return -1
    return candidates[int(draw * len(candidates))]


def _describe(anomaly: Anomaly, hours: int) -> str:
    m = anomaly.magnitude
    if anomaly.kind == ERROR_RATE_SPIKE:
        return f"Bad deploy: 5xx error probability x{m} on all endpoints for {hours} h."
    if anomaly.kind == LATENCY_REGRESSION:
        endpoint = ENDPOINTS[anomaly.endpoint]
        return (
            f"Slow query after a release: {endpoint.method} {endpoint.path} latency "
            f"x{m} for {hours} h until rollback."
        )
    if anomaly.kind == TRAFFIC_DROP:
        return f"Partial outage: only {m:.0%} of sessions got through for {hours} h."
    if anomaly.kind == SIGNUP_SPIKE:
        return f"Marketing campaign: signups x{m} for {hours} h (source 'campaign')."
    platform = PLATFORMS[anomaly.platform]
    return (
        f"Broken {platform} release: {anomaly.feature_name} usage on {platform} fell to "
        f"{m:.0%} of normal for {hours} h."
    )


def _in_windows(
    anomalies: tuple[Anomaly, ...], kind: str, times_us: np.ndarray
) -> list[tuple[Anomaly, np.ndarray]]:
    return [
        (a, (times_us >= a.start_us) & (times_us < a.end_us)) for a in anomalies if a.kind == kind
    ]


def error_multiplier(anomalies: tuple[Anomaly, ...], times_us: np.ndarray) -> np.ndarray:
    """Multiplier of the 5xx probability for requests at ``times_us``."""
    factor = np.ones(times_us.shape)
    for anomaly, inside in _in_windows(anomalies, ERROR_RATE_SPIKE, times_us):
        factor[inside] *= anomaly.magnitude
    return factor


def latency_multiplier(
    anomalies: tuple[Anomaly, ...], times_us: np.ndarray, endpoints: np.ndarray
) -> np.ndarray:
    """Multiplier of the latency of requests at ``times_us`` to ``endpoints`` (indices)."""
    factor = np.ones(times_us.shape)
    for anomaly, inside in _in_windows(anomalies, LATENCY_REGRESSION, times_us):
        factor[inside & (endpoints == anomaly.endpoint)] *= anomaly.magnitude
    return factor


def session_keep_probability(anomalies: tuple[Anomaly, ...], times_us: np.ndarray) -> np.ndarray:
    """Probability that a session starting at ``times_us`` survives outages."""
    keep = np.ones(times_us.shape)
    for anomaly, inside in _in_windows(anomalies, TRAFFIC_DROP, times_us):
        keep[inside] *= anomaly.magnitude
    return keep


def feature_keep_probability(
    anomalies: tuple[Anomaly, ...],
    times_us: np.ndarray,
    features: np.ndarray,
    platforms: np.ndarray,
) -> np.ndarray:
    """Probability that a ``feature_used`` event survives an adoption drop."""
    keep = np.ones(times_us.shape)
    for anomaly, inside in _in_windows(anomalies, FEATURE_ADOPTION_DROP, times_us):
        hit = inside & (features == anomaly.feature) & (platforms == anomaly.platform)
        keep[hit] *= anomaly.magnitude
    return keep
