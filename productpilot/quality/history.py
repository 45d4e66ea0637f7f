"""Gate verdicts in the store: one ``quality_gate_results`` row per evaluation, with the facts.

The ``quality-gate`` flow evaluates a commit each time a webhook brings news about it. Each
evaluation is a new row (the history is never rewritten): ``gate`` is the check run's name,
``subject`` the commit sha, ``passed`` whether every gate passed, ``summary`` the check run's
title and table, and ``details`` holds what the next evaluation and the release flow need:

* ``facts``: the merged :class:`~productpilot.quality.gates.GateFacts` (JSON, see
  :func:`facts_to_json`), which the next webhook's facts are merged into;
* ``outcome`` (``passed``, ``failed``, ``pending``), ``conclusion`` and ``results`` (one per
  gate: name, kind, outcome, reasons, measured, threshold);
* ``repository``, ``pull_requests``, ``check_run_id`` (the GitHub check run the verdict was
  posted as, reused by every later verdict of the commit) and ``delivery`` (what caused it).

Example:
    >>> facts = GateFacts("abc", check_runs=(CheckRun("test", "completed", "success", 1),))
    >>> facts_from_json(facts_to_json(facts)) == facts
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from productpilot.db.models import QualityGateResult
from productpilot.db.tenancy import StoreSession
from productpilot.db.types import utcnow
from productpilot.quality.gates import (
    ChangedLinesCoverage,
    CheckRun,
    GateFacts,
    Review,
    Verdict,
)
from productpilot.quality.security import Finding

#: How many recent evaluations :func:`pull_request_history` looks through.
HISTORY_SCAN_LIMIT = 2000


# --- facts as JSON --------------------------------------------------------------------------


def facts_to_json(facts: GateFacts) -> dict[str, Any]:
    """The facts as a JSON-ready document (times in ISO 8601)."""
    return {
        "head_sha": facts.head_sha,
        "pull_requests": list(facts.pull_requests),
        "check_runs": [
            {
                "name": run.name,
                "status": run.status,
                "conclusion": run.conclusion,
                "run_id": run.run_id,
                "observed_at": _iso(run.observed_at),
                "url": run.url,
            }
            for run in facts.check_runs
        ],
        "reviews": None
        if facts.reviews is None
        else [
            {
                "reviewer": review.reviewer,
                "state": review.state,
                "submitted_at": _iso(review.submitted_at),
                "review_id": review.review_id,
            }
            for review in facts.reviews
        ],
        "coverage": None
        if facts.coverage is None
        else {
            "covered": facts.coverage.covered,
            "executable": facts.coverage.executable,
            "uncovered": {path: list(lines) for path, lines in facts.coverage.uncovered.items()},
        },
        "alerts": None
        if facts.alerts is None
        else [
            {
                "fingerprint": alert.fingerprint,
                "tool": alert.tool,
                "rule": alert.rule,
                "severity": alert.severity,
                "title": alert.title,
                "package": alert.package,
                "file": alert.file,
                "line": alert.line,
                "url": alert.url,
                "first_seen": _iso(alert.first_seen),
                "fixed": alert.fixed,
                "dismissed": alert.dismissed,
            }
            for alert in facts.alerts
        ],
        "performance_regressions": None
        if facts.performance_regressions is None
        else dict(facts.performance_regressions),
        "values": dict(facts.values),
        "head_from_pull_request": facts.head_from_pull_request,
    }


def facts_from_json(document: Mapping[str, Any]) -> GateFacts:
    """The facts :func:`facts_to_json` stored."""
    reviews = document.get("reviews")
    coverage = document.get("coverage")
    alerts = document.get("alerts")
    regressions = document.get("performance_regressions")
    return GateFacts(
        head_sha=document.get("head_sha"),
        pull_requests=tuple(document.get("pull_requests") or ()),
        check_runs=tuple(
            CheckRun(
                name=run["name"],
                status=run["status"],
                conclusion=run.get("conclusion"),
                run_id=run.get("run_id"),
                observed_at=_time(run.get("observed_at")),
                url=run.get("url"),
            )
            for run in document.get("check_runs") or ()
        ),
        reviews=None
        if reviews is None
        else tuple(
            Review(
                reviewer=review["reviewer"],
                state=review["state"],
                submitted_at=_time(review.get("submitted_at")),
                review_id=review.get("review_id"),
            )
            for review in reviews
        ),
        coverage=None
        if coverage is None
        else ChangedLinesCoverage(
            covered=int(coverage["covered"]),
            executable=int(coverage["executable"]),
            uncovered={
                path: tuple(lines) for path, lines in (coverage.get("uncovered") or {}).items()
            },
        ),
        alerts=None
        if alerts is None
        else tuple(
            Finding(
                **{
                    **alert,
                    "first_seen": _time(alert.get("first_seen")),
                }
            )
            for alert in alerts
        ),
        performance_regressions=None
        if regressions is None
        else {name: float(value) for name, value in regressions.items()},
        values={name: float(value) for name, value in (document.get("values") or {}).items()},
        head_from_pull_request=bool(document.get("head_from_pull_request")),
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# --- verdicts in the store ------------------------------------------------------------------


@dataclass(frozen=True)
class StoredVerdict:
    """One evaluation as stored, detached from the session.

    Attributes:
        id: the row's id.
        gate: the check run name the verdict reports as.
        subject: the commit sha.
        passed: every gate passed.
        outcome: ``passed``, ``failed`` or ``pending``.
        summary: the check run's title and table (Markdown).
        evaluated_at: when.
        details: see the module docstring.
    """

    id: int
    gate: str
    subject: str
    passed: bool
    outcome: str
    summary: str
    evaluated_at: datetime
    details: dict[str, Any]

    @property
    def facts(self) -> GateFacts:
        """The merged facts the verdict judged."""
        return facts_from_json(self.details.get("facts") or {})

    @property
    def check_run_id(self) -> int | None:
        """The GitHub check run the verdict was posted as, if it was."""
        value = self.details.get("check_run_id")
        return int(value) if value is not None else None

    @classmethod
    def from_row(cls, row: QualityGateResult) -> StoredVerdict:
        details = dict(row.details or {})
        return cls(
            id=row.id,
            gate=row.gate,
            subject=row.subject,
            passed=row.passed,
            outcome=str(details.get("outcome", "passed" if row.passed else "failed")),
            summary=row.summary,
            evaluated_at=row.evaluated_at,
            details=details,
        )


def verdict_details(
    verdict: Verdict,
    facts: GateFacts,
    *,
    repository: str | None,
    check_run_id: int | None = None,
    delivery: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``details`` document of a verdict (see the module docstring)."""
    return {
        "outcome": verdict.outcome,
        "conclusion": verdict.check_run_conclusion,
        "status": verdict.check_run_status,
        "title": verdict.title,
        "results": [
            {
                "name": result.name,
                "kind": result.kind,
                "outcome": result.outcome,
                "reasons": list(result.reasons),
                "measured": result.measured,
                "threshold": result.threshold,
            }
            for result in verdict.results
        ],
        "repository": repository,
        "pull_requests": list(facts.pull_requests),
        "facts": facts_to_json(facts),
        "check_run_id": check_run_id,
        "delivery": dict(delivery) if delivery else None,
    }


