"""Specification of security findings: one model for four sources, stable across runs."""

from __future__ import annotations

import doctest
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from productpilot.errors import ValidationError
from productpilot.quality import security as module
from productpilot.quality.security import (
    Finding,
    at_least,
    canonical_advisory,
    deduplicate,
    diff_findings,
    normalise_severity,
    parse_bandit,
    parse_code_scanning_alert,
    parse_dependabot_alert,
    parse_pip_audit,
)
from tests.integrations.shared_data import GITHUB_WEBHOOKS, load, shared_dir

PIP_AUDIT = {
    "dependencies": [
        {"name": "Flask", "version": "0.5", "vulns": [
            {"id": "PYSEC-2019-179", "fix_versions": ["1.0"], "aliases": ["CVE-2019-1010083"],
             "description": "DoS"},
            {"id": "PYSEC-2018-66", "fix_versions": ["0.12.3"], "aliases": []},
        ]},
        {"name": "requests", "version": "2.32.3", "vulns": []},
        {"name": "zope.interface", "skip_reason": "not on PyPI"},
    ],
    "fixes": [],
}  # fmt: skip

BANDIT = {
    "errors": [],
    "results": [
        {
            "code": "4 import subprocess\n5 subprocess.call(cmd, shell=True)\n",
            "filename": "./app/run.py",
            "issue_confidence": "HIGH",
            "issue_severity": "HIGH",
            "issue_text": "subprocess call with shell=True identified, security issue.",
            "line_number": 5,
            "line_range": [5],
            "more_info": "https://bandit.readthedocs.io/en/latest/plugins/b602.html",
            "test_id": "B602",
            "test_name": "subprocess_popen_with_shell_equals_true",
        },
        {
            "code": "9 assert user\n",
            "filename": "app/run.py",
            "issue_severity": "LOW",
            "issue_text": "Use of assert detected.",
            "line_number": 9,
            "test_id": "B101",
        },
        {
            "code": "12 assert user\n",
            "filename": "app/run.py",
            "issue_severity": "LOW",
            "issue_text": "Use of assert detected.",
            "line_number": 12,
            "test_id": "B101",
        },
    ],
}


def webhook(path: str) -> dict:
    return load(shared_dir(GITHUB_WEBHOOKS) / path)


# --- severities -----------------------------------------------------------------------------


def test_severities_are_normalised_from_every_sources_words() -> None:
    words = ["CRITICAL", "High", "error", "moderate", "warning", "medium", "low", "note", "none"]
    assert [normalise_severity(w) for w in words] == [
        "critical", "high", "high", "medium", "medium", "medium", "low", "low", "info",
    ]  # fmt: skip
    assert normalise_severity(None) == "info"
    with pytest.raises(ValidationError, match="unknown severity 'dire'"):
        normalise_severity("dire")
    assert at_least("high", "high")
    assert at_least("critical", "medium")
    assert not at_least("low", "medium")


# --- pip-audit --------------------------------------------------------------------------------


def test_pip_audit_findings_are_per_advisory_and_package() -> None:
    findings = parse_pip_audit(PIP_AUDIT)
    assert [(f.rule, f.package, f.severity) for f in findings] == [
        ("CVE-2019-1010083", "flask", "high"),  # the CVE alias names the flaw
        ("PYSEC-2018-66", "flask", "high"),  # no alias: its own id
    ]
    assert findings[0].fingerprint == "pip-audit:CVE-2019-1010083:flask"
    assert findings[0].title == "flask 0.5: CVE-2019-1010083 (fix: 1.0)"
    assert findings[0].url == "https://nvd.nist.gov/vuln/detail/CVE-2019-1010083"
    assert parse_pip_audit(PIP_AUDIT, severity="critical")[0].severity == "critical"


