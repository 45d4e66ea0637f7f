"""Ingest throughput of the REST API, against the store's bulk path, in the same run.

For each database, two fresh processes load the same synthetic events (each with a uuid)
into an empty store, in batches of the same size:

- ``api``: ``productpilot api`` (uvicorn) serves a fresh store on a free loopback port;
  ``--clients`` concurrent clients (asyncio, one keep-alive httpx connection each) send
  ``POST /api/v1/products/{id}/events``. Each batch's latency is from send to answer; an
  answer comes only after the batch is committed.
- ``direct``: the same batches go through ``parse_event`` and
  ``event_writer(...).write(rows)`` in process, from ``--direct-threads`` threads (one
  writer each; by default as many as there are API clients, so both sides get the same
  concurrency).

The two alternate ``--repeat`` times; one JSON object per database reports the median
events/s of each (and every run's), their ratio, and the API's median p50/p99 batch
latency. Target: the API reaches at least 0.5 x the direct path. Every run checks that its
store holds exactly the events sent, and fails loudly otherwise. Other load on the machine
skews the ratio, so the load average at the start is reported too.

``--profile FILE`` runs the API server (one worker) under cProfile in every thread and
writes the merged stats to FILE (read them with ``python -m pstats FILE``); it slows the
server, so its numbers are not the benchmark's.

Usage:
    python benchmarks/ingest.py [--events 200000] [--clients 8] [--batch 500] [--workers 1]
        [--direct-threads N] [--repeat 3] [--databases sqlite,postgresql] [--data DIR]
        [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from productpilot.db.engine import create_store_engine  # noqa: E402
from productpilot.db.store import Store  # noqa: E402

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_RATIO = 0.5
READY_TIMEOUT_S = 60.0
# The API refuses events more than a year old, so the generated period ends a few days ago.
MAX_EVENT_AGE = timedelta(days=365)
PERIOD_DAYS = 90
PERIOD_ENDS_DAYS_AGO = 5


# --- data --------------------------------------------------------------------------------


def ensure_data(directory: Path, events: int, seed: int) -> Path:
    """A JSON Lines file of exactly ``events`` recent synthetic events (made once per day)."""
    from benchmarks.data import synthetic_jsonl
    from productpilot.synthetic import SyntheticConfig

    start = date.today() - timedelta(days=PERIOD_DAYS + PERIOD_ENDS_DAYS_AGO)
    config = SyntheticConfig.for_event_count(
        int(events * 1.05) + 100, seed=seed, start=start, days=PERIOD_DAYS
    )
    path = directory / f"ingest-{events}-seed{seed}-{start.isoformat()}.jsonl"
    return synthetic_jsonl(path, events, config)


def read_batches(path: Path, size: int) -> list[list[dict[str, Any]]]:
    with path.open("rb") as lines:
        events = [orjson.loads(line) for line in lines]
    return [events[start : start + size] for start in range(0, len(events), size)]


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (``fraction`` in [0, 1])."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


# --- a fresh store per measurement -------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A migrated, empty store with one tenant and product, and the URL that opens it."""

    store: Store
    url: str
    tenant_id: int
    product_id: int
    api_key: str


@contextlib.contextmanager
def fresh_target(database: str, postgres_url: str, scratch: Path) -> Iterator[Target]:
    """A new SQLite file, or a new PostgreSQL schema (dropped afterwards)."""
    from productpilot.products import create_product
    from productpilot.tenants import create_tenant

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    if database == "sqlite":
        url = f"sqlite:///{scratch / 'bench.db'}"
    else:
        run_sql(postgres_url, f"CREATE SCHEMA {schema}")
        url = f"{postgres_url}?options={quote(f'-csearch_path={schema}')}"
    store = Store.from_url(url)
    try:
        store.upgrade()
        tenant, key = create_tenant(store, "Bench")
        with store.tenant_session(tenant.id) as session:
            product = create_product(session, "Bench")
        yield Target(store, url, tenant.id, product.id, key)
    finally:
        store.dispose()
        if database == "postgresql":
            run_sql(postgres_url, f"DROP SCHEMA {schema} CASCADE")


def run_sql(url: str, statement: str) -> None:
    engine = create_store_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def stored_events(target: Target) -> int:
    with target.store.engine.connect() as connection:
        return connection.exec_driver_sql("SELECT count(*) FROM events").scalar_one()


