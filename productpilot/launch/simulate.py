"""Synthetic traffic for a rollout stage: exposures, requests and conversions, with faults.

For tests and the demo: a population of users visits during a stage; each is bucketed by
evaluating the flag exactly as a flagd provider would (:func:`productpilot.launch.flags.
evaluate`, so the arms follow the stage's percentage), sends a ``flag_exposure`` event
with the variant served, a few ``api_request`` events (``latency_ms``, ``error``), maybe a
``convert``, and, in treatment, maybe a ``feature_used`` of the flag's feature (adoption).
A :class:`Regression` makes the treatment arm worse (more errors, slower, fewer
conversions); ``lost_exposure_share`` drops that share of treatment users' exposure events
(a variant that crashes before it reports), which the sample-ratio test must catch.

Everything is drawn from one seeded generator: the same arguments give the same events.

Example:
    >>> events = simulate_stage(document, "new-checkout", users=user_ids(500), start=start,
    ...                         end=end, seed=7)  # doctest: +SKIP
    >>> write_events(store, tenant_id, product_id, events)  # doctest: +SKIP
    2041
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from productpilot.db.bulk import event_writer
from productpilot.db.store import Store
from productpilot.ingest.validation import parse_event
from productpilot.launch.exposure import EXPOSURE_EVENT
from productpilot.launch.flags import FlagDocument, evaluate

WRITE_BATCH = 5_000


@dataclass(frozen=True)
class Traffic:
    """The healthy product: per-request error rate, log-normal latency, conversion and
    adoption per user, requests per user."""

    error_rate: float = 0.02
    latency_median_ms: float = 120.0
    latency_sigma: float = 0.35
    requests_per_user: int = 3
    conversion_rate: float = 0.10
    adoption_rate: float = 0.35


@dataclass(frozen=True)
class Regression:
    """What the rolled-out variant breaks: multipliers on the treatment arm."""

    error_rate_factor: float = 5.0
    latency_factor: float = 1.0
    conversion_factor: float = 1.0


def user_ids(count: int, prefix: str = "user") -> list[str]:
    """``count`` stable user ids: ``user-0000`` ..."""
    return [f"{prefix}-{i:05d}" for i in range(count)]


def simulate_stage(
    document: FlagDocument | Mapping[str, Any],
    flag_key: str,
    *,
    users: Sequence[str],
    start: datetime,
    end: datetime,
    seed: int,
    traffic: Traffic | None = None,
    regression: Regression | None = None,
    lost_exposure_share: float = 0.0,
    on_variant: str = "on",
    feature: str | None = None,
) -> list[dict[str, Any]]:
    """The events of one stage's window ``[start, end)``, as ingestion accepts them.

    Args:
        document: the flag document as the stage serves it.
        flag_key: the flag rolled out.
        users: who visits during the stage.
        start: the window's start.
        end: its end.
        seed: the generator's seed.
        traffic: the healthy product's behaviour.
        regression: what the treatment arm breaks, if anything.
        lost_exposure_share: share of treatment users whose exposure is never reported.
        on_variant: the treatment variant.
        feature: the ``feature_used`` feature name (default: the flag key).

    Returns:
        Event dicts (``event``, ``distinct_id``, ``timestamp``, ``properties``).
    """
    profile = traffic or Traffic()
    rng = np.random.default_rng(seed)
    span = (end - start).total_seconds()
    events: list[dict[str, Any]] = []
    for user in users:
        variant = evaluate(document, flag_key, {"targetingKey": user}).variant
        treated = variant == on_variant
        worse = regression if treated and regression is not None else Regression(1.0, 1.0, 1.0)
        seen = start + timedelta(seconds=float(rng.uniform(0, span * 0.5)))
        if not (treated and rng.random() < lost_exposure_share):
            events.append(
                _event(EXPOSURE_EVENT, user, seen, {"flag": flag_key, "variant": variant})
            )
        for _ in range(profile.requests_per_user):
            at = seen + timedelta(seconds=float(rng.uniform(0, span * 0.5)))
            latency = profile.latency_median_ms * worse.latency_factor
            latency *= float(np.exp(rng.normal(0, profile.latency_sigma)))
            error = bool(rng.random() < min(profile.error_rate * worse.error_rate_factor, 1.0))
            events.append(
                _event("api_request", user, at, {"latency_ms": round(latency, 1), "error": error})
            )
        if rng.random() < profile.conversion_rate * worse.conversion_factor:
            at = seen + timedelta(seconds=float(rng.uniform(0, span * 0.5)))
            events.append(_event("convert", user, at, {}))
        if treated and rng.random() < profile.adoption_rate:
            at = seen + timedelta(seconds=float(rng.uniform(0, span * 0.5)))
            events.append(_event("feature_used", user, at, {"feature": feature or flag_key}))
    return events


def write_events(
    store: Store, tenant_id: int, product_id: int, events: Sequence[Mapping[str, Any]]
) -> int:
    """Validate and store ``events`` through the bulk path; returns how many were new."""
    if not events:
        return 0
    latest = max(datetime.fromisoformat(event["timestamp"]) for event in events)
    rows = [parse_event(event, now=latest) for event in events]
    written = 0
    with event_writer(store.engine, tenant_id, product_id) as writer:
        for offset in range(0, len(rows), WRITE_BATCH):
            written += writer.write(rows[offset : offset + WRITE_BATCH])
    return written


def _event(name: str, user: str, at: datetime, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": name,
        "distinct_id": user,
        "timestamp": at.isoformat(),
        "properties": properties,
    }


#: The demo's rollout of ``new-checkout``: four stages of an hour, guarded by the demo
#: product's configured error rate, latency and conversion metrics.
DEMO_FLAG = "new-checkout"
DEMO_FLAG_DEFINITION: dict[str, Any] = {
    "state": "ENABLED",
    "variants": {"on": True, "off": False},
    "defaultVariant": "off",
}
DEMO_PLAN: dict[str, Any] = {
    "stages": [
        {"percentage": 10, "min_duration_minutes": 60, "min_exposure": 50},
        {"percentage": 25, "min_duration_minutes": 60, "min_exposure": 100},
        {"percentage": 50, "min_duration_minutes": 60, "min_exposure": 200},
        {"percentage": 100, "min_duration_minutes": 60},
    ],
    "guardrails": [
        {"metric": "error_rate", "kind": "error_rate", "max_relative_change": 0.25},
        {"metric": "latency_p95", "kind": "latency_p95", "threshold": 800},
        {"metric": "conversion_rate", "kind": "conversion", "max_relative_change": 0.3},
    ],
    "rollback_to": "previous_stage",
}
