"""Specification of releases: their record in ``launches``, the promotion and approval
rules, the gate check against ``quality_gate_results``, and where a rollback goes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from productpilot.db.models import Launch, Product
from productpilot.db.store import Store
from productpilot.errors import NotFoundError, ValidationError
from productpilot.launch.releases import (
    GateCheck,
    approval_decision,
    deployment_states,
    finish_release,
    gate_check,
    get_release,
    promotion_decision,
    record_deployment,
    record_status,
    record_step,
    releases,
    rollback_plan,
    start_release,
    start_rollback,
)
from productpilot.products import create_product
from productpilot.tenants import create_tenant
from tests.productpilot.quality.recorded import record_gate_verdict

SHA_1 = "1" * 40
SHA_2 = "2" * 40
SHA_3 = "3" * 40
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ENVIRONMENTS = ["staging", "production"]


# --- the rules ----------------------------------------------------------------------------


def test_gates_that_passed_promote_and_approval_is_asked_only_when_configured() -> None:
    passed = GateCheck(configured=True, passed=True, summary="passed (ci)")
    assert promotion_decision(passed, require_approval=False).to_dict() == {
        "promote": True,
        "needs_approval": False,
        "reason": "quality gates passed: passed (ci)",
    }
    assert promotion_decision(passed, require_approval=True).needs_approval


def test_failed_gates_or_no_verdict_yet_block_promotion_and_ask_nobody() -> None:
    failed = promotion_decision(GateCheck(True, False, "failed: 2 blockers"), require_approval=True)
    missing = promotion_decision(GateCheck(True, None, "nothing recorded"), require_approval=False)
    assert (failed.promote, failed.needs_approval) == (False, False)
    assert failed.reason == "quality gates failed: failed: 2 blockers"
    assert not missing.promote
    assert missing.reason.startswith("no quality-gate verdict for this commit yet")


def test_a_product_without_gates_promotes_and_says_why() -> None:
    decision = promotion_decision(GateCheck(False, None, "n/a"), require_approval=False)
    assert decision.promote
    assert decision.reason == "no quality gates are configured"


def test_an_approval_is_a_yes_a_no_with_its_reason_or_silence_which_is_a_no() -> None:
    yes = approval_decision({"approve": True, "approver": "dana", "comment": "go"})
    no = approval_decision({"approve": False, "approver": "lee", "comment": "wait for QA"})
    silence = approval_decision(None, timeout_seconds=1800)
    assert (yes.approved, yes.approver, yes.reason) == (True, "dana", "approved by dana")
    assert (no.approved, no.reason) == (False, "rejected by lee: wait for QA")
    assert (silence.approved, silence.approver) == (False, None)
    assert silence.reason == "nobody approved the promotion within 30 minutes"


def test_an_approval_without_a_name_is_still_recorded_as_given_by_someone() -> None:
    assert approval_decision({"approve": True, "approver": " "}).approver == "someone unnamed"


# --- the gate check -----------------------------------------------------------------------


def test_the_newest_verdict_on_the_sha_decides(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        owned = session.get(Product, product.id)
        record_gate_verdict(session, owned.id, SHA_1, "failed", at=T0)
        record_gate_verdict(session, owned.id, SHA_1, "passed", at=T0 + timedelta(minutes=5))
        record_gate_verdict(session, owned.id, SHA_2, "passed", at=T0)
        record_gate_verdict(session, owned.id, SHA_2, "failed", at=T0 + timedelta(minutes=5))

        first = gate_check(session, owned, SHA_1, gates_configured=True)
        second = gate_check(session, owned, SHA_2, gates_configured=True)
        unknown = gate_check(session, owned, SHA_3, gates_configured=True)

    assert (first.passed, first.summary) == (True, "All 1 gate passed")
    assert (second.passed, second.summary) == (False, "0 of 1 gates passed, 1 failed")
    assert unknown.passed is None
    assert unknown.configured


def test_gates_still_waiting_for_checks_are_not_yet_a_pass_nor_a_failure(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        owned = session.get(Product, product.id)
        record_gate_verdict(session, owned.id, SHA_1, "pending", at=T0)
        check = gate_check(session, owned, SHA_1, gates_configured=True)
    assert check.passed is None
    assert check.summary == "still pending: 0 of 1 gates passed, 1 pending"


def test_verdicts_of_another_product_do_not_count(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        other = create_product(session, "Other")
        record_gate_verdict(session, other.id, SHA_1, "passed", at=T0)
        check = gate_check(session, session.get(Product, product.id), SHA_1, gates_configured=True)
    assert check.passed is None


# --- the record ---------------------------------------------------------------------------


def _released(session, product: Product, version: str, sha: str, at: datetime) -> Launch:
    launch = start_release(
        session, product, version=version, ref=f"v{version}", sha=sha,
        environments=ENVIRONMENTS, now=at,
    )  # fmt: skip
    for environment in ENVIRONMENTS:
        record_deployment(session, launch, environment, deployment_id=None, sha=sha, now=at)
        record_status(session, launch, environment, "in_progress", now=at)
        record_status(session, launch, environment, "success", now=at)
    finish_release(session, launch, "released", "in production", now=at)
    return launch


def test_a_release_is_recorded_with_its_plan_deployments_statuses_and_outcome(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        owned = session.get(Product, product.id)
        launch = start_release(
            session, owned, version="v1.2.0", ref="main", sha=SHA_1,
            environments=ENVIRONMENTS, previous_version="1.1.0", now=T0,
        )  # fmt: skip
        record_deployment(session, launch, "staging", deployment_id=1001, sha=SHA_1, now=T0)
        record_status(session, launch, "staging", "in_progress", "deploying", now=T0)
        record_status(session, launch, "staging", "success", now=T0)
        record_step(session, launch, "gates", {"passed": False})
        finish_release(session, launch, "blocked", "quality gates failed", now=T0)
        launch_id = launch.id

    with store.tenant_session(tenant_id) as session:
        stored = get_release(session, session.get(Product, product.id), launch_id)
        assert stored.name == "release v1.2.0"
        assert stored.plan == {
            "kind": "release",
            "version": "1.2.0",
            "ref": "main",
            "sha": SHA_1,
            "environments": ENVIRONMENTS,
            "previous_version": "1.1.0",
            "since": None,
        }
        assert (stored.status, stored.current_stage) == ("blocked", 0)
        assert deployment_states(stored) == {"staging": ["in_progress", "success"]}
        assert stored.result["deployments"][0]["deployment_id"] == 1001
        assert stored.result["gates"] == {"passed": False}
        assert stored.result["outcome"] == "quality gates failed"
        assert stored.finished_at is not None


def test_reaching_production_moves_the_current_stage_to_it(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        launch = _released(session, session.get(Product, product.id), "1.0.0", SHA_1, T0)
        assert launch.current_stage == 1


def test_a_status_for_an_environment_never_deployed_is_refused(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        owned = session.get(Product, product.id)
        launch = start_release(
            session, owned, version="1.0.0", ref="main", sha=SHA_1, environments=ENVIRONMENTS
        )
        with pytest.raises(ValidationError, match="no deployment to production"):
            record_status(session, launch, "production", "success")


def test_a_release_needs_environments_and_a_sha(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        owned = session.get(Product, product.id)
        with pytest.raises(ValidationError):
            start_release(session, owned, version="1", ref="main", sha=SHA_1, environments=[])
        with pytest.raises(ValidationError):
            start_release(session, owned, version="1", ref="main", sha=" ", environments=["x"])


def test_another_tenants_release_is_not_found(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        launch_id = _released(session, session.get(Product, product.id), "1.0.0", SHA_1, T0).id
    other_tenant, _ = create_tenant(store, "Other Inc")
    with store.tenant_session(other_tenant.id) as session:
        other = create_product(session, "Theirs")
        with pytest.raises(NotFoundError):
            get_release(session, other, launch_id)


# --- rollback -----------------------------------------------------------------------------


def test_a_rollback_goes_to_the_previous_release_that_reached_production(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        owned = session.get(Product, product.id)
        first = _released(session, owned, "1.0.0", SHA_1, T0)
        blocked = start_release(
            session, owned, version="1.1.0", ref="main", sha=SHA_3, environments=ENVIRONMENTS
        )
        finish_release(session, blocked, "blocked", "gates failed")
        second = _released(session, owned, "1.2.0", SHA_2, T0 + timedelta(days=1))

        plan = rollback_plan(session, owned, "production")
        assert (plan.current.id, plan.target.id) == (second.id, first.id)

        rollback = start_rollback(session, owned, plan, "error rate doubled", now=T0)
        assert rollback.name == "rollback production to v1.0.0"
        assert rollback.plan["sha"] == SHA_1
        assert rollback.plan["from_release"] == second.id
        assert [r.id for r in releases(session, owned)][:1] == [rollback.id]


def test_after_a_rollback_the_next_one_goes_one_release_further_back(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        owned = session.get(Product, product.id)
        oldest = _released(session, owned, "0.9.0", SHA_3, T0)
        middle = _released(session, owned, "1.0.0", SHA_1, T0)
        newest = _released(session, owned, "1.1.0", SHA_2, T0)
        finish_release(session, newest, "rolled_back", "rolled back")

        plan = rollback_plan(session, owned, "production")
        assert (plan.current.id, plan.target.id) == (middle.id, oldest.id)


def test_there_is_no_rollback_without_an_earlier_release(
    store: Store, tenant_id: int, product: Product
) -> None:
    with store.tenant_session(tenant_id) as session:
        owned = session.get(Product, product.id)
        with pytest.raises(ValidationError, match="nothing has been released to production"):
            rollback_plan(session, owned, "production")
        _released(session, owned, "1.0.0", SHA_1, T0)
        with pytest.raises(ValidationError, match="no earlier release"):
            rollback_plan(session, owned, "production")
