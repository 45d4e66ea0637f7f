"""Security findings in the store: one ``security_findings`` row per problem, across runs.

Each scan (a scanner run by the local runner, GitHub's code-scanning and Dependabot alerts)
is recorded with :func:`record_scan`, which compares it with what the store holds through
:func:`productpilot.quality.security.diff_findings`: a finding is *new* once, stays *open*
(its ``last_seen`` moves) while it is reported, becomes *fixed* when the tool that found it
no longer reports it (or says it is fixed), and is *reopened* (same row, same
``first_seen``) if it comes back. A scan of one tool says nothing about another tool's
findings. A dismissal is a person's decision: a dismissed finding reported again stays
dismissed.

:func:`open_critical_findings` is what the release gates read (``no_critical_alerts``).

Example:
    >>> with store.tenant_session(tenant_id) as session:  # doctest: +SKIP
    ...     outcome = record_scan(session, product_id, findings, scanned_tools={"bandit"})
    ...     [f.fingerprint for f in outcome.new]
    ['bandit:B602:app/run.py:1f3a...']
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from productpilot.db.models import SecurityFinding
from productpilot.db.tenancy import StoreSession
from productpilot.quality.security import (
    SEVERITIES,
    Finding,
    Severity,
    at_least,
    diff_findings,
    normalise_severity,
    parse_code_scanning_alert,
    parse_dependabot_alert,
)

OPEN, FIXED, DISMISSED = "open", "fixed", "dismissed"


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    """What a recorded scan changed.

    Attributes:
        new: findings never seen before.
        reopened: findings fixed earlier and reported again.
        fixed: findings no longer reported (or fixed at the source).
        still_open: findings reported again.
        dismissed: findings dismissed at the source.
    """

    new: tuple[Finding, ...] = ()
    reopened: tuple[Finding, ...] = ()
    fixed: tuple[Finding, ...] = ()
    still_open: tuple[Finding, ...] = ()
    dismissed: tuple[Finding, ...] = ()

    def to_dict(self) -> dict[str, int]:
        return {
            "new": len(self.new),
            "reopened": len(self.reopened),
            "fixed": len(self.fixed),
            "still_open": len(self.still_open),
            "dismissed": len(self.dismissed),
        }


def record_scan(
    session: StoreSession,
    product_id: int,
    findings: Iterable[Finding],
    *,
    scanned_tools: Collection[str] | None,
    now: datetime | None = None,
) -> ScanOutcome:
    """Record one scan's findings for a product; returns what changed.

    Args:
        session: a tenant session.
        product_id: the product scanned.
        findings: everything the scan reported (open, fixed and dismissed).
        scanned_tools: the tools the scan covered (their stored findings that are not
            reported are fixed); ``None``: every tool's.
        now: the scan's time.
    """
    moment = now or datetime.now(UTC)
    rows = {
        row.fingerprint: row
        for row in session.scalars(
            select(SecurityFinding).where(SecurityFinding.product_id == product_id)
        )
    }
    diff = diff_findings(
        [_finding(row) for row in rows.values()], findings, scanned_tools=scanned_tools, now=moment
    )
    new, reopened = [], []
    for finding in diff.new:
        row = rows.get(finding.fingerprint)
        if row is None:
            row = SecurityFinding(
                product_id=product_id,
                fingerprint=finding.fingerprint,
                first_seen=finding.first_seen or moment,
                status=OPEN,
            )
            session.add(row)
            rows[finding.fingerprint] = row
            new.append(finding)
        elif row.status == DISMISSED:
            _update(row, finding, moment)
            continue
        else:
            row.status, row.resolved_at = OPEN, None
            reopened.append(replace(finding, first_seen=row.first_seen))
        _update(row, finding, moment)
    for finding in diff.still_open:
        _update(rows[finding.fingerprint], finding, moment)
    for finding, status in [(f, FIXED) for f in diff.fixed] + [
        (f, DISMISSED) for f in diff.dismissed
    ]:
        row = rows[finding.fingerprint]
        row.status, row.resolved_at = status, moment
    session.flush()
    return ScanOutcome(tuple(new), tuple(reopened), diff.fixed, diff.still_open, diff.dismissed)


def _update(row: SecurityFinding, finding: Finding, moment: datetime) -> None:
    row.source = finding.tool
    row.rule = finding.rule[:200]
    row.severity = finding.severity
    row.title = finding.title
    row.last_seen = moment
    row.details = {
        "package": finding.package,
        "file": finding.file,
        "line": finding.line,
        "url": finding.url,
    }


def _finding(row: SecurityFinding) -> Finding:
    details = row.details or {}
    return Finding(
        fingerprint=row.fingerprint,
        tool=row.source,
        rule=row.rule,
        severity=normalise_severity(row.severity),
        title=row.title,
        package=details.get("package"),
        file=details.get("file"),
        line=details.get("line"),
        url=details.get("url"),
        first_seen=row.first_seen,
        fixed=row.status == FIXED,
        dismissed=row.status == DISMISSED,
    )


def open_findings(
    session: StoreSession, product_id: int, *, minimum: Severity = "info"
) -> list[Finding]:
    """A product's open findings at ``minimum`` severity or worse, worst first."""
    rows = session.scalars(
        select(SecurityFinding).where(
            SecurityFinding.product_id == product_id, SecurityFinding.status == OPEN
        )
    )
    found = [_finding(row) for row in rows if at_least(normalise_severity(row.severity), minimum)]
    return sorted(found, key=lambda f: (SEVERITIES.index(f.severity), f.fingerprint))


