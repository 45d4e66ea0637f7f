"""Specification of integration-test dispatch: rules, triggers from real GitHub payloads, the
dispatches they call for, and the record that makes each one happen once."""

from __future__ import annotations

import copy
import doctest
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from productpilot.db.models import Plan, Product
from productpilot.db.store import Store
from productpilot.products.configuration import ProductConfiguration
from productpilot.quality import dispatch as module
from productpilot.quality.dispatch import (
    CLAIM_TIMEOUT,
    DISPATCH_KIND,
    DispatchRule,
    DispatchStatus,
    DispatchTrigger,
    PlannedDispatch,
    TestDispatchSettings,
    claim_dispatch,
    complete_dispatches,
    dispatch_failure_finding,
    dispatch_key,
    mark_dispatched,
    mark_failed,
    outstanding_dispatches,
    plan_dispatches,
    trigger_from_webhook,
)
from tests.integrations.shared_data import GITHUB_WEBHOOKS, load, shared_dir

SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
INTEGRATION = DispatchRule(
    name="integration",
    workflow="integration.yml",
    on_labels=["run-integration", "bug"],
    inputs={"commit": "{sha}", "pr": "{number}"},
)
PERFORMANCE = DispatchRule(
    name="performance",
    workflow="performance.yml",
    on_deployment_environments=["production", "staging"],
    inputs={"target": "{environment}", "ref": "{ref}"},
)
SETTINGS = TestDispatchSettings(rules=[INTEGRATION, PERFORMANCE])


def payload(event: str, name: str) -> dict[str, Any]:
    return load(shared_dir(GITHUB_WEBHOOKS) / event / name)


def pr_trigger(**changes: Any) -> DispatchTrigger:
    values: dict[str, Any] = {
        "kind": "pull_request",
        "repository": "acme/shop",
        "sha": SHA,
        "ref": "feature",
        "labels": ("run-integration",),
        "number": 7,
    }
    return DispatchTrigger(**{**values, **changes})


def deployment_trigger(**changes: Any) -> DispatchTrigger:
    values: dict[str, Any] = {
        "kind": "deployment",
        "repository": "acme/shop",
        "sha": SHA,
        "ref": "main",
        "environment": "production",
        "state": "success",
    }
    return DispatchTrigger(**{**values, **changes})


def test_the_module_examples_hold() -> None:
    assert doctest.testmod(module).failed == 0


# --- configuration ----------------------------------------------------------------------------


def test_the_section_lives_in_the_product_configuration() -> None:
    configuration = ProductConfiguration.model_validate(
        {"design_and_testing": {"test_dispatch": {"rules": [INTEGRATION.model_dump()]}}}
    )
    assert configuration.design_and_testing.test_dispatch.rules == [INTEGRATION]
    assert ProductConfiguration().design_and_testing.test_dispatch.rules == []


def test_a_rule_without_a_trigger_is_refused() -> None:
    with pytest.raises(ValidationError, match="needs on_labels or on_deployment_environments"):
        DispatchRule(name="idle", workflow="ci.yml")


def test_an_unknown_placeholder_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValidationError, match=r"inputs.target: unknown placeholder 'branch'"):
        DispatchRule(name="x", workflow="ci.yml", on_labels=["a"], inputs={"target": "{branch}"})


@pytest.mark.parametrize("workflow", ["ci", "../ci.yml", "dir/ci.yml"])
def test_a_workflow_is_a_file_name_in_the_workflows_folder(workflow: str) -> None:
    with pytest.raises(ValidationError, match="workflow"):
        DispatchRule(name="x", workflow=workflow, on_labels=["a"])


def test_rule_names_are_unique() -> None:
    with pytest.raises(ValidationError, match="listed twice: integration"):
        TestDispatchSettings(rules=[INTEGRATION, INTEGRATION])


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        DispatchRule(name="x", workflow="ci.yml", on_labels=["a"], branch="main")


# --- triggers from real payloads --------------------------------------------------------------


