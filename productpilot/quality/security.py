"""Security findings from scanners and GitHub, in one model, tracked across runs.

Every source becomes a :class:`Finding` with a normalised severity (critical, high, medium,
low, info) and a *fingerprint* that stays the same from one run to the next, so a finding is
new once, open while it lasts and fixed when it goes:

* pip-audit: tool, advisory (the CVE alias when there is one, so PYSEC and GHSA ids of the
  same flaw agree) and the normalised package name; not the version, so an upgrade that is
  still vulnerable keeps its finding.
* bandit: tool, test id, file and the offending code (line numbers stripped), plus an
  occurrence index among identical snippets; adding a line above the flaw keeps its finding.
* code scanning and Dependabot: tool, rule or advisory and GitHub's own alert number, which
  GitHub keeps across code moves (file and line when there is no number).

Example:
    >>> report = {"dependencies": [{"name": "Jinja2", "version": "2.11.2", "vulns": [
    ...     {"id": "PYSEC-2021-66", "fix_versions": ["2.11.3"], "aliases": ["CVE-2020-28493"]}]}]}
    >>> finding = parse_pip_audit(report)[0]
    >>> (finding.rule, finding.package, finding.fingerprint)
    ('CVE-2020-28493', 'jinja2', 'pip-audit:CVE-2020-28493:jinja2')
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from productpilot.errors import ValidationError

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
_RANK = {severity: rank for rank, severity in enumerate(reversed(SEVERITIES))}

# Scanners and GitHub name severities in their own words; SARIF levels (error, warning,
# note) are what code scanning reports for non-security rules.
_SEVERITY_WORDS: dict[str, Severity] = {
    "critical": "critical",
    "high": "high",
    "error": "high",
    "medium": "medium",
    "moderate": "medium",
    "warning": "medium",
    "low": "low",
    "note": "low",
    "info": "info",
    "informational": "info",
    "none": "info",
    "negligible": "info",
    "undefined": "info",
    "unknown": "info",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One security problem, as any source reports it.

    Attributes:
        fingerprint: stable identity across runs (see the module docstring).
        tool: ``pip-audit``, ``bandit``, the code-scanning tool's name, or ``dependabot``.
        rule: the advisory (CVE/GHSA/PYSEC id) or the scanner's rule/test id.
        severity: normalised severity.
        title: one line saying what is wrong.
        package: the vulnerable package, for dependency findings.
        file: the file (or manifest) where it is.
        line: the line, when the source gives one.
        url: where to read more.
        first_seen: when it was first reported (kept across runs by :func:`diff_findings`).
        fixed: the source says it is fixed.
        dismissed: someone dismissed it (false positive, won't fix); neither open nor fixed.
    """

    fingerprint: str
    tool: str
    rule: str
    severity: Severity
    title: str
    package: str | None = None
    file: str | None = None
    line: int | None = None
    url: str | None = None
    first_seen: datetime | None = None
    fixed: bool = False
    dismissed: bool = False

    @property
    def open(self) -> bool:
        """Still a problem: neither fixed nor dismissed."""
        return not self.fixed and not self.dismissed


def normalise_severity(value: str | None) -> Severity:
    """One of critical, high, medium, low, info, whatever the source called it.

    Example:
        >>> [normalise_severity(s) for s in ("CRITICAL", "moderate", "warning", "note", None)]
        ['critical', 'medium', 'medium', 'low', 'info']
    """
    if value is None:
        return "info"
    severity = _SEVERITY_WORDS.get(str(value).strip().lower())
    if severity is None:
        raise ValidationError(f"unknown severity {value!r} (use one of {', '.join(SEVERITIES)})")
    return severity


def at_least(severity: Severity, minimum: Severity) -> bool:
    """Whether ``severity`` is ``minimum`` or worse.

    Example:
        >>> at_least("critical", "high"), at_least("medium", "high")
        (True, False)
    """
    return _RANK[severity] >= _RANK[minimum]


# --- pip-audit --------------------------------------------------------------------------------


