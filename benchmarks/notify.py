"""An alert storm through the notification router: how much quieter, how fast, nothing lost.

10,000 findings over one hour for 50 products, shaped like a bad hour in production: a few
problems that keep firing (a sustained latency breach re-detected every window, a broken
checkout flagged on every metric that sees it), a long tail of one-off warnings, and a steady
drizzle of informational findings. Each product routes critical findings to ``#incidents``
at once, everything to ``#product`` in digests, and anomalies to Jira, with the default
dedupe window (60 min), group wait (5 min), group interval (60 min) and hourly limit (30).

The router runs minute by minute as the storm unfolds, and a dispatcher pass after each
minute sends what is due through recording channels; afterwards the clock runs on until
the outbox is drained. Printed, one JSON object per database:

* ``reduction``: findings per notification actually sent;
* ``router_findings_per_second``, next to a baseline in the same database: the same
  findings inserted into the outbox as plain rows, one per finding and recipient, in the same
  per-minute transactions (no routing) -- ``router_vs_plain_insert`` is the ratio of times;
* ``critical_dropped``: critical findings whose problem never reached ``#incidents`` (must be
  0), and ``critical_late_seconds_max``, the longest a critical alert waited.

Usage:
    python benchmarks/notify.py [--findings 10000] [--products 50] [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from benchmarks.import_events import DEFAULT_POSTGRES, postgres_reachable  # noqa: E402
from productpilot.db.engine import create_store_engine  # noqa: E402
from productpilot.db.models import Notification, Product  # noqa: E402
from productpilot.db.store import Store  # noqa: E402
from productpilot.notify.channels import Delivery, Ticket  # noqa: E402
from productpilot.notify.dispatch import deliver_due  # noqa: E402
from productpilot.notify.message import Finding, Message  # noqa: E402
from productpilot.notify.router import route  # noqa: E402
from productpilot.notify.rules import idempotency_key  # noqa: E402
from productpilot.products import create_product  # noqa: E402
from productpilot.tenants import create_tenant  # noqa: E402

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ROUTES = [
    {"severities": ["critical"], "channel": "slack", "recipients": ["#incidents"]},
    {"channel": "slack", "recipients": ["#product"]},
    {"kinds": ["productpilot.anomaly.*"], "channel": "jira", "recipients": ["OPS"]},
]
TENANTS = 5


class CountingChannel:
    """Counts what would be posted; never fails (the benchmark measures routing)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[tuple[str, Message]] = []

    def send(self, recipient: str, message: Message, *, thread: Delivery | None = None) -> Delivery:
        self.sent.append((recipient, message))
        return Delivery(external_id=f"{recipient}:{len(self.sent)}")


class CountingTracker:
    name = "jira"

    def __init__(self) -> None:
        self.open: dict[str, str] = {}
        self.created = 0
        self.comments = 0

    def find_open(self, project: str, dedupe_key: str) -> Ticket | None:
        key = self.open.get(dedupe_key)
        return Ticket(key) if key else None

    def create(self, project: str, message: Message) -> Ticket:
        self.created += 1
        self.open[message.dedupe_key] = f"{project}-{self.created}"
        return Ticket(self.open[message.dedupe_key], created=True)

    def comment(self, ticket: Ticket, message: Message) -> None:
        self.comments += 1