# --- api: a real server and concurrent clients -------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def api_server(url: str, home: Path, workers: int, profile: Path | None = None) -> Iterator[str]:
    """``productpilot api`` on ``url``'s store; yields its base URL once ``/readyz`` is 200."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PRODUCTPILOT_")}
    environment |= {"PRODUCTPILOT_DATABASE_URL": url, "PRODUCTPILOT_HOME": str(home)}
    if profile:
        command = [sys.executable, __file__, "--serve-profiled", str(profile), "--port", str(port)]
    else:
        command = [sys.executable, "-m", "productpilot", "api", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    log = home / "api.log"
    home.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        server = subprocess.Popen(
            command,
            cwd=home,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() reaches every worker
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_ready(base_url, server, log)
        yield base_url
    finally:
        stop(server)


def wait_until_ready(base_url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the API exited with {server.returncode}:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base_url}/readyz", timeout=2.0).status_code == 200:
                return
        time.sleep(0.05)
    raise SystemExit(
        f"the API was not ready in {READY_TIMEOUT_S:.0f} s:\n{log.read_text()[-2000:]}"
    )


def stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (uvicorn and its workers); SIGKILL if it lingers."""
    for signum, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        if server.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signum)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(grace)


async def send_batches(
    base_url: str, path: str, headers: dict[str, str], bodies: list[bytes], clients: int
) -> tuple[float, list[float], int]:
    """Send ``bodies`` from ``clients`` connections; returns seconds, latencies, accepted."""
    pending = iter(bodies)
    latencies: list[float] = []
    accepted = 0

    async def client() -> None:
        nonlocal accepted
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120.0) as http:
            for body in pending:
                sent = time.perf_counter()
                response = await http.post(path, content=body, headers=headers)
                latencies.append(time.perf_counter() - sent)
                if response.status_code != 200:
                    raise RuntimeError(f"{response.status_code}: {response.text[:500]}")
                answer = response.json()
                if answer["rejected"] or answer["duplicates"]:
                    raise RuntimeError(f"unexpected answer for a fresh batch: {answer}")
                accepted += answer["accepted"]

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started, latencies, accepted


def measure_api(
    target: Target, batches: list[list[dict[str, Any]]], args: argparse.Namespace
) -> dict[str, Any]:
    """Serve ``target`` and send ``batches`` from ``args.clients`` concurrent clients."""
    bodies = [orjson.dumps({"events": batch}) for batch in batches]
    headers = {"Authorization": f"Bearer {target.api_key}", "Content-Type": "application/json"}
    path = f"/api/v1/products/{target.product_id}/events"
    home = args.scratch / "home"
    with api_server(target.url, home, args.workers, args.profile) as base_url:
        seconds, latencies, accepted = asyncio.run(
            send_batches(base_url, path, headers, bodies, args.clients)
        )
    return {
        "events": sum(len(batch) for batch in batches),
        "accepted": accepted,
        "seconds": seconds,
        "p50_batch_ms": percentile(latencies, 0.50) * 1000,
        "p99_batch_ms": percentile(latencies, 0.99) * 1000,
    }


# --- direct: the bulk path in process -----------------------------------------------------


def measure_direct(
    target: Target, batches: list[list[dict[str, Any]]], args: argparse.Namespace
) -> dict[str, Any]:
    """``parse_event`` + ``event_writer().write()`` per batch, from ``direct_threads`` threads."""
    from productpilot.db.bulk import event_writer
    from productpilot.ingest.validation import parse_event

    pending = iter(batches)
    lock = threading.Lock()
    accepted: list[int] = []
    errors: list[Exception] = []

    def writer_thread() -> None:
        try:
            with event_writer(target.store.engine, target.tenant_id, target.product_id) as writer:
                while True:
                    with lock:
                        batch = next(pending, None)
                    if batch is None:
                        return
                    now = datetime.now(UTC)
                    earliest = now - MAX_EVENT_AGE
                    rows = [parse_event(e, now=now, earliest=earliest) for e in batch]
                    accepted.append(writer.write(rows))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer_thread) for _ in range(args.direct_threads)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    return {
        "events": sum(len(batch) for batch in batches),
        "accepted": sum(accepted),
        "seconds": seconds,
    }


# --- the API under cProfile ---------------------------------------------------------------


