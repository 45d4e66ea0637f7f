"""``converge`` against a real Prefect server: what a fresh server gets, what a second run
does (nothing), what an operator's changes become, and what is not ProductPilot's to touch.

Each test converges its own pool (the server is shared by the session) and starts without
any ``tenant:`` or ``vendor:`` limit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Iterator

import pytest
import typer
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.exceptions import ObjectNotFound
from typer.testing import CliRunner

from deployments.setup import (
    QUEUE_LIMITS,
    VENDOR_LIMITS,
    Desired,
    SetupSettings,
    converge,
    desired_state,
)
from productpilot.cli.setup import setup
from productpilot.db.store import Store
from productpilot.errors import ConfigurationError
from productpilot.tenants import create_tenant, list_tenants

PRIORITIES = {"critical": 1, "high": 2, "default": 3, "batch": 4}


def _clear_limits(client: SyncPrefectClient) -> None:
    for limit in client.read_global_concurrency_limits(limit=200):
        if limit.name.startswith("tenant:"):
            client.delete_global_concurrency_limit_by_name(limit.name)
    for vendor in VENDOR_LIMITS:
        with contextlib.suppress(ObjectNotFound):
            client.delete_concurrency_limit_by_tag(f"vendor:{vendor}")


@pytest.fixture
def client() -> Iterator[SyncPrefectClient]:
    with get_client(sync_client=True) as client:
        _clear_limits(client)
        yield client
        _clear_limits(client)


@pytest.fixture
def tenant_ids(store: Store) -> list[int]:
    create_tenant(store, "Acme Inc")
    create_tenant(store, "Globex")
    return [tenant.id for tenant in list_tenants(store)]


@pytest.fixture
def desired(tenant_ids: list[int]) -> Desired:
    """The default configuration, on a pool of this test's own."""
    return dataclasses.replace(desired_state(tenant_ids), pool=f"pp-{uuid.uuid4().hex[:8]}")


def queues(client: SyncPrefectClient, pool: str) -> dict[str, tuple[int, int | None, bool]]:
    return {
        queue.name: (queue.priority, queue.concurrency_limit, queue.is_paused)
        for queue in client.read_work_queues(pool)
    }


def test_a_fresh_server_gets_the_pool_the_queues_and_every_limit(
    client: SyncPrefectClient, desired: Desired, tenant_ids: list[int]
) -> None:
    report = converge(client, desired)

    assert client.read_work_pool(desired.pool).type == "process"
    assert queues(client, desired.pool) == {
        name: (priority, QUEUE_LIMITS[name], False) for name, priority in PRIORITIES.items()
    }
    for tenant in tenant_ids:
        assert client.read_global_concurrency_limit_by_name(f"tenant:{tenant}").limit == 4
    for vendor, limit in VENDOR_LIMITS.items():
        assert client.read_concurrency_limit_by_tag(f"vendor:{vendor}").concurrency_limit == limit
    assert set(VENDOR_LIMITS) == {"slack", "jira", "github", "linear", "figma", "teams", "email"}
    lines = report.lines()
    assert f"created work pool {desired.pool}: type process" in lines
    # Prefect creates `default` with the pool (priority 1); setup moves it to 3.
    assert f"created work queue {desired.pool}/critical: priority 1, limit 10" in lines
    assert f"created global concurrency limit tenant:{tenant_ids[0]}: limit 4" in lines
    assert "created tag concurrency limit vendor:slack: limit 2" in lines


def test_a_second_run_changes_nothing(client: SyncPrefectClient, desired: Desired) -> None:
    converge(client, desired)

    again = converge(client, desired)

    assert again.changed == []
    assert {change.action for change in again.changes} == {"unchanged"}
    assert len(again.changes) == 1 + 4 + len(desired.tenant_limits) + len(VENDOR_LIMITS)


def test_an_operators_changes_are_converged_back_but_a_paused_queue_stays_paused(
    client: SyncPrefectClient, desired: Desired, tenant_ids: list[int]
) -> None:
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate

    converge(client, desired)
    batch = client.read_work_queue_by_name("batch", work_pool_name=desired.pool)
    client.update_work_queue(batch.id, priority=1, concurrency_limit=50, is_paused=True)
    client.update_global_concurrency_limit(
        f"tenant:{tenant_ids[0]}", GlobalConcurrencyLimitUpdate(limit=9)
    )
    client.create_concurrency_limit(tag="vendor:github", concurrency_limit=30)

    report = converge(client, desired)

    assert queues(client, desired.pool)["batch"] == (4, 2, True)
    assert {name: q[:2] for name, q in queues(client, desired.pool).items()} == {
        name: (priority, QUEUE_LIMITS[name]) for name, priority in PRIORITIES.items()
    }
    assert client.read_global_concurrency_limit_by_name(f"tenant:{tenant_ids[0]}").limit == 4
    assert client.read_concurrency_limit_by_tag("vendor:github").concurrency_limit == 3
    lines = report.lines()
    assert f"updated work queue {desired.pool}/batch: priority 1 → 4, limit 50 → 2" in lines
    assert f"updated global concurrency limit tenant:{tenant_ids[0]}: limit 9 → 4" in lines
    assert "updated tag concurrency limit vendor:github: limit 30 → 3" in lines
    assert converge(client, desired).changed == []