def parse_pip_audit(document: Any, *, severity: Severity = "high") -> list[Finding]:
    """The findings of a ``pip-audit -f json`` report.

    Args:
        document: the parsed JSON: ``{"dependencies": [...], "fixes": [...]}`` or, from older
            pip-audit versions, the bare list of dependencies.
        severity: pip-audit reports known vulnerabilities without a severity; they get this.

    Example:
        >>> parse_pip_audit({"dependencies": [{"name": "rich", "version": "13", "vulns": []}]})
        []
    """
    dependencies = document.get("dependencies") if isinstance(document, Mapping) else document
    if not isinstance(dependencies, list):
        raise ValidationError("pip-audit report: expected a 'dependencies' list")
    findings = []
    for dependency in dependencies:
        if not isinstance(dependency, Mapping) or "name" not in dependency:
            raise ValidationError("pip-audit report: a dependency without a name")
        package = _python_package(dependency["name"])
        for vuln in dependency.get("vulns") or []:
            if not isinstance(vuln, Mapping) or not vuln.get("id"):
                raise ValidationError(f"pip-audit report: a vulnerability of {package} has no id")
            advisory = canonical_advisory(vuln["id"], vuln.get("aliases") or ())
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            findings.append(
                Finding(
                    fingerprint=f"pip-audit:{advisory}:{package}",
                    tool="pip-audit",
                    rule=advisory,
                    severity=severity,
                    title=f"{package} {dependency.get('version', '?')}: {advisory} (fix: {fixes})",
                    package=package,
                    url=_advisory_url(advisory),
                )
            )
    return findings


def canonical_advisory(advisory_id: str, aliases: Iterable[str] = ()) -> str:
    """The id that names a flaw whichever database reported it: a CVE, else a GHSA, else the id.

    Example:
        >>> canonical_advisory("PYSEC-2021-66", ["GHSA-g3rq-g295-4j3m", "CVE-2020-28493"])
        'CVE-2020-28493'
    """
    ids = sorted({advisory_id, *aliases})
    for prefix in ("CVE-", "GHSA-"):
        matching = [i for i in ids if i.upper().startswith(prefix)]
        if matching:
            return matching[0]
    return advisory_id


def _python_package(name: str) -> str:
    return re.sub(r"[-_.]+", "-", str(name)).lower()  # PEP 503 normalisation


def _advisory_url(advisory: str) -> str | None:
    if advisory.startswith("CVE-"):
        return f"https://nvd.nist.gov/vuln/detail/{advisory}"
    if advisory.startswith("GHSA-"):
        return f"https://github.com/advisories/{advisory}"
    return f"https://osv.dev/vulnerability/{advisory}"


# --- bandit -------------------------------------------------------------------------------------


def parse_bandit(document: Any) -> list[Finding]:
    """The findings of a ``bandit -f json`` report.

    Example:
        >>> report = {"results": [{"test_id": "B602", "issue_severity": "HIGH",
        ...     "issue_text": "shell=True", "filename": "app/run.py", "line_number": 7,
        ...     "code": "7 subprocess.call(cmd, shell=True)\\n"}]}
        >>> finding = parse_bandit(report)[0]
        >>> (finding.severity, finding.line, finding.fingerprint.rsplit(":", 1)[0])
        ('high', 7, 'bandit:B602:app/run.py')
    """
    results = document.get("results") if isinstance(document, Mapping) else None
    if not isinstance(results, list):
        raise ValidationError("bandit report: expected a 'results' list")
    seen: Counter[tuple[str, str, str]] = Counter()
    findings = []
    for result in results:
        if not isinstance(result, Mapping) or not result.get("test_id"):
            raise ValidationError("bandit report: a result without test_id")
        if not result.get("filename"):
            raise ValidationError(f"bandit report: result {result['test_id']} has no filename")
        rule, path = str(result["test_id"]), _path(str(result["filename"]))
        line = result.get("line_number")
        # The code without its line numbers survives edits above it; without code, the line
        # number is all there is.
        anchor = _code_anchor(result.get("code")) or f"line {line}"
        occurrence = seen[(rule, path, anchor)]
        seen[(rule, path, anchor)] += 1
        digest = hashlib.sha256(f"{anchor}\0{occurrence}".encode()).hexdigest()[:16]
        findings.append(
            Finding(
                fingerprint=f"bandit:{rule}:{path}:{digest}",
                tool="bandit",
                rule=rule,
                severity=normalise_severity(result.get("issue_severity")),
                title=str(result.get("issue_text") or result.get("test_name") or rule),
                file=path,
                line=int(line) if line is not None else None,
                url=result.get("more_info"),
            )
        )
    return findings


