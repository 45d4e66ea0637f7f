"""The local runner with tiny real commands: exit statuses, timeouts, reports read back."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from productpilot.errors import ValidationError
from productpilot.quality.runner import MAX_OUTPUT_CHARS, run_command, run_scanner, run_tests
from productpilot.quality.settings import (
    QualitySettings,
    RunnerEnvironment,
    ScannerCommand,
    TestCommand,
)

PY = sys.executable

JUNIT_FAILING = (
    '<testsuite time="0.3"><testcase classname="t" name="ok" time="0.1"/>'
    '<testcase classname="t" name="bad" time="0.2"><failure message="1 != 2"/></testcase>'
    "</testsuite>"
)
JUNIT_PASSING = '<testsuite><testcase classname="t" name="ok" time="0.1"/></testsuite>'


def python(code: str) -> list[str]:
    return [PY, "-c", code]


def writer(path: str, content: str, exit_code: int = 0) -> list[str]:
    code = f"import pathlib, sys; pathlib.Path({path!r}).write_text({content!r})"
    return python(f"{code}; sys.exit({exit_code})")


def test_a_command_that_exits_zero_passed_and_its_output_is_kept(tmp_path: Path) -> None:
    execution = run_command(
        python(
            "import os, sys; print(os.getcwd()); print(os.environ['GREETING'], file=sys.stderr)"
        ),
        tmp_path,
        timeout_seconds=30,
        env={"GREETING": "hello"},
    )
    assert execution.status == "passed"
    assert execution.exit_code == 0
    assert Path(execution.stdout.strip()).resolve() == tmp_path.resolve()
    assert execution.stderr.strip() == "hello"


def test_a_non_zero_exit_failed(tmp_path: Path) -> None:
    execution = run_command(python("raise SystemExit(3)"), tmp_path, timeout_seconds=30)
    assert (execution.status, execution.exit_code) == ("failed", 3)


def test_arguments_are_never_interpreted_by_a_shell(tmp_path: Path) -> None:
    execution = run_command(
        [*python("import sys; print(sys.argv[1])"), "$HOME; echo pwned"],
        tmp_path,
        timeout_seconds=30,
    )
    assert execution.stdout.strip() == "$HOME; echo pwned"


def test_a_command_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    # The parent starts a child that would outlive it, then both sleep past the timeout.
    code = (
        "import subprocess, sys, time, pathlib;"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        f"pathlib.Path({str(marker)!r}).write_text(str(child.pid));"
        "time.sleep(60)"
    )
    execution = run_command(python(code), tmp_path, timeout_seconds=1.5)
    assert execution.status == "timed_out"
    assert execution.duration_seconds < 30
    assert "killed after 1.5 s" in execution.error
    child = int(marker.read_text())
    # The child was in the killed process group: it is gone (or a zombie about to be reaped).
    for _ in range(50):
        if not _alive(child):
            break
        time.sleep(0.1)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def test_a_program_that_does_not_exist_is_an_error_not_an_exception(tmp_path: Path) -> None:
    execution = run_command(["no-such-program-xyz"], tmp_path, timeout_seconds=5)
    assert execution.status == "error"
    assert execution.exit_code is None
    assert "no-such-program-xyz" in execution.error


def test_only_the_end_of_long_output_is_kept(tmp_path: Path) -> None:
    execution = run_command(
        python(f"print('x' * {3 * MAX_OUTPUT_CHARS}); print('THE END')"),
        tmp_path,
        timeout_seconds=30,
    )
    assert len(execution.stdout) == MAX_OUTPUT_CHARS
    assert execution.stdout.rstrip().endswith("THE END")


def test_empty_commands_and_timeouts_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        run_command([], tmp_path, timeout_seconds=5)
    with pytest.raises(ValidationError):
        run_command(python("pass"), tmp_path, timeout_seconds=0)


# --- tests ----------------------------------------------------------------------------------


def test_a_test_run_reads_its_junit_report(tmp_path: Path) -> None:
    command = TestCommand(
        name="unit", argv=writer("junit.xml", JUNIT_FAILING, exit_code=1), junit_xml="junit.xml"
    )
    run = run_tests(command, tmp_path)
    assert run.status == "failed"
    assert run.tests is not None
    assert (run.tests.tests, run.tests.failures) == (2, 1)
    assert run.tests.failed[0].name == "t.bad"


def test_a_zero_exit_with_failing_tests_in_the_report_still_failed(tmp_path: Path) -> None:
    command = TestCommand(
        name="unit", argv=writer("junit.xml", JUNIT_FAILING), junit_xml="junit.xml"
    )
    assert run_tests(command, tmp_path).status == "failed"


def test_a_passing_run_with_performance_results(tmp_path: Path) -> None:
    results = json.dumps({"benchmarks": [{"name": "parse", "stats": {"median": 0.25}}]})
    code = (
        "import pathlib;"
        f"pathlib.Path('junit.xml').write_text({JUNIT_PASSING!r});"
        f"pathlib.Path('bench.json').write_text({results!r})"
    )
    command = TestCommand(
        name="perf", argv=python(code), junit_xml="junit.xml", performance_results="bench.json"
    )
    run = run_tests(command, tmp_path)
    assert run.status == "passed"
    assert run.performance == {"parse": 0.25}
    assert run.to_dict()["tests"]["tests"] == 1


def test_a_stale_or_missing_report_is_an_error(tmp_path: Path) -> None:
    stale = tmp_path / "junit.xml"
    stale.write_text(JUNIT_PASSING)
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    command = TestCommand(name="unit", argv=python("pass"), junit_xml="junit.xml")
    run = run_tests(command, tmp_path)
    assert run.status == "error"
    assert "not written by this run" in run.problems[0]

    missing = TestCommand(name="unit", argv=python("pass"), junit_xml="other.xml")
    assert run_tests(missing, tmp_path).problems == ("other.xml: not written",)


def test_a_malformed_report_is_an_error_naming_the_problem(tmp_path: Path) -> None:
    command = TestCommand(
        name="unit", argv=writer("junit.xml", "<testsuite>"), junit_xml="junit.xml"
    )
    run = run_tests(command, tmp_path)
    assert run.status == "error"
    assert "malformed XML" in run.problems[0]


def test_a_timed_out_test_run_is_timed_out(tmp_path: Path) -> None:
    command = TestCommand(
        name="slow",
        argv=python("import time; time.sleep(30)"),
        timeout_seconds=1,
        junit_xml="j.xml",
    )
    run = run_tests(command, tmp_path)
    assert run.status == "timed_out"
    assert run.tests is None


# --- scanners -------------------------------------------------------------------------------

PIP_AUDIT = {
    "dependencies": [
        {
            "name": "Jinja2",
            "version": "2.11.2",
            "vulns": [
                {"id": "PYSEC-2021-66", "fix_versions": ["2.11.3"], "aliases": ["CVE-2020-28493"]}
            ],
        }
    ]
}


def test_a_scanner_report_on_standard_output_becomes_findings(tmp_path: Path) -> None:
    # pip-audit exits 1 when it finds something: that is a completed scan, not a failure.
    code = f"import json, sys; print(json.dumps({PIP_AUDIT!r})); sys.exit(1)"
    command = ScannerCommand(name="deps", format="pip-audit", argv=python(code))
    scan = run_scanner(command, tmp_path)
    assert scan.completed
    assert [f.fingerprint for f in scan.findings] == ["pip-audit:CVE-2020-28493:jinja2"]


def test_a_scanner_report_file_becomes_findings(tmp_path: Path) -> None:
    report = {
        "results": [
            {
                "test_id": "B602",
                "issue_severity": "HIGH",
                "issue_text": "shell=True",
                "filename": "./app/run.py",
                "line_number": 7,
                "code": "7 subprocess.call(cmd, shell=True)\n",
            }
        ]
    }
    command = ScannerCommand(
        name="sast",
        format="bandit",
        argv=writer("bandit.json", json.dumps(report), 1),
        report="bandit.json",
    )
    scan = run_scanner(command, tmp_path)
    assert scan.completed
    [finding] = scan.findings
    assert (finding.tool, finding.severity, finding.file) == ("bandit", "high", "app/run.py")


def test_a_scanner_without_a_readable_report_did_not_complete(tmp_path: Path) -> None:
    command = ScannerCommand(name="deps", format="pip-audit", argv=python("print('not json')"))
    scan = run_scanner(command, tmp_path)
    assert not scan.completed
    assert scan.problems


# --- configuration --------------------------------------------------------------------------


def test_paths_that_leave_the_checkout_are_refused() -> None:
    with pytest.raises(ValueError, match="inside the checkout"):
        TestCommand(name="x", argv=["pytest"], junit_xml="../elsewhere.xml")
    with pytest.raises(ValueError, match="inside the checkout"):
        ScannerCommand(name="x", format="bandit", argv=["bandit"], directory="/etc")
    with pytest.raises(ValueError, match="named twice"):
        QualitySettings(tests=[{"name": "a", "argv": ["x"]}, {"name": "a", "argv": ["y"]}])


def test_the_worker_runs_commands_only_inside_its_allowed_roots(tmp_path: Path) -> None:
    allowed = tmp_path / "checkouts"
    (allowed / "shop").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (allowed / "escape").symlink_to(tmp_path / "elsewhere")
    environment = RunnerEnvironment([allowed])
    assert environment.working_directory(str(allowed / "shop"), ".") == (allowed / "shop").resolve()
    with pytest.raises(ValidationError, match="outside"):
        environment.working_directory(str(allowed / "escape"), ".")
    with pytest.raises(ValidationError, match="off"):
        RunnerEnvironment([]).working_directory(str(allowed / "shop"), ".")


def test_the_runner_is_off_without_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PRODUCTPILOT_RUNNER_ROOTS", raising=False)
    assert not RunnerEnvironment.from_environment().enabled
    monkeypatch.setenv("PRODUCTPILOT_RUNNER_ROOTS", f"/srv/a{os.pathsep}/srv/b")
    assert RunnerEnvironment.from_environment().roots == (Path("/srv/a"), Path("/srv/b"))


def test_docstring_examples() -> None:
    import doctest

    from productpilot.quality import runner, settings

    for module in (runner, settings):
        assert doctest.testmod(module).failed == 0
