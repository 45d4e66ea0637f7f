"""Verdicts as the ``quality-gate`` flow records them, for tests of what reads them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from productpilot.db.tenancy import StoreSession
from productpilot.products.configuration import GateDefinition
from productpilot.quality.gates import GATE_CHECK_NAME, CheckRun, GateFacts, evaluate_gates
from productpilot.quality.history import StoredVerdict, record_verdict

#: The check each recorded verdict judges; its gate requires it green.
CHECK = "test (3.11)"


def record_gate_verdict(
    session: StoreSession,
    product_id: int,
    sha: str,
    outcome: Literal["passed", "failed", "pending"],
    *,
    at: datetime | None = None,
) -> StoredVerdict:
    """Evaluate one ``required_checks`` gate on ``sha`` with its check passed, failed or
    still running, and store the verdict as the flow does."""
    check = {
        "passed": CheckRun(CHECK, "completed", "success"),
        "failed": CheckRun(CHECK, "completed", "failure"),
        "pending": CheckRun(CHECK, "in_progress"),
    }[outcome]
    facts = GateFacts(head_sha=sha, check_runs=(check,))
    gates = [GateDefinition(name="checks-green", kind="required_checks")]
    verdict = evaluate_gates(gates, facts)
    assert verdict.outcome == outcome
    return record_verdict(
        session, product_id, verdict, facts, gate=GATE_CHECK_NAME, repository=None, evaluated_at=at
    )
