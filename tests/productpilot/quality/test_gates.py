"""Specification of quality gates: facts from webhooks and reports, each gate kind, the verdict."""

from __future__ import annotations

import copy
import doctest
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from productpilot.errors import ValidationError
from productpilot.products.configuration import GateDefinition
from productpilot.quality import gates as module
from productpilot.quality.gates import (
    GATE_CHECK_NAME,
    MAX_OUTPUT_CHARS,
    ChangedLinesCoverage,
    CheckRun,
    FileCoverage,
    GateFacts,
    Review,
    Verdict,
    changed_lines_coverage,
    changed_lines_from_diff,
    changed_lines_from_patch,
    compile_condition,
    evaluate_gates,
    facts_from_check_run,
    facts_from_check_suite,
    facts_from_pull_request,
    facts_from_pull_request_review,
    facts_from_webhook,
    facts_from_workflow_run,
    merge_facts,
    parse_cobertura,
    parse_coverage,
    parse_coverage_json,
    validate_gates,
)
from productpilot.quality.security import Finding
from tests.integrations.shared_data import GITHUB_WEBHOOKS, load, shared_dir

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def gate(kind: str, threshold: float | None = None, **parameters: object) -> GateDefinition:
    return GateDefinition(name=kind, kind=kind, threshold=threshold, parameters=parameters)


def outcome(definition: GateDefinition, facts: GateFacts) -> str:
    return evaluate_gates([definition], facts).results[0].outcome


def webhook(path: str) -> dict:
    return load(shared_dir(GITHUB_WEBHOOKS) / path)


def done(name: str, conclusion: str = "success", **kwargs: object) -> CheckRun:
    return CheckRun(name, "completed", conclusion, **kwargs)


# --- required checks -----------------------------------------------------------------------------


def test_required_checks_pass_when_every_named_check_succeeded() -> None:
    facts = GateFacts("abc", check_runs=(done("lint"), done("test"), done("docs", "failure")))
    result = evaluate_gates([gate("required_checks", checks=["lint", "test"])], facts).results[0]
    assert result.outcome == "passed"  # docs is not required
    assert result.reasons[0] == "all 2 check(s) passed"


def test_a_failed_required_check_fails_the_gate_and_names_it() -> None:
    facts = GateFacts("abc", check_runs=(done("lint"), done("test", "timed_out", url="u")))
    result = evaluate_gates([gate("required_checks", checks=["lint", "test"])], facts).results[0]
    assert result.outcome == "failed"
    assert "test: timed_out (u)" in result.reasons


def test_running_or_unreported_checks_keep_the_gate_pending() -> None:
    running = GateFacts("abc", check_runs=(done("lint"), CheckRun("test", "in_progress")))
    assert outcome(gate("required_checks", checks=["lint", "test"]), running) == "pending"
    unreported = GateFacts("abc", check_runs=(done("lint"),))
    result = evaluate_gates([gate("required_checks", checks=["lint", "test"])], unreported)
    assert result.results[0].reasons[1] == "test: not reported yet"
    # A failure is definite even while others still run.
    failing = GateFacts("abc", check_runs=(done("lint", "failure"), CheckRun("test", "queued")))
    assert outcome(gate("required_checks", checks=["lint", "test"]), failing) == "failed"


def test_neutral_and_skipped_pass_like_in_branch_protection_but_cancelled_does_not() -> None:
    required = gate("required_checks", checks=["a", "b", "c"])
    passing = GateFacts("abc", check_runs=(done("a"), done("b", "neutral"), done("c", "skipped")))
    assert outcome(required, passing) == "passed"
    cancelled = GateFacts("abc", check_runs=(done("a"), done("b"), done("c", "cancelled")))
    assert outcome(required, cancelled) == "failed"


def test_patterns_need_every_match_to_pass_and_at_least_one_match() -> None:
    required = gate("required_checks", checks=["test (*)"])
    matrix = (done("test (3.11)"), done("test (3.12)", "failure"), done("lint", "failure"))
    assert outcome(required, GateFacts("abc", check_runs=matrix)) == "failed"
    assert outcome(required, GateFacts("abc", check_runs=matrix[:1])) == "passed"
    assert outcome(required, GateFacts("abc", check_runs=(done("lint"),))) == "pending"


