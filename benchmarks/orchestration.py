"""What orchestration costs: webhook-to-run latency, runs completed per minute, and the daily
flow's overhead over the same functions called directly.

* ``latency``: on the local stack (`make up`: a Prefect server, one process worker, the API;
  SQLite), ``--webhooks`` signed Slack ``reaction_added`` webhooks are sent to the API one
  after another; for each, the time from sending it to the start of the ``acknowledge-alert``
  run its event trigger created. p50/p95/max.
* ``throughput``: on the same stack, ``--runs`` runs of ``acknowledge-alert`` queued at once;
  flow runs completed per minute, from the first queued to the last finished.
* ``overhead``: on a Prefect test server, the ``daily-analysis`` flow over ``--products``
  products, against the same task functions called as plain functions (``task.fn``: no task
  runs, no states, no retries) inside one flow run, on an identical copy of the products.
  Target: under 1.3x for a 1,000-product day.

Prints one JSON object per part. The scale-out set-up of the issue (server on PostgreSQL with
Redis messaging, two workers) is not part of it yet: ``throughput`` is one worker on SQLite.

Usage:
    python benchmarks/orchestration.py [--parts latency,throughput,overhead]
        [--webhooks 20] [--runs 30] [--products 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SLACK_SECRET = "benchmark-signing-secret"
DEPLOYMENT = "acknowledge-alert/acknowledge-alert"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _stack(home: Path) -> Any:
    os.environ.pop("PRODUCTPILOT_DATABASE_URL", None)
    os.environ["PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED"] = "false"
    os.environ["PREFECT_WORKER_QUERY_SECONDS"] = "1"
    from deployments.stack import up

    stack = up(home, prefect_port=0, api_port=0, timeout=120)
    deployed = subprocess.run(
        [str(Path(sys.executable).with_name("prefect")), "--no-prompt", "deploy",
         "--name", "acknowledge-alert"],
        cwd=ROOT,
        env={**os.environ, "PREFECT_API_URL": stack.prefect_api_url, "PWD": str(ROOT)},
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    if deployed.returncode != 0:
        raise SystemExit(deployed.stdout[-2000:] + deployed.stderr[-2000:])
    return stack


def _product(stack: Any) -> int:
    from productpilot.db.store import Store
    from productpilot.products import create_product
    from productpilot.tenants import create_tenant

    store = Store.from_url(f"sqlite:///{Path(stack.home) / 'productpilot.db'}")
    store.upgrade()
    tenant, _ = create_tenant(store, "Bench")
    with store.tenant_session(tenant.id) as session:
        product = create_product(
            session, "Bench", configuration={"webhook_secrets": {"slack": SLACK_SECRET}}
        )
    return product.id


def _runs_of(client: Any, deployment_id: Any) -> list[Any]:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    return client.read_flow_runs(
        deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
        limit=200,  # the server's maximum page
    )


def latency(stack: Any, product_id: int, webhooks: int) -> dict[str, Any]:
    import httpx
    from prefect.client.orchestration import SyncPrefectClient

    from integrations.webhooks import hmac_sha256_hex

    waits = []
    with SyncPrefectClient(stack.prefect_api_url) as client:
        deployment = client.read_deployment_by_name(DEPLOYMENT)
        for index in range(webhooks):
            ts = f"1764590000.{index:06d}"
            body = json.dumps({
                "type": "event_callback", "team_id": "T1", "event_id": f"Ev-bench-{index}",
                "event_time": int(time.time()),
                "event": {"type": "reaction_added", "user": "U1", "reaction": "eyes",
                          "item": {"type": "message", "channel": "C1", "ts": ts}},
            }).encode()  # fmt: skip
            stamp = str(int(time.time()))
            signature = hmac_sha256_hex(SLACK_SECRET, f"v0:{stamp}:".encode() + body)
            sent = datetime.now(UTC)
            response = httpx.post(
                f"{stack.api_url}/webhooks/slack", params={"product": product_id}, content=body,
                headers={"Content-Type": "application/json", "X-Slack-Request-Timestamp": stamp,
                         "X-Slack-Signature": f"v0={signature}"},
            )  # fmt: skip
            response.raise_for_status()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                started = [
                    run.start_time
                    for run in _runs_of(client, deployment.id)
                    if run.parameters.get("ts") == ts and run.start_time
                ]
                if started:
                    waits.append((started[0] - sent).total_seconds())
                    break
                time.sleep(0.2)
            else:
                raise SystemExit(f"no run started for webhook {index} within 120 s")
    return {
        "benchmark": "orchestration_webhook_latency",
        "webhooks": webhooks,
        "p50_seconds": round(statistics.median(waits), 2),
        "p95_seconds": round(_percentile(waits, 0.95), 2),
        "max_seconds": round(max(waits), 2),
    }


def throughput(stack: Any, product_id: int, runs: int) -> dict[str, Any]:
    from prefect.client.orchestration import SyncPrefectClient

    with SyncPrefectClient(stack.prefect_api_url) as client:
        deployment = client.read_deployment_by_name(DEPLOYMENT)
        queued = time.monotonic()
        ids = [
            client.create_flow_run_from_deployment(
                deployment.id,
                parameters={
                    "product": str(product_id),
                    "channel": "C2",
                    "ts": f"{i}.0",
                },
            ).id
            for i in range(runs)
        ]
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            states = [client.read_flow_run(i).state for i in ids]
            if all(state and state.is_final() for state in states):
                break
            time.sleep(1)
        else:
            raise SystemExit("the runs did not finish within 15 minutes")
        elapsed = time.monotonic() - queued
    completed = sum(1 for state in states if state.is_completed())
    return {
        "benchmark": "orchestration_throughput",
        "set_up": "local stack: 1 process worker, SQLite",
        "runs": runs,
        "completed": completed,
        "seconds": round(elapsed, 1),
        "runs_per_minute": round(completed / elapsed * 60, 1),
    }


def overhead(products: int) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="pp-orchestration-bench-"))
    os.environ["PRODUCTPILOT_HOME"] = str(home)
    os.environ.pop("PRODUCTPILOT_DATABASE_URL", None)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect import flow
    from prefect.testing.utilities import prefect_test_harness

    from benchmarks.daily_flow import LAST_DAY, seed
    from flows.analytics import daily_analysis_flow
    from productpilot.runtime import open_store
    from tasks.analytics import build_daily_reports, compute_kpis, detect_anomalies
    from tasks.events import emit_findings
    from tasks.notify import deliver_notifications, route_findings

    # One flow run around the plain calls: artifacts then belong to a run, as in the flow
    # (outside a run Prefect creates them the slow, deprecated way), and what is left to
    # compare is the task runs themselves.
    @flow(name="daily-analysis-as-functions")
    def direct(ids: list[int]) -> None:
        """The flow's body with every task's function called as a plain function."""
        compute_kpis.fn(ids, LAST_DAY, 1)
        findings = detect_anomalies.fn(ids, LAST_DAY, recent_days=1)
        if findings:
            emit_findings.fn(findings)
        reports = build_daily_reports.fn(ids, LAST_DAY)
        route_findings.fn(
            [f["notification"] for f in findings] + [r["notification"] for r in reports]
        )
        deliver_notifications.fn(ids)

    def as_flow(ids: list[int]) -> None:
        daily_analysis_flow(ids, day=LAST_DAY, backfill_days=1)

    store = open_store()
    with prefect_test_harness(server_startup_timeout=120):
        # Warm both paths (imports, caches, the server) on products of their own.
        direct(seed(store, 2, "Warm-up functions"))
        daily_analysis_flow(seed(store, 2, "Warm-up flow"), day=LAST_DAY, backfill_days=1)
        # ABBA order on four identical product sets: a drift over the run (a growing
        # database, warming caches) cancels out instead of favouring whichever goes second.
        sets = [seed(store, products, f"Set {i}") for i in range(4)]
        seconds = []
        for run, ids in zip((direct, as_flow, as_flow, direct), sets, strict=True):
            started = time.perf_counter()
            run(ids)
            seconds.append(time.perf_counter() - started)
    direct_seconds, flow_seconds = seconds[0] + seconds[3], seconds[1] + seconds[2]
    return {
        "benchmark": "orchestration_overhead",
        "products": products,
        "order": "direct, flow, flow, direct",
        "flow_seconds": [round(seconds[1], 2), round(seconds[2], 2)],
        "direct_seconds": [round(seconds[0], 2), round(seconds[3], 2)],
        "ratio": round(flow_seconds / direct_seconds, 3),
        "target": 1.3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="latency,throughput,overhead")
    parser.add_argument("--webhooks", type=int, default=20)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--products", type=int, default=1000)
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    if parts & {"latency", "throughput"}:
        from deployments.stack import down

        home = Path(tempfile.mkdtemp(prefix="pp-stack-bench-")) / "home"
        try:
            stack = _stack(home)
            product_id = _product(stack)
            if "latency" in parts:
                print(json.dumps(latency(stack, product_id, args.webhooks)), flush=True)
            if "throughput" in parts:
                print(json.dumps(throughput(stack, product_id, args.runs)), flush=True)
        finally:
            down(home)
    if "overhead" in parts:
        print(json.dumps(overhead(args.products)), flush=True)


if __name__ == "__main__":
    main()