def test_a_labelled_pull_request_gives_its_head_branch_commit_and_labels() -> None:
    trigger = trigger_from_webhook("pull_request", payload("pull_request", "labeled.payload.json"))
    assert trigger == DispatchTrigger(
        kind="pull_request",
        repository="Codertocat/Hello-World",
        sha=SHA,
        ref="changes",
        labels=("bug",),
        number=2,
    )


def test_a_pull_request_from_a_fork_gives_no_branch_to_dispatch_on() -> None:
    raw = copy.deepcopy(payload("pull_request", "labeled.payload.json"))
    raw["pull_request"]["head"]["repo"]["full_name"] = "someone/Hello-World"
    trigger = trigger_from_webhook("pull_request", raw)
    assert trigger is not None
    assert trigger.ref is None


def test_a_closed_pull_request_is_not_tested() -> None:
    trigger = trigger_from_webhook("pull_request", payload("pull_request", "closed.payload.json"))
    assert trigger is not None
    assert trigger.skip_reason == "the pull request is closed"


def test_a_deployment_status_gives_the_environment_and_state() -> None:
    raw = payload("deployment_status", "payload.json")
    trigger = trigger_from_webhook("deployment_status", raw)
    assert (trigger.kind, trigger.environment, trigger.state, trigger.ref, trigger.sha) == (
        "deployment",
        "production",
        "success",
        "master",
        "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
    )


def test_the_deployment_event_itself_is_the_created_state() -> None:
    trigger = trigger_from_webhook("deployment", payload("deployment", "payload.json"))
    assert (trigger.environment, trigger.state) == ("production", "created")


def test_a_deployment_of_a_bare_commit_gives_no_ref() -> None:
    raw = copy.deepcopy(payload("deployment", "payload.json"))
    raw["deployment"]["ref"] = raw["deployment"]["sha"]
    assert trigger_from_webhook("deployment", raw).ref is None


@pytest.mark.parametrize(
    ("kind", "raw"),
    [("pull_request", {"pull_request": {}}), ("deployment", {}), ("push", {"ref": "x"})],
)
def test_payloads_without_a_commit_or_of_other_events_give_no_trigger(
    kind: str, raw: dict[str, Any]
) -> None:
    assert trigger_from_webhook(kind, raw) is None


# --- what a trigger calls for -----------------------------------------------------------------


def test_a_labelled_pull_request_dispatches_the_labels_suite_with_its_inputs() -> None:
    [planned], skipped = plan_dispatches(SETTINGS, pr_trigger())
    assert skipped == []
    assert planned == PlannedDispatch(
        rule="integration",
        workflow="integration.yml",
        repository="acme/shop",
        ref="feature",
        sha=SHA,
        inputs={"commit": SHA, "pr": "7"},
        reason="label 'run-integration' on pull request #7",
        number=7,
    )


def test_a_pull_request_without_a_rule_label_dispatches_nothing() -> None:
    assert plan_dispatches(SETTINGS, pr_trigger(labels=("docs",))) == ([], [])


def test_a_deployment_to_a_watched_environment_dispatches_its_suite() -> None:
    [planned], _ = plan_dispatches(SETTINGS, deployment_trigger())
    assert (planned.rule, planned.ref, planned.inputs, planned.environment) == (
        "performance",
        "main",
        {"target": "production", "ref": "main"},
        "production",
    )


@pytest.mark.parametrize(
    "changes", [{"environment": "preview"}, {"state": "created"}, {"state": "failure"}]
)
def test_other_environments_and_states_dispatch_nothing(changes: dict[str, Any]) -> None:
    assert plan_dispatches(SETTINGS, deployment_trigger(**changes)) == ([], [])


def test_a_rule_may_react_to_the_deployment_being_created() -> None:
    rule = PERFORMANCE.model_copy(update={"deployment_states": ["created"]})
    planned, _ = plan_dispatches(
        TestDispatchSettings(rules=[rule]), deployment_trigger(state="created")
    )
    assert [p.rule for p in planned] == ["performance"]