def test_without_a_list_every_reported_check_must_pass_except_the_gates_own() -> None:
    every = gate("required_checks", ignore=["flaky"])
    own = CheckRun(GATE_CHECK_NAME, "in_progress")
    checks = (done("lint"), own, done("flaky", "failure"))
    assert outcome(every, GateFacts("abc", check_runs=checks)) == "passed"
    assert outcome(every, GateFacts("abc", check_runs=(own,))) == "pending"  # nothing else yet
    assert outcome(every, GateFacts("abc", check_runs=(done("x", "failure"),))) == "failed"


# --- approvals -------------------------------------------------------------------------------


def reviews(*items: tuple[str, str, int]) -> tuple[Review, ...]:
    """(reviewer, state, minutes after T0)."""
    return tuple(Review(who, state, T0 + timedelta(minutes=m)) for who, state, m in items)


def test_approvals_count_each_reviewers_latest_deciding_review() -> None:
    facts = GateFacts(
        reviews=reviews(
            ("ana", "APPROVED", 1),
            ("ana", "APPROVED", 2),  # the same reviewer twice is one approval
            ("bo", "approved", 3),  # webhooks send lower case
            ("cy", "APPROVED", 4),
            ("cy", "COMMENTED", 5),  # a comment does not withdraw it
            ("di", "APPROVED", 6),
            ("di", "DISMISSED", 7),  # a dismissal does
        )
    )
    assert (facts.approvals, facts.changes_requested) == (3, 0)


def test_a_later_change_request_cancels_that_reviewers_approval_and_blocks() -> None:
    facts = GateFacts(reviews=reviews(("ana", "APPROVED", 1), ("Ana", "CHANGES_REQUESTED", 2)))
    assert (facts.approvals, facts.changes_requested) == (0, 1)
    # Given out of order, the times decide.
    later_approval = reviews(("bo", "APPROVED", 9), ("bo", "CHANGES_REQUESTED", 3))
    assert GateFacts(reviews=later_approval).approvals == 1
    blocked = GateFacts(reviews=reviews(("ana", "APPROVED", 1), ("bo", "CHANGES_REQUESTED", 2)))
    result = evaluate_gates([gate("approvals")], blocked).results[0]
    assert result.outcome == "failed"
    assert result.reasons == ("1 approval(s), 1 required", "1 reviewer(s) requested changes")


def test_approvals_threshold_and_missing_reviews() -> None:
    two = gate("approvals", threshold=2)
    one = GateFacts(reviews=reviews(("ana", "APPROVED", 1)))
    assert outcome(two, one) == "failed"
    assert outcome(two, GateFacts(reviews=reviews(("ana", "APPROVED", 1), ("bo", "APPROVED", 2))))
    assert outcome(two, GateFacts()) == "pending"  # reviews unknown
    assert outcome(two, GateFacts(reviews=())) == "failed"  # known: none


# --- coverage of changed lines ------------------------------------------------------------------

COBERTURA = """<?xml version="1.0" ?>
<!-- Generated by coverage.py -->
<coverage version="7.6" line-rate="0.5">
  <sources><source>/home/ci/repo/src</source></sources>
  <packages><package name="app"><classes>
    <class name="calc.py" filename="app/calc.py">
      <methods/>
      <lines>
        <line number="1" hits="1"/><line number="2" hits="1"/><line number="4" hits="0"/>
        <line number="5" hits="3"/><line number="6" hits="0"/><line number="9" hits="1"/>
      </lines>
    </class>
    <class name="io.py" filename="app/io.py">
      <lines><line number="3" hits="0"/><line number="4" hits="0"/></lines>
    </class>
  </classes></package></packages>
</coverage>
"""

