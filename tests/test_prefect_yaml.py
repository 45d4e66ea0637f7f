"""prefect.yaml names real flows with parameters they accept."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from prefect.flows import load_flow_from_entrypoint

ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["name"])
def test_each_deployment_points_at_a_flow_that_accepts_its_parameters(
    deployment: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    flow = load_flow_from_entrypoint(deployment["entrypoint"])
    accepted = inspect.signature(flow.fn).parameters
    assert set(deployment.get("parameters") or {}) <= set(accepted)
    assert deployment["work_pool"]["name"] == "productpilot"


def test_deployment_names_are_unique() -> None:
    names = [d["name"] for d in DEPLOYMENTS]
    assert len(names) == len(set(names))


def test_releases_run_on_demand_and_rollbacks_jump_the_queue() -> None:
    by_name = {d["name"]: d for d in DEPLOYMENTS}
    release, rollback = by_name["release"], by_name["rollback"]
    assert release["entrypoint"] == "flows/releases.py:release_flow"
    assert rollback["entrypoint"] == "flows/releases.py:rollback_flow"
    assert not release.get("schedules")
    assert not rollback.get("schedules")
    assert release["work_pool"]["work_queue_name"] == "default"
    assert rollback["work_pool"]["work_queue_name"] == "high"
    assert "area:launch" in release["tags"]
    assert "area:launch" in rollback["tags"]


@pytest.mark.parametrize("name", ["quality-gate", "workflow-transitions"])
def test_development_deployments_react_to_github_events_of_a_product(name: str) -> None:
    from integrations.github.webhooks import HANDLED_EVENTS

    [deployment] = [d for d in DEPLOYMENTS if d["name"] == name]
    assert deployment["work_pool"]["work_queue_name"] == "high"
    [trigger] = deployment["triggers"]
    assert trigger["match"] == {"prefect.resource.id": "productpilot.product.*"}
    assert trigger["parameters"] == {
        "product": "{{ event.resource.id }}",
        "delivery_id": "{{ event.payload.delivery.id }}",
    }
    for expected in trigger["expect"]:
        vendor, kind = expected.split(".")[1:3]
        assert (vendor, kind in HANDLED_EVENTS) == ("github", True), expected


def test_progressive_rollouts_step_every_five_minutes_on_the_high_queue() -> None:
    [rollout] = [d for d in DEPLOYMENTS if d["name"] == "progressive-rollout"]
    assert rollout["entrypoint"] == "flows/rollouts.py:progressive_rollout_flow"
    assert [s["cron"] for s in rollout["schedules"]] == ["*/5 * * * *"]
    assert rollout["work_pool"]["work_queue_name"] == "high"
    assert "area:launch" in rollout["tags"]
    assert rollout["concurrency_limit"]["limit"] == 1


@pytest.mark.parametrize(
    "deployment", [d for d in DEPLOYMENTS if d.get("triggers")], ids=lambda d: d["name"]
)
def test_trigger_parameters_are_parameters_of_the_flow(
    deployment: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    accepted = inspect.signature(load_flow_from_entrypoint(deployment["entrypoint"]).fn).parameters
    for trigger in deployment["triggers"]:
        assert set(trigger.get("parameters") or {}) <= set(accepted)


def test_quality_deployments_run_on_their_queues_and_schedules() -> None:
    from productpilot.analytics.performance import EVENT_NAME, Breach

    by_name = {d["name"]: d for d in DEPLOYMENTS}
    optimisation = by_name["performance-optimisation"]
    assert optimisation["work_pool"]["work_queue_name"] == "high"
    assert not optimisation.get("schedules")
    [trigger] = optimisation["triggers"]
    assert trigger["expect"] == [EVENT_NAME]
    assert trigger["parameters"]["product"] == "{{ event.resource.id }}"
    # Every payload field the trigger reads is one the performance monitor sends.
    now = datetime(2026, 11, 30, tzinfo=UTC)
    payload = Breach("r", "latency", 1.0, None, (), now, now).payload()
    for name, template in trigger["parameters"].items():
        if name != "product":
            assert template == f"{{{{ event.payload.{name} }}}}"
            assert name in payload

    scan, report = by_name["security-scan"], by_name["qa-report"]
    assert [(s["cron"], s["timezone"]) for s in scan["schedules"]] == [("0 3 * * *", "UTC")]
    assert scan["work_pool"].get("work_queue_name", "default") == "default"
    assert [s["cron"] for s in report["schedules"]] == ["0 7 * * 1"]  # Mondays
    assert report["work_pool"]["work_queue_name"] == "batch"
    assert {"area:quality"} <= set(scan["tags"]) & set(report["tags"])


def test_test_suites_are_dispatched_on_the_events_real_github_deliveries_become() -> None:
    from flows.suite_dispatch import WORKFLOW_RUN_COMPLETED
    from integrations.github.webhooks import normalise
    from tests.integrations.shared_data import GITHUB_WEBHOOKS, load, shared_dir

    [deployment] = [d for d in DEPLOYMENTS if d["name"] == "dispatch-test-suites"]
    assert deployment["entrypoint"] == "flows/suite_dispatch.py:dispatch_test_suites_flow"
    assert deployment["work_pool"].get("work_queue_name", "default") == "default"
    [trigger] = deployment["triggers"]
    assert trigger["match"] == {"prefect.resource.id": "productpilot.product.*"}
    assert trigger["parameters"] == {
        "product": "{{ event.resource.id }}",
        "delivery_id": "{{ event.payload.delivery.id }}",
        "event": "{{ event.event }}",
    }
    folder = shared_dir(GITHUB_WEBHOOKS)
    examples = {
        "pull_request": ["labeled.payload.json", "synchronize.payload.json"],
        "deployment": ["payload.json"],
        "deployment_status": ["payload.json"],
        "workflow_run": ["completed.payload.json"],
    }
    names = [
        normalise(event, load(folder / event / name)).name
        for event, files in examples.items()
        for name in files
    ]
    assert sorted(trigger["expect"]) == sorted(names)
    assert WORKFLOW_RUN_COMPLETED in names  # the flow tells results from triggers by name


def test_design_sync_runs_on_the_figma_events_that_announce_a_version() -> None:
    from integrations.figma.webhooks import normalise
    from productpilot.quality.design import HANDLED_EVENT_TYPES

    [deployment] = [d for d in DEPLOYMENTS if d["name"] == "design-system-sync"]
    assert deployment["entrypoint"] == "flows/design.py:design_system_sync_flow"
    assert deployment["work_pool"].get("work_queue_name", "default") == "default"
    [trigger] = deployment["triggers"]
    assert trigger["match"] == {"prefect.resource.id": "productpilot.product.*"}
    assert trigger["parameters"] == {
        "product": "{{ event.resource.id }}",
        "delivery_id": "{{ event.payload.delivery.id }}",
    }
    expected = [normalise(kind, {"file_key": "k"}).name for kind in HANDLED_EVENT_TYPES]
    assert sorted(trigger["expect"]) == sorted(expected)
