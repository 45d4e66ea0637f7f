"""The gates see the security findings the ``security-scan`` flow keeps, next to GitHub's."""

from __future__ import annotations

from productpilot.products.configuration import GateDefinition
from productpilot.quality.gates import GateFacts, evaluate_gates
from productpilot.quality.security import Finding
from tasks.development import with_stored_findings

SHA = "a" * 40


def finding(fingerprint: str, severity: str = "critical") -> Finding:
    return Finding(
        fingerprint=fingerprint, tool="pip-audit", rule="PYSEC-1", severity=severity, title="x"
    )


def test_a_stored_critical_finding_fails_the_alerts_gate_without_github() -> None:
    gates = [GateDefinition(name="security", kind="no_critical_alerts")]
    facts = with_stored_findings(GateFacts(head_sha=SHA), [finding("pip-audit:jinja2")])
    assert evaluate_gates(gates, facts).outcome == "failed"


def test_no_stored_findings_leave_the_facts_as_they_were() -> None:
    facts = GateFacts(head_sha=SHA)
    assert with_stored_findings(facts, []) is facts


def test_a_finding_github_already_reported_is_counted_once() -> None:
    live = finding("dependabot:42")
    facts = with_stored_findings(
        GateFacts(head_sha=SHA, alerts=(live,)), [finding("dependabot:42"), finding("bandit:B602")]
    )
    assert [a.fingerprint for a in facts.alerts] == ["dependabot:42", "bandit:B602"]