DIFF = """diff --git a/src/app/calc.py b/src/app/calc.py
index 1111111..2222222 100644
--- a/src/app/calc.py
+++ b/src/app/calc.py
@@ -1,3 +1,4 @@
 import math
+import sys

 def f():
@@ -4,4 +5,5 @@ def f():
-    return 1
+    return 2
+    # a comment is not executable
     pass

-x = 1
+x = 2
diff --git a/src/app/io.py b/src/app/io.py
--- a/src/app/io.py
+++ b/src/app/io.py
@@ -2,2 +2,3 @@
 def read():
+    pass
     pass
\\ No newline at end of file
diff --git a/README.md b/README.md
--- a/README.md
+++ b/README.md
@@ -1 +1 @@
-old
+new
diff --git a/src/app/gone.py b/src/app/gone.py
--- a/src/app/gone.py
+++ /dev/null
@@ -1,2 +0,0 @@
-a
-b
"""


def test_diff_lines_are_the_added_lines_numbered_in_the_new_file() -> None:
    changed = changed_lines_from_diff(DIFF)
    # calc.py: hunk 1 adds new line 2; hunk 2 starts at new line 5: "+return 2" (5),
    # "+# comment" (6), " pass" (7), "" (8), "+x = 2" (9). Deleted files are left out.
    assert {path: sorted(lines) for path, lines in changed.items()} == {
        "src/app/calc.py": [2, 5, 6, 9],
        "src/app/io.py": [3],
        "README.md": [1],
    }


def test_a_hunk_ends_by_its_counts_not_by_a_line_that_looks_like_a_header() -> None:
    diff = "--- a/x\n+++ b/x\n@@ -1,1 +1,2 @@\n a\n+++ not a header\n+++ b/y\n@@ -1 +1 @@\n-o\n+n\n"
    assert {p: sorted(lines) for p, lines in changed_lines_from_diff(diff).items()} == {
        "x": [2],
        "y": [1],
    }
    assert sorted(changed_lines_from_patch("@@ -10,2 +10,3 @@\n a\n+b\n c")) == [11]
    with pytest.raises(ValidationError, match="before any"):
        changed_lines_from_diff("@@ -1 +1 @@\n+a\n")
    with pytest.raises(ValidationError, match="malformed hunk header"):
        changed_lines_from_patch("@@ nonsense @@\n+a")


def test_changed_lines_coverage_from_cobertura_and_a_diff_worked_by_hand() -> None:
    # calc.py changed lines 2, 5, 6, 9; executable 1, 2, 4, 5, 6, 9 -> all four count;
    # covered 2, 5, 9 (6 has 0 hits). io.py changed 3 (executable, 0 hits). README is not
    # measured. 3 covered of 5 executable = 60%. The report is relative to src/, the diff to
    # the repository root: suffix matching pairs them.
    coverage = changed_lines_coverage(parse_cobertura(COBERTURA), changed_lines_from_diff(DIFF))
    assert (coverage.covered, coverage.executable, coverage.percent) == (3, 5, 60.0)
    assert dict(coverage.uncovered) == {"src/app/calc.py": (6,), "src/app/io.py": (3,)}
    result = evaluate_gates(
        [gate("changed_lines_coverage", threshold=75)], GateFacts(coverage=coverage)
    ).results[0]
    assert (result.outcome, result.measured, result.threshold) == ("failed", 60.0, 75)
    assert result.reasons == (
        "60.0% of changed lines covered (3/5), below 75%",
        "`src/app/calc.py`: not covered 6",
        "`src/app/io.py`: not covered 3",
    )


def test_coverage_py_json_gives_the_same_answer_as_cobertura() -> None:
    report = {
        "files": {
            "src/app/calc.py": {"executed_lines": [1, 2, 5, 9], "missing_lines": [4, 6]},
            "src/app/io.py": {"executed_lines": [], "missing_lines": [3, 4]},
        }
    }
    from_json = parse_coverage_json(report)
    assert from_json == {f"src/{k}": v for k, v in parse_cobertura(COBERTURA).items()}
    assert parse_coverage(COBERTURA) == parse_cobertura(COBERTURA)
    coverage = changed_lines_coverage(from_json, changed_lines_from_diff(DIFF))
    assert (coverage.covered, coverage.executable) == (3, 5)