def test_pip_audit_fingerprints_survive_an_upgrade_and_the_old_list_format() -> None:
    upgraded = {"dependencies": [{**PIP_AUDIT["dependencies"][0], "version": "0.6"}]}
    before = {f.fingerprint for f in parse_pip_audit(PIP_AUDIT)}
    assert {f.fingerprint for f in parse_pip_audit(upgraded)} == before
    # Older pip-audit printed the dependency list alone; a GHSA id from the OSV service
    # with the same CVE alias is the same finding.
    vuln = {"id": "GHSA-5wv5-4vpf-pj6m", "aliases": ["CVE-2019-1010083"], "fix_versions": []}
    osv = [{"name": "flask", "version": "0.5", "vulns": [vuln]}]
    assert parse_pip_audit(osv)[0].fingerprint == "pip-audit:CVE-2019-1010083:flask"
    assert canonical_advisory("PYSEC-1", ["GHSA-b", "GHSA-a"]) == "GHSA-a"


def test_malformed_pip_audit_reports_are_refused() -> None:
    for bad, message in [
        ({"deps": []}, "expected a 'dependencies' list"),
        ({"dependencies": [{"version": "1"}]}, "without a name"),
        ({"dependencies": [{"name": "x", "vulns": [{"fix_versions": []}]}]}, "has no id"),
    ]:
        with pytest.raises(ValidationError, match=message):
            parse_pip_audit(bad)


# --- bandit -----------------------------------------------------------------------------------


def test_bandit_findings_keep_their_fingerprint_when_lines_move() -> None:
    findings = parse_bandit(BANDIT)
    assert [(f.rule, f.severity, f.file, f.line) for f in findings] == [
        ("B602", "high", "app/run.py", 5),
        ("B101", "low", "app/run.py", 9),
        ("B101", "low", "app/run.py", 12),
    ]
    shifted = {
        "results": [
            {**r, "line_number": r["line_number"] + 3, "code": _shift(r["code"], 3)}
            for r in BANDIT["results"]
        ]
    }
    assert [f.fingerprint for f in parse_bandit(shifted)] == [f.fingerprint for f in findings]
    # Two identical asserts in one file are two findings, told apart by occurrence.
    assert len({f.fingerprint for f in findings}) == 3


def _shift(code: str, by: int) -> str:
    return "".join(
        f"{int(line.split(' ', 1)[0]) + by} {line.split(' ', 1)[1]}\n" for line in code.splitlines()
    )


def test_bandit_without_code_falls_back_to_the_line_and_refuses_bad_results() -> None:
    bare = {"results": [{"test_id": "B105", "filename": "a.py", "line_number": 3}]}
    moved = {"results": [{"test_id": "B105", "filename": "a.py", "line_number": 4}]}
    assert parse_bandit(bare)[0].fingerprint != parse_bandit(moved)[0].fingerprint
    assert parse_bandit(bare)[0].severity == "info"
    with pytest.raises(ValidationError, match="expected a 'results' list"):
        parse_bandit([])
    with pytest.raises(ValidationError, match="has no filename"):
        parse_bandit({"results": [{"test_id": "B1"}]})


# --- GitHub alerts ------------------------------------------------------------------------------


def test_code_scanning_alert_webhooks_follow_one_alert_from_open_to_fixed() -> None:
    created = parse_code_scanning_alert(webhook("code_scanning_alert/created.payload.json"))
    fixed = parse_code_scanning_alert(webhook("code_scanning_alert/fixed.payload.json"))
    assert created.fingerprint == fixed.fingerprint == "CodeQL:java/sql-injection:#10"
    assert (created.severity, created.open, fixed.fixed) == ("high", True, True)  # SARIF "error"
    assert created.file == "src/main/java/com/github/demo/service/BookService.java"
    assert created.line == 84
    assert created.first_seen == datetime(2021, 2, 11, 3, 10, 43, tzinfo=UTC)
    assert created.url == "https://github.com/Codertocat/Hello-World/security/code-scanning/10"
    dismissed = parse_code_scanning_alert(
        webhook("code_scanning_alert/closed-by-user.payload.json")
    )
    assert (dismissed.dismissed, dismissed.open, dismissed.fixed) == (True, False, False)
    reopened = parse_code_scanning_alert(webhook("code_scanning_alert/reopened.payload.json"))
    assert (reopened.tool, reopened.severity, reopened.file) == ("Rubocop", "low", None)


