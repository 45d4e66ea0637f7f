"""Regression windows: the onset of a degradation found in the rule's signal, and the
releases and flag changes around it as evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from productpilot.db.models import Event, FlagChange, Launch, Product
from productpilot.db.store import Store
from productpilot.db.tenancy import StoreSession
from productpilot.errors import ValidationError
from productpilot.launch.store import create_flag, update_flag
from productpilot.products.configuration import PerformanceRule
from productpilot.quality.regression import (
    Bucket,
    find_onset,
    investigate,
    regression_finding,
    signal_series,
)

T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
RULE = PerformanceRule(name="api-p95", signal="latency", above=400, window_minutes=10, min_events=3)
BREACH = {
    "rule": "api-p95",
    "signal": "latency",
    "value": 600.0,
    "previous": 600.0,
    "reasons": ["latency 600 is above 400"],
    "window_start": (T0 + 110 * MINUTE).isoformat(),
    "window_end": (T0 + 120 * MINUTE).isoformat(),
}


def buckets(values: list[float | None], size: int = 10) -> list[Bucket]:
    step = timedelta(minutes=size)
    return [Bucket(T0 + i * step, T0 + (i + 1) * step, v, 10) for i, v in enumerate(values)]


def test_the_onset_is_the_first_bucket_of_the_worse_segment() -> None:
    onset = find_onset(buckets([100, 110, 95, 105, 600, 620, 580]), RULE)
    assert onset.found
    assert onset.onset_start == T0 + 40 * MINUTE
    assert onset.suspect_start == T0 + 30 * MINUTE  # a change late in the bucket before
    assert (onset.before, onset.after) == (102.5, 600.0)


def test_buckets_without_enough_events_are_skipped_not_zero() -> None:
    onset = find_onset(buckets([100, None, 100, None, 700, 700]), RULE)
    assert onset.onset_start == T0 + 40 * MINUTE
    assert onset.buckets == 4


def test_usage_regresses_downwards() -> None:
    usage = PerformanceRule(name="traffic", signal="usage", below=50, window_minutes=10)
    onset = find_onset(buckets([300, 310, 290, 40, 35]), usage)
    assert (onset.onset_start, onset.before, onset.after) == (T0 + 30 * MINUTE, 300.0, 37.5)


def test_a_series_that_never_was_better_has_its_onset_in_the_breached_window() -> None:
    onset = find_onset(buckets([600, 590, 580]), RULE)
    assert not onset.found
    assert onset.onset_start == T0 + 20 * MINUTE
    with pytest.raises(ValidationError):
        find_onset([], RULE)


def test_the_signal_per_bucket_is_the_rules_percentile() -> None:
    # Windows are (start, end], as the performance monitor's: 12:10 belongs to the first.
    times = [T0 + 2 * MINUTE, T0 + 5 * MINUTE, T0 + 10 * MINUTE, T0 + 15 * MINUTE]
    events = pd.DataFrame(
        {
            "timestamp": times,
            "properties": [{"latency_ms": v} for v in (100, 200, 300, 50)],
        }
    )
    series = signal_series(events, RULE.model_copy(update={"min_events": 1}), T0, T0 + 20 * MINUTE)
    assert [b.events for b in series] == [3, 1]
    assert series[0].value == pytest.approx(290.0)  # p95 of 100, 200, 300 (linear)
    assert series[1].value == 50.0


# --- with the store -------------------------------------------------------------------------


def record_regression(session: StoreSession, product: Product) -> None:
    """Two hours of api_request events, latency 100 ms until 12:30 and 600 ms after; a
    release reaching production at 12:27, flags changed at 12:35 and 13:30, and an older
    release at 11:00."""
    for i in range(1, 61):
        at = T0 + 2 * i * MINUTE
        session.add(
            Event(
                product_id=product.id,
                idempotency_key=f"req-{i}",
                event="api_request",
                distinct_id=f"u{i % 7}",
                timestamp=at,
                properties={"latency_ms": 100 if at <= T0 + 30 * MINUTE else 600},
            )
        )
    for version, sha, reached in (
        ("1.3.0", "c0ffee", T0 + 27 * MINUTE),
        ("1.2.9", "old", T0 - 60 * MINUTE),
    ):
        session.add(
            Launch(
                product_id=product.id,
                name=f"release v{version}",
                status="released",
                plan={"kind": "release", "version": version, "sha": sha},
                result={
                    "deployments": [
                        {
                            "environment": "production",
                            "sha": sha,
                            "statuses": [{"state": "success", "at": reached.isoformat()}],
                        }
                    ]
                },
                started_at=reached - 5 * MINUTE,
            )
        )
    definition = {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "off",
    }
    create_flag(session, product, "new-search", definition, actor="ann", reason="JIRA-7")
    update_flag(session, product, "new-search", {**definition, "defaultVariant": "on"}, actor="bo")
    first, second = session.scalars(select(FlagChange).order_by(FlagChange.version))
    first.changed_at, second.changed_at = T0 + 35 * MINUTE, T0 + 90 * MINUTE
    session.flush()


def test_an_investigation_names_the_changes_around_the_onset(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        record_regression(session, session.get(Product, product.id))
        investigation = investigate(
            session, product.id, [RULE], BREACH, lookback=timedelta(hours=2)
        )
    onset = investigation.onset
    assert onset.found
    assert (onset.onset_start, onset.before, onset.after) == (T0 + 30 * MINUTE, 100.0, 600.0)
    # Nearest to the onset first; the 11:00 release and the 13:30 flag change are not suspects.
    assert [(s.kind, s.name) for s in investigation.suspects] == [
        ("release", "release v1.3.0"),
        ("flag", "new-search"),
    ]
    assert "JIRA-7" in investigation.suspects[1].detail

    finding = regression_finding(investigation)
    assert finding.ticket
    assert finding.severity == "critical"
    assert finding.dedupe_key == "performance-regression:api-p95"
    assert "release v1.3.0 (c0ffee) reached production" in finding.text
    assert finding.subject == "api-p95 regressed from 2026-11-30 12:30 UTC: 2 suspect change(s)"
    assert investigation.to_dict()["suspects"][0]["reference"].isdigit()


def test_a_breach_of_an_unknown_rule_is_refused(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session, pytest.raises(ValidationError, match="rule"):
        investigate(session, product.id, [], BREACH, lookback=timedelta(hours=1))


def test_docstring_examples() -> None:
    import doctest

    from productpilot.quality import findings_store, qa_report, regression

    for module in (regression, qa_report, findings_store):
        assert doctest.testmod(module).failed == 0
