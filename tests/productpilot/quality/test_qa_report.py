"""The weekly QA report: a small recorded history (releases, a rollback, pull requests,
incidents, bugs, survey answers, a security finding, a criterion) read back from the store
and checked against values worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from productpilot.db.models import (
    BacklogItem,
    Event,
    Launch,
    MetricValue,
    Product,
    Report,
    SuccessCriterion,
    WebhookDelivery,
)
from productpilot.db.store import Store
from productpilot.db.tenancy import StoreSession
from productpilot.errors import ValidationError
from productpilot.quality.findings_store import FindingsSummary, record_scan
from productpilot.quality.qa_report import (
    WEEK,
    WorkItem,
    build_qa_report,
    criterion_status,
    defect_metrics,
    recommend,
    week_start_of,
)
from productpilot.quality.security import Finding
from productpilot.quality.settings import QualitySettings

REPORT_WEEK = date(2026, 11, 23)  # a Monday
SETTINGS = QualitySettings(trend_weeks=1)


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def release(
    session: StoreSession,
    product: Product,
    version: str,
    sha: str,
    deployments: list[tuple[str, int | None, datetime, str, datetime]],
    *,
    status: str = "released",
) -> Launch:
    """A release row in the shape productpilot.launch.releases writes: one deployment entry
    per (environment, GitHub id, created, final state, state time)."""
    entries = [
        {
            "environment": environment,
            "deployment_id": github_id,
            "sha": sha,
            "recorded_on_github": github_id is not None,
            "created_at": created.isoformat(),
            "statuses": [
                {"state": "in_progress", "description": "", "at": created.isoformat()},
                {"state": state, "description": "", "at": finished.isoformat()},
            ],
        }
        for environment, github_id, created, state, finished in deployments
    ]
    launch = Launch(
        product_id=product.id,
        name=f"release v{version}",
        status=status,
        plan={
            "kind": "release",
            "version": version,
            "ref": "main",
            "sha": sha,
            "environments": ["staging", "production"],
        },
        result={"deployments": entries, "events": []},
        started_at=deployments[0][2],
        finished_at=deployments[-1][4],
    )
    session.add(launch)
    session.flush()
    return launch


def pull_request(number: int, sha: str, created: datetime, merged: datetime) -> dict[str, Any]:
    return {
        "action": "closed",
        "repository": {"full_name": "acme/shop"},
        "pull_request": {
            "number": number,
            "created_at": created.isoformat(),
            "merged_at": merged.isoformat(),
            "merge_commit_sha": sha,
        },
    }


def bug(key: str, created: datetime, completed: datetime | None, **fields: Any) -> BacklogItem:
    return BacklogItem(
        source="local",
        external_key=key,
        title=key,
        item_type=fields.pop("item_type", "bug"),
        status="done" if completed else "todo",
        created_at=created,
        completed_at=completed,
        **fields,
    )


NPS_ANSWERS = [10, 9, 9, 8, 7, 3, 10, 6, 9, 10]  # 6 promoters, 2 detractors: NPS 40
CSAT_ANSWERS = [5, 4, 4, 3, 1]  # 3 of 5 satisfied: 60%


def record_history(session: StoreSession, product: Product) -> None:
    """Two weeks of a product's delivery and quality history (see the hand computation in
    ``test_the_recorded_history_worked_by_hand``)."""
    pid = product.id
    # The week before: one production deployment.
    release(
        session, product, "0.9.0", "s0", [("production", 100, at(18, 9), "success", at(18, 10))]
    )
    # The report's week.
    release(
        session,
        product,
        "1.0.0",
        "s1",
        [
            ("staging", None, at(23, 9), "success", at(23, 10)),
            ("production", 101, at(23, 10), "success", at(23, 12)),
        ],
    )
    release(
        session,
        product,
        "1.1.0",
        "s2",
        [("production", 102, at(24, 9), "failure", at(24, 10))],
        status="failed",
    )
    release(
        session, product, "1.1.1", "s3", [("production", 103, at(24, 14), "success", at(24, 16))]
    )
    rolled_back = release(
        session,
        product,
        "1.2.0",
        "s4",
        [("production", 104, at(26, 11), "success", at(26, 12))],
        status="rolled_back",
    )
    session.add(
        Launch(
            product_id=pid,
            name="rollback production to v1.1.1",
            status="released",
            plan={
                "kind": "rollback",
                "environment": "production",
                "sha": "s3",
                "from_release": rolled_back.id,
                "environments": ["production"],
            },
            result={
                "deployments": [
                    {
                        "environment": "production",
                        "deployment_id": 105,
                        "sha": "s3",
                        "created_at": at(26, 13).isoformat(),
                        "statuses": [{"state": "success", "at": at(26, 15).isoformat()}],
                    }
                ]
            },
            started_at=at(26, 13),
            finished_at=at(26, 15),
        )
    )
    deliveries = [
        ("pr-1", "pull_request", pull_request(1, "s1", at(20, 10), at(23, 9)), at(23, 9)),
        ("pr-2", "pull_request", pull_request(2, "m2", at(24, 8), at(24, 13)), at(24, 13)),
        # GitHub tells of release 1.0.0's production deployment too: counted once.
        (
            "dep-101",
            "deployment_status",
            {
                "deployment_status": {"state": "success", "created_at": at(23, 12).isoformat()},
                "deployment": {"id": 101, "sha": "s1", "environment": "production"},
            },
            at(23, 12),
        ),
    ]
    for delivery_id, kind, payload, received in deliveries:
        session.add(
            WebhookDelivery(
                product_id=pid,
                vendor="github",
                delivery_id=delivery_id,
                kind=kind,
                payload=payload,
                received_at=received,
                status="emitted",
            )
        )
    for item in [
        bug("B-1", at(23, 9), at(25, 9), labels=["production"]),
        bug("B-2", at(24, 9), None),
        bug("B-3", at(10), None),  # closed on the 18th, reopened since
        bug("B-4", at(12), at(17)),
        bug("INC-1", at(25, 8), at(25, 12), item_type="incident"),
    ]:
        item.product_id = pid
        session.add(item)
    session.add(
        Report(
            product_id=pid,
            kind="qa",
            period_start=at(16),
            period_end=at(23),
            path="",
            summary={"defects": {"closed_keys": ["local:B-3", "local:B-4"]}},
        )
    )
    answers = [("nps_response", score) for score in NPS_ANSWERS]
    answers += [("csat_response", score) for score in CSAT_ANSWERS]
    answers += [("nps_response", "great"), ("csat_response", 9)]  # not answers: ignored
    for index, (name, score) in enumerate(answers):
        session.add(
            Event(
                product_id=pid,
                idempotency_key=f"survey-{index}",
                event=name,
                distinct_id=f"u{index}",
                timestamp=at(25, 10) + timedelta(minutes=index),
                properties={"score": score},
            )
        )
    session.add(
        MetricValue(
            product_id=pid,
            metric="activation_rate",
            granularity="day",
            period_start=at(29),
            value=0.30,
        )
    )
    session.add(
        SuccessCriterion(
            product_id=pid,
            kpi="activation_rate",
            baseline=0.40,
            target=0.45,
            due=date(2026, 11, 28),
            created_at=at(1),
        )
    )
    session.flush()
    record_scan(
        session,
        pid,
        [Finding("bandit:B608:app/db.py:aa", "bandit", "B608", "critical", "SQL from input")],
        scanned_tools={"bandit"},
        now=at(25),
    )


def test_the_recorded_history_worked_by_hand(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        record_history(session, product)
        report = build_qa_report(session, session.get(Product, product.id), SETTINGS, REPORT_WEEK)

    assert [w.start for w in report.weeks] == [at(16), at(23)]
    before, week = report.weeks
    assert (before.dora.deployments, before.dora.change_failure_rate) == (1, 0.0)

    dora = week.dora
    # Production deployments finished in the week: 101, 103 and 104 succeeded, 102 failed;
    # staging and the rollback's own deployment are not counted, nor GitHub's copy of 101.
    assert (dora.deployments, dora.failed_deployments) == (3, 1)
    assert dora.deployments_per_week == pytest.approx(3.0)
    # 102 failed and 104 was rolled back (it caused an incident): 2 of 4.
    assert dora.change_failure_rate == 0.5
    # PR 1: created the 20th 10:00, shipped by 101 (its sha) the 23rd 12:00 = 74 h.
    # PR 2: created the 24th 08:00, merged 13:00; 103, started 14:00 after the merge,
    # shipped it at 16:00 = 8 h. Median 41 h; P85 8 + 0.85 * 66 = 64.1 h.
    assert dora.changes_measured == 2
    assert dora.lead_time_median == timedelta(hours=41)
    assert dora.lead_time_p85 == timedelta(hours=64.1)
    # Restores: the rollback (13:00 to 15:00, 2 h), INC-1 (08:00 to 12:00, 4 h) and the
    # failed 102 (10:00) until the next success 103 (16:00), 6 h. Median 4 h.
    assert dora.restores_measured == 3
    assert dora.time_to_restore_median == timedelta(hours=4)
    assert (dora.deployment_frequency_band, dora.lead_time_band) == ("high", "high")
    assert (dora.change_failure_band, dora.time_to_restore_band) == ("low", "high")

    defects = week.defects
    assert (defects.inflow, defects.outflow, defects.open_at_end) == (2, 1, 2)
    assert (defects.escaped, defects.escaped_ratio) == (1, 0.5)
    assert (defects.reopened, defects.reopen_rate) == (1, 0.5)  # B-3 of B-3, B-4
    assert defects.closed_keys == ("local:B-1",)

    assert week.nps is not None
    assert week.csat is not None
    assert (week.nps.n, week.nps.score) == (10, 40.0)
    assert (week.csat.n, week.csat.score) == (5, 0.6)

    assert report.security.open_by_severity["critical"] == 1
    [criterion] = report.criteria
    assert (criterion.current, criterion.state) == (0.30, "missed")

    titles = [r.title for r in report.recommendations]
    assert titles[0] == "Fix 1 open critical security finding"
    assert titles[1] == "Reduce the change failure rate"
    assert "Catch defects before production" in titles
    assert "Verify bug fixes before closing them" in titles
    assert "Review activation_rate: missed its target" in titles
    assert all(r.reasons for r in report.recommendations)
    priorities = [r.priority for r in report.recommendations]
    assert priorities == sorted(priorities, reverse=True)


def test_an_empty_product_gets_a_report_that_says_what_is_missing(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        report = build_qa_report(session, session.get(Product, product.id), SETTINGS, REPORT_WEEK)
    assert report.week.dora.deployments == 0
    assert report.week.nps is None
    assert report.recommendations == ()  # nothing recorded is no evidence of anything
    assert any("No deployments recorded" in note for note in report.notes)
    assert any("Reopen rate" in note for note in report.notes)


def test_a_week_starts_on_a_monday() -> None:
    assert week_start_of(date(2026, 11, 29)) == REPORT_WEEK
    with pytest.raises(ValidationError, match="Monday"):
        build_qa_report(None, None, SETTINGS, date(2026, 11, 24))  # type: ignore[arg-type]


# --- the pure parts -------------------------------------------------------------------------


def test_defects_of_other_types_and_weeks_do_not_count() -> None:
    start = at(23)
    items = [
        WorkItem("S-1", "story", "done", (), start, start + timedelta(days=1)),
        WorkItem("B-1", "Defect", "done", ("Escaped",), start, start + timedelta(days=1)),
        WorkItem("B-2", "bug", "done", (), start - WEEK, start - timedelta(days=1)),
    ]
    metrics = defect_metrics(
        items, start, start + WEEK, bug_types={"bug", "defect"}, escaped_labels={"escaped"}
    )
    assert (metrics.inflow, metrics.outflow, metrics.open_at_end, metrics.escaped) == (1, 1, 0, 1)
    assert metrics.reopen_rate is None  # no previous report


def test_criteria_are_judged_by_progress_against_elapsed_time() -> None:
    planned, due = date(2026, 11, 1), date(2026, 12, 1)
    halfway = date(2026, 11, 16)

    def state(current: float | None, today: date = halfway) -> str:
        return criterion_status("k", 100, 200, due, current, planned_on=planned, today=today).state

    assert state(200) == "met"
    assert state(160) == "on_track"  # 60% of the way, half the time gone
    assert state(120) == "behind"
    assert state(120, today=date(2026, 12, 2)) == "missed"
    assert state(None) == "no_data"
    # A KPI meant to fall meets its target by going under it.
    assert (
        criterion_status("err", 0.05, 0.01, due, 0.009, planned_on=planned, today=halfway).state
        == "met"
    )


def test_security_outranks_everything_and_ties_break_by_title() -> None:
    ranked = recommend([], FindingsSummary({"critical": 0, "high": 3}, opened=3), [])
    assert [r.title for r in ranked] == ["Fix 3 open high security findings"]
    assert "3 opened and 0 fixed this week" in ranked[0].reasons


def test_rare_deployments_are_recommended_against_only_when_deployments_are_recorded() -> None:
    from productpilot.quality.dora import Deployment, dora_metrics
    from productpilot.quality.qa_report import DefectMetrics, WeekMetrics

    shipped = [Deployment("1", "production", "a", "success", at(17, 9))]
    no_defects = DefectMetrics(0, 0, 0, 0, None, None, None)

    def week(start: datetime, deployments: list[Deployment]) -> WeekMetrics:
        dora = dora_metrics(deployments, [], [], start=start, end=start + WEEK)
        return WeekMetrics(start, start + WEEK, dora, no_defects)

    quiet = [week(at(16), shipped), week(at(23), shipped)]
    [advice] = recommend(quiet, FindingsSummary(), [])
    assert advice.title == "Deploy smaller changes more often"
    assert advice.reasons[0] == "0 deployments this week (low band)"
    assert advice.reasons[1] == "worse than the 1 week before (mean 1, now 0)"
    assert recommend([week(at(16), []), week(at(23), [])], FindingsSummary(), []) == []