def test_the_longest_path_suffix_wins_and_unrelated_files_do_not_match() -> None:
    coverage = {
        "calc.py": FileCoverage(frozenset({1}), frozenset()),
        "app/calc.py": FileCoverage(frozenset({1}), frozenset({1})),
        "mycalc.py": FileCoverage(frozenset({2}), frozenset()),
    }
    assert changed_lines_coverage(coverage, {"src/app/calc.py": [1]}).covered == 1
    assert changed_lines_coverage(coverage, {"src/xcalc.py": [1, 2]}).executable == 0


def test_the_coverage_gate_threshold_default_and_its_edge_cases() -> None:
    default = gate("changed_lines_coverage")
    assert outcome(default, GateFacts(coverage=ChangedLinesCoverage(4, 5))) == "passed"  # 80%
    assert outcome(default, GateFacts(coverage=ChangedLinesCoverage(3, 4))) == "failed"  # 75%
    assert outcome(default, GateFacts(coverage=ChangedLinesCoverage(0, 0))) == "passed"
    assert outcome(default, GateFacts()) == "pending"
    assert outcome(gate("changed_lines_coverage", threshold=150), GateFacts()) == "failed"


def test_malformed_coverage_reports_are_refused_in_one_line() -> None:
    for bad, message in [
        ("<coverage><packages><class/>", "malformed XML"),
        ("<report/>", "expected <coverage>"),
        (
            '<coverage><class filename="a"><lines><line number="x"/></lines></class></coverage>',
            "non-integer",
        ),
        ("not a report", "neither XML nor JSON"),
        ('{"files": {"a.py": {"executed_lines": ["one"]}}}', "not integer lists"),
        ('<!DOCTYPE c [<!ENTITY x "y">]><coverage/>', "entity declarations"),
    ]:
        with pytest.raises(ValidationError, match=message) as error:
            parse_coverage(bad)
        assert "\n" not in str(error.value)


# --- alerts and performance ---------------------------------------------------------------------


def alert(fingerprint: str, severity: str, **kwargs: object) -> Finding:
    return Finding(fingerprint, "CodeQL", "rule", severity, f"{severity} thing", **kwargs)  # type: ignore[arg-type]


def test_open_critical_alerts_fail_the_gate_fixed_and_dismissed_do_not() -> None:
    no_critical = gate("no_critical_alerts")
    quiet = (
        alert("a", "high"),
        alert("b", "critical", fixed=True),
        alert("c", "critical", dismissed=True),
    )
    assert outcome(no_critical, GateFacts(alerts=quiet)) == "passed"
    loud = GateFacts(alerts=(*quiet, alert("d", "critical", url="https://x/d")))
    result = evaluate_gates([no_critical], loud).results[0]
    assert (result.outcome, result.measured) == ("failed", 1.0)
    assert result.reasons == (
        "1 open critical alert(s), 0 tolerated",
        "critical: critical thing (https://x/d)",
    )
    assert outcome(no_critical, GateFacts()) == "pending"


def test_the_alert_gate_severity_and_tolerance_are_configurable() -> None:
    facts = GateFacts(alerts=(alert("a", "high"), alert("b", "medium")))
    assert outcome(gate("no_critical_alerts", severity="high"), facts) == "failed"
    assert outcome(gate("no_critical_alerts", threshold=1, severity="high"), facts) == "passed"
    assert outcome(gate("no_critical_alerts", threshold=1, severity="medium"), facts) == "failed"
    assert outcome(gate("no_critical_alerts", severity="dire"), facts) == "failed"  # invalid


def test_performance_regressions_beyond_the_threshold_fail() -> None:
    regression = gate("performance_regression")  # 10% by default
    facts = GateFacts(performance_regressions={"p95_ms": 12.5, "rps": -3.0})
    result = evaluate_gates([regression], facts).results[0]
    assert (result.outcome, result.measured) == ("failed", 12.5)
    assert result.reasons == (
        "worst regression +12.5%, at most 10% allowed",
        "`p95_ms`: +12.5%",
        "`rps`: -3.0%",
    )
    assert outcome(gate("performance_regression", threshold=15), facts) == "passed"
    assert outcome(gate("performance_regression", metrics=["rps"]), facts) == "passed"
    assert outcome(gate("performance_regression", metrics=["memory"]), facts) == "pending"
    assert outcome(regression, GateFacts()) == "pending"


