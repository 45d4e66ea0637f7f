"""Release quality gates: a product's :class:`GateDefinition` list against the facts of a commit.

Facts (:class:`GateFacts`) arrive piecemeal: a ``pull_request`` webhook names the head
commit, ``check_run`` and ``workflow_run`` webhooks report checks, ``pull_request_review``
webhooks bring reviews, a CI job uploads coverage and performance results, a flow lists the
open alerts. :func:`merge_facts` folds each new piece into what is known, and
:func:`evaluate_gates` turns the facts into a :class:`Verdict` whenever something changed.

A gate is *pending* while its data is missing (checks still running, no coverage uploaded
yet), never failed for lack of news; the verdict is then an ``in_progress`` check run. Gate
kinds and their settings:

* ``required_checks``: ``parameters.checks`` lists check names or ``fnmatch`` patterns
  (``"test (*)"``: every match must pass, and there must be one); without it every reported
  check must pass. ``success``, ``neutral`` and ``skipped`` pass, as in branch protection.
  Checks named in ``parameters.ignore`` and the gates' own check run are never waited for.
* ``changed_lines_coverage``: percent of the executable changed lines that tests ran;
  ``threshold`` is the minimum percentage (default 80).
* ``approvals``: distinct reviewers whose latest review approves; a later
  ``CHANGES_REQUESTED`` or a dismissal cancels theirs; ``threshold`` is the minimum
  (default 1). Any outstanding change request fails the gate.
* ``no_critical_alerts``: open security alerts at ``parameters.severity`` (default
  ``critical``) or worse; ``threshold`` is how many are tolerated (default 0).
* ``performance_regression``: the worst per-metric regression in percent (positive is
  worse, see :mod:`productpilot.quality.junit`); ``threshold`` is the maximum (default 10);
  ``parameters.metrics`` restricts it to some metrics.
* ``custom``: ``parameters.expression``, a condition such as
  ``"approvals >= 2 and (coverage >= 90 or changed_lines < 20)"`` over :data:`FACT_NAMES`
  and the names in ``parameters.inputs`` (filled from ``GateFacts.values``). Arithmetic is
  :func:`productpilot.planning.formula.compile_formula`'s; this module adds comparisons,
  ``and``, ``or`` and ``not``, and nothing else.

Example:
    >>> from productpilot.products.configuration import GateDefinition
    >>> gates = [GateDefinition(name="ci", kind="required_checks",
    ...                         parameters={"checks": ["lint", "test"]}),
    ...          GateDefinition(name="review", kind="approvals")]
    >>> facts = GateFacts(head_sha="abc", check_runs=(CheckRun("lint", "completed", "success"),
    ...                                                CheckRun("test", "in_progress")),
    ...                   reviews=(Review("ana", "APPROVED"),))
    >>> verdict = evaluate_gates(gates, facts)
    >>> [(r.name, r.outcome) for r in verdict.results], verdict.check_run_status
    ([('ci', 'pending'), ('review', 'passed')], 'in_progress')
"""

from __future__ import annotations

import ast
import fnmatch
import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from productpilot.errors import ValidationError
from productpilot.planning.formula import FormulaEvaluationError, compile_formula
from productpilot.quality.junit import parse_xml
from productpilot.quality.security import (
    SEVERITIES,
    Finding,
    Severity,
    at_least,
    normalise_severity,
    parse_code_scanning_alert,
    parse_dependabot_alert,
)

if TYPE_CHECKING:
    from productpilot.products.configuration import GateDefinition

#: The name of the check run that reports the verdict; required_checks never waits for it.
GATE_CHECK_NAME = "ProductPilot quality gates"
#: GitHub's limit on a check run's output summary and text, in characters.
MAX_OUTPUT_CHARS = 65535
PASSING_CONCLUSIONS = frozenset({"success", "neutral", "skipped"})
DEFAULT_COVERAGE_PERCENT = 80.0
DEFAULT_REGRESSION_PERCENT = 10.0
MAX_CONDITION_LENGTH = 500
MAX_CONDITION_NODES = 200

GateOutcome = Literal["passed", "failed", "pending"]
CheckState = Literal["passed", "failed", "pending"]
T = TypeVar("T")


# --- facts ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckRun:
    """A check (a check run, or a workflow run) on the head commit.

    Attributes:
        name: as branch protection names it.
        status: ``queued``, ``in_progress``, ``completed`` (or ``waiting``, ``requested``,
            ``pending``).
        conclusion: when completed: ``success``, ``failure``, ``neutral``, ``cancelled``,
            ``skipped``, ``timed_out``, ``action_required``, ``stale``...
        run_id: GitHub's id of the run (a re-run has a new one).
        observed_at: when it was last updated (``completed_at``, else ``started_at``).
        url: its page.
    """

    name: str
    status: str
    conclusion: str | None = None
    run_id: int | None = None
    observed_at: datetime | None = None
    url: str | None = None

    @property
    def state(self) -> CheckState:
        """``pending`` until completed, then ``passed`` or ``failed`` by its conclusion."""
        if self.status != "completed":
            return "pending"
        return "passed" if self.conclusion in PASSING_CONCLUSIONS else "failed"


@dataclass(frozen=True, slots=True)
class Review:
    """A pull-request review.

    Attributes:
        reviewer: the reviewer's login.
        state: ``APPROVED``, ``CHANGES_REQUESTED``, ``COMMENTED`` or ``DISMISSED`` (webhooks'
            lower-case states are accepted and upper-cased).
        submitted_at: when; reviews without a time count in the order given.
        review_id: GitHub's id (a dismissal event repeats the dismissed review's id).
    """

    reviewer: str
    state: str
    submitted_at: datetime | None = None
    review_id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", self.state.upper())


@dataclass(frozen=True, slots=True)
class FileCoverage:
    """Line coverage of one file: the executable lines and those tests ran."""

    executable: frozenset[int]
    covered: frozenset[int]