def test_a_fork_is_skipped_with_the_reason() -> None:
    planned, [skipped] = plan_dispatches(SETTINGS, pr_trigger(ref=None))
    assert planned == []
    assert (skipped.rule, skipped.reason) == (
        "integration",
        "the pull request comes from a fork, whose branch cannot be dispatched on",
    )


def test_a_rule_with_its_own_ref_runs_there_even_for_a_bare_commit_deployment() -> None:
    rule = PERFORMANCE.model_copy(update={"ref": "main"})
    [planned], _ = plan_dispatches(TestDispatchSettings(rules=[rule]), deployment_trigger(ref=None))
    assert planned.ref == "main"


def test_a_closed_pull_request_is_skipped_with_the_reason() -> None:
    planned, [skipped] = plan_dispatches(SETTINGS, pr_trigger(skip_reason="closed"))
    assert (planned, skipped.reason) == ([], "closed")


def test_the_key_is_per_repository_workflow_commit_and_environment() -> None:
    key = dispatch_key("acme/shop", "integration.yml", SHA)
    assert key == dispatch_key("Acme/Shop", "integration.yml", SHA.upper())
    assert key != dispatch_key("acme/shop", "performance.yml", SHA)
    assert key != dispatch_key("acme/shop", "integration.yml", "b" * 40)
    assert dispatch_key("acme/shop", "p.yml", SHA, "staging") != dispatch_key(
        "acme/shop", "p.yml", SHA, "production"
    )


def test_a_refused_dispatch_is_a_warning_naming_the_workflow_and_the_error() -> None:
    [planned], _ = plan_dispatches(SETTINGS, pr_trigger())
    finding = dispatch_failure_finding(3, {**planned.to_dict(), "error": "HTTP 404 Not Found"})
    assert (finding.severity, finding.product_id) == ("warning", 3)
    assert finding.subject == "Could not start integration.yml for ec26c3e in acme/shop"
    assert "GitHub refused: HTTP 404 Not Found" in finding.text
    assert finding.dedupe_key == f"test-dispatch:{planned.key}"


# --- the record (SQLite and PostgreSQL) -------------------------------------------------------


def planned_dispatch(**changes: Any) -> PlannedDispatch:
    [planned], _ = plan_dispatches(SETTINGS, pr_trigger(**changes))
    return planned


def claim(store: Store, product: Product, planned: PlannedDispatch, now: datetime = NOW) -> Any:
    with store.tenant_session(product.tenant_id) as session:
        return claim_dispatch(
            session, session.get(Product, product.id), planned, source={"id": "d1"}, now=now
        )


def test_a_claim_is_recorded_as_a_test_dispatch_plan(store: Store, product: Product) -> None:
    record = claim(store, product, planned_dispatch())
    with store.tenant_session(product.tenant_id) as session:
        row = session.get(Plan, record.id)
        assert (row.kind, row.status) == (DISPATCH_KIND, DispatchStatus.CLAIMED)
        assert row.parameters["workflow"] == "integration.yml"
        assert row.parameters["source"] == {"id": "d1"}
        assert row.result == {"claimed_at": NOW.isoformat(), "attempts": 1}


def test_a_dispatched_key_is_not_claimed_again(store: Store, product: Product) -> None:
    record = claim(store, product, planned_dispatch())
    with store.tenant_session(product.tenant_id) as session:
        mark_dispatched(session, record.id, now=NOW)
    assert claim(store, product, planned_dispatch(), NOW + timedelta(days=1)) is None
    # Another commit of the same pull request is a new dispatch.
    assert claim(store, product, planned_dispatch(sha="b" * 40)) is not None


def test_a_claim_in_progress_is_a_duplicate_until_it_is_abandoned(
    store: Store, product: Product
) -> None:
    claim(store, product, planned_dispatch())
    assert claim(store, product, planned_dispatch(), NOW + CLAIM_TIMEOUT / 2) is None
    taken_over = claim(store, product, planned_dispatch(), NOW + CLAIM_TIMEOUT)
    assert taken_over is not None
    assert taken_over.result["attempts"] == 2


