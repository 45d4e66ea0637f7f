"""A stage's observations read from events: arms by exposure, metrics per arm since the
stage started, the sample-ratio test, guardrail tests and the success metric."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from productpilot.db.models import Product
from productpilot.db.store import Store
from productpilot.errors import ValidationError
from productpilot.launch.exposure import check_metrics, measure_stage
from productpilot.launch.rollout import parse_plan
from productpilot.launch.simulate import write_events
from productpilot.products.configuration import MetricDefinition
from tests.productpilot.launch.test_rollouts import METRICS

SINCE = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
UNTIL = SINCE + timedelta(hours=1)
METRIC_DEFINITIONS = {m["name"]: MetricDefinition.model_validate(m) for m in METRICS}
PLAN = parse_plan(
    {
        "stages": [{"percentage": 50}, {"percentage": 100}],
        "guardrails": [
            {"metric": "error_rate", "kind": "error_rate", "max_relative_change": 0.1},
            {"metric": "latency_p95", "kind": "latency_p95", "threshold": 300},
            {"metric": "conversion_rate", "kind": "conversion", "max_relative_change": 0.1},
        ],
        "success_goal": {"metric": "checkout_adoption", "target": 0.5},
    }
)


def event(name: str, user: str, minute: int, **properties: Any) -> dict[str, Any]:
    at = SINCE + timedelta(minutes=minute)
    return {
        "event": name,
        "distinct_id": user,
        "timestamp": at.isoformat(),
        "properties": properties,
    }


def exposure(user: str, variant: str, minute: int = 1, flag: str = "new-checkout") -> dict:
    return event("flag_exposure", user, minute, flag=flag, variant=variant)


def measure(store: Store, product: Product, events: list[dict[str, Any]], **overrides: Any):
    write_events(store, product.tenant_id, product.id, events)
    arguments = {
        "flag_key": "new-checkout",
        "plan": PLAN,
        "percentage": 50,
        "since": SINCE,
        "until": UNTIL,
        "metrics": METRIC_DEFINITIONS,
        **overrides,
    }
    with store.tenant_session(product.tenant_id) as session:
        return measure_stage(session, product.id, **arguments)


def test_users_are_split_by_the_variant_they_were_served_in_the_stage(
    store: Store, product: Product
) -> None:
    events = [
        exposure("t1", "on"),
        exposure("t1", "on", minute=5),  # exposed twice: one user
        exposure("t2", "on"),
        exposure("c1", "off"),
        exposure("both", "on"),
        exposure("both", "off", minute=2),  # saw both arms: in neither
        exposure("early", "on", minute=-5),  # before the stage started
        exposure("late", "on", minute=90),  # after the window
        exposure("other", "on", flag="dark-mode"),
    ]

    measured = measure(store, product, events)

    assert (measured.treatment_users, measured.control_users, measured.mixed_users) == (2, 1, 1)
    assert measured.exposure == 3
    assert measured.srm.counts == (2, 1)
    assert measured.srm.planned_shares == (0.5, 0.5)


def test_rates_means_percentiles_and_conversions_are_measured_per_arm(
    store: Store, product: Product
) -> None:
    events = [exposure(f"t{i}", "on") for i in range(4)]
    events += [exposure(f"c{i}", "off") for i in range(4)]
    # Treatment: 4 requests, 2 errors, latencies 100..400; control: 4 requests, no errors.
    for i, latency in enumerate([100, 200, 300, 400]):
        events.append(event("api_request", f"t{i}", 10, latency_ms=latency, error=i < 2))
        events.append(event("api_request", f"c{i}", 10, latency_ms=100, error=False))
    events.append(event("api_request", "t0", -10, latency_ms=9999, error=True))  # before
    events.append(event("api_request", "stranger", 10, latency_ms=9999, error=True))  # no arm
    events += [event("convert", "t0", 20), event("convert", "t0", 21), event("convert", "c1", 20)]
    events += [event("feature_used", f"t{i}", 30, feature="new-checkout") for i in range(3)]
    events.append(event("feature_used", "t3", 30, feature="search"))  # another feature

    measured = measure(store, product, events)

    guardrails = {g.metric: g for g in measured.guardrails}
    errors = guardrails["error_rate"]
    assert (errors.measure, errors.treatment.n, errors.treatment.total) == ("event_rate", 4, 2)
    assert (errors.control.n, errors.control.total) == (4, 0)
    assert errors.effect.absolute_lift == pytest.approx(0.5)
    latency = guardrails["latency_p95"]
    assert latency.measure == "mean"
    assert latency.treatment.mean == pytest.approx(250.0)
    assert latency.treatment_value == 400.0  # the 95th percentile by nearest rank
    assert latency.breach == "latency_p95 400 is above its threshold 300"
    conversion = guardrails["conversion_rate"]
    assert conversion.measure == "user_rate"
    assert (conversion.treatment.n, conversion.treatment.total) == (4, 1)
    assert (conversion.control.n, conversion.control.total) == (4, 1)
    assert measured.success_value == pytest.approx(0.75)
    observations = measured.observations("hold")
    assert observations.command == "hold"
    assert {r.metric: r.treatment_value for r in observations.guardrails}["latency_p95"] == 400.0


def test_an_arm_with_too_little_data_gets_no_test_yet(store: Store, product: Product) -> None:
    events = [exposure("t1", "on"), exposure("c1", "off")]
    events.append(event("api_request", "t1", 5, latency_ms=120, error=False))

    measured = measure(store, product, events)

    errors = {g.metric: g for g in measured.guardrails}["error_rate"]
    assert errors.effect is None
    assert errors.sequential_p_value is None
    assert errors.note == "too little data: 1 treatment, 0 control"
    assert errors.result().p_value is None


def test_no_sample_ratio_test_at_100_percent_or_with_nobody_exposed(
    store: Store, product: Product
) -> None:
    assert measure(store, product, []).srm is None
    assert measure(store, product, [exposure("t1", "on")], percentage=100).srm is None


def test_a_guardrail_must_name_a_configured_metric_that_its_test_can_measure() -> None:
    with pytest.raises(ValidationError, match="names no configured metric"):
        check_metrics(PLAN, {})
    welch_on_a_count = parse_plan(
        {
            "stages": [{"percentage": 100}],
            "guardrails": [
                {
                    "metric": "conversion_rate",
                    "kind": "custom",
                    "direction": "decrease_is_bad",
                    "test": "welch",
                    "max_relative_change": 0.1,
                }
            ],
        }
    )
    with pytest.raises(ValidationError, match="has no property to average"):
        check_metrics(welch_on_a_count, METRIC_DEFINITIONS)