def _code_anchor(code: Any) -> str:
    if not isinstance(code, str):
        return ""
    lines = (re.sub(r"^\s*\d+\s?", "", line).strip() for line in code.splitlines())
    return "\n".join(line for line in lines if line)


def _path(path: str) -> str:
    return path.replace("\\", "/").removeprefix("./")


# --- GitHub alerts ------------------------------------------------------------------------------


def parse_code_scanning_alert(alert: Mapping[str, Any]) -> Finding:
    """A code-scanning alert, from a REST response or the ``alert`` of a webhook.

    Example:
        >>> alert = {"number": 3, "state": "open", "tool": {"name": "CodeQL"},
        ...     "rule": {"id": "py/sql-injection", "severity": "error",
        ...              "security_severity_level": "critical", "description": "SQL injection"},
        ...     "most_recent_instance": {"location": {"path": "app/db.py", "start_line": 9}}}
        >>> finding = parse_code_scanning_alert(alert)
        >>> (finding.fingerprint, finding.severity, finding.line)
        ('CodeQL:py/sql-injection:#3', 'critical', 9)
    """
    alert = _alert_object(alert)
    rule = alert.get("rule") or {}
    tool = str((alert.get("tool") or {}).get("name") or "code-scanning")
    rule_id = str(rule.get("id") or rule.get("name") or "unknown-rule")
    instance = alert.get("most_recent_instance") or next(iter(alert.get("instances") or []), {})
    location = (instance or {}).get("location") or {}
    path = _path(location["path"]) if location.get("path") else None
    line = location.get("start_line")
    # security_severity_level is the CVSS-based level of security rules; other rules only
    # have the SARIF level.
    severity = normalise_severity(rule.get("security_severity_level") or rule.get("severity"))
    where = f"#{alert['number']}" if alert.get("number") is not None else f"{path}:{line}"
    state = str(alert.get("state") or "open")
    return Finding(
        fingerprint=f"{tool}:{rule_id}:{where}",
        tool=tool,
        rule=rule_id,
        severity=severity,
        title=str(rule.get("description") or rule.get("name") or rule_id),
        file=path,
        line=int(line) if line is not None else None,
        url=alert.get("html_url"),
        first_seen=_time(alert.get("created_at")),
        fixed=state == "fixed",
        dismissed=state == "dismissed",
    )


def parse_dependabot_alert(alert: Mapping[str, Any]) -> Finding:
    """A Dependabot alert, from a REST response or the ``alert`` of a webhook.

    Example:
        >>> alert = {"number": 1, "state": "fixed",
        ...     "dependency": {"package": {"ecosystem": "pip", "name": "ansible"},
        ...                    "manifest_path": "requirements.txt"},
        ...     "security_advisory": {"ghsa_id": "GHSA-8f4m-hccc-8qph", "severity": "medium",
        ...                           "summary": "Secrets in logs"}}
        >>> finding = parse_dependabot_alert(alert)
        >>> (finding.fingerprint, finding.fixed)
        ('dependabot:GHSA-8f4m-hccc-8qph:#1', True)
    """
    alert = _alert_object(alert)
    advisory = alert.get("security_advisory") or {}
    vulnerability = alert.get("security_vulnerability") or {}
    dependency = alert.get("dependency") or {}
    package = (dependency.get("package") or vulnerability.get("package") or {}).get("name")
    rule = str(advisory.get("ghsa_id") or advisory.get("cve_id") or "unknown-advisory")
    manifest = dependency.get("manifest_path")
    where = f"#{alert['number']}" if alert.get("number") is not None else f"{manifest}:{package}"
    state = str(alert.get("state") or "open")
    return Finding(
        fingerprint=f"dependabot:{rule}:{where}",
        tool="dependabot",
        rule=rule,
        severity=normalise_severity(vulnerability.get("severity") or advisory.get("severity")),
        title=str(advisory.get("summary") or rule),
        package=str(package) if package else None,
        file=manifest,
        url=alert.get("html_url"),
        first_seen=_time(alert.get("created_at")),
        fixed=state == "fixed",
        dismissed=state in ("dismissed", "auto_dismissed"),
    )