@dataclass(frozen=True, slots=True)
class ChangedLinesCoverage:
    """Coverage of the lines a change added or modified.

    Attributes:
        covered: executable changed lines that tests ran.
        executable: executable changed lines (blank lines, comments and files the coverage
            report does not measure are left out).
        uncovered: file -> its changed lines that no test ran.
    """

    covered: int
    executable: int
    uncovered: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def percent(self) -> float | None:
        """``100 * covered / executable``; ``None`` when no executable line changed."""
        return 100 * self.covered / self.executable if self.executable else None


@dataclass(frozen=True, slots=True)
class GateFacts:
    """What is known about a commit (and its pull request) when the gates are evaluated.

    ``None`` means *not known yet* (the gate that needs it is pending); an empty tuple means
    *known to be none*: a flow that lists a PR's reviews or a repository's open alerts passes
    them, possibly empty.

    Attributes:
        head_sha: the commit the facts are about.
        pull_requests: numbers of the pull requests with this head.
        check_runs: one per check name (see :func:`merge_facts`).
        reviews: the pull request's reviews.
        coverage: coverage of the changed lines.
        alerts: security findings (only open ones count).
        performance_regressions: metric -> regression % against the baseline.
        values: extra numbers for custom gates (``bundle_kb``, ``flaky_tests``...).
        head_from_pull_request: the head comes from a ``pull_request`` event, which may move
            the head; a check of another commit never does (see :func:`merge_facts`).
    """

    head_sha: str | None = None
    pull_requests: tuple[int, ...] = ()
    check_runs: tuple[CheckRun, ...] = ()
    reviews: tuple[Review, ...] | None = None
    coverage: ChangedLinesCoverage | None = None
    alerts: tuple[Finding, ...] | None = None
    performance_regressions: Mapping[str, float] | None = None
    values: Mapping[str, float] = field(default_factory=dict)
    head_from_pull_request: bool = False

    @property
    def approvals(self) -> int:
        """Reviewers whose latest deciding review approves (0 while reviews are unknown)."""
        return sum(state == "APPROVED" for state in self._latest_review_states().values())

    @property
    def changes_requested(self) -> int:
        """Reviewers whose latest deciding review requests changes."""
        states = self._latest_review_states().values()
        return sum(state == "CHANGES_REQUESTED" for state in states)

    def _latest_review_states(self) -> dict[str, str]:
        # A comment does not withdraw an approval or a change request; a dismissal does.
        deciding = [r for r in self.reviews or () if r.state != "COMMENTED"]
        if all(review.submitted_at is not None for review in deciding):
            deciding.sort(key=lambda review: _utc(review.submitted_at))  # stable on ties
        latest: dict[str, str] = {}
        for review in deciding:
            latest[review.reviewer.lower()] = review.state
        return latest

    def fact_values(self) -> dict[str, float]:
        """The numbers custom conditions can use; a name is absent while its data is unknown.

        Example:
            >>> GateFacts(reviews=(Review("ana", "APPROVED"),)).fact_values()["approvals"]
            1.0
        """
        values: dict[str, float] = {}
        if self.check_runs:
            states = [run.state for run in self.check_runs if run.name != GATE_CHECK_NAME]
            for state in ("passed", "failed", "pending"):
                values[f"checks_{state}"] = float(states.count(state))
        if self.reviews is not None:
            values["approvals"] = float(self.approvals)
            values["changes_requested"] = float(self.changes_requested)
        if self.coverage is not None:
            values["changed_lines"] = float(self.coverage.executable)
            values["uncovered_lines"] = float(self.coverage.executable - self.coverage.covered)
            if self.coverage.percent is not None:
                values["coverage"] = self.coverage.percent
        if self.alerts is not None:
            open_alerts = [alert for alert in self.alerts if alert.open]
            values["open_alerts"] = float(len(open_alerts))
            for severity in SEVERITIES:
                count = sum(alert.severity == severity for alert in open_alerts)
                values[f"{severity}_alerts"] = float(count)
        if self.performance_regressions:
            values["max_regression"] = max(self.performance_regressions.values())
        values.update({name: float(value) for name, value in self.values.items()})
        return values


#: The fact names a custom condition may use without declaring them.
FACT_NAMES = (
    "checks_passed",
    "checks_failed",
    "checks_pending",
    "approvals",
    "changes_requested",
    "changed_lines",
    "uncovered_lines",
    "coverage",
    "open_alerts",
    *(f"{severity}_alerts" for severity in SEVERITIES),
    "max_regression",
)


def merge_facts(older: GateFacts, newer: GateFacts) -> GateFacts:
    """Fold newly arrived facts into what was known.

    * A check replaces the one of the same name unless it is older (an earlier
      ``observed_at``, or a run that already completed reporting ``in_progress`` again), so
      webhooks arriving out of order do not undo a result; a re-run replaces its failure.
    * Reviews and alerts accumulate (the same review id or alert fingerprint is replaced);
      coverage and performance results are replaced; values are merged.
    * A ``pull_request`` event with a new head sha starts the commit's facts afresh (checks,
      coverage, performance belong to a commit) and keeps the pull request's (reviews, alerts,
      values). Facts of any other commit are ignored: a cancelled run of the previous push
      that reports late must not fail the new head.

    Example:
        >>> old = GateFacts("abc", check_runs=(CheckRun("test", "completed", "failure", 1),))
        >>> rerun = GateFacts("abc", check_runs=(CheckRun("test", "completed", "success", 2),))
        >>> merge_facts(old, rerun).check_runs[0].conclusion
        'success'
    """
    moved = (
        newer.head_sha is not None
        and older.head_sha is not None
        and newer.head_sha != older.head_sha
    )
    if moved and not newer.head_from_pull_request:
        newer = replace(newer, check_runs=(), coverage=None, performance_regressions=None)
        newer = replace(newer, head_sha=older.head_sha, pull_requests=())
    elif moved:
        older = replace(older, check_runs=(), coverage=None, performance_regressions=None)
    runs = {run.name: run for run in older.check_runs}
    for run in newer.check_runs:
        current = runs.get(run.name)
        runs[run.name] = run if current is None or _supersedes(run, current) else current
    return GateFacts(
        head_sha=newer.head_sha or older.head_sha,
        pull_requests=tuple(sorted({*older.pull_requests, *newer.pull_requests})),
        check_runs=tuple(runs.values()),
        reviews=_merge_keyed(older.reviews, newer.reviews, _review_key),
        coverage=newer.coverage if newer.coverage is not None else older.coverage,
        alerts=_merge_keyed(older.alerts, newer.alerts, lambda alert: alert.fingerprint),
        performance_regressions=(
            newer.performance_regressions
            if newer.performance_regressions is not None
            else older.performance_regressions
        ),
        values={**older.values, **newer.values},
        head_from_pull_request=older.head_from_pull_request or newer.head_from_pull_request,
    )