# --- custom conditions -------------------------------------------------------------------------


def test_custom_conditions_combine_comparisons_over_the_facts() -> None:
    facts = GateFacts(
        reviews=reviews(("ana", "APPROVED", 1)),
        coverage=ChangedLinesCoverage(9, 10),
        values={"bundle_kb": 480},
    )
    condition = gate(
        "custom",
        expression="approvals >= 1 and (coverage >= 95 or changed_lines < 20)"
        " and bundle_kb / 1024 < 0.5",
        inputs=["bundle_kb"],
    )
    result = evaluate_gates([condition], facts).results[0]
    assert result.outcome == "passed"
    assert "approvals = 1, coverage = 90, changed_lines = 10, bundle_kb = 480" in result.reasons[0]
    assert outcome(gate("custom", expression="not approvals >= 1"), facts) == "failed"
    assert outcome(gate("custom", expression="0 < approvals <= 1 != 2"), facts) == "passed"
    assert outcome(gate("custom", expression="critical_alerts == 0"), facts) == "pending"


def test_custom_conditions_refuse_anything_beyond_the_whitelist() -> None:
    names = ["approvals"]
    for text, message in [
        ("approvals", "not a comparison"),
        ("approvals.real > 1", "attribute access"),
        ("__import__('os') == 1", "call of '__import__'"),
        ("approvals > 'x'", "not a number"),
        ("approvals in [1]", "operator In"),
        ("approvals is 1", "operator Is"),
        ("cost > 1", "unknown name 'cost'"),
        ("approvals >", "invalid syntax"),
        ("approvals > 1 if True else 0", "not a comparison"),
        ("", "empty"),
        ("approvals > " + "1 + " * 200 + "1", "characters"),
    ]:
        with pytest.raises(ValidationError, match=message):
            compile_condition(text, names)
    with pytest.raises(ValidationError, match="no value"):
        compile_condition("approvals > 1", names).evaluate({})


def test_invalid_gate_parameters_fail_the_gate_and_validate_gates_says_why() -> None:
    broken = [
        gate("custom"),
        gate("custom", expression="approvals"),
        gate("required_checks", checks="lint"),
        gate("custom", expression="x > 1", inputs=[3]),
    ]
    verdict = evaluate_gates(broken, GateFacts())
    assert [r.outcome for r in verdict.results] == ["failed"] * 4
    assert verdict.results[2].reasons == (
        "invalid gate: gate 'required_checks': parameters.checks must be a list of names",
    )
    for definition in broken:
        with pytest.raises(ValidationError, match=r"^gate '(custom|required_checks)'"):
            validate_gates([definition])
    validate_gates([gate("custom", expression="x > 1", inputs=["x"]), gate("approvals")])


def test_a_division_by_zero_in_a_condition_fails_the_gate_with_the_reason() -> None:
    facts = GateFacts(reviews=(), values={"zero": 0})
    result = evaluate_gates([gate("custom", expression="1 / zero > 1", inputs=["zero"])], facts)
    assert result.results[0].outcome == "failed"
    assert "division by zero" in result.results[0].reasons[0]


# --- verdict -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcomes", "status", "conclusion", "title"),
    [
        (["passed", "passed"], "completed", "success", "All 2 gates passed"),
        (["passed", "pending"], "in_progress", None, "1 of 2 gates passed, 1 pending"),
        (
            ["failed", "pending", "passed"],
            "completed",
            "failure",
            "1 of 3 gates passed, 1 failed, 1 pending",
        ),
        ([], "completed", "neutral", "No quality gates configured"),
    ],
)
def test_the_verdict_maps_to_a_check_run(
    outcomes: list[str], status: str, conclusion: str | None, title: str
) -> None:
    verdict = Verdict(
        "abc",
        tuple(module.GateResult(f"g{i}", "custom", o, ()) for i, o in enumerate(outcomes)),  # type: ignore[arg-type]
    )
    assert (verdict.check_run_status, verdict.check_run_conclusion, verdict.title) == (
        status,
        conclusion,
        title,
    )
    request = verdict.check_run_request()
    assert request["name"] == GATE_CHECK_NAME
    assert request["head_sha"] == "abc"
    assert request.get("conclusion") == (conclusion if status == "completed" else None)
    assert set(request["output"]) == {"title", "summary", "text"}


