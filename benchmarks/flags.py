"""OFREP flag evaluation over loopback HTTP against the real API app, next to in-process.

A SQLite store gets one product with 20 flags (booleans, strings, numbers, objects; 9 with
targeting rules, 5 with fractional rollouts). The API app (``create_app``) is served by
uvicorn in a subprocess on a free loopback port; one ``httpx`` client with keep-alive sends
requests one after another, as a server-side OpenFeature provider does:

* ``single``: ``POST /ofrep/v1/evaluate/flags/{key}``, cycling through flags and contexts;
* ``bulk``: ``POST /ofrep/v1/evaluate/flags`` (all 20 flags), new contexts (no 304s);
* ``bulk_revalidate``: the bulk call with ``If-None-Match``, answered 304.

Each runs for ``--seconds`` (a third of it in process) and is compared with the same work
in process, in the same run:
``flags.evaluate`` per flag (single) and ``ofrep.evaluate_bulk`` (bulk) on the product's
document. Every HTTP answer of the first pass over the contexts is checked against the
in-process answer (``mismatches`` must be 0). One JSON object per mode on stdout:
throughput, p50/p99 latency for both, ``http_vs_in_process`` (the ratio of p50s), and
``healthz_p50_ms``, the same client's round trip to an endpoint that does nothing (the
floor of any HTTP call on this machine).

Usage:
    python benchmarks/flags.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from productpilot.api.routers.ofrep import PRODUCT_HEADER  # noqa: E402
from productpilot.db.store import Store  # noqa: E402
from productpilot.launch.flags import FlagDocument, evaluate, set_rollout_percentage  # noqa: E402
from productpilot.launch.ofrep import evaluate_bulk, evaluate_single  # noqa: E402
from productpilot.launch.store import create_flag, product_document  # noqa: E402
from productpilot.products import create_product  # noqa: E402
from productpilot.tenants import create_tenant  # noqa: E402

BOOLEAN = {"on": True, "off": False}
PLANS = ["free", "pro", "team", "beta-1", "enterprise"]
CHECKED_CONTEXTS = 8


def flag_definitions() -> dict[str, dict[str, Any]]:
    """20 flags shaped like a product's: plain switches, targeted variants, rollouts."""
    flags: dict[str, dict[str, Any]] = {}
    for i in range(6):
        flags[f"switch-{i}"] = {"state": "ENABLED", "variants": BOOLEAN, "defaultVariant": "off"}
    flags["switch-5"]["state"] = "DISABLED"
    for i in range(3):
        flags[f"staff-banner-{i}"] = {
            "state": "ENABLED",
            "variants": {"plain": "Welcome", "staff": "Hello, colleague"},
            "defaultVariant": "plain",
            "targeting": {"if": [{"ends_with": [{"var": "email"}, "@acme.com"]}, "staff", None]},
        }
    for i in range(3):
        flags[f"page-size-{i}"] = {
            "state": "ENABLED",
            "variants": {"small": 10, "large": 50},
            "defaultVariant": "small",
            "targeting": {
                "if": [{"sem_ver": [{"var": "app_version"}, ">=", "2.0.0"]}, "large", None]
            },
        }
    for i in range(3):
        flags[f"layout-{i}"] = {
            "state": "ENABLED",
            "variants": {"classic": {"columns": 1}, "grid": {"columns": 3, "dense": True}},
            "defaultVariant": "classic",
            "targeting": {
                "if": [
                    {
                        "and": [
                            {"in": [{"var": "plan"}, ["pro", "team"]]},
                            {">": [{"var": "seats"}, 5]},
                        ]
                    },
                    "grid",
                    None,
                ]
            },
        }
    for i in range(5):
        key = f"rollout-{i}"
        flags[key] = {"state": "ENABLED", "variants": BOOLEAN, "defaultVariant": "off"}
        if i < 2:  # rollouts that keep an internal-users rule in front
            flags[key]["targeting"] = {
                "if": [{"ends_with": [{"var": "email"}, "@acme.com"]}, "on", None]
            }
        document = set_rollout_percentage({"flags": flags}, key, 10 + 20 * i, "on", "off")
        flags[key] = document.flags[key].to_json()
    assert len(flags) == 20
    return flags


def contexts(count: int) -> list[dict[str, Any]]:
    return [
        {
            "targetingKey": f"user-{i}",
            "email": f"user{i}@{'acme.com' if i % 4 == 0 else 'mail.com'}",
            "app_version": f"{1 + i % 3}.{i % 10}.0",
            "plan": PLANS[i % len(PLANS)],
            "seats": i % 12,
        }
        for i in range(count)
    ]


def prepare(url: str) -> tuple[str, int, FlagDocument]:
    """Migrate the store, add the product's flags: ``(api key, product id, its document)``."""
    store = Store.from_url(url)
    store.upgrade()
    tenant, key = create_tenant(store, "Bench Inc")
    with store.tenant_session(tenant.id) as session:
        product = create_product(session, "Bench App")
        for name, definition in flag_definitions().items():
            create_flag(session, product, name, definition, "benchmark")
    with store.tenant_session(tenant.id) as session:
        document, _token = product_document(session, product)
    store.dispose()
    return key, product.id, document


def serve(url: str, home: Path) -> None:
    """Subprocess: the API app on a free loopback port, printed as ``PORT <n>``."""
    import uvicorn

    from productpilot.api.app import create_app
    from productpilot.settings import Settings

    class NoEvents:
        def emit(self, *_args: Any, **_kwargs: Any) -> None:
            return None

    app = create_app(Store.from_url(url), settings=Settings(home=home), emitter=NoEvents())
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say they are TCP.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    uvicorn.Server(config).run(sockets=[listener])