def record_verdict(
    session: StoreSession,
    product_id: int,
    verdict: Verdict,
    facts: GateFacts,
    *,
    gate: str,
    repository: str | None,
    check_run_id: int | None = None,
    delivery: Mapping[str, Any] | None = None,
    evaluated_at: datetime | None = None,
) -> StoredVerdict:
    """Store one evaluation of a commit's gates (a new row; the caller commits).

    Raises:
        ValueError: the verdict names no commit (nothing to attach it to).
    """
    if not verdict.head_sha:
        raise ValueError("a verdict without a head commit cannot be stored")
    row = QualityGateResult(
        product_id=product_id,
        gate=gate[:120],
        subject=verdict.head_sha[:200],
        passed=verdict.outcome == "passed",
        summary=f"{verdict.title}\n\n{verdict.summary()}",
        details=verdict_details(
            verdict, facts, repository=repository, check_run_id=check_run_id, delivery=delivery
        ),
        evaluated_at=evaluated_at or utcnow(),
    )
    session.add(row)
    session.flush()
    return StoredVerdict.from_row(row)


def set_check_run_id(session: StoreSession, verdict_id: int, check_run_id: int) -> None:
    """Note on a stored verdict the check run it was posted as."""
    row = session.get(QualityGateResult, verdict_id)
    if row is None:
        raise LookupError(f"no quality gate result {verdict_id}")
    row.details = {**(row.details or {}), "check_run_id": check_run_id}


def latest_verdict(session: StoreSession, product_id: int, sha: str) -> StoredVerdict | None:
    """The newest verdict on commit ``sha`` of the product, or ``None`` if it was never
    evaluated (what a release asks before shipping a commit).

    Example:
        >>> verdict = latest_verdict(session, product_id, sha)  # doctest: +SKIP
        >>> verdict.passed, verdict.summary, verdict.evaluated_at  # doctest: +SKIP
        (False, '1 of 2 gates passed, 1 failed ...', datetime(...))
    """
    row = session.scalar(
        select(QualityGateResult)
        .where(QualityGateResult.product_id == product_id, QualityGateResult.subject == sha)
        .order_by(QualityGateResult.evaluated_at.desc(), QualityGateResult.id.desc())
        .limit(1)
    )
    return StoredVerdict.from_row(row) if row is not None else None


def latest_facts(session: StoreSession, product_id: int, sha: str) -> GateFacts | None:
    """The facts the last evaluation of ``sha`` judged, to merge new facts into."""
    verdict = latest_verdict(session, product_id, sha)
    return verdict.facts if verdict is not None else None


def commit_history(session: StoreSession, product_id: int, sha: str) -> list[StoredVerdict]:
    """Every verdict on commit ``sha``, oldest first."""
    rows = session.scalars(
        select(QualityGateResult)
        .where(QualityGateResult.product_id == product_id, QualityGateResult.subject == sha)
        .order_by(QualityGateResult.evaluated_at, QualityGateResult.id)
    )
    return [StoredVerdict.from_row(row) for row in rows]


def pull_request_history(
    session: StoreSession,
    product_id: int,
    number: int,
    *,
    repository: str | None = None,
    limit: int = HISTORY_SCAN_LIMIT,
) -> list[StoredVerdict]:
    """Every verdict on the commits of pull request ``number`` (of ``repository``, when
    given), oldest first, among the product's latest ``limit`` evaluations.

    The pull request's numbers live in ``details`` (JSON, differently queried on SQLite and
    PostgreSQL), so recent rows are read and filtered here; the bound keeps it cheap.
    """
    rows = session.scalars(
        select(QualityGateResult)
        .where(QualityGateResult.product_id == product_id)
        .order_by(QualityGateResult.evaluated_at.desc(), QualityGateResult.id.desc())
        .limit(limit)
    )
    found = [
        StoredVerdict.from_row(row)
        for row in rows
        if number in (row.details or {}).get("pull_requests", ())
        and (repository is None or (row.details or {}).get("repository") == repository)
    ]
    return found[::-1]


def check_run_for(verdicts: Sequence[StoredVerdict]) -> int | None:
    """The check run the newest of ``verdicts`` that was posted went to."""
    return next((v.check_run_id for v in reversed(verdicts) if v.check_run_id), None)