def open_critical_findings(session: StoreSession, product_id: int) -> list[Finding]:
    """A product's open critical findings: the ``alerts`` the release gates evaluate.

    Example:
        >>> from productpilot.quality.gates import GateFacts
        >>> alerts = tuple(open_critical_findings(session, product_id))  # doctest: +SKIP
        >>> facts = GateFacts(alerts=alerts)  # doctest: +SKIP
    """
    return open_findings(session, product_id, minimum="critical")


@dataclass(frozen=True, slots=True)
class FindingsSummary:
    """A product's security findings over a period, for the QA report.

    Attributes:
        open_by_severity: open findings now, per severity.
        opened: findings first seen in the period.
        resolved: findings fixed in the period.
        oldest_open_days: age of the oldest open critical or high finding.
    """

    open_by_severity: dict[str, int] = field(default_factory=dict)
    opened: int = 0
    resolved: int = 0
    oldest_open_days: float | None = None

    @property
    def open_total(self) -> int:
        return sum(self.open_by_severity.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "open_by_severity": dict(self.open_by_severity),
            "open": self.open_total,
            "opened": self.opened,
            "resolved": self.resolved,
            "oldest_open_days": self.oldest_open_days,
        }


def findings_summary(
    session: StoreSession, product_id: int, start: datetime, end: datetime
) -> FindingsSummary:
    """Open findings by severity, and how many were opened and fixed in ``[start, end)``."""
    rows = list(
        session.scalars(select(SecurityFinding).where(SecurityFinding.product_id == product_id))
    )
    open_rows = [row for row in rows if row.status == OPEN]
    counts = Counter(row.severity for row in open_rows)
    serious = [row.first_seen for row in open_rows if row.severity in ("critical", "high")]
    oldest = (end - min(serious)).total_seconds() / 86400 if serious else None
    return FindingsSummary(
        open_by_severity={s: counts.get(s, 0) for s in SEVERITIES},
        opened=sum(start <= row.first_seen < end for row in rows),
        resolved=sum(
            row.status == FIXED and row.resolved_at is not None and start <= row.resolved_at < end
            for row in rows
        ),
        oldest_open_days=oldest,
    )


# --- GitHub, as the hook reports it ---------------------------------------------------------


def findings_from_github(
    code_scanning: Sequence[Mapping[str, Any]], dependabot: Sequence[Mapping[str, Any]]
) -> list[Finding]:
    """Findings from :class:`integrations.github.client.GitHubHook`'s flattened alerts.

    The hook returns one flat dict per alert; this puts each back into the REST shape the
    parsers of :mod:`productpilot.quality.security` read, so an alert has the same
    fingerprint whether it came from a webhook or a scan.

    Example:
        >>> [f.fingerprint for f in findings_from_github(
        ...     [{"number": 3, "state": "open", "rule_id": "py/xss", "severity": "error",
        ...       "security_severity_level": "high", "description": "XSS", "tool": "CodeQL"}],
        ...     [{"number": 1, "state": "open", "severity": "critical", "package": "django",
        ...       "manifest_path": "requirements.txt", "ghsa_id": "GHSA-x", "summary": "SQLi"}])]
        ['CodeQL:py/xss:#3', 'dependabot:GHSA-x:#1']
    """
    findings = [
        parse_code_scanning_alert(
            {
                "number": alert.get("number"),
                "state": alert.get("state"),
                "html_url": alert.get("html_url"),
                "tool": {"name": alert.get("tool")},
                "rule": {
                    "id": alert.get("rule_id"),
                    "severity": alert.get("severity"),
                    "security_severity_level": alert.get("security_severity_level"),
                    "description": alert.get("description"),
                },
            }
        )
        for alert in code_scanning
    ]
    findings += [
        parse_dependabot_alert(
            {
                "number": alert.get("number"),
                "state": alert.get("state"),
                "html_url": alert.get("html_url"),
                "dependency": {
                    "package": {"name": alert.get("package"), "ecosystem": alert.get("ecosystem")},
                    "manifest_path": alert.get("manifest_path"),
                },
                "security_advisory": {
                    "ghsa_id": alert.get("ghsa_id"),
                    "severity": alert.get("severity"),
                    "summary": alert.get("summary"),
                },
            }
        )
        for alert in dependabot
    ]
    return findings


#: Tools the local runner's scanners record findings under; every other tool is GitHub's.
LOCAL_TOOLS = frozenset({"pip-audit", "bandit"})


def github_scanned_tools(
    session: StoreSession, product_id: int, findings: Iterable[Finding]
) -> set[str]:
    """The tools a pull of GitHub's alerts covered: Dependabot, and every code-scanning tool
    reported now or stored before (a tool whose alerts are all gone covered its old ones)."""
    stored = session.scalars(
        select(SecurityFinding.source).where(SecurityFinding.product_id == product_id).distinct()
    )
    return {"dependabot", *(f.tool for f in findings), *(s for s in stored if s not in LOCAL_TOOLS)}