def test_what_is_not_productpilots_is_reported_and_left(
    client: SyncPrefectClient, desired: Desired
) -> None:
    converge(client, desired)
    client.create_work_queue(name="adhoc", work_pool_name=desired.pool, priority=1)
    client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name="tenant:999", limit=1))

    report = converge(client, desired)

    assert (
        f"left work queue {desired.pool}/adhoc: not ProductPilot's; same priority as critical (1)"
        in report.lines()
    )
    assert "left global concurrency limit tenant:999: no such tenant in the store" in report.lines()
    assert client.read_global_concurrency_limit_by_name("tenant:999").limit == 1
    assert queues(client, desired.pool) == {
        **{name: (priority, QUEUE_LIMITS[name], False) for name, priority in PRIORITIES.items()},
        "adhoc": (1, None, False),
    }


def test_a_dry_run_reports_and_changes_nothing(client: SyncPrefectClient, desired: Desired) -> None:
    report = converge(client, desired, dry_run=True)

    assert report.lines()[0] == f"would create work pool {desired.pool}: type process"
    assert f"would create work queue {desired.pool}/batch: priority 4, limit 2" in report.lines()
    with pytest.raises(ObjectNotFound):
        client.read_work_pool(desired.pool)
    with pytest.raises(ObjectNotFound):
        client.read_concurrency_limit_by_tag("vendor:slack")


def test_settings_change_the_numbers_and_refuse_unknown_names() -> None:
    custom = desired_state([3], SetupSettings(tenant_limit=8, queue_limits={"batch": 1}))

    assert custom.tenant_limits[0].limit == 8
    assert {q.name: q.concurrency_limit for q in custom.queues}["batch"] == 1
    assert {q.name: q.concurrency_limit for q in custom.queues}["critical"] == 10
    with pytest.raises(ConfigurationError, match="unknown queue urgent"):
        desired_state([], SetupSettings(queue_limits={"urgent": 3}))
    with pytest.raises(ConfigurationError, match="vendor limit below 1 for slack"):
        desired_state([], SetupSettings(vendor_limits={"slack": 0}))


def test_each_region_gets_a_copy_of_every_queue_right_after_its_base_queue() -> None:
    desired = desired_state([1, 2], regions=["us", "eu"])

    assert [(q.name, q.priority) for q in desired.queues] == [
        ("critical", 1),
        ("critical-eu", 2),
        ("critical-us", 3),
        ("high", 4),
        ("high-eu", 5),
        ("high-us", 6),
        ("default", 7),
        ("default-eu", 8),
        ("default-us", 9),
        ("batch", 10),
        ("batch-eu", 11),
        ("batch-us", 12),
    ]
    limits = {q.name: q.concurrency_limit for q in desired.queues}
    assert limits["batch-eu"] == limits["batch"] == 2
    # Without pinned tenants nothing changes: the four queues keep priorities 1 to 4.
    assert [q.priority for q in desired_state([1]).queues] == [1, 2, 3, 4]


def test_the_command_prints_one_line_per_object_and_is_idempotent(
    client: SyncPrefectClient, home: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import PREFECT_API_URL

    from productpilot import runtime

    monkeypatch.setenv("PRODUCTPILOT_PREFECT_API_URL", str(PREFECT_API_URL.value()))
    create_tenant(runtime.open_store(), "Initech")
    cli = typer.Typer()
    cli.command()(setup)
    try:
        first = CliRunner().invoke(cli, ["--tenant-limit", "3"])
        second = CliRunner().invoke(cli, ["--tenant-limit", "3"])
    finally:
        client.delete_work_pool("productpilot")

    assert first.exit_code == 0, first.output
    assert "created global concurrency limit tenant:1: limit 3" in first.output.splitlines()
    assert second.exit_code == 0, second.output
    assert len(second.output.splitlines()) == 1 + 4 + 1 + len(VENDOR_LIMITS)
    assert all(line.startswith("unchanged ") for line in second.output.splitlines())


def test_the_command_needs_a_prefect_server(home: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRODUCTPILOT_PREFECT_API_URL", raising=False)
    cli = typer.Typer()
    cli.command()(setup)

    result = CliRunner().invoke(cli, [])

    assert isinstance(result.exception, ConfigurationError)
    assert "PRODUCTPILOT_PREFECT_API_URL" in str(result.exception)
