"""Specification of test reports: JUnit XML in both root forms, and performance baselines."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime

import pytest

from productpilot.errors import ValidationError
from productpilot.quality import junit as module
from productpilot.quality.junit import (
    FailedTest,
    PerformanceRun,
    TestReport,
    compare_performance,
    last_good_baseline,
    parse_junit,
    parse_performance_results,
)

PYTEST = """<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests" time="3.250">
  <testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5" time="3.1">
    <testcase classname="tests.test_api" name="test_ok" time="0.5"/>
    <testcase classname="tests.test_api" name="test_sum" time="1.0">
      <failure message="assert 3 == 4&#10;  where 3 = add(1, 2)">Traceback...</failure>
    </testcase>
    <testcase classname="tests.test_api" name="test_db" time="0.25">
      <error message="">
fixture 'db' not found
available fixtures: tmp_path</error>
    </testcase>
    <testcase classname="tests.test_api" name="test_later" time="0">
      <skipped type="pytest.skip" message="not yet"/>
    </testcase>
    <testcase name="test_bare" time="1.25"/>
  </testsuite>
</testsuites>
"""

# The same run as a single-suite report (older Surefire, Jest), without a total time.
SUREFIRE = """<testsuite name="api" tests="5">
  <testcase classname="tests.test_api" name="test_ok" time="0.5"/>
  <testcase classname="tests.test_api" name="test_sum" time="1.0">
    <failure type="AssertionError">assert 3 == 4</failure>
  </testcase>
  <testcase classname="tests.test_api" name="test_db" time="0.25">
    <error type="LookupError"/>
  </testcase>
  <testcase classname="tests.test_api" name="test_later"><skipped/></testcase>
  <testcase name="test_bare" time="1.25"/>