def test_a_failed_dispatch_is_claimed_again_keeping_one_record(
    store: Store, product: Product
) -> None:
    first = claim(store, product, planned_dispatch())
    with store.tenant_session(product.tenant_id) as session:
        failed = mark_failed(session, first.id, "HTTP 502")
    assert (failed.status, failed.result["error"]) == (DispatchStatus.FAILED, "HTTP 502")
    again = claim(store, product, planned_dispatch())
    assert (again.id, again.status) == (first.id, DispatchStatus.CLAIMED)


def test_outstanding_dispatches_are_the_dispatched_ones_of_the_product(
    store: Store, product: Product
) -> None:
    dispatched = claim(store, product, planned_dispatch())
    claim(store, product, planned_dispatch(sha="b" * 40))  # still claimed: not outstanding
    with store.tenant_session(product.tenant_id) as session:
        mark_dispatched(session, dispatched.id)
        owned = session.get(Product, product.id)
        assert [r.id for r in outstanding_dispatches(session, owned)] == [dispatched.id]


def workflow_run(**changes: Any) -> dict[str, Any]:
    """The real ``workflow_run.completed`` payload, as a run dispatched for ``SHA``."""
    raw = copy.deepcopy(payload("workflow_run", "completed.payload.json"))
    run = raw["workflow_run"]
    run.update(
        event="workflow_dispatch",
        path=".github/workflows/integration.yml",
        head_sha=SHA,
        head_branch="feature",
    )
    run["repository"]["full_name"] = "acme/shop"
    run.update(changes)
    return raw


def test_a_completed_workflow_run_completes_its_dispatch(store: Store, product: Product) -> None:
    record = claim(store, product, planned_dispatch())
    with store.tenant_session(product.tenant_id) as session:
        mark_dispatched(session, record.id)
        owned = session.get(Product, product.id)
        [completed] = complete_dispatches(session, owned, workflow_run())
        assert completed.id == record.id
        assert (completed.status, completed.result["conclusion"]) == ("completed", "success")
        assert outstanding_dispatches(session, owned) == []
        # Delivered again: nothing left to complete.
        assert complete_dispatches(session, owned, workflow_run()) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "in_progress"},
        {"event": "repository_dispatch"},
        {"path": ".github/workflows/other.yml"},
        {"head_sha": "c" * 40, "head_branch": "other"},
    ],
    ids=["in-progress", "not-dispatched", "other-workflow", "other-commit"],
)
def test_other_runs_complete_nothing(
    store: Store, product: Product, changes: dict[str, Any]
) -> None:
    record = claim(store, product, planned_dispatch())
    with store.tenant_session(product.tenant_id) as session:
        mark_dispatched(session, record.id)
        owned = session.get(Product, product.id)
        assert complete_dispatches(session, owned, workflow_run(**changes)) == []


def test_a_run_at_a_newer_commit_of_the_branch_completes_the_branchs_dispatch(
    store: Store, product: Product
) -> None:
    # A rule with its own ref (or a push right after the dispatch): the run's head is not
    # the commit under test, so the branch tells.
    record = claim(store, product, planned_dispatch())
    with store.tenant_session(product.tenant_id) as session:
        mark_dispatched(session, record.id)
        owned = session.get(Product, product.id)
        [completed] = complete_dispatches(session, owned, workflow_run(head_sha="d" * 40))
        assert completed.id == record.id


def test_the_real_payload_unchanged_is_not_a_dispatched_run(store: Store, product: Product) -> None:
    record = claim(store, product, planned_dispatch())
    with store.tenant_session(product.tenant_id) as session:
        mark_dispatched(session, record.id)
        owned = session.get(Product, product.id)
        raw = payload("workflow_run", "completed.payload.json")
        assert complete_dispatches(session, owned, raw) == []
