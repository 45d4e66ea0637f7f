"""Gate verdicts in the store: one row per evaluation, the facts kept to merge into, the
latest verdict of a commit (what a release asks), and the history of a pull request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from productpilot.db.models import Product
from productpilot.db.store import Store
from productpilot.products.configuration import GateDefinition
from productpilot.quality.gates import (
    ChangedLinesCoverage,
    CheckRun,
    GateFacts,
    Review,
    evaluate_gates,
)
from productpilot.quality.history import (
    commit_history,
    facts_from_json,
    facts_to_json,
    latest_facts,
    latest_verdict,
    pull_request_history,
    record_verdict,
    set_check_run_id,
)
from productpilot.quality.security import Finding

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
GATES = [
    GateDefinition(name="ci", kind="required_checks"),
    GateDefinition(name="review", kind="approvals"),
]


def facts(sha: str, conclusion: str, pull: int = 7) -> GateFacts:
    return GateFacts(
        head_sha=sha,
        pull_requests=(pull,),
        check_runs=(CheckRun("test", "completed", conclusion, 11, NOW),),
        reviews=(Review("ana", "APPROVED", NOW, 5),),
    )


def test_facts_survive_the_json_round_trip_including_unknowns() -> None:
    full = GateFacts(
        head_sha="abc",
        pull_requests=(3, 4),
        check_runs=(CheckRun("lint", "completed", "success", 1, NOW, "https://x"),),
        reviews=(Review("ana", "approved", NOW, 9),),
        coverage=ChangedLinesCoverage(8, 10, {"app.py": (3, 4)}),
        alerts=(Finding("f1", "CodeQL", "py/sqli", "critical", "SQL injection", first_seen=NOW),),
        performance_regressions={"p95": 4.5},
        values={"bundle_kb": 120.0},
        head_from_pull_request=True,
    )
    assert facts_from_json(facts_to_json(full)) == full
    assert facts_from_json(facts_to_json(GateFacts("abc"))).reviews is None  # still unknown


def test_each_evaluation_is_a_row_and_the_latest_verdict_answers_the_release(
    store: Store, tenant_id: int, product: Product
) -> None:
    failing = facts("a" * 40, "failure")
    passing = facts("a" * 40, "success")
    with store.tenant_session(tenant_id) as session:
        assert latest_verdict(session, product.id, "a" * 40) is None
        first = record_verdict(
            session,
            product.id,
            evaluate_gates(GATES, failing),
            failing,
            gate="ProductPilot quality gates",
            repository="acme/app",
            evaluated_at=NOW,
        )
        set_check_run_id(session, first.id, 1234)
        record_verdict(
            session,
            product.id,
            evaluate_gates(GATES, passing),
            passing,
            gate="ProductPilot quality gates",
            repository="acme/app",
            check_run_id=1234,
            evaluated_at=NOW + timedelta(minutes=3),
        )
    with store.tenant_session(tenant_id) as session:
        verdict = latest_verdict(session, product.id, "a" * 40)
        assert verdict is not None
        assert (verdict.passed, verdict.outcome, verdict.check_run_id) == (True, "passed", 1234)
        assert verdict.summary.startswith("All 2 gates passed")
        assert verdict.evaluated_at == NOW + timedelta(minutes=3)
        assert [r["outcome"] for r in verdict.details["results"]] == ["passed", "passed"]
        [before, after] = commit_history(session, product.id, "a" * 40)
        assert (before.passed, before.check_run_id, after.passed) == (False, 1234, True)
        assert latest_facts(session, product.id, "a" * 40) == passing


def test_a_pending_verdict_is_not_a_pass(store: Store, tenant_id: int, product: Product) -> None:
    waiting = GateFacts("b" * 40, check_runs=(CheckRun("test", "in_progress"),))
    with store.tenant_session(tenant_id) as session:
        stored = record_verdict(
            session, product.id, evaluate_gates(GATES, waiting), waiting, gate="g", repository=None
        )
        assert (stored.passed, stored.outcome) == (False, "pending")


def test_a_pull_requests_history_spans_its_commits_and_only_its_repository(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        for minute, (sha, repository, pull) in enumerate(
            [
                ("a" * 40, "acme/app", 7),
                ("b" * 40, "acme/app", 7),  # a push to the pull request
                ("c" * 40, "acme/app", 8),
                ("d" * 40, "acme/lib", 7),  # another repository's #7
            ]
        ):
            known = facts(sha, "success", pull)
            record_verdict(
                session,
                product.id,
                evaluate_gates(GATES, known),
                known,
                gate="g",
                repository=repository,
                evaluated_at=NOW + timedelta(minutes=minute),
            )
    with store.tenant_session(tenant_id) as session:
        found = pull_request_history(session, product.id, 7, repository="acme/app")
        assert [v.subject for v in found] == ["a" * 40, "b" * 40]
        assert len(pull_request_history(session, product.id, 7)) == 3


def test_a_verdict_without_a_commit_is_refused(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session, pytest.raises(ValueError, match="head"):
        record_verdict(
            session,
            product.id,
            evaluate_gates(GATES, GateFacts()),
            GateFacts(),
            gate="g",
            repository=None,
        )