def _supersedes(new: CheckRun, old: CheckRun) -> bool:
    same_run = new.run_id is not None and new.run_id == old.run_id
    if same_run and old.status == "completed" and new.status != "completed":
        return False  # a run's completion is final
    if new.observed_at is not None and old.observed_at is not None:
        return _utc(new.observed_at) >= _utc(old.observed_at)
    return True


def _review_key(review: Review) -> object:
    return review.review_id if review.review_id is not None else review


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime.min
    # Naive times are taken as UTC, so both kinds order together.
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _merge_keyed(
    older: tuple[T, ...] | None, newer: tuple[T, ...] | None, key: Callable[[T], object]
) -> tuple[T, ...] | None:
    if older is None or newer is None:
        return newer if older is None else older
    merged = {key(item): item for item in older}
    merged.update((key(item), item) for item in newer)
    return tuple(merged.values())


# --- facts from webhooks -----------------------------------------------------------------------


def facts_from_check_run(payload: Mapping[str, Any]) -> GateFacts:
    """The check of a ``check_run`` webhook.

    Example:
        >>> facts = facts_from_check_run({"check_run": {"id": 1, "name": "lint",
        ...     "head_sha": "abc", "status": "completed", "conclusion": "failure",
        ...     "pull_requests": [{"number": 7}]}})
        >>> facts.check_runs[0].state, facts.pull_requests
        ('failed', (7,))
    """
    run = _object(payload, "check_run")
    return GateFacts(
        head_sha=_text(run, "head_sha", "check_run"),
        pull_requests=_numbers(run.get("pull_requests")),
        check_runs=(
            CheckRun(
                name=_text(run, "name", "check_run"),
                status=_text(run, "status", "check_run"),
                conclusion=run.get("conclusion"),
                run_id=run.get("id"),
                observed_at=_time(run.get("completed_at") or run.get("started_at")),
                url=run.get("html_url"),
            ),
        ),
    )


def facts_from_check_suite(payload: Mapping[str, Any]) -> GateFacts:
    """The head commit and pull requests of a ``check_suite`` webhook.

    A suite is the set of one app's check runs, which report on their own; counting the
    suite as a check too would count them twice, and the gates' own suite would wait on the
    gates' check run.

    Example:
        >>> facts_from_check_suite({"check_suite": {"head_sha": "abc",
        ...                         "pull_requests": [{"number": 2}]}}).pull_requests
        (2,)
    """
    suite = _object(payload, "check_suite")
    return GateFacts(
        head_sha=_text(suite, "head_sha", "check_suite"),
        pull_requests=_numbers(suite.get("pull_requests")),
    )


def facts_from_workflow_run(payload: Mapping[str, Any]) -> GateFacts:
    """A ``workflow_run`` webhook as a check named after the workflow.

    Example:
        >>> facts = facts_from_workflow_run({"workflow_run": {"id": 5, "name": "CI",
        ...     "head_sha": "abc", "status": "queued", "conclusion": None}})
        >>> facts.check_runs[0].name, facts.check_runs[0].state
        ('CI', 'pending')
    """
    run = _object(payload, "workflow_run")
    workflow = payload.get("workflow") or {}
    name = run.get("name") or workflow.get("name") or run.get("path")
    if not name:
        raise ValidationError("workflow_run payload: the run has no name")
    return GateFacts(
        head_sha=_text(run, "head_sha", "workflow_run"),
        pull_requests=_numbers(run.get("pull_requests")),
        check_runs=(
            CheckRun(
                name=str(name),
                status=_text(run, "status", "workflow_run"),
                conclusion=run.get("conclusion"),
                run_id=run.get("id"),
                observed_at=_time(run.get("updated_at") or run.get("run_started_at")),
                url=run.get("html_url"),
            ),
        ),
    )


def facts_from_pull_request(payload: Mapping[str, Any]) -> GateFacts:
    """The head commit of a ``pull_request`` webhook (``opened``, ``synchronize``...).

    Example:
        >>> facts_from_pull_request({"pull_request": {"number": 2, "head": {"sha": "abc"}}})
        ... # doctest: +ELLIPSIS
        GateFacts(head_sha='abc', pull_requests=(2,), ..., head_from_pull_request=True)
    """
    pull = _object(payload, "pull_request")
    head = pull.get("head") or {}
    return GateFacts(
        head_sha=_text(head, "sha", "pull_request.head"),
        pull_requests=_numbers([pull]),
        head_from_pull_request=True,
    )