def _alert_object(alert: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(alert, Mapping):
        raise ValidationError("GitHub alert: expected a JSON object")
    inner = alert.get("alert")
    return inner if isinstance(inner, Mapping) else alert  # a webhook wraps it in "alert"


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"not an ISO 8601 time: {value!r}") from None


# --- across runs --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FindingsDiff:
    """What changed between two runs.

    Attributes:
        new: open now, not open before (reopened ones included).
        fixed: open before, now fixed or no longer reported.
        still_open: open in both; ``first_seen`` is the earlier run's.
        dismissed: open before, now dismissed.
    """

    new: tuple[Finding, ...]
    fixed: tuple[Finding, ...]
    still_open: tuple[Finding, ...]
    dismissed: tuple[Finding, ...]


def deduplicate(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per fingerprint: the last reported wins, keeping the earliest first_seen.

    Example:
        >>> a = Finding("x", "bandit", "B1", "low", "first")
        >>> [f.title for f in deduplicate([a, replace(a, title="again")])]
        ['again']
    """
    by_fingerprint: dict[str, Finding] = {}
    for finding in findings:
        earlier = by_fingerprint.get(finding.fingerprint)
        if earlier is not None:
            finding = replace(finding, first_seen=_earliest(earlier.first_seen, finding.first_seen))
        by_fingerprint[finding.fingerprint] = finding
    return list(by_fingerprint.values())


def diff_findings(
    previous: Iterable[Finding],
    current: Iterable[Finding],
    *,
    scanned_tools: Collection[str] | None = None,
    now: datetime | None = None,
) -> FindingsDiff:
    """Compare the findings of the last run with this one's, by fingerprint.

    Args:
        previous: the findings of the last run (fixed and dismissed ones are not open).
        current: the findings of this run.
        scanned_tools: the tools this run covered; earlier findings of other tools are left
            out instead of counting as fixed (a run of bandit says nothing about pip-audit).
            ``None``: every tool was run again.
        now: ``first_seen`` of new findings that have none.

    Example:
        >>> old = Finding("a", "bandit", "B1", "low", "old")
        >>> new = Finding("b", "bandit", "B2", "high", "new")
        >>> result = diff_findings([old], [new])
        >>> ([f.fingerprint for f in result.new], [f.fingerprint for f in result.fixed])
        (['b'], ['a'])
    """
    before = {f.fingerprint: f for f in deduplicate(previous) if f.open}
    if scanned_tools is not None:
        before = {k: f for k, f in before.items() if f.tool in scanned_tools}
    after = {f.fingerprint: f for f in deduplicate(current)}
    new, still_open, fixed, dismissed = [], [], [], []
    for fingerprint, finding in after.items():
        earlier = before.get(fingerprint)
        if finding.open and earlier is None:
            stamped = finding.first_seen is not None or now is None
            new.append(finding if stamped else replace(finding, first_seen=now))
        elif finding.open:
            first_seen = _earliest(earlier.first_seen, finding.first_seen)
            still_open.append(replace(finding, first_seen=first_seen))
        elif earlier is not None:
            (fixed if finding.fixed else dismissed).append(finding)
    fixed.extend(replace(f, fixed=True) for k, f in before.items() if k not in after)
    return FindingsDiff(tuple(new), tuple(fixed), tuple(still_open), tuple(dismissed))


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return min(a, b)
