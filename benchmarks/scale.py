"""The scale set-up: a Prefect server on PostgreSQL with Redis messaging, two process
workers, and many runs over several queues and tenants, each holding its tenant's slot.

:func:`run_scale` is shared by the scale test (``tests/e2e/test_scale.py``: every run
completes exactly once, no tenant ever runs more than its limit at once) and by
``benchmarks/orchestration.py`` (flow runs completed per minute in this set-up).

Usage:
    python benchmarks/scale.py [--runs 200] [--tenants 5] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deployments.setup import POOL_NAME  # noqa: E402
from deployments.stack import down, up  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get(
    "PRODUCTPILOT_SCALE_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("PRODUCTPILOT_SCALE_REDIS", "redis://127.0.0.1:6379/11")
QUEUES = ("critical", "default", "batch")


@dataclass
class ScaleResult:
    """What one scale run did; ``ok`` when every promise held."""

    runs: int
    tenants: int
    workers: int
    tenant_limit: int
    pool_limit: int
    completed: int
    states: dict[str, int]
    executions: dict[str, int]  # how many runs executed their body 0, 1, 2... times
    max_concurrent_per_tenant: dict[str, int]
    deferrals: int
    seconds: float
    runs_per_minute: float
    first_start_by_tenant_s: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (
            self.completed == self.runs
            and self.executions == {"1": self.runs}
            and max(self.max_concurrent_per_tenant.values()) <= self.tenant_limit
        )


@contextmanager
def scratch_database() -> Iterator[str]:
    """A fresh PostgreSQL database for the Prefect server, dropped afterwards."""
    import psycopg

    name = f"pp_scale_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    host = POSTGRES_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0]
    try:
        yield f"postgresql+asyncpg://{host}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def server_environment(database_url: str) -> dict[str, str]:
    """The Prefect settings of the scale set-up: PostgreSQL, Redis messaging, causal
    ordering and concurrency leases in Redis, the scheduler off (no stray runs)."""
    return {
        "PREFECT_API_DATABASE_CONNECTION_URL": database_url,
        "PREFECT_MESSAGING_BROKER": "prefect_redis.messaging",
        "PREFECT_MESSAGING_CACHE": "prefect_redis.messaging",
        "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING": "prefect_redis.ordering",
        "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect_redis.lease_storage",
        "PREFECT_REDIS_MESSAGING_URL": REDIS_URL,
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "2",
    }


def plan(runs: int, tenants: int) -> list[tuple[int, str, str]]:
    """(index, tenant tag, queue) per run: tenant 1 bursts first (two in five runs, all
    queued before anyone else's), then everyone round robin over the queues.

    Example:
        >>> plan(5, 2)[:3]
        [(0, 'tenant:1', 'critical'), (1, 'tenant:1', 'default'), (2, 'tenant:1', 'batch')]
    """
    burst = runs * 2 // 5
    tenant_of_run = [1] * burst + [1 + (i % tenants) for i in range(runs - burst)]
    return [
        (index, f"tenant:{tenant}", QUEUES[index % len(QUEUES)])
        for index, tenant in enumerate(tenant_of_run)
    ]


def max_overlap(intervals: Sequence[tuple[float, float]]) -> int:
    """The most intervals open at one instant.

    Example:
        >>> max_overlap([(0, 2), (1, 3), (2.5, 4)])
        2
    """
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    current = peak = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        current += step
        peak = max(peak, current)
    return peak


def run_scale(
    home: Path,
    *,
    runs: int = 200,
    tenants: int = 5,
    workers: int = 2,
    tenant_limit: int = 2,
    pool_limit: int = 6,
    work_seconds: float = 1.0,
    timeout: float = 900.0,
) -> ScaleResult:
    """Start the set-up under ``home``, run ``runs`` probe runs, check them, stop it all."""
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, WorkPoolUpdate
    from prefect.settings import PREFECT_API_URL, temporary_settings

    log = home / "probe.jsonl"
    saved = dict(os.environ)
    _flush_redis()
    with scratch_database() as database_url:
        os.environ.update(server_environment(database_url))
        os.environ.pop("PRODUCTPILOT_DATABASE_URL", None)
        held = ExitStack()
        try:
            stack = up(
                home / "stack-home", prefect_port=0, api_port=0, timeout=180, workers=workers
            )
            # Prefect reads its settings once, at import: point this process at the stack.
            held.enter_context(temporary_settings(updates={PREFECT_API_URL: stack.prefect_api_url}))
            probe = flow.from_source(
                source=str(ROOT), entrypoint="benchmarks/scale_probe.py:scale_probe"
            )
            deployment_id = probe.deploy(
                name="scale",
                work_pool_name=POOL_NAME,
                build=False,
                push=False,
                print_next_steps=False,
                ignore_warnings=True,
            )
            with get_client(sync_client=True) as client:
                client.update_work_pool(POOL_NAME, WorkPoolUpdate(concurrency_limit=pool_limit))
                for tenant in range(1, tenants + 1):
                    client.create_global_concurrency_limit(
                        GlobalConcurrencyLimitCreate(name=f"tenant:{tenant}", limit=tenant_limit)
                    )
                started = time.monotonic()
                created = {}
                for index, tenant, queue in plan(runs, tenants):
                    run = client.create_flow_run_from_deployment(
                        deployment_id,
                        parameters={"index": index, "log": str(log), "work_seconds": work_seconds},
                        tags=[tenant],
                        work_queue_name=queue,
                    )
                    created[run.id] = tenant
                states = _wait_until_final(client, deployment_id, runs, timeout)
                seconds = time.monotonic() - started
                deferrals = _count_deferrals(client, list(created))
        finally:
            held.close()
            down(home / "stack-home")
            os.environ.clear()
            os.environ.update(saved)
            _flush_redis()
    return _summarise(
        log, runs, tenants, workers, tenant_limit, pool_limit, states, deferrals, seconds
    )


def _wait_until_final(client: Any, deployment_id: Any, runs: int, timeout: float) -> Counter:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    deadline = time.monotonic() + timeout
    while True:
        found = []
        for offset in range(0, runs, 200):
            found += client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
                limit=200,
                offset=offset,
            )
        states = Counter(run.state.name for run in found if run.state)
        final = sum(1 for run in found if run.state and run.state.is_final())
        if final >= runs or time.monotonic() > deadline:
            return states
        time.sleep(2)


def _count_deferrals(client: Any, run_ids: list[Any]) -> int:
    from tasks.fairness import AWAITING_SLOT

    return sum(
        sum(1 for state in client.read_flow_run_states(run_id) if state.name == AWAITING_SLOT)
        for run_id in run_ids
    )


def _summarise(
    log: Path,
    runs: int,
    tenants: int,
    workers: int,
    tenant_limit: int,
    pool_limit: int,
    states: Counter,
    deferrals: int,
    seconds: float,
) -> ScaleResult:
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    starts = Counter(r["index"] for r in records if r["edge"] == "start")
    executions = Counter(str(starts.get(index, 0)) for index in range(runs))
    spans: dict[int, dict[str, Any]] = defaultdict(dict)
    for record in records:
        spans[record["index"]][record["edge"]] = record["at"]
        spans[record["index"]]["tenant"] = record["tenant"]
    by_tenant: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for span in spans.values():
        if "start" in span and "end" in span:
            by_tenant[span["tenant"]].append((span["start"], span["end"]))
    first = min((s["start"] for s in spans.values() if "start" in s), default=0.0)
    last = max((s["end"] for s in spans.values() if "end" in s), default=first)
    return ScaleResult(
        runs=runs,
        tenants=tenants,
        workers=workers,
        tenant_limit=tenant_limit,
        pool_limit=pool_limit,
        completed=states.get("Completed", 0),
        states=dict(states),
        executions=dict(executions),
        max_concurrent_per_tenant={t: max_overlap(i) for t, i in sorted(by_tenant.items())},
        deferrals=deferrals,
        seconds=round(seconds, 1),
        runs_per_minute=round(len(starts) / max(last - first, 1e-9) * 60, 1),
        first_start_by_tenant_s={
            t: round(min(start for start, _ in i) - first, 1) for t, i in sorted(by_tenant.items())
        },
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--tenants", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pp-scale-") as home:
        result = run_scale(
            Path(home), runs=arguments.runs, tenants=arguments.tenants, workers=arguments.workers
        )
    print(json.dumps({"benchmark": "scale", **asdict(result), "ok": result.ok}))
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
