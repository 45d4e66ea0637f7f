"""The ``quality`` section of a product's configuration: local runs, scanners and the QA report.

Teams without GitHub Actions runners (or who want a second opinion) let a ProductPilot
worker run their test suite and security scanners in a checkout on the worker's disk
(:mod:`productpilot.quality.runner`). Each command is an argument list, never a shell
string, with a timeout; its JUnit XML, performance results or scanner JSON are read back.

A product's configuration can be changed by anyone holding one of its tenant's API keys, so
running its commands is the worker operator's decision, not the tenant's: a worker runs
commands only inside the folders ``PRODUCTPILOT_RUNNER_ROOTS`` lists
(:class:`RunnerEnvironment`); without it the local runner is off and the commands are
reported as skipped.

Example:
    >>> settings = QualitySettings.model_validate({"checkout": "/srv/checkouts/shop",
    ...     "scanners": [{"name": "deps", "format": "pip-audit",
    ...                   "argv": ["pip-audit", "-f", "json"]}]})
    >>> settings.scanners[0].timeout_seconds, settings.scanners[0].report is None
    (600.0, True)
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from productpilot.errors import ValidationError

CommandName = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9_.:\-]+$")
#: Environment variable naming the folders (``os.pathsep``-separated) commands may run in.
RUNNER_ROOTS_VARIABLE = "PRODUCTPILOT_RUNNER_ROOTS"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommandSpec(_Section):
    """A command the local runner runs.

    Attributes:
        name: how results and findings name it.
        argv: the program and its arguments (no shell: no quoting, globbing or pipes).
        directory: where it runs, relative to the product's ``checkout`` (default: the
            checkout itself).
        timeout_seconds: the process group is killed after this long.
        env: variables added to the worker's environment.
    """

    name: str = CommandName
    argv: list[str] = Field(min_length=1)
    directory: str = "."
    timeout_seconds: float = Field(default=600.0, gt=0, le=6 * 3600)
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("argv")
    @classmethod
    def _non_empty_program(cls, argv: list[str]) -> list[str]:
        if not argv[0].strip():
            raise ValueError("argv[0] (the program) must not be empty")
        return argv

    @field_validator("directory")
    @classmethod
    def _inside_checkout(cls, directory: str) -> str:
        return relative_path(directory, "directory")


class TestCommand(CommandSpec):
    """A test suite: its exit status, its JUnit XML and, optionally, performance results.

    Attributes:
        junit_xml: the JUnit XML report it writes, relative to ``directory``.
        performance_results: a performance results JSON it writes (flat, pytest-benchmark
            or k6; see :func:`productpilot.quality.junit.parse_performance_results`).
    """

    __test__ = False  # not a pytest test class, despite its name

    junit_xml: str | None = None
    performance_results: str | None = None

    @field_validator("junit_xml", "performance_results")
    @classmethod
    def _relative(cls, path: str | None) -> str | None:
        return None if path is None else relative_path(path, "report path")


class ScannerCommand(CommandSpec):
    """A security scanner whose JSON report becomes findings.

    Scanners exit non-zero when they find something, so the exit status is not a failure;
    a missing or unreadable report is.

    Attributes:
        format: ``pip-audit`` (``pip-audit -f json``) or ``bandit`` (``bandit -f json``).
        report: the file it writes its JSON to, relative to ``directory``; ``None``: its
            standard output is the report.
    """

    format: Literal["pip-audit", "bandit"]
    report: str | None = None

    @field_validator("report")
    @classmethod
    def _relative(cls, path: str | None) -> str | None:
        return None if path is None else relative_path(path, "report path")


class QualitySettings(_Section):
    """How the quality flows run a product's checks and read its delivery data.

    Attributes:
        checkout: the folder on the worker holding the product's code (``None``: no local
            runs).
        tests: test suites the daily run executes.
        scanners: scanners the daily security scan executes.
        github_alerts: pull code-scanning and Dependabot alerts of
            ``integrations.github_repository`` (needs its GitHub block).
        performance_tolerance_percent: the worsening per metric a performance run may show
            against the last good baseline before it is a regression.
        higher_is_better: performance metrics where a rise is good (throughput).
        ticket_severity: open security findings at this severity or worse open tickets.
        environment: the deployment environment DORA metrics measure.
        bug_types: backlog item types that are defects.
        incident_types: backlog item types that are production incidents.
        incident_labels: labels that make any backlog item an incident.
        escaped_labels: labels marking a defect found in production (escaped).
        nps_event: the survey event carrying a 0-10 ``score_property``.
        csat_event: the survey event carrying a 1-5 ``score_property``.
        score_property: the answer's property name.
        trend_weeks: earlier weeks the QA report compares each metric with.
        regression_lookback_hours: how far back the performance-optimisation flow looks for
            the start of a regression.
    """

    checkout: str | None = None
    tests: list[TestCommand] = Field(default_factory=list)
    scanners: list[ScannerCommand] = Field(default_factory=list)
    github_alerts: bool = True
    performance_tolerance_percent: float = Field(default=10.0, ge=0, le=1000)
    higher_is_better: list[str] = Field(default_factory=list)
    ticket_severity: Literal["critical", "high", "medium", "low"] = "critical"
    environment: str = Field(default="production", min_length=1, max_length=120)
    bug_types: list[str] = Field(default_factory=lambda: ["bug", "defect"])
    incident_types: list[str] = Field(default_factory=lambda: ["incident"])
    incident_labels: list[str] = Field(default_factory=lambda: ["incident"])
    escaped_labels: list[str] = Field(
        default_factory=lambda: ["production", "escaped", "customer-reported"]
    )
    nps_event: str = Field(default="nps_response", min_length=1, max_length=200)
    csat_event: str = Field(default="csat_response", min_length=1, max_length=200)
    score_property: str = Field(default="score", min_length=1, max_length=200)
    trend_weeks: int = Field(default=4, ge=1, le=26)
    regression_lookback_hours: int = Field(default=24, ge=1, le=24 * 14)

    @field_validator("tests", "scanners")
    @classmethod
    def _unique_names(cls, commands: list[CommandSpec]) -> list[CommandSpec]:
        names = [command.name for command in commands]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"commands named twice: {', '.join(duplicates)}")
        return commands


def relative_path(path: str, what: str) -> str:
    """``path`` if it is relative and stays inside its base folder (no ``..``, not absolute).

    Example:
        >>> relative_path("reports/junit.xml", "report path")
        'reports/junit.xml'
    """
    pure = PurePosixPath(path.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (path[1:3] == ":/"):
        raise ValueError(f"{what} {path!r} must be relative and stay inside the checkout")
    return path


class RunnerEnvironment:
    """The worker's own permission to run configured commands (``PRODUCTPILOT_RUNNER_ROOTS``).

    Example:
        >>> env = RunnerEnvironment(["/srv/checkouts"])
        >>> str(env.working_directory("/srv/checkouts/shop", "."))
        '/srv/checkouts/shop'
    """

    def __init__(self, roots: list[str | Path]) -> None:
        self.roots = tuple(Path(root).resolve() for root in roots if str(root).strip())

    @classmethod
    def from_environment(cls) -> RunnerEnvironment:
        """The roots ``PRODUCTPILOT_RUNNER_ROOTS`` names (none: the runner is off)."""
        return cls(os.environ.get(RUNNER_ROOTS_VARIABLE, "").split(os.pathsep))

    @property
    def enabled(self) -> bool:
        return bool(self.roots)

    def working_directory(self, checkout: str, directory: str) -> Path:
        """The resolved folder a command runs in.

        Raises:
            ValidationError: the runner is off, or the folder (symbolic links resolved)
                is outside every allowed root.
        """
        if not self.enabled:
            raise ValidationError(
                f"the local runner is off on this worker (set {RUNNER_ROOTS_VARIABLE})"
            )
        resolved = (Path(checkout) / directory).resolve()
        if not any(resolved == root or resolved.is_relative_to(root) for root in self.roots):
            raise ValidationError(
                f"{resolved} is outside the folders this worker runs commands in "
                f"({RUNNER_ROOTS_VARIABLE})"
            )
        return resolved