def facts_from_pull_request_review(payload: Mapping[str, Any]) -> GateFacts:
    """The review of a ``pull_request_review`` webhook (``submitted`` or ``dismissed``).

    Example:
        >>> facts = facts_from_pull_request_review({"review": {"id": 9, "state": "approved",
        ...     "user": {"login": "ana"}}, "pull_request": {"number": 2, "head": {"sha": "abc"}}})
        >>> facts.approvals
        1
    """
    review = _object(payload, "review")
    pull = _object(payload, "pull_request")
    user = review.get("user") or {}
    return GateFacts(
        head_sha=(pull.get("head") or {}).get("sha"),
        pull_requests=_numbers([pull]),
        reviews=(
            Review(
                reviewer=_text(user, "login", "review.user"),
                state=_text(review, "state", "review"),
                submitted_at=_time(review.get("submitted_at")),
                review_id=review.get("id"),
            ),
        ),
    )


def facts_from_webhook(event: str, payload: Mapping[str, Any]) -> GateFacts | None:
    """Facts from any webhook that carries some (``X-GitHub-Event`` name), else ``None``.

    Alerts (``code_scanning_alert``, ``dependabot_alert``) are repository facts, without a
    head commit.

    Example:
        >>> facts_from_webhook("star", {}) is None
        True
    """
    builders: dict[str, Callable[[Mapping[str, Any]], GateFacts]] = {
        "check_run": facts_from_check_run,
        "check_suite": facts_from_check_suite,
        "workflow_run": facts_from_workflow_run,
        "pull_request": facts_from_pull_request,
        "pull_request_review": facts_from_pull_request_review,
    }
    if event in builders:
        return builders[event](payload)
    if event == "code_scanning_alert":
        return GateFacts(alerts=(parse_code_scanning_alert(payload),))
    if event == "dependabot_alert":
        return GateFacts(alerts=(parse_dependabot_alert(payload),))
    return None


def _object(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = payload.get(key) if isinstance(payload, Mapping) else None
    if not isinstance(value, Mapping):
        raise ValidationError(f"webhook payload: no {key!r} object")
    return value


def _text(mapping: Mapping[str, Any], key: str, where: str) -> str:
    value = mapping.get(key)
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{where}: {key!r} is missing")
    return value


def _numbers(pulls: Any) -> tuple[int, ...]:
    return tuple(sorted({int(p["number"]) for p in pulls or () if p.get("number") is not None}))


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"not an ISO 8601 time: {value!r}") from None


# --- coverage of changed lines ------------------------------------------------------------------


def parse_cobertura(data: str | bytes) -> dict[str, FileCoverage]:
    """Line coverage per file from a Cobertura XML report (``coverage xml``, JaCoCo...).

    Example:
        >>> report = parse_cobertura('<coverage><packages><package><classes>'
        ...     '<class filename="app/x.py"><lines><line number="1" hits="3"/>'
        ...     '<line number="2" hits="0"/></lines></class></classes></package></packages>'
        ...     '</coverage>')
        >>> sorted(report["app/x.py"].executable), sorted(report["app/x.py"].covered)
        ([1, 2], [1])
    """
    root = parse_xml(data, "Cobertura report")
    if root.tag != "coverage":
        raise ValidationError(f"Cobertura report: the root is <{root.tag}>, expected <coverage>")
    lines: dict[str, tuple[set[int], set[int]]] = {}
    for cls in root.iter("class"):
        filename = cls.get("filename")
        if not filename:
            raise ValidationError("Cobertura report: a <class> without filename")
        executable, covered = lines.setdefault(_path(filename), (set(), set()))
        # Only the class's own <lines>; <method> elements repeat the same lines.
        for line in cls.findall("lines/line"):
            try:
                number, hits = int(line.get("number", "")), int(line.get("hits", "0"))
            except ValueError:
                raise ValidationError(
                    f"Cobertura report: a line of {filename} has a non-integer number or hits"
                ) from None
            executable.add(number)
            if hits > 0:
                covered.add(number)
    return {path: FileCoverage(frozenset(e), frozenset(c)) for path, (e, c) in lines.items()}


def parse_coverage_json(document: Any) -> dict[str, FileCoverage]:
    """Line coverage per file from a ``coverage json`` report (coverage.py).

    Example:
        >>> report = parse_coverage_json({"files": {"app/x.py": {
        ...     "executed_lines": [1, 3], "missing_lines": [4], "excluded_lines": [5]}}})
        >>> sorted(report["app/x.py"].executable)
        [1, 3, 4]
    """
    files = document.get("files") if isinstance(document, Mapping) else None
    if not isinstance(files, Mapping):
        raise ValidationError("coverage.py JSON report: expected a 'files' object")
    coverage = {}
    for path, measured in files.items():
        try:
            executed = frozenset(int(n) for n in measured.get("executed_lines", ()))
            missing = frozenset(int(n) for n in measured.get("missing_lines", ()))
        except (AttributeError, TypeError, ValueError):
            raise ValidationError(
                f"coverage.py JSON report: the lines of {path!r} are not integer lists"
            ) from None
        coverage[_path(path)] = FileCoverage(executed | missing, executed)
    return coverage


def parse_coverage(data: str | bytes) -> dict[str, FileCoverage]:
    """A coverage report of either kind: Cobertura XML or coverage.py JSON.

    Example:
        >>> parse_coverage('{"files": {}}')
        {}
    """
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if text.lstrip().startswith("<"):
        return parse_cobertura(data)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValidationError(f"coverage report: neither XML nor JSON ({error.msg})") from None
    return parse_coverage_json(document)


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def changed_lines_from_patch(patch: str) -> frozenset[int]:
    """The added or modified line numbers (in the new file) of one file's hunks, as in the
    ``patch`` of GitHub's pull-request files API.

    Example:
        >>> sorted(changed_lines_from_patch("@@ -1,2 +1,3 @@\\n a\\n-b\\n+B\\n+c"))
        [2, 3]
    """
    return frozenset(_hunk_lines(patch.splitlines(), 0)[0])