</testsuite>
"""


def test_a_pytest_report_summarised() -> None:
    report = parse_junit(PYTEST)
    assert (report.tests, report.failures, report.errors, report.skipped) == (5, 1, 1, 1)
    assert report.duration_seconds == 3.25  # the root's time
    assert not report.passed
    assert report.failed == (
        FailedTest("tests.test_api.test_sum", "failure", "assert 3 == 4"),  # first line only
        FailedTest("tests.test_api.test_db", "error", "fixture 'db' not found"),
    )


def test_both_root_forms_give_the_same_counts() -> None:
    single = parse_junit(SUREFIRE.encode())
    assert (single.tests, single.failures, single.errors, single.skipped) == (5, 1, 1, 1)
    assert single.duration_seconds == 3.0  # no suite time: the cases' 0.5 + 1 + 0.25 + 1.25
    assert [f.message for f in single.failed] == ["assert 3 == 4", "LookupError"]


def test_nested_suites_are_counted_once_and_timed_by_the_top_level() -> None:
    nested = """<testsuites>
      <testsuite name="all" time="2.5">
        <testsuite name="unit" time="1.5"><testcase name="a"/><testcase name="b"/></testsuite>
        <testsuite name="e2e" time="1.0"><testcase name="c"><failure/></testcase></testsuite>
      </testsuite>
    </testsuites>"""
    report = parse_junit(nested)
    assert (report.tests, report.failures, report.duration_seconds) == (3, 1, 2.5)
    assert report.failed == (FailedTest("c", "failure", ""),)


def test_a_report_without_cases_falls_back_to_the_suite_attributes() -> None:
    report = parse_junit(
        '<testsuites><testsuite tests="10" failures="2" errors="0" skipped="1" time="1,200.5"/>'
        '<testsuite tests="3" failures="0" time="0.5"/></testsuites>'
    )
    assert report == TestReport(13, 2, 0, 1, 1201.0)
    assert parse_junit("<testsuites/>") == TestReport(0, 0, 0, 0, 0.0)
    assert parse_junit("<testsuites/>").passed


def test_malformed_reports_raise_a_one_line_validation_error() -> None:
    for bad, message in [
        ("<testsuites><testsuite>", "JUnit report: malformed XML"),
        ("", "malformed XML"),
        ("<html/>", "the root is <html>"),
        ('<testsuite tests="many"/>', "tests='many' is not a number"),
        ('<!DOCTYPE t [<!ENTITY a "aaaa">]><testsuite>&a;</testsuite>', "entity declarations"),
    ]:
        with pytest.raises(ValidationError, match=message) as error:
            parse_junit(bad)
        assert "\n" not in str(error.value)


def test_long_messages_are_cut_to_one_short_line() -> None:
    report = parse_junit(
        f'<testsuite><testcase name="x"><failure message="{"y" * 900}"/></testcase></testsuite>'
    )
    assert len(report.failed[0].message) == 500


# --- performance -------------------------------------------------------------------------


def test_performance_changes_against_the_baseline_worked_by_hand() -> None:
    baseline = PerformanceRun("main@abc", datetime(2026, 3, 1, tzinfo=UTC), {
        "p95_ms": 200.0, "memory_mb": 80.0, "rps": 400.0, "errors": 0.0, "cold_start_ms": 0.0,
        "gone": 1.0,
    })  # fmt: skip
    current = {
        "p95_ms": 230.0,
        "memory_mb": 84.0,
        "rps": 340.0,
        "errors": 0.0,
        "cold_start_ms": 5.0,
        "new": 2.0,
    }
    result = compare_performance(current, baseline, threshold_percent=10, higher_is_better=["rps"])
    by_metric = {c.metric: c for c in result.changes}
    # p95: (230 - 200) / 200 = +15% worse; memory: +5%; rps: (340 - 400) / 400 = -15%, and
    # higher is better, so a 15% regression; errors 0 -> 0: no change; cold start 0 -> 5: no
    # meaningful percentage, listed but not judged.
    assert [
        (m, by_metric[m].change_percent, by_metric[m].regression_percent) for m in sorted(by_metric)
    ] == [
        ("cold_start_ms", None, None),
        ("errors", 0.0, 0.0),
        ("memory_mb", 5.0, 5.0),
        ("p95_ms", 15.0, 15.0),
        ("rps", -15.0, 15.0),
    ]
    assert [c.metric for c in result.regressions] == ["p95_ms", "rps"]
    assert result.regression_by_metric() == {
        "errors": 0.0,
        "memory_mb": 5.0,
        "p95_ms": 15.0,
        "rps": 15.0,
    }
    assert (result.baseline_id, result.new_metrics, result.missing_metrics) == (
        "main@abc",
        ("new",),
        ("gone",),
    )
    assert compare_performance(current, baseline, threshold_percent=15).regressions == ()
    with pytest.raises(ValidationError, match="must not be negative"):
        compare_performance(current, baseline, threshold_percent=-1)


def test_the_last_good_baseline_is_the_latest_accepted_run() -> None:
    runs = [
        PerformanceRun("a", datetime(2026, 3, 1, tzinfo=UTC), {"x": 1}),
        PerformanceRun("c", datetime(2026, 3, 3, tzinfo=UTC), {"x": 9}, passed=False),
        PerformanceRun("b", datetime(2026, 3, 2, tzinfo=UTC), {"x": 2}),
    ]
    assert last_good_baseline(runs).id == "b"
    assert last_good_baseline(runs[1:2]) is None


def test_performance_results_in_three_formats() -> None:
    assert parse_performance_results({"p95_ms": 120, "rps": 410.5}) == {
        "p95_ms": 120.0,
        "rps": 410.5,
    }
    pytest_benchmark = {
        "benchmarks": [
            {"name": "test_parse", "stats": {"mean": 0.0021, "median": 0.002}},
            {"name": "test_dump", "stats": {"mean": 0.5}},
        ]
    }
    assert parse_performance_results(pytest_benchmark) == {"test_parse": 0.002, "test_dump": 0.5}
    k6_new = {
        "metrics": {"http_req_duration": {"type": "trend", "values": {"p(95)": 180.2, "avg": 90}}}
    }
    k6_old = {"metrics": {"http_req_duration": {"p(95)": 180.2, "avg": 90, "thresholds": {}}}}
    expected = {"http_req_duration.p(95)": 180.2, "http_req_duration.avg": 90.0}
    assert parse_performance_results(k6_new) == parse_performance_results(k6_old) == expected
    for bad in (
        [],
        {"p95": "fast"},
        {"p95": float("nan")},
        {"ok": True},
        {"benchmarks": [{"name": "x"}]},
    ):
        with pytest.raises(ValidationError, match="performance results"):
            parse_performance_results(bad)


def test_docstring_examples() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0
    assert results.failed == 0