def serve_profiled(output: Path, port: int) -> None:
    """Serve the API in this process, profiling every thread; write the stats on SIGTERM.

    cProfile follows one thread, so each new thread (the endpoint's thread pool, where the
    store is written) gets its own profiler; the stats are merged on the way out.
    """
    import cProfile
    import pstats

    import uvicorn

    from productpilot.runtime import configure_prefect

    profiles = [cProfile.Profile()]

    def profile_this_thread(*_: object) -> None:
        profiles.append(cProfile.Profile())
        profiles[-1].enable()

    def write_and_exit(*_: object) -> None:
        for profile in profiles:
            profile.disable()
        stats = pstats.Stats(profiles[0])
        for profile in profiles[1:]:
            with contextlib.suppress(TypeError):  # a thread that never ran anything
                stats.add(profile)
        stats.dump_stats(output)
        os._exit(0)

    configure_prefect()
    # uvicorn restores this handler and re-raises SIGTERM once it has shut down.
    signal.signal(signal.SIGTERM, write_and_exit)
    threading.setprofile(profile_this_thread)
    profiles[0].enable()
    uvicorn.run(
        "productpilot.api.app:create_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )


# --- worker: one measurement in a fresh process -------------------------------------------


def worker(args: argparse.Namespace) -> None:
    batches = read_batches(args.file, args.batch)
    with tempfile.TemporaryDirectory() as scratch:
        args.scratch = Path(scratch)
        with fresh_target(args.databases, args.postgres_url, args.scratch) as target:
            measure = measure_api if args.worker == "api" else measure_direct
            result = measure(target, batches, args)
            result["stored"] = stored_events(target)
    print(json.dumps(result))


# --- driver -------------------------------------------------------------------------------


def measure(mode: str, database: str, path: Path, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", mode, "--databases", database]
    command += ["--file", str(path), "--postgres-url", args.postgres_url]
    command += ["--batch", str(args.batch), "--clients", str(args.clients)]
    command += ["--workers", str(args.workers), "--direct-threads", str(args.direct_threads)]
    if args.profile and mode == "api":
        command += ["--profile", str(args.profile.absolute())]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{mode} on {database} failed:\n{done.stderr[-3000:]}{done.stdout}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not result["accepted"] == result["stored"] == result["events"]:
        raise SystemExit(
            f"{mode} on {database}: sent {result['events']} events, {result['accepted']} were "
            f"accepted and the store holds {result['stored']}"
        )
    return result


def postgres_reachable(url: str) -> bool:
    try:
        engine = create_store_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


def rate(result: dict[str, Any]) -> float:
    return result["events"] / result["seconds"]


def report(
    database: str,
    runs: list[tuple[dict[str, Any], dict[str, Any]]],
    args: argparse.Namespace,
    load: float,
) -> dict[str, Any]:
    """One line for ``database`` from its (direct, api) runs: medians, and each run's rate."""
    direct_rates = [rate(direct) for direct, _ in runs]
    api_rates = [rate(api) for _, api in runs]
    ratio = statistics.median(api_rates) / statistics.median(direct_rates)
    line = {
        "benchmark": "ingest",
        "database": database,
        "events": runs[0][1]["events"],
        "clients": args.clients,
        "batch": args.batch,
        "api_workers": args.workers,
        "direct_threads": args.direct_threads,
        "repeat": len(runs),
        "api_events_per_s": round(statistics.median(api_rates)),
        "direct_events_per_s": round(statistics.median(direct_rates)),
        "ratio": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "p50_batch_ms": round(statistics.median(api["p50_batch_ms"] for _, api in runs), 1),
        "p99_batch_ms": round(statistics.median(api["p99_batch_ms"] for _, api in runs), 1),
        "stored_events": runs[0][1]["stored"],
        "meets_target": ratio >= TARGET_RATIO,
        "api_events_per_s_runs": [round(r) for r in api_rates],
        "direct_events_per_s_runs": [round(r) for r in direct_rates],
        "cpus": os.cpu_count(),
        "load_average_at_start": round(load, 2),
    }
    if args.profile:
        line["api_profiled_into"] = str(args.profile)  # slowed down: not a result
    return line


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=8, help="concurrent API clients")
    parser.add_argument("--batch", type=int, default=500, help="events per request / write")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--direct-threads", type=int, help="threads on the bulk path (default: --clients)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; medians reported")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--data", type=Path, help="keep the generated events here (reused)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("PRODUCTPILOT_BENCH_POSTGRES_URL")
        or os.environ.get("PRODUCTPILOT_TEST_POSTGRES_URL")
        or DEFAULT_POSTGRES,
    )
    parser.add_argument("--profile", type=Path, help="cProfile the API server into this file")
    parser.add_argument("--worker", choices=["api", "direct"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--serve-profiled", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.direct_threads = args.direct_threads or args.clients
    if args.profile and args.workers != 1:
        parser.error("--profile needs --workers 1 (cProfile follows one process)")
    return args


def main() -> None:
    args = parse_arguments()
    if args.serve_profiled:
        serve_profiled(args.serve_profiled, args.port)
        return
    if args.worker:
        worker(args)
        return
    with contextlib.ExitStack() as stack:
        directory = args.data or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        path = ensure_data(directory, args.events, args.seed)
        for database in args.databases.split(","):
            if database == "postgresql" and not postgres_reachable(args.postgres_url):
                skipped = f"PostgreSQL not reachable at {args.postgres_url}"
                print(json.dumps({"benchmark": "ingest", "database": database, "skipped": skipped}))
                continue
            load = os.getloadavg()[0]
            runs = [
                (measure("direct", database, path, args), measure("api", database, path, args))
                for _ in range(args.repeat)
            ]
            print(json.dumps(report(database, runs, args, load)), flush=True)


if __name__ == "__main__":
    main()