def test_a_security_rules_severity_level_wins_over_the_sarif_level() -> None:
    rest = {
        "number": 4,
        "state": "open",
        "tool": {"name": "CodeQL"},
        "rule": {"id": "py/x", "severity": "warning", "security_severity_level": "critical"},
    }
    assert parse_code_scanning_alert(rest).severity == "critical"
    assert parse_code_scanning_alert({**rest, "rule": {"id": "py/x"}}).severity == "info"


def test_dependabot_alert_webhooks() -> None:
    created = parse_dependabot_alert(webhook("dependabot_alert/created.payload.json"))
    assert created.fingerprint == "dependabot:GHSA-c2qf-rxjj-qqgw:#20"
    assert (created.open, created.severity, created.package, created.file) == (
        True,
        "medium",
        "semver",
        "package-lock.json",
    )
    assert created.first_seen == datetime(2023, 6, 24, 13, 57, 12, tzinfo=UTC)
    fixed = parse_dependabot_alert(webhook("dependabot_alert/fixed.payload.json"))
    assert fixed.fingerprint == "dependabot:GHSA-8f4m-hccc-8qph:#1"
    assert (fixed.fixed, fixed.open, fixed.package) == (True, False, "ansible")
    # The REST object (no webhook wrapper) is the same finding.
    assert parse_dependabot_alert(webhook("dependabot_alert/fixed.payload.json")["alert"]) == fixed
    with pytest.raises(ValidationError, match="expected a JSON object"):
        parse_dependabot_alert([])  # type: ignore[arg-type]


# --- across runs --------------------------------------------------------------------------------


def finding(fingerprint: str, tool: str = "bandit", **kwargs: object) -> Finding:
    return Finding(fingerprint, tool, "R", "medium", fingerprint, **kwargs)  # type: ignore[arg-type]


def test_diff_findings_sorts_new_fixed_still_open_and_dismissed() -> None:
    day1, day2 = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)
    previous = [
        finding("kept", first_seen=day1),
        finding("gone"),
        finding("closed"),
        finding("waived"),
        finding("was-fixed", fixed=True),
    ]
    current = [
        finding("kept", first_seen=day2),
        finding("closed", fixed=True),
        finding("waived", dismissed=True),
        finding("was-fixed"),  # reopened: new again
        finding("fresh"),
    ]
    result = diff_findings(previous, current, now=day2)
    assert [f.fingerprint for f in result.new] == ["was-fixed", "fresh"]
    assert all(f.first_seen == day2 for f in result.new)
    assert [f.fingerprint for f in result.fixed] == ["closed", "gone"]
    assert all(f.fixed for f in result.fixed)
    assert [(f.fingerprint, f.first_seen) for f in result.still_open] == [("kept", day1)]
    assert [f.fingerprint for f in result.dismissed] == ["waived"]


def test_a_run_of_one_tool_does_not_fix_another_tools_findings() -> None:
    previous = [finding("b1"), finding("p1", tool="pip-audit")]
    result = diff_findings(previous, [finding("b1")], scanned_tools={"bandit"})
    assert (result.fixed, [f.fingerprint for f in result.still_open]) == ((), ["b1"])
    assert [f.fingerprint for f in diff_findings(previous, [finding("b1")]).fixed] == ["p1"]


def test_deduplicate_keeps_one_per_fingerprint_and_the_earliest_first_seen() -> None:
    early = datetime(2026, 1, 1, tzinfo=UTC)
    first = finding("x", first_seen=early)
    again = replace(first, title="updated", first_seen=datetime(2026, 2, 1, tzinfo=UTC))
    assert deduplicate([first, again, finding("y")]) == [
        replace(again, first_seen=early),
        finding("y"),
    ]


def test_docstring_examples() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0
    assert results.failed == 0