def changed_lines_from_diff(diff: str) -> dict[str, frozenset[int]]:
    """Added or modified line numbers per file of a unified diff (``git diff``); deleted
    files are left out, renamed files are under their new path.

    Example:
        >>> diff = "--- a/x.py\\n+++ b/x.py\\n@@ -0,0 +1,2 @@\\n+a\\n+b\\n"
        >>> {path: sorted(lines) for path, lines in changed_lines_from_diff(diff).items()}
        {'x.py': [1, 2]}
    """
    lines = diff.splitlines()
    changed: dict[str, frozenset[int]] = {}
    index, path = 0, None
    while index < len(lines):
        line = lines[index]
        if line.startswith("+++ "):
            path = _diff_path(line[4:])
            index += 1
        elif line.startswith("@@ ") and path is not None:
            added, index = _hunk_lines(lines, index)
            changed[path] = changed.get(path, frozenset()) | added
        elif line.startswith("@@ ") and path is None:
            raise ValidationError(f"diff: hunk at line {index + 1} before any '+++' file header")
        else:
            index += 1
    return {path: lines for path, lines in changed.items() if path != "/dev/null"}


def _hunk_lines(lines: Sequence[str], index: int) -> tuple[set[int], int]:
    """The added lines of the hunks starting at ``index``; stops at the first non-hunk line."""
    added: set[int] = set()
    while index < len(lines) and lines[index].startswith("@@"):
        match = _HUNK.match(lines[index])
        if match is None:
            raise ValidationError(f"diff: malformed hunk header {lines[index][:80]!r}")
        old_left = int(match.group(2) or 1)
        new_line, new_left = int(match.group(3)), int(match.group(4) or 1)
        index += 1
        # The counts, not the first character, end a hunk: an added line "++ x" reads like a
        # file header.
        while index < len(lines) and (old_left > 0 or new_left > 0):
            line = lines[index]
            if line.startswith("+"):
                added.add(new_line)
                new_line, new_left = new_line + 1, new_left - 1
            elif line.startswith("-"):
                old_left -= 1
            elif line.startswith("\\"):
                pass  # "\ No newline at end of file"
            else:  # context (an empty line is a context line whose space was stripped)
                new_line, new_left, old_left = new_line + 1, new_left - 1, old_left - 1
            index += 1
        while index < len(lines) and lines[index].startswith("\\"):
            index += 1
    return added, index


def _diff_path(header: str) -> str:
    path = header.split("\t", 1)[0].strip()
    if len(path) > 1 and path[0] == path[-1] == '"':
        path = path[1:-1]
    return path.removeprefix("b/")


def changed_lines_coverage(
    coverage: Mapping[str, FileCoverage], changed: Mapping[str, Iterable[int]]
) -> ChangedLinesCoverage:
    """Coverage of the changed lines: which executable changed lines the tests ran.

    Paths are matched whole or by suffix on a ``/`` boundary (a report relative to ``src/``
    matches a diff relative to the repository root); the longest match wins. Changed files
    the report does not measure do not count (configure the coverage ``source`` so unimported
    modules are measured too).

    Example:
        >>> coverage = {"app/x.py": FileCoverage(frozenset({1, 2, 3}), frozenset({1, 2}))}
        >>> result = changed_lines_coverage(coverage, {"src/app/x.py": [2, 3, 9]})
        >>> (result.covered, result.executable, result.percent, dict(result.uncovered))
        (1, 2, 50.0, {'src/app/x.py': (3,)})
    """
    covered = executable = 0
    uncovered: dict[str, tuple[int, ...]] = {}
    for path, lines in sorted(changed.items()):
        measured = _coverage_for(_path(path), coverage)
        if measured is None:
            continue
        relevant = set(lines) & measured.executable
        missed = relevant - measured.covered
        executable += len(relevant)
        covered += len(relevant) - len(missed)
        if missed:
            uncovered[path] = tuple(sorted(missed))
    return ChangedLinesCoverage(covered, executable, uncovered)


def _coverage_for(path: str, coverage: Mapping[str, FileCoverage]) -> FileCoverage | None:
    if path in coverage:
        return coverage[path]
    best, best_length = None, 0
    for candidate, measured in coverage.items():
        longer, shorter = (candidate, path) if len(candidate) > len(path) else (path, candidate)
        if longer.endswith("/" + shorter) and len(shorter) > best_length:
            best, best_length = measured, len(shorter)
    return best


def _path(path: str) -> str:
    return path.replace("\\", "/").removeprefix("./")


# --- custom conditions ----------------------------------------------------------------------


_COMPARISONS: dict[type[ast.cmpop], tuple[str, Callable[[float, float], bool]]] = {
    ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le),
    ast.Gt: (">", operator.gt),
    ast.GtE: (">=", operator.ge),
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
}
_Test = Callable[[Mapping[str, float]], bool]


@dataclass(frozen=True, slots=True)
class Condition:
    """A checked condition, ready to evaluate.

    Attributes:
        text: the condition as written.
        names: the names it reads, in order of first use.
    """

    text: str
    names: tuple[str, ...]
    _test: _Test = field(repr=False, compare=False)

    def evaluate(self, values: Mapping[str, float]) -> bool:
        """Whether the condition holds; every name in ``names`` must have a value.

        Raises:
            ValidationError: a name has no value, or the arithmetic fails (division by 0).

        Example:
            >>> compile_condition("a > 1 and not b == 2", ["a", "b"]).evaluate({"a": 2, "b": 3})
            True
        """
        missing = [name for name in self.names if name not in values]
        if missing:
            raise ValidationError(f"condition {self.text!r} has no value for {missing}")
        return self._test(values)


