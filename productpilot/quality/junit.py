"""Test reports: JUnit XML summaries, and performance results against the last good baseline.

JUnit XML comes with a ``<testsuites>`` root (pytest, Maven Surefire aggregates) or a single
``<testsuite>`` root (older runners); both give the same :class:`TestReport`. Counts come from
the ``<testcase>`` elements themselves, because suite attributes are often missing or stale;
a report without any testcase falls back to the attributes.

Example:
    >>> report = parse_junit(
    ...     '<testsuite tests="2" time="0.5"><testcase classname="t" name="ok" time="0.1"/>'
    ...     '<testcase classname="t" name="bad" time="0.4"><failure message="1 != 2"/>'
    ...     '</testcase></testsuite>'
    ... )
    >>> (report.tests, report.failures, report.passed, report.failed[0].name)
    (2, 1, False, 't.bad')
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from productpilot.errors import ValidationError

MAX_MESSAGE = 500


def parse_xml(data: str | bytes, what: str) -> ET.Element:
    """The root element of an XML report, refusing entity declarations.

    Test and coverage reports never need entities, and refusing them closes the door on
    entity-expansion attacks from a hostile CI artefact.

    Example:
        >>> parse_xml("<coverage/>", "coverage report").tag
        'coverage'
    """
    text = data.encode() if isinstance(data, str) else data
    if b"<!ENTITY" in text:
        raise ValidationError(f"{what}: XML entity declarations are not accepted")
    try:
        return ET.fromstring(text)
    except ET.ParseError as error:
        raise ValidationError(f"{what}: malformed XML ({error})") from None


@dataclass(frozen=True, slots=True)
class FailedTest:
    """A test that failed or errored.

    Attributes:
        name: ``classname.name`` (or the name alone without a classname).
        kind: ``"failure"`` (an assertion) or ``"error"`` (the test could not run).
        message: the first line of the message, at most 500 characters.
    """

    name: str
    kind: Literal["failure", "error"]
    message: str


@dataclass(frozen=True, slots=True)
class TestReport:
    """The summary of a JUnit XML report.

    Attributes:
        tests: test cases run (skipped ones included).
        failures: cases with a ``<failure>``.
        errors: cases with an ``<error>``.
        skipped: cases with a ``<skipped>``.
        duration_seconds: the report's total time (the root's, else the suites', else the
            cases').
        failed: the failing and erroring cases, in report order.
    """

    __test__ = False  # not a pytest test class, despite its name

    tests: int
    failures: int
    errors: int
    skipped: int
    duration_seconds: float
    failed: tuple[FailedTest, ...] = ()

    @property
    def passed(self) -> bool:
        """No failure and no error (skips are fine)."""
        return self.failures == 0 and self.errors == 0


def parse_junit(data: str | bytes) -> TestReport:
    """Summarise a JUnit XML report.

    Raises:
        ValidationError: the XML is malformed or its root is neither ``testsuites`` nor
            ``testsuite``.

    Example:
        >>> parse_junit("<testsuites><testsuite><testcase name='a'><skipped/></testcase>"
        ...             "</testsuite></testsuites>").skipped
        1
    """
    root = parse_xml(data, "JUnit report")
    if root.tag not in ("testsuites", "testsuite"):
        raise ValidationError(
            f"JUnit report: the root is <{root.tag}>, expected <testsuites> or <testsuite>"
        )
    cases = list(root.iter("testcase"))
    if not cases:
        return _from_attributes(root)
    failures = errors = skipped = 0
    failed = []
    for case in cases:
        name = _case_name(case)
        failure, error = case.find("failure"), case.find("error")
        if failure is not None:
            failures += 1
            failed.append(FailedTest(name, "failure", _message(failure)))
        elif error is not None:
            errors += 1
            failed.append(FailedTest(name, "error", _message(error)))
        elif case.find("skipped") is not None:
            skipped += 1
    return TestReport(len(cases), failures, errors, skipped, _duration(root, cases), tuple(failed))


def _from_attributes(root: ET.Element) -> TestReport:
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    totals = {
        key: sum(_number(suite, key, int) for suite in suites)
        for key in ("tests", "failures", "errors", "skipped")
    }
    return TestReport(**totals, duration_seconds=_duration(root, []))


def _duration(root: ET.Element, cases: list[ET.Element]) -> float:
    # The root's time, else the top-level suites' (nested suites are inside their parent's
    # time), else the cases'.
    if root.get("time"):
        return _number(root, "time", float)
    suites = root.findall("testsuite")
    if suites and all(suite.get("time") for suite in suites):
        return sum(_number(suite, "time", float) for suite in suites)
    return sum(_number(case, "time", float) for case in cases)


def _number(element: ET.Element, attribute: str, kind: type[int] | type[float]) -> Any:
    raw = element.get(attribute)
    if raw is None or raw == "":
        return kind(0)
    try:
        # Some runners write "1,234.5" or "12.0" for counts.
        value = float(raw.replace(",", ""))
    except ValueError:
        raise ValidationError(
            f"JUnit report: <{element.tag}> {attribute}={raw!r} is not a number"
        ) from None
    return kind(value)


def _case_name(case: ET.Element) -> str:
    name, classname = case.get("name") or "(unnamed)", case.get("classname")
    return f"{classname}.{name}" if classname else name


def _message(element: ET.Element) -> str:
    text = element.get("message") or (element.text or "").strip() or element.get("type") or ""
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    return first_line[:MAX_MESSAGE]


# --- performance -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PerformanceRun:
    """The metrics of one performance-test run.

    Attributes:
        id: the run (a commit sha, a CI run id).
        at: when it ran.
        metrics: metric name -> value.
        passed: whether the run was accepted (only accepted runs become baselines).
    """

    id: str
    at: datetime
    metrics: Mapping[str, float]
    passed: bool = True


@dataclass(frozen=True, slots=True)
class MetricChange:
    """How one metric moved against the baseline.

    Attributes:
        metric: its name.
        baseline: the baseline value.
        current: this run's value.
        change_percent: ``(current - baseline) / |baseline| * 100``; ``None`` when the
            baseline is 0 and the current value is not (no meaningful percentage).
        regression_percent: the change in the bad direction: ``change_percent`` for metrics
            where lower is better (latency, memory), its negative where higher is better
            (throughput); positive means worse.
        regressed: ``regression_percent`` is above the threshold.
    """

    metric: str
    baseline: float
    current: float
    change_percent: float | None
    regression_percent: float | None
    regressed: bool


@dataclass(frozen=True, slots=True)
class PerformanceComparison:
    """A run against its baseline.

    Attributes:
        baseline_id: the baseline run's id (``None`` when compared to bare values).
        threshold_percent: the regression allowed per metric.
        changes: one per metric present in both, sorted by name.
        new_metrics: metrics only the current run has.
        missing_metrics: metrics only the baseline has.
    """

    baseline_id: str | None
    threshold_percent: float
    changes: tuple[MetricChange, ...]
    new_metrics: tuple[str, ...] = ()
    missing_metrics: tuple[str, ...] = field(default=())

    @property
    def regressions(self) -> tuple[MetricChange, ...]:
        """The metrics worse than the threshold allows."""
        return tuple(change for change in self.changes if change.regressed)

    def regression_by_metric(self) -> dict[str, float]:
        """Metric -> regression % (positive is worse), the input of the regression gate."""
        return {
            change.metric: change.regression_percent
            for change in self.changes
            if change.regression_percent is not None
        }


def parse_performance_results(document: Any) -> dict[str, float]:
    """Metric values from a flat ``{"metric": value}`` object, a pytest-benchmark report
    (``benchmarks[].name`` with ``stats.median``) or a k6 summary (``metrics.<name>`` with
    ``values.<stat>`` or, in older k6, the stats inline: ``http_req_duration.p(95)``).

    Example:
        >>> parse_performance_results({"benchmarks": [{"name": "parse", "stats": {"median": 2}}]})
        {'parse': 2.0}
    """
    if not isinstance(document, Mapping):
        raise ValidationError("performance results: expected a JSON object")
    if isinstance(document.get("benchmarks"), list):
        return _pytest_benchmark(document["benchmarks"])
    if isinstance(document.get("metrics"), Mapping):
        return _k6(document["metrics"])
    values = {}
    for name, value in document.items():
        values[str(name)] = _metric_value(name, value)
    return values


def _pytest_benchmark(benchmarks: list[Any]) -> dict[str, float]:
    values = {}
    for benchmark in benchmarks:
        stats = benchmark.get("stats") if isinstance(benchmark, Mapping) else None
        if not isinstance(stats, Mapping) or "name" not in benchmark:
            raise ValidationError("performance results: a benchmark without name or stats")
        # The median resists the odd slow round better than the mean.
        statistic = stats.get("median", stats.get("mean"))
        values[str(benchmark["name"])] = _metric_value(benchmark["name"], statistic)
    return values


def _k6(metrics: Mapping[str, Any]) -> dict[str, float]:
    values = {}
    for name, metric in metrics.items():
        if not isinstance(metric, Mapping):
            continue
        stats = metric.get("values", metric)
        for stat, value in stats.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                values[f"{name}.{stat}"] = float(value)
    return values


def _metric_value(name: Any, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"performance results: {name!r} is not a finite number: {value!r}")
    return float(value)


def last_good_baseline(runs: Iterable[PerformanceRun]) -> PerformanceRun | None:
    """The most recent accepted run, or ``None``.

    Example:
        >>> runs = [PerformanceRun("a", datetime(2026, 1, 1), {"p95": 100}),
        ...         PerformanceRun("b", datetime(2026, 1, 2), {"p95": 300}, passed=False)]
        >>> last_good_baseline(runs).id
        'a'
    """
    accepted = [run for run in runs if run.passed]
    return max(accepted, key=lambda run: run.at) if accepted else None


def compare_performance(
    current: Mapping[str, float],
    baseline: PerformanceRun | Mapping[str, float],
    *,
    threshold_percent: float = 10.0,
    higher_is_better: Iterable[str] = (),
) -> PerformanceComparison:
    """Per-metric change of ``current`` against ``baseline`` and the regressions beyond the
    threshold.

    Args:
        current: this run's metric values.
        baseline: the last good run (see :func:`last_good_baseline`) or its metric values.
        threshold_percent: the worsening allowed per metric, in percent.
        higher_is_better: metrics where a rise is good (throughput); all others are costs
            (latency, memory) where a rise is a regression.

    Example:
        >>> result = compare_performance({"p95_ms": 130, "rps": 950}, {"p95_ms": 100, "rps": 1000},
        ...                              higher_is_better=["rps"])
        >>> [(c.metric, c.regression_percent, c.regressed) for c in result.changes]
        [('p95_ms', 30.0, True), ('rps', 5.0, False)]
    """
    if threshold_percent < 0:
        raise ValidationError(f"threshold_percent must not be negative, got {threshold_percent}")
    baseline_id = baseline.id if isinstance(baseline, PerformanceRun) else None
    reference = baseline.metrics if isinstance(baseline, PerformanceRun) else baseline
    better_up = set(higher_is_better)
    changes = []
    for metric in sorted(set(current) & set(reference)):
        before, after = float(reference[metric]), float(current[metric])
        if before == 0:
            change = 0.0 if after == 0 else None
        else:
            change = (after - before) * 100 / abs(before)  # one rounding, not two
        regression = None if change is None else (-change if metric in better_up else change)
        regressed = regression is not None and regression > threshold_percent
        changes.append(MetricChange(metric, before, after, change, regression, regressed))
    return PerformanceComparison(
        baseline_id,
        threshold_percent,
        tuple(changes),
        tuple(sorted(set(current) - set(reference))),
        tuple(sorted(set(reference) - set(current))),
    )
