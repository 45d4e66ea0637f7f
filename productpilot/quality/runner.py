"""The local runner: a configured command in a checkout, with a timeout, and what it wrote.

:func:`run_command` starts an argument list (never through a shell) in its own process
group, with standard output and error going to temporary files (so a chatty command cannot
fill a pipe and stall, and a grandchild that keeps the pipe open cannot hang the runner).
On timeout the whole group is killed, so the test processes a runner spawned die with it.

:func:`run_tests` adds the JUnit XML report and performance results a test command wrote;
:func:`run_scanner` parses a scanner's JSON report into security findings. Reports older
than the run are not read: a stale ``junit.xml`` from yesterday must not pass today's run.

Example:
    >>> import sys, tempfile
    >>> execution = run_command([sys.executable, "-c", "print('hi')"], tempfile.gettempdir(),
    ...                         timeout_seconds=30)
    >>> (execution.status, execution.exit_code, execution.stdout.strip())
    ('passed', 0, 'hi')
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from productpilot.errors import ValidationError
from productpilot.quality.junit import TestReport, parse_junit, parse_performance_results
from productpilot.quality.security import Finding, parse_bandit, parse_pip_audit
from productpilot.quality.settings import ScannerCommand, TestCommand

Status = Literal["passed", "failed", "timed_out", "error"]
#: How much of each output stream a result keeps (the end: where the failure summary is).
MAX_OUTPUT_CHARS = 20_000
#: The largest report the runner reads.
MAX_REPORT_BYTES = 50 * 1024 * 1024
#: Some file systems keep whole-second modification times.
MTIME_SLACK_SECONDS = 2.0
#: How long to wait for a killed process group to be reaped.
REAP_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Execution:
    """One run of a command.

    Attributes:
        argv: what ran.
        directory: where.
        status: ``passed`` (exit 0), ``failed`` (another exit status), ``timed_out`` (killed
            after ``timeout_seconds``) or ``error`` (it could not start).
        exit_code: the exit status (negative: the signal that ended it); ``None`` when it
            did not start.
        duration_seconds: wall time.
        stdout: the last :data:`MAX_OUTPUT_CHARS` characters of its output.
        stderr: the same of its error stream.
        started_at: the Unix time it started (reports written before are stale).
        error: why it could not start, or that it timed out.
    """

    argv: tuple[str, ...]
    directory: str
    status: Status
    exit_code: int | None
    duration_seconds: float
    stdout: str
    stderr: str
    started_at: float
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "argv": list(self.argv),
            "directory": self.directory,
            "status": self.status,
            "exit_code": self.exit_code,
            "duration_seconds": round(self.duration_seconds, 3),
            "stdout_tail": self.stdout[-2000:],
            "stderr_tail": self.stderr[-2000:],
            "error": self.error,
        }


def run_command(
    argv: Sequence[str],
    directory: str | Path,
    *,
    timeout_seconds: float,
    env: Mapping[str, str] | None = None,
) -> Execution:
    """Run ``argv`` in ``directory``; kill its process group after ``timeout_seconds``.

    Args:
        argv: the program and its arguments.
        directory: the working directory.
        timeout_seconds: the limit on wall time.
        env: variables added to this process's environment.

    Raises:
        ValidationError: ``argv`` is empty or the timeout is not positive.
    """
    if not argv:
        raise ValidationError("a command needs at least a program")
    if timeout_seconds <= 0:
        raise ValidationError(f"the timeout must be positive, got {timeout_seconds}")
    arguments = tuple(str(a) for a in argv)
    environment = {**os.environ, **(env or {})}
    started_at, clock = time.time(), time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            process = subprocess.Popen(
                arguments,
                cwd=directory,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group, killed as one
            )
        except OSError as error:
            return Execution(
                arguments, str(directory), "error", None, 0.0, "", "", started_at,
                error=f"cannot start {arguments[0]!r}: {error.strerror or error}",
            )  # fmt: skip
        timed_out = False
        try:
            exit_code = process.wait(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process)
            exit_code = process.wait(timeout=REAP_SECONDS)
        duration = time.monotonic() - clock
        stdout, stderr = _tail(out), _tail(err)
    if timed_out:
        return Execution(
            arguments, str(directory), "timed_out", exit_code, duration, stdout, stderr,
            started_at, error=f"killed after {timeout_seconds:g} s",
        )  # fmt: skip
    status: Status = "passed" if exit_code == 0 else "failed"
    return Execution(
        arguments, str(directory), status, exit_code, duration, stdout, stderr, started_at
    )


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    # It may have ended between the timeout and the kill.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _tail(stream: IO[bytes]) -> str:
    size = stream.seek(0, os.SEEK_END)
    # Up to four bytes per character in UTF-8.
    stream.seek(max(0, size - 4 * MAX_OUTPUT_CHARS))
    return stream.read().decode("utf-8", errors="replace")[-MAX_OUTPUT_CHARS:]


# --- tests ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TestRun:
    """A test command's run and its reports.

    Attributes:
        name: the command's name.
        execution: the process's outcome.
        status: ``passed`` when it exited 0 and its JUnit report (if configured) has no
            failure; ``failed`` when either failed; ``timed_out``; ``error`` when it could
            not start or a configured report is missing or unreadable.
        tests: the JUnit summary (when configured and read).
        performance: metric values (when configured and read).
        problems: why a configured report could not be read.
    """

    __test__ = False  # not a pytest test class, despite its name

    name: str
    execution: Execution
    status: Status
    tests: TestReport | None = None
    performance: dict[str, float] | None = None
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        tests = self.tests
        return {
            "name": self.name,
            "status": self.status,
            "execution": self.execution.to_dict(),
            "tests": None
            if tests is None
            else {
                "tests": tests.tests,
                "failures": tests.failures,
                "errors": tests.errors,
                "skipped": tests.skipped,
                "duration_seconds": tests.duration_seconds,
                "failed": [f"{f.name}: {f.message}" for f in tests.failed[:20]],
            },
            "performance": self.performance,
            "problems": list(self.problems),
        }


def run_tests(command: TestCommand, directory: Path) -> TestRun:
    """Run a test command in ``directory`` and read the reports it is configured to write."""
    execution = run_command(
        command.argv, directory, timeout_seconds=command.timeout_seconds, env=command.env
    )
    problems: list[str] = []
    tests = performance = None
    if execution.status in ("passed", "failed"):
        if command.junit_xml is not None:
            data = _fresh_report(directory, command.junit_xml, execution, problems)
            tests = _parsed(parse_junit, data, problems)
        if command.performance_results is not None:
            data = _fresh_report(directory, command.performance_results, execution, problems)
            document = _parsed(json.loads, data, problems)
            if document is not None:
                performance = _parsed(parse_performance_results, document, problems)
    status: Status = execution.status
    if problems and status != "timed_out":
        status = "error"
    elif status == "passed" and tests is not None and not tests.passed:
        status = "failed"
    return TestRun(command.name, execution, status, tests, performance, tuple(problems))


# --- scanners -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScanRun:
    """A scanner's run and its findings.

    Attributes:
        name: the command's name.
        tool: the scanner (``pip-audit``, ``bandit``): the findings' tool.
        execution: the process's outcome (a non-zero exit is normal for scanners).
        completed: the report was read: ``findings`` is everything the scanner reports.
        findings: what it found.
        problems: why there is no report.
    """

    name: str
    tool: str
    execution: Execution
    completed: bool
    findings: tuple[Finding, ...] = ()
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tool": self.tool,
            "completed": self.completed,
            "findings": len(self.findings),
            "execution": self.execution.to_dict(),
            "problems": list(self.problems),
        }


_PARSERS = {"pip-audit": parse_pip_audit, "bandit": parse_bandit}


def run_scanner(command: ScannerCommand, directory: Path) -> ScanRun:
    """Run a scanner in ``directory`` and parse its JSON report (its file or its output)."""
    execution = run_command(
        command.argv, directory, timeout_seconds=command.timeout_seconds, env=command.env
    )
    problems: list[str] = []
    if execution.status in ("timed_out", "error"):
        problems.append(execution.error)
        return ScanRun(command.name, command.format, execution, False, (), tuple(problems))
    if command.report is None:
        # Truncated output is not a report: read the whole of it again only if it fit.
        data: bytes | None = execution.stdout.encode()
        if len(execution.stdout) >= MAX_OUTPUT_CHARS:
            problems.append("the report on standard output is too long; write it to a file")
            data = None
    else:
        data = _fresh_report(directory, command.report, execution, problems)
    document = _parsed(json.loads, data, problems)
    findings = _parsed(_PARSERS[command.format], document, problems) if document else None
    if findings is None:
        if not problems:
            problems.append("the report is empty")
        return ScanRun(command.name, command.format, execution, False, (), tuple(problems))
    return ScanRun(command.name, command.format, execution, True, tuple(findings))


# --- reports --------------------------------------------------------------------------------


def _fresh_report(
    directory: Path, relative: str, execution: Execution, problems: list[str]
) -> bytes | None:
    base = directory.resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base):
        problems.append(f"{relative}: outside the working directory")
        return None
    try:
        stat = path.stat()
    except FileNotFoundError:
        problems.append(f"{relative}: not written")
        return None
    if stat.st_mtime < execution.started_at - MTIME_SLACK_SECONDS:
        problems.append(f"{relative}: not written by this run (older than the run)")
        return None
    if stat.st_size > MAX_REPORT_BYTES:
        problems.append(f"{relative}: larger than {MAX_REPORT_BYTES // 2**20} MiB")
        return None
    return path.read_bytes()


def _parsed(parse: Any, data: Any, problems: list[str]) -> Any:
    if data is None:
        return None
    try:
        return parse(data)
    except (ValidationError, ValueError) as error:  # JSONDecodeError is a ValueError
        problems.append(str(error))
        return None