def spawn_server(url: str, home: Path) -> subprocess.Popen[str]:
    """Start the server process; it opens the store only when the first request comes."""
    return subprocess.Popen(
        [sys.executable, __file__, "--serve", url, "--home", str(home)],
        stdout=subprocess.PIPE,
        text=True,
    )


def wait_for_server(process: subprocess.Popen[str]) -> str:
    """The server's base URL, once it answers."""
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("PORT "):
        process.kill()
        raise RuntimeError(f"the API server did not start: {line!r}")
    base = f"http://127.0.0.1:{line.split()[1]}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return base
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("the API server did not answer") from None
            time.sleep(0.05)


def timed(work: Callable[[int], None], seconds: float) -> list[float]:
    """Run ``work(i)`` for i = 0, 1, ... until ``seconds`` pass; the latency of each call."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    i = 0
    while True:
        started = time.perf_counter()
        work(i)
        finished = time.perf_counter()
        latencies.append(finished - started)
        i += 1
        if finished > deadline:
            return latencies


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "calls": len(ordered),
        "per_second": round(len(ordered) / sum(ordered), 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 4),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 4),
    }


def comparable(answer: dict[str, Any]) -> tuple[Any, ...]:
    return (answer.get("value"), answer.get("variant"), answer.get("reason"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="Per HTTP mode.")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.home)
        return

    with tempfile.TemporaryDirectory(prefix="pp-flags-bench-") as tmp:
        directory = Path(tmp)
        url = f"sqlite:///{directory / 'store.db'}"
        # Importing the whole app takes seconds: the server starts while the store is filled.
        process = spawn_server(url, directory / "home")
        try:
            key, product_id, document = prepare(url)
            keys = list(document.flags)
            people = contexts(200)
            headers = {"Authorization": f"Bearer {key}", PRODUCT_HEADER: str(product_id)}
            base = wait_for_server(process)
            with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
                results = run_modes(client, document, keys, people, args.seconds)
        finally:
            process.terminate()
            process.wait(timeout=10)
    for result in results:
        print(json.dumps(result), flush=True)


def run_modes(
    client: httpx.Client,
    document: FlagDocument,
    keys: list[str],
    people: list[dict[str, Any]],
    seconds: float,
) -> list[dict[str, Any]]:
    pairs = [(key, person) for person in people for key in keys]
    mismatches = 0
    # Correctness first: every flag for the first contexts, over HTTP and in process.
    for key, person in pairs[: CHECKED_CONTEXTS * len(keys)]:
        remote = client.post(f"/ofrep/v1/evaluate/flags/{key}", json={"context": person})
        local = evaluate_single(document, key, {"context": person})[1]
        mismatches += remote.status_code != 200 or comparable(remote.json()) != comparable(local)

    def single_http(i: int) -> None:
        key, person = pairs[i % len(pairs)]
        response = client.post(f"/ofrep/v1/evaluate/flags/{key}", json={"context": person})
        response.raise_for_status()

    def single_local(i: int) -> None:
        key, person = pairs[i % len(pairs)]
        evaluate(document, key, person)

    def bulk_http(i: int) -> None:
        person = {**people[i % len(people)], "request": i}  # a new context: no 304
        response = client.post("/ofrep/v1/evaluate/flags", json={"context": person})
        response.raise_for_status()

    def bulk_local(i: int) -> None:
        evaluate_bulk(document, {"context": {**people[i % len(people)], "request": i}})

    etags = {}
    for index, person in enumerate(people[:CHECKED_CONTEXTS]):
        response = client.post("/ofrep/v1/evaluate/flags", json={"context": person})
        etags[index] = response.headers["etag"]
        answers = {flag["key"]: comparable(flag) for flag in response.json()["flags"]}
        expected = {
            k: comparable(evaluate_single(document, k, {"context": person})[1]) for k in keys
        }
        mismatches += answers != expected

    def revalidate_http(i: int) -> None:
        index = i % len(etags)
        response = client.post(
            "/ofrep/v1/evaluate/flags",
            json={"context": people[index]},
            headers={"If-None-Match": etags[index]},
        )
        assert response.status_code == 304, response.status_code

    def revalidate_local(i: int) -> None:
        index = i % len(etags)
        evaluate_bulk(
            document, {"context": people[index]}, etags[index], version=document.metadata["version"]
        )

    # The floor: an unauthenticated endpoint that touches nothing (no key, no store).
    floor = summary(timed(lambda _i: client.get("/healthz").raise_for_status(), seconds / 3))
    results = []
    for mode, remote, local in (
        ("single", single_http, single_local),
        ("bulk", bulk_http, bulk_local),
        ("bulk_revalidate", revalidate_http, revalidate_local),
    ):
        http = summary(timed(remote, seconds))
        in_process = summary(timed(local, seconds / 3))
        results.append(
            {
                "benchmark": "flags",
                "mode": mode,
                "flags": len(keys),
                "http_calls": http["calls"],
                "http_per_second": http["per_second"],
                "http_p50_ms": http["p50_ms"],
                "http_p99_ms": http["p99_ms"],
                "in_process_per_second": in_process["per_second"],
                "in_process_p50_ms": in_process["p50_ms"],
                "in_process_p99_ms": in_process["p99_ms"],
                "http_vs_in_process": round(http["p50_ms"] / in_process["p50_ms"], 1),
                "healthz_p50_ms": floor["p50_ms"],
                "mismatches": mismatches,
            }
        )
    return results


if __name__ == "__main__":
    main()