def storm(products: list[int], count: int, seed: int = 11) -> list[Finding]:
    """``count`` findings over an hour, in time order (see the module docstring)."""
    rng = random.Random(seed)
    findings = []
    # A few products have an incident: problems that fire again and again.
    incidents = {p: rng.randint(1, 3) for p in rng.sample(products, max(1, len(products) // 5))}
    for _ in range(count):
        product = rng.choice(products)
        at = START + timedelta(seconds=rng.uniform(0, 3600))
        roll = rng.random()
        if product in incidents and roll < 0.5:
            problem = rng.randrange(incidents[product])
            kind, severity = "productpilot.performance.degraded", "critical"
            key, subject = f"performance:rule-{problem}", f"API latency rule {problem} breached"
        elif roll < 0.62:
            metric = rng.choice(["signups", "activation_rate", "error_rate", "dau"])
            day = rng.randrange(3)
            kind, severity = "productpilot.anomaly.detected", rng.choice(["warning", "critical"])
            key = f"anomaly:{metric}:2026-11-{28 + day}"
            subject = f"{metric} outside its band on 2026-11-{28 + day}"
        elif roll < 0.8:
            kind, severity = "productpilot.gate.failed", "warning"
            pr = rng.randrange(400)
            key, subject = f"gate:pr:{pr}", f"Quality gate failed on PR #{pr}"
        else:
            kind, severity = "productpilot.insight", "info"
            key = f"insight:{uuid.UUID(int=rng.getrandbits(128))}"
            subject = "Feature adoption changed in a segment"
        findings.append(
            Finding(
                kind=kind,
                severity=severity,  # type: ignore[arg-type]
                product_id=product,
                subject=subject,
                text=subject,
                dedupe_key=key,
                occurred_at=at,
                ticket=kind == "productpilot.anomaly.detected",
            )
        )
    return sorted(findings, key=lambda f: f.occurred_at or START)


def _store(database: str, url: str, scratch: Path) -> Store:
    if database == "sqlite":
        store = Store.from_url(f"sqlite:///{scratch / f'notify-{uuid.uuid4().hex[:6]}.db'}")
    else:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        store = Store(create_store_engine(url, connect_args={"options": f"-csearch_path={schema}"}))
        with store.engine.begin() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    store.upgrade()
    return store


def _products(store: Store, count: int) -> dict[int, int]:
    """``count`` products over a few tenants; product id → tenant id."""
    owners: dict[int, int] = {}
    tenants = [create_tenant(store, f"Tenant {t}")[0].id for t in range(TENANTS)]
    for index in range(count):
        tenant_id = tenants[index % TENANTS]
        with store.tenant_session(tenant_id) as session:
            product = create_product(
                session, f"Product {index}", configuration={"notification_routes": ROUTES}
            )
            owners[product.id] = tenant_id
    return owners


def _by_minute(findings: list[Finding]) -> list[tuple[datetime, list[Finding]]]:
    minutes: dict[datetime, list[Finding]] = {}
    for finding in findings:
        assert finding.occurred_at is not None
        minute = finding.occurred_at.replace(second=0, microsecond=0) + timedelta(minutes=1)
        minutes.setdefault(minute, []).append(finding)
    return sorted(minutes.items())


def run_router(
    store: Store, owners: dict[int, int], findings: list[Finding]
) -> tuple[float, dict[str, object]]:
    slack, jira = CountingChannel("slack"), CountingTracker()

    def resolve(_product_id: int | None, channel: str) -> object:
        return jira if channel == "jira" else slack

    routing = 0.0
    suppressed = 0
    for minute, batch in _by_minute(findings):
        by_product: dict[int, list[Finding]] = {}
        for finding in batch:
            by_product.setdefault(finding.product_id, []).append(finding)
        started = time.perf_counter()
        for product_id, product_findings in by_product.items():
            with store.tenant_session(owners[product_id]) as session:
                product = session.get(Product, product_id)
                suppressed += route(session, product, product_findings, now=minute).suppressed
        routing += time.perf_counter() - started
        for tenant_id in set(owners.values()):
            deliver_due(store, tenant_id, resolve, now=minute)  # type: ignore[arg-type]
    # Let the clock run until digests and deferred alerts are out.
    clock = _by_minute(findings)[-1][0]
    for _ in range(24 * 12):
        clock += timedelta(minutes=5)
        for tenant_id in set(owners.values()):
            deliver_due(store, tenant_id, resolve, now=clock)  # type: ignore[arg-type]
    with store.system_session() as session:
        left = session.scalar(
            select(func.count()).where(Notification.status.in_(("pending", "grouping")))
        )
        waits = [
            (sent - created).total_seconds()
            for sent, created in session.execute(
                select(Notification.sent_at, Notification.created_at).where(
                    Notification.recipient == "#incidents", Notification.status == "sent"
                )
            )
        ]
        incidents = {
            (row.product_id, row.dedupe_key)
            for row in session.scalars(
                select(Notification).where(
                    Notification.recipient == "#incidents", Notification.status == "sent"
                )
            )
        }
    critical = {
        (f.product_id, f"{f.product_id}:{f.key()}") for f in findings if f.severity == "critical"
    }
    by_recipient = Counter(recipient for recipient, _ in slack.sent)
    sent = len(slack.sent) + jira.created + jira.comments
    return routing, {
        "notifications_sent": sent,
        "slack_incidents": by_recipient["#incidents"],
        "slack_product_digests_and_alerts": by_recipient["#product"],
        "jira_tickets_created": jira.created,
        "jira_comments": jira.comments,
        "suppressed_duplicates": suppressed,
        "left_in_outbox": left,
        "critical_dropped": len(critical - incidents),
        "critical_late_seconds_max": max(waits, default=None),
    }


def run_plain_insert(store: Store, owners: dict[int, int], findings: list[Finding]) -> float:
    """The baseline: one outbox row per finding and recipient, no routing decisions."""
    elapsed = 0.0
    for minute, batch in _by_minute(findings):
        by_tenant: dict[int, list[dict[str, object]]] = {}
        for finding in batch:
            for recipient, channel in (("#product", "slack"), ("#incidents", "slack")):
                if recipient == "#incidents" and finding.severity != "critical":
                    continue
                token = idempotency_key(finding.product_id, recipient, finding.key(), minute)
                by_tenant.setdefault(owners[finding.product_id], []).append(
                    {
                        "tenant_id": owners[finding.product_id],
                        "product_id": finding.product_id,
                        "kind": finding.kind,
                        "severity": finding.severity,
                        "channel": channel,
                        "recipient": recipient,
                        "dedupe_key": finding.key(),
                        "idempotency_key": token,
                        "subject": finding.subject,
                        "body": {"subject": finding.subject, "text": finding.text},
                        "status": "pending",
                        "not_before": minute,
                        "attempts": 0,
                        "last_error": "",
                        "route_key": "",
                        "suppressed": 0,
                        "created_at": minute,
                    }
                )
        started = time.perf_counter()
        for tenant_id, rows in by_tenant.items():
            with store.tenant_session(tenant_id) as session:
                # Duplicates within a minute collapse on the unique key, as a naive
                # outbox with an idempotency key would.
                unique = {row["idempotency_key"]: row for row in rows}
                session.execute(insert(Notification), list(unique.values()))
        elapsed += time.perf_counter() - started
    return elapsed


def measure(database: str, url: str, findings_count: int, product_count: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as scratch:
        baseline_store = _store(database, url, Path(scratch))
        owners = _products(baseline_store, product_count)
        findings = storm(sorted(owners), findings_count)
        baseline = run_plain_insert(baseline_store, owners, findings)
        baseline_store.dispose()

        store = _store(database, url, Path(scratch))
        owners = _products(store, product_count)
        findings = storm(sorted(owners), findings_count)
        routing, outcome = run_router(store, owners, findings)
        store.dispose()
    sent = outcome["notifications_sent"]
    return {
        "benchmark": "notify_alert_storm",
        "database": database,
        "findings": findings_count,
        "products": product_count,
        **outcome,
        "reduction": round(findings_count / sent, 1) if sent else None,
        "router_seconds": round(routing, 3),
        "router_findings_per_second": round(findings_count / routing),
        "plain_insert_seconds": round(baseline, 3),
        "router_vs_plain_insert": round(routing / baseline, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=10_000)
    parser.add_argument("--products", type=int, default=50)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    args = parser.parse_args()
    for database in args.databases.split(","):
        if database == "postgresql" and not postgres_reachable(args.postgres_url):
            print(
                json.dumps(
                    {
                        "benchmark": "notify_alert_storm",
                        "database": database,
                        "skipped": "PostgreSQL is not reachable",
                    }
                )
            )
            continue
        print(
            json.dumps(measure(database, args.postgres_url, args.findings, args.products)),
            flush=True,
        )


if __name__ == "__main__":
    main()