def compile_condition(text: str, names: Iterable[str]) -> Condition:
    """Parse and check a condition once: comparisons of arithmetic expressions, combined with
    ``and``, ``or``, ``not`` and parentheses; nothing else.

    Raises:
        ValidationError: the text is empty, too long, not a condition (e.g. a bare number),
            uses an unknown name or anything outside the whitelist.

    Example:
        >>> compile_condition("coverage >= 80 or changed_lines < 10", ["coverage"])
        Traceback (most recent call last):
        ...
        productpilot.errors.ValidationError: condition 'coverage >= 80 or changed_lines < 10': \
formula: unknown name 'changed_lines' at column 1 (known: coverage)
    """
    text = text.strip()
    if not text:
        raise ValidationError("condition: the condition is empty")
    if len(text) > MAX_CONDITION_LENGTH:
        raise ValidationError(
            f"condition: {len(text)} characters, the limit is {MAX_CONDITION_LENGTH}"
        )
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise ValidationError(
            f"condition {text!r}: invalid syntax at column {max(error.offset or 1, 1)}"
        ) from None
    if sum(1 for _ in ast.walk(tree)) > MAX_CONDITION_NODES:
        raise ValidationError(f"condition {text!r}: more than {MAX_CONDITION_NODES} nodes")
    builder = _ConditionBuilder(text, tuple(dict.fromkeys(names)))
    test = builder.build(tree.body)
    return Condition(text, tuple(dict.fromkeys(builder.used)), test)


class _ConditionBuilder:
    def __init__(self, text: str, names: tuple[str, ...]) -> None:
        self.text = text
        self.names = names
        self.used: list[str] = []

    def build(self, node: ast.expr) -> _Test:
        match node:
            case ast.BoolOp(op=ast.And(), values=values):
                parts = [self.build(value) for value in values]
                return lambda facts: all(part(facts) for part in parts)
            case ast.BoolOp(op=ast.Or(), values=values):
                parts = [self.build(value) for value in values]
                return lambda facts: any(part(facts) for part in parts)
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                inner = self.build(operand)
                return lambda facts: not inner(facts)
            case ast.Compare():
                return self.comparison(node)
            case _:
                segment = ast.get_source_segment(self.text, node) or ast.unparse(node)
                raise ValidationError(
                    f"condition {self.text!r}: {segment!r} is not a comparison "
                    "(write e.g. 'approvals >= 2')"
                )

    def comparison(self, node: ast.Compare) -> _Test:
        for op in node.ops:
            if type(op) not in _COMPARISONS:
                symbol = type(op).__name__
                raise ValidationError(f"condition {self.text!r}: operator {symbol} is not allowed")
        operands = [self.operand(part) for part in [node.left, *node.comparators]]
        steps = [
            (operands[index], _COMPARISONS[type(op)][1], operands[index + 1])
            for index, op in enumerate(node.ops)
        ]

        def test(facts: Mapping[str, float]) -> bool:
            # A chain "0 < x <= 5" holds when each link does.
            return all(compare(left(facts), right(facts)) for left, compare, right in steps)

        return test

    def operand(self, node: ast.expr) -> Callable[[Mapping[str, float]], float]:
        segment = ast.get_source_segment(self.text, node) or ast.unparse(node)
        try:
            formula = compile_formula(segment, self.names)
        except ValidationError as error:
            raise ValidationError(f"condition {self.text!r}: {error}") from None
        self.used.extend(formula.inputs)
        return formula.evaluate


# --- evaluation ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GateResult:
    """One gate's outcome.

    Attributes:
        name: the gate's name.
        kind: its kind.
        outcome: ``passed``, ``failed`` or ``pending`` (data still missing).
        reasons: one line each, saying why.
        measured: the number the gate judged (coverage %, approvals...), when there is one.
        threshold: the bar it was held to.
    """

    name: str
    kind: str
    outcome: GateOutcome
    reasons: tuple[str, ...]
    measured: float | None = None
    threshold: float | None = None


_ICONS = {"passed": "✅", "failed": "❌", "pending": "⏳"}


