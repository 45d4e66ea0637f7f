"""Security findings across scans: new once, open while reported, fixed when gone, reopened
when back; one tool's scan leaves another's findings alone (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from productpilot.db.models import Product, SecurityFinding
from productpilot.db.store import Store
from productpilot.products import create_product
from productpilot.products.configuration import GateDefinition
from productpilot.quality.findings_store import (
    findings_from_github,
    findings_summary,
    github_scanned_tools,
    open_critical_findings,
    open_findings,
    record_scan,
)
from productpilot.quality.gates import GateFacts, evaluate_gates
from productpilot.quality.security import Finding
from productpilot.tenants import create_tenant

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
SQLI = Finding("bandit:B608:app/db.py:aa", "bandit", "B608", "critical", "SQL built from input")
SHELL = Finding("bandit:B602:app/run.py:bb", "bandit", "B602", "high", "shell=True")
JINJA = Finding("pip-audit:CVE-2020-28493:jinja2", "pip-audit", "CVE-2020-28493", "medium", "ReDoS")


def scan(store: Store, tenant_id: int, product: Product, findings, tools, at):
    with store.tenant_session(tenant_id) as session:
        return record_scan(session, product.id, findings, scanned_tools=tools, now=at)


def rows(store: Store, tenant_id: int) -> dict[str, SecurityFinding]:
    with store.tenant_session(tenant_id) as session:
        return {row.fingerprint: row for row in session.scalars(select(SecurityFinding))}


def test_a_finding_is_new_once_then_open_then_fixed_then_reopened(
    store: Store, tenant_id: int, product: Product
) -> None:
    first = scan(store, tenant_id, product, [SQLI, SHELL], {"bandit"}, T0)
    assert [f.fingerprint for f in first.new] == [SQLI.fingerprint, SHELL.fingerprint]

    second = scan(store, tenant_id, product, [SQLI, SHELL], {"bandit"}, T0 + timedelta(days=1))
    assert (second.new, len(second.still_open)) == ((), 2)
    stored = rows(store, tenant_id)
    assert stored[SQLI.fingerprint].first_seen == T0
    assert stored[SQLI.fingerprint].last_seen == T0 + timedelta(days=1)

    third = scan(store, tenant_id, product, [SHELL], {"bandit"}, T0 + timedelta(days=2))
    assert [f.fingerprint for f in third.fixed] == [SQLI.fingerprint]
    assert rows(store, tenant_id)[SQLI.fingerprint].status == "fixed"

    fourth = scan(store, tenant_id, product, [SQLI, SHELL], {"bandit"}, T0 + timedelta(days=3))
    assert fourth.new == ()
    [reopened] = fourth.reopened
    assert reopened.first_seen == T0  # the same problem, first seen on the first day
    stored = rows(store, tenant_id)
    assert len(stored) == 2  # never a second row for a fingerprint
    assert (stored[SQLI.fingerprint].status, stored[SQLI.fingerprint].resolved_at) == ("open", None)


def test_a_scan_of_one_tool_leaves_the_other_tools_findings_open(
    store: Store, tenant_id: int, product: Product
) -> None:
    scan(store, tenant_id, product, [SQLI, JINJA], None, T0)
    outcome = scan(store, tenant_id, product, [], {"bandit"}, T0 + timedelta(hours=1))
    assert [f.fingerprint for f in outcome.fixed] == [SQLI.fingerprint]
    assert rows(store, tenant_id)[JINJA.fingerprint].status == "open"


def test_a_dismissal_at_the_source_sticks(store: Store, tenant_id: int, product: Product) -> None:
    scan(store, tenant_id, product, [SQLI], {"bandit"}, T0)
    outcome = scan(store, tenant_id, product, [replace(SQLI, dismissed=True)], {"bandit"}, T0)
    assert [f.fingerprint for f in outcome.dismissed] == [SQLI.fingerprint]
    again = scan(store, tenant_id, product, [SQLI], {"bandit"}, T0 + timedelta(days=1))
    assert again.new == again.reopened == ()
    assert rows(store, tenant_id)[SQLI.fingerprint].status == "dismissed"


def test_gates_read_the_open_critical_findings(
    store: Store, tenant_id: int, product: Product
) -> None:
    scan(store, tenant_id, product, [SQLI, SHELL, JINJA], None, T0)
    gate = [GateDefinition(name="no-critical", kind="no_critical_alerts")]
    with store.tenant_session(tenant_id) as session:
        critical = open_critical_findings(session, product.id)
        assert [f.fingerprint for f in critical] == [SQLI.fingerprint]
        assert [f.severity for f in open_findings(session, product.id, minimum="medium")] == [
            "critical",
            "high",
            "medium",
        ]
    verdict = evaluate_gates(gate, GateFacts(head_sha="abc", alerts=tuple(critical)))
    assert verdict.results[0].outcome == "failed"

    scan(store, tenant_id, product, [SHELL], {"bandit"}, T0 + timedelta(days=1))
    with store.tenant_session(tenant_id) as session:
        assert open_critical_findings(session, product.id) == []


def test_another_tenants_findings_are_invisible(
    store: Store, tenant_id: int, product: Product
) -> None:
    scan(store, tenant_id, product, [SQLI], None, T0)
    other, _ = create_tenant(store, "Other Co")
    with store.tenant_session(other.id) as session:
        theirs = create_product(session, "Their App")
        record_scan(session, theirs.id, [SQLI], scanned_tools=None, now=T0)
        assert [f.fingerprint for f in open_findings(session, theirs.id)] == [SQLI.fingerprint]
        assert open_findings(session, product.id) == []
    assert len(rows(store, tenant_id)) == 1


def test_the_summary_counts_a_periods_opened_and_resolved_findings(
    store: Store, tenant_id: int, product: Product
) -> None:
    scan(store, tenant_id, product, [SQLI, SHELL], None, T0)
    scan(store, tenant_id, product, [SHELL, JINJA], None, T0 + timedelta(days=8))
    week = (T0 + timedelta(days=7), T0 + timedelta(days=14))
    with store.tenant_session(tenant_id) as session:
        summary = findings_summary(session, product.id, *week)
    assert summary.open_by_severity == {
        "critical": 0,
        "high": 1,
        "medium": 1,
        "low": 0,
        "info": 0,
    }
    assert (summary.opened, summary.resolved) == (1, 1)
    assert summary.oldest_open_days == 14.0  # SHELL, high, open since T0


def test_github_alerts_as_the_hook_returns_them() -> None:
    findings = findings_from_github(
        [
            {
                "number": 4,
                "state": "fixed",
                "rule_id": "py/sql-injection",
                "severity": "error",
                "security_severity_level": "critical",
                "description": "SQL injection",
                "tool": "CodeQL",
                "html_url": "https://github.com/acme/shop/security/code-scanning/4",
            }
        ],
        [
            {
                "number": 2,
                "state": "dismissed",
                "severity": "medium",
                "package": "django",
                "ecosystem": "pip",
                "manifest_path": "requirements.txt",
                "ghsa_id": "GHSA-abcd",
                "summary": "Django flaw",
            }
        ],
    )
    code, dependency = findings
    assert (code.fingerprint, code.severity, code.fixed) == (
        "CodeQL:py/sql-injection:#4",
        "critical",
        True,
    )
    assert (dependency.package, dependency.dismissed, dependency.file) == (
        "django",
        True,
        "requirements.txt",
    )


def test_a_github_pull_covers_the_code_scanning_tools_seen_before(
    store: Store, tenant_id: int, product: Product
) -> None:
    codeql = Finding("CodeQL:py/xss:#1", "CodeQL", "py/xss", "high", "XSS")
    scan(store, tenant_id, product, [codeql, SQLI], None, T0)
    with store.tenant_session(tenant_id) as session:
        assert github_scanned_tools(session, product.id, []) == {"dependabot", "CodeQL"}