def test_the_summary_is_a_markdown_table_and_the_text_lists_every_reason() -> None:
    facts = GateFacts(
        "abc",
        check_runs=(done("lint | style", "failure"),),
        coverage=ChangedLinesCoverage(1, 2, {"a.py": (3, 4, 5, 9)}),
    )
    verdict = evaluate_gates([gate("required_checks"), gate("changed_lines_coverage")], facts)
    assert verdict.summary().splitlines() == [
        "| Gate | Result | Details |",
        "| --- | --- | --- |",
        "| required_checks | ❌ failed | 1 check(s) failed |",
        "| changed_lines_coverage | ❌ failed | 50.0% of changed lines covered (1/2), below 80% |",
    ]
    text = verdict.text()
    assert text.startswith("### ❌ required_checks (required_checks)\n- 1 check(s) failed\n")
    assert "- lint | style: failure" in text
    assert "- `a.py`: not covered 3-5, 9" in text
    # A pipe in a table cell is escaped so the table keeps its columns.
    piped = evaluate_gates([gate("custom", expression="approvals | 1 > 0")], facts)
    assert "approvals \\| 1 > 0" in piped.summary().splitlines()[2]


def test_check_run_output_stays_within_githubs_limit() -> None:
    many = {f"src/module_{i}.py": tuple(range(1, 4000, 2)) for i in range(20)}
    facts = GateFacts(coverage=ChangedLinesCoverage(0, 40_000, many))
    output = evaluate_gates([gate("changed_lines_coverage")], facts).check_run_output()
    assert len(output["text"]) == MAX_OUTPUT_CHARS
    assert output["text"].endswith("(truncated: GitHub shows at most 65535 characters)")
    assert len(output["summary"]) < MAX_OUTPUT_CHARS


# --- facts from webhooks and merging ---------------------------------------------------------


def test_check_run_webhooks_become_checks_of_their_head_commit() -> None:
    created = facts_from_check_run(webhook("check_run/created.payload.json"))
    completed = facts_from_check_run(webhook("check_run/completed.payload.json"))
    failed = facts_from_check_run(webhook("check_run/completed.1.payload.json"))
    assert created.head_sha == "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
    assert created.pull_requests == (2,)
    assert [f.check_runs[0].state for f in (created, completed, failed)] == [
        "pending",
        "passed",
        "failed",
    ]
    assert completed.check_runs[0].observed_at == datetime(2019, 5, 15, 15, 21, 12, tzinfo=UTC)
    required = gate("required_checks", checks=["Octocoders-linter"])
    # created, then completed: passed. A late "queued" of the same run cannot undo it.
    merged = merge_facts(created, completed)
    assert outcome(required, merged) == "passed"
    assert outcome(required, merge_facts(merged, created)) == "passed"
    assert outcome(required, merge_facts(merged, failed)) == "failed"


def test_workflow_runs_are_checks_named_after_the_workflow() -> None:
    requested = facts_from_workflow_run(webhook("workflow_run/requested.payload.json"))
    completed = facts_from_workflow_run(
        webhook("workflow_run/completed.with-pull-requests.payload.json")
    )
    assert requested.check_runs[0].name == "test"  # the run's own name is empty
    assert requested.check_runs[0].state == "pending"
    merged = merge_facts(requested, completed)
    assert [(r.name, r.state) for r in merged.check_runs] == [("test", "passed")]
    assert merged.pull_requests == (2,)
    # The older update arriving last does not regress it (its updated_at is earlier).
    assert merge_facts(merged, requested).check_runs[0].state == "passed"