@dataclass(frozen=True, slots=True)
class Verdict:
    """All gates of a commit, and how to report them as a GitHub check run.

    Attributes:
        head_sha: the commit judged.
        results: one per gate, in configuration order.
    """

    head_sha: str | None
    results: tuple[GateResult, ...]

    @property
    def outcome(self) -> GateOutcome:
        """``failed`` if any gate failed, else ``pending`` if any waits, else ``passed``."""
        outcomes = {result.outcome for result in self.results}
        for outcome in ("failed", "pending"):
            if outcome in outcomes:
                return outcome  # type: ignore[return-value]
        return "passed"

    @property
    def check_run_status(self) -> Literal["in_progress", "completed"]:
        """``in_progress`` while gates wait and none failed; ``completed`` otherwise."""
        return "in_progress" if self.outcome == "pending" else "completed"

    @property
    def check_run_conclusion(self) -> Literal["success", "failure", "neutral"] | None:
        """``failure``, ``success``, ``neutral`` without gates; ``None`` while in progress."""
        if not self.results:
            return "neutral"
        return {"failed": "failure", "passed": "success", "pending": None}[self.outcome]  # type: ignore[return-value]

    @property
    def title(self) -> str:
        """One line: ``"2 of 3 gates passed, 1 failed"``."""
        total = len(self.results)
        if not total:
            return "No quality gates configured"
        counts = {o: sum(r.outcome == o for r in self.results) for o in _ICONS}
        if counts["passed"] == total:
            return f"All {total} gate{'s' if total > 1 else ''} passed"
        parts = [f"{counts['passed']} of {total} gates passed"]
        parts += [f"{counts[o]} {o}" for o in ("failed", "pending") if counts[o]]
        return ", ".join(parts)

    def summary(self) -> str:
        """A Markdown table: gate, result, first reason."""
        if not self.results:
            return "This product has no quality gates; nothing to check."
        rows = ["| Gate | Result | Details |", "| --- | --- | --- |"]
        for result in self.results:
            detail = result.reasons[0] if result.reasons else ""
            rows.append(
                f"| {_cell(result.name)} | {_ICONS[result.outcome]} {result.outcome} "
                f"| {_cell(detail)} |"
            )
        return _limit("\n".join(rows))

    def text(self) -> str:
        """Every reason of every gate, as Markdown sections."""
        sections = []
        for result in self.results:
            lines = [f"### {_ICONS[result.outcome]} {result.name} ({result.kind})"]
            lines += [f"- {reason}" for reason in result.reasons]
            sections.append("\n".join(lines))
        return _limit("\n\n".join(sections))

    def check_run_output(self) -> dict[str, str]:
        """The ``output`` object of a check run: title, summary and text, within GitHub's
        limits."""
        return {"title": self.title, "summary": self.summary(), "text": self.text()}

    def check_run_request(self, name: str = GATE_CHECK_NAME) -> dict[str, Any]:
        """The body of ``POST /repos/{owner}/{repo}/check-runs`` (or its ``PATCH``).

        Example:
            >>> Verdict("abc", ()).check_run_request()["conclusion"]
            'neutral'
        """
        body: dict[str, Any] = {"name": name, "status": self.check_run_status}
        if self.head_sha:
            body["head_sha"] = self.head_sha
        if self.check_run_status == "completed":
            body["conclusion"] = self.check_run_conclusion
        body["output"] = self.check_run_output()
        return body


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _limit(text: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    note = "\n\n… (truncated: GitHub shows at most 65535 characters)"
    return text[: MAX_OUTPUT_CHARS - len(note)] + note


def validate_gates(definitions: Iterable[GateDefinition]) -> None:
    """Check the gates' parameters (patterns, severities, conditions) before storing them.

    Raises:
        ValidationError: naming the gate and the problem.

    Example:
        >>> from productpilot.products.configuration import GateDefinition
        >>> validate_gates([GateDefinition(name="x", kind="custom",
        ...                                parameters={"expression": "coverage"})])
        Traceback (most recent call last):
        ...
        productpilot.errors.ValidationError: gate 'x': condition 'coverage': 'coverage' is \
not a comparison (write e.g. 'approvals >= 2')
    """
    for definition in definitions:
        _settings(definition)


def evaluate_gates(definitions: Sequence[GateDefinition], facts: GateFacts) -> Verdict:
    """Judge every gate against the facts; see the module docstring for the gate kinds.

    A gate whose parameters are invalid fails with the problem as its reason (the verdict
    says what to fix instead of the flow crashing); :func:`validate_gates` catches them
    earlier.

    Example:
        >>> from productpilot.products.configuration import GateDefinition
        >>> gate = GateDefinition(name="cov", kind="changed_lines_coverage", threshold=90)
        >>> verdict = evaluate_gates([gate], GateFacts(coverage=ChangedLinesCoverage(9, 10)))
        >>> verdict.results[0].outcome, verdict.check_run_conclusion
        ('passed', 'success')
    """
    results = []
    for definition in definitions:
        try:
            settings = _settings(definition)
        except ValidationError as error:
            results.append(_result(definition, "failed", [f"invalid gate: {error}"]))
            continue
        results.append(_EVALUATORS[definition.kind](definition, settings, facts))
    return Verdict(facts.head_sha, tuple(results))


def _settings(definition: GateDefinition) -> dict[str, Any]:
    """The gate's parameters, checked and with defaults."""
    parameters = definition.parameters
    where = f"gate {definition.name!r}"

    def strings(key: str) -> list[str]:
        value = parameters.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ValidationError(f"{where}: parameters.{key} must be a list of names")
        return value

    if definition.threshold is not None and definition.threshold < 0:
        raise ValidationError(f"{where}: threshold must not be negative")
    match definition.kind:
        case "required_checks":
            return {"checks": strings("checks"), "ignore": strings("ignore")}
        case "changed_lines_coverage":
            threshold = definition.threshold
            if threshold is not None and threshold > 100:
                raise ValidationError(f"{where}: threshold is a percentage, at most 100")
            return {}
        case "no_critical_alerts":
            try:
                severity = normalise_severity(parameters.get("severity", "critical"))
            except ValidationError as error:
                raise ValidationError(f"{where}: {error}") from None
            return {"severity": severity}
        case "performance_regression":
            return {"metrics": strings("metrics")}
        case "custom":
            expression = parameters.get("expression")
            if not isinstance(expression, str):
                raise ValidationError(f"{where}: parameters.expression must be a condition")
            inputs = strings("inputs")
            try:
                condition = compile_condition(expression, [*FACT_NAMES, *inputs])
            except ValidationError as error:
                raise ValidationError(f"{where}: {error}") from None
            return {"condition": condition}
        case _:
            return {}


def _result(
    definition: GateDefinition,
    outcome: GateOutcome,
    reasons: Sequence[str],
    measured: float | None = None,
    threshold: float | None = None,
) -> GateResult:
    return GateResult(
        definition.name, definition.kind, outcome, tuple(reasons), measured, threshold
    )


def _required_checks(
    definition: GateDefinition, settings: dict[str, Any], facts: GateFacts
) -> GateResult:
    ignored = {GATE_CHECK_NAME, *settings["ignore"]}
    runs = [run for run in facts.check_runs if run.name not in ignored]
    required: list[str] = settings["checks"]
    failed, pending, passed = [], [], []
    if not required:
        if not runs:
            return _result(definition, "pending", ["no check has reported yet"])
        groups = [(run.name, [run]) for run in runs]
    else:
        groups = [
            (name, [r for r in runs if fnmatch.fnmatchcase(r.name, name)]) for name in required
        ]
    for name, matching in groups:
        if not matching:
            pending.append(f"{name}: not reported yet")
            continue
        for run in matching:
            if run.state == "failed":
                failed.append(
                    f"{run.name}: {run.conclusion}" + (f" ({run.url})" if run.url else "")
                )
            elif run.state == "pending":
                pending.append(f"{run.name}: {run.status.replace('_', ' ')}")
            else:
                passed.append(f"{run.name}: {run.conclusion}")
    outcome: GateOutcome = "failed" if failed else "pending" if pending else "passed"
    headline = {
        "failed": f"{len(failed)} check(s) failed",
        "pending": f"waiting for {len(pending)} check(s)",
        "passed": f"all {len(passed)} check(s) passed",
    }[outcome]
    return _result(definition, outcome, [headline, *failed, *pending, *passed], len(passed))


def _coverage_gate(
    definition: GateDefinition, settings: dict[str, Any], facts: GateFacts
) -> GateResult:
    threshold = (
        definition.threshold if definition.threshold is not None else DEFAULT_COVERAGE_PERCENT
    )
    coverage = facts.coverage
    if coverage is None:
        return _result(definition, "pending", ["no coverage report yet"], threshold=threshold)
    if coverage.percent is None:
        return _result(definition, "passed", ["no executable line changed"], threshold=threshold)
    percent = coverage.percent
    outcome: GateOutcome = "passed" if percent >= threshold else "failed"
    reasons = [
        f"{percent:.1f}% of changed lines covered ({coverage.covered}/{coverage.executable}),"
        f" {'at least' if outcome == 'passed' else 'below'} {threshold:g}%"
    ]
    reasons += [
        f"`{path}`: not covered {_line_ranges(lines)}"
        for path, lines in sorted(coverage.uncovered.items())
    ]
    return _result(definition, outcome, reasons, percent, threshold)


def _approvals_gate(
    definition: GateDefinition, settings: dict[str, Any], facts: GateFacts
) -> GateResult:
    needed = definition.threshold if definition.threshold is not None else 1.0
    if facts.reviews is None:
        return _result(definition, "pending", ["no review information yet"], threshold=needed)
    approvals, blocking = facts.approvals, facts.changes_requested
    reasons = [f"{approvals} approval(s), {needed:g} required"]
    if blocking:
        reasons.append(f"{blocking} reviewer(s) requested changes")
    outcome: GateOutcome = "passed" if approvals >= needed and not blocking else "failed"
    return _result(definition, outcome, reasons, float(approvals), needed)


def _alerts_gate(
    definition: GateDefinition, settings: dict[str, Any], facts: GateFacts
) -> GateResult:
    tolerated = definition.threshold if definition.threshold is not None else 0.0
    minimum: Severity = settings["severity"]
    if facts.alerts is None:
        return _result(definition, "pending", ["no alert information yet"], threshold=tolerated)
    blocking = [a for a in facts.alerts if a.open and at_least(a.severity, minimum)]
    blocking.sort(key=lambda a: (SEVERITIES.index(a.severity), a.fingerprint))
    worse = "" if minimum == "critical" else " or worse"
    reasons = [f"{len(blocking)} open {minimum}{worse} alert(s), {tolerated:g} tolerated"]
    reasons += [f"{a.severity}: {a.title}" + (f" ({a.url})" if a.url else "") for a in blocking]
    outcome: GateOutcome = "passed" if len(blocking) <= tolerated else "failed"
    return _result(definition, outcome, reasons, float(len(blocking)), tolerated)


def _performance_gate(
    definition: GateDefinition, settings: dict[str, Any], facts: GateFacts
) -> GateResult:
    limit = definition.threshold if definition.threshold is not None else DEFAULT_REGRESSION_PERCENT
    regressions = facts.performance_regressions
    if regressions is None:
        return _result(definition, "pending", ["no performance results yet"], threshold=limit)
    metrics = settings["metrics"] or sorted(regressions)
    missing = [m for m in metrics if m not in regressions]
    if missing:
        return _result(
            definition, "pending", [f"no result yet for {', '.join(missing)}"], threshold=limit
        )
    if not metrics:
        return _result(definition, "passed", ["no metric to compare"], threshold=limit)
    worst = max(regressions[m] for m in metrics)
    over = [m for m in metrics if regressions[m] > limit]
    outcome: GateOutcome = "failed" if over else "passed"
    reasons = [f"worst regression {worst:+.1f}%, at most {limit:g}% allowed"]
    reasons += [
        f"`{m}`: {regressions[m]:+.1f}%" for m in sorted(metrics, key=lambda m: -regressions[m])
    ]
    return _result(definition, outcome, reasons, worst, limit)


def _custom_gate(
    definition: GateDefinition, settings: dict[str, Any], facts: GateFacts
) -> GateResult:
    condition: Condition = settings["condition"]
    values = facts.fact_values()
    missing = [name for name in condition.names if name not in values]
    if missing:
        return _result(definition, "pending", [f"waiting for {', '.join(missing)}"])
    shown = ", ".join(f"{name} = {values[name]:g}" for name in condition.names)
    try:
        holds = condition.evaluate(values)
    except FormulaEvaluationError as error:
        return _result(definition, "failed", [f"`{condition.text}` cannot be evaluated: {error}"])
    verb = "holds" if holds else "does not hold"
    return _result(
        definition, "passed" if holds else "failed", [f"`{condition.text}` {verb} ({shown})"]
    )


_EVALUATORS: dict[str, Callable[[GateDefinition, dict[str, Any], GateFacts], GateResult]] = {
    "required_checks": _required_checks,
    "changed_lines_coverage": _coverage_gate,
    "approvals": _approvals_gate,
    "no_critical_alerts": _alerts_gate,
    "performance_regression": _performance_gate,
    "custom": _custom_gate,
}


def _line_ranges(lines: Sequence[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``"1-3, 7"``."""
    ranges: list[str] = []
    start = previous = None
    for line in [*lines, None]:
        if line is not None and previous is not None and line == previous + 1:
            previous = line
            continue
        if start is not None:
            ranges.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = line
    return ", ".join(ranges)