def test_pull_request_suite_and_review_webhooks() -> None:
    pull = facts_from_pull_request(webhook("pull_request/synchronize.payload.json"))
    assert (pull.head_sha, pull.pull_requests, pull.head_from_pull_request) == (
        "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        (2,),
        True,
    )
    suite = facts_from_check_suite(webhook("check_suite/completed.payload.json"))
    assert (suite.head_sha, suite.check_runs) == (pull.head_sha, ())
    review = facts_from_pull_request_review(webhook("pull_request_review/submitted.payload.json"))
    assert review.reviews[0].state == "COMMENTED"
    assert review.approvals == 0
    approved = copy.deepcopy(webhook("pull_request_review/submitted.payload.json"))
    approved["review"]["state"] = "approved"
    facts = merge_facts(merge_facts(pull, review), facts_from_pull_request_review(approved))
    assert facts.approvals == 1  # the same review id: the approval replaced the comment
    assert len(facts.reviews) == 1
    dismissed = facts_from_pull_request_review(
        webhook("pull_request_review/dismissed.payload.json")
    )
    assert merge_facts(facts, dismissed).approvals == 0


def test_facts_from_any_webhook_and_every_shared_payload_of_those_events_parses() -> None:
    folder = shared_dir(GITHUB_WEBHOOKS)
    parsed = 0
    for event in [
        "check_run",
        "check_suite",
        "workflow_run",
        "pull_request",
        "pull_request_review",
        "code_scanning_alert",
        "dependabot_alert",
    ]:
        for path in sorted((folder / event).glob("*.json")):
            assert facts_from_webhook(event, load(path)) is not None, path
            parsed += 1
    assert parsed >= 50
    alerts = facts_from_webhook(
        "code_scanning_alert", load(folder / "code_scanning_alert/created.payload.json")
    )
    assert [(a.severity, a.open) for a in alerts.alerts] == [("high", True)]
    fixed = facts_from_webhook(
        "code_scanning_alert", load(folder / "code_scanning_alert/fixed.payload.json")
    )
    assert merge_facts(alerts, fixed).fact_values()["open_alerts"] == 0
    assert facts_from_webhook("ping", {}) is None
    with pytest.raises(ValidationError, match="no 'check_run' object"):
        facts_from_webhook("check_run", {"action": "created"})


def test_a_new_head_starts_the_commit_facts_afresh_and_keeps_the_pull_request_facts() -> None:
    old = GateFacts(
        "old",
        (1,),
        check_runs=(done("test"),),
        reviews=reviews(("ana", "APPROVED", 1)),
        coverage=ChangedLinesCoverage(1, 1),
        values={"bundle_kb": 1},
    )
    pushed = merge_facts(old, GateFacts("new", (1,), head_from_pull_request=True))
    assert (pushed.head_sha, pushed.check_runs, pushed.coverage) == ("new", (), None)
    assert (pushed.approvals, dict(pushed.values)) == (1, {"bundle_kb": 1})
    # A cancelled run of the old commit that reports late is ignored.
    late = GateFacts("old", (1,), check_runs=(done("test", "cancelled"),))
    assert merge_facts(pushed, late).check_runs == ()
    assert merge_facts(pushed, late).head_sha == "new"


def test_a_rerun_replaces_the_failure_but_an_older_report_does_not() -> None:
    first = GateFacts("abc", check_runs=(done("test", "failure", run_id=1, observed_at=T0),))
    rerun = GateFacts(
        "abc", check_runs=(done("test", run_id=2, observed_at=T0 + timedelta(minutes=5)),)
    )
    assert merge_facts(first, rerun).check_runs[0].conclusion == "success"
    assert merge_facts(merge_facts(first, rerun), first).check_runs[0].conclusion == "success"


def test_docstring_examples() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0
    assert results.failed == 0


def test_the_module_is_pure_logic() -> None:
    source = Path(module.__file__).read_text()
    for forbidden in ("import prefect", "from prefect", "from flows", "from tasks", "integrations"):
        assert forbidden not in source
