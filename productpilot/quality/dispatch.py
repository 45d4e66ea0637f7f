"""Integration-test dispatch: which GitHub Actions workflows a labelled pull request or a
deployment starts, and the record of each dispatch until its ``workflow_run`` reports back.

A product's ``design_and_testing.test_dispatch.rules`` name ``workflow_dispatch`` workflows
(the integration suite, the performance suite) and when they run: on pull requests carrying
one of ``on_labels``, and on deployments to one of ``on_deployment_environments``. The pure
part (:func:`trigger_from_webhook`, :func:`plan_dispatches`) turns a stored GitHub delivery
into the dispatches it calls for; the store part records them in the ``plans`` table
(``kind = "test-dispatch"``, see docs/quality.md for why that table) so that each
``(repository, workflow, commit, environment)`` is dispatched once however often GitHub
redelivers or a label is set again, and so that the quality-gate flow can tell which suites
are still outstanding when their ``workflow_run`` webhooks arrive
(:func:`complete_dispatches`).

Example:
    >>> settings = TestDispatchSettings(rules=[DispatchRule(
    ...     name="integration", workflow="integration.yml", on_labels=["run-integration"],
    ...     inputs={"commit": "{sha}"})])
    >>> trigger = DispatchTrigger(kind="pull_request", repository="acme/shop", sha="a" * 40,
    ...     ref="feature", labels=("run-integration",), number=7)
    >>> [planned], skipped = plan_dispatches(settings, trigger)
    >>> planned.workflow, planned.ref, planned.inputs["commit"] == "a" * 40, skipped
    ('integration.yml', 'feature', True, [])
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select

from productpilot.db.models import Plan, Product
from productpilot.db.tenancy import StoreSession
from productpilot.db.types import utcnow
from productpilot.notify.message import Finding

#: The ``plans.kind`` of a dispatch record.
DISPATCH_KIND = "test-dispatch"
#: What an input value may refer to, as ``{name}``.
PLACEHOLDERS = frozenset({"sha", "ref", "number", "environment", "repository"})
#: GitHub's REST reference: "The maximum number of properties is 10" for ``inputs``.
MAX_INPUTS = 10
#: A claim older than this whose dispatch never got recorded was abandoned by a crashed run;
#: the next trigger dispatches again (GitHub's dispatch API has no idempotency key, so a
#: crash between the call and the record may run the suite twice, never zero times).
CLAIM_TIMEOUT = timedelta(minutes=10)
#: GitHub deployment states a rule may react to; ``created`` is the ``deployment`` event
#: itself, the others are ``deployment_status`` states.
DeploymentState = Literal["created", "in_progress", "success", "failure", "error"]
_SHA = re.compile(r"^[0-9a-f]{40}$")


class DispatchStatus:
    """The lifecycle of a dispatch record (``plans.status``)."""

    CLAIMED = "dispatching"  # this run is calling GitHub
    DISPATCHED = "dispatched"  # GitHub accepted it; its workflow_run is outstanding
    FAILED = "failed"  # GitHub refused it; a later trigger tries again
    COMPLETED = "completed"  # its workflow_run completed (see the conclusion)

    #: Statuses that make a new trigger for the same key a duplicate.
    SETTLED = frozenset({DISPATCHED, COMPLETED})


# --- configuration ----------------------------------------------------------------------------


class DispatchRule(BaseModel):
    """One ``workflow_dispatch`` workflow and the events that start it.

    Attributes:
        name: What people call the suite (``integration``, ``performance``).
        workflow: The workflow file in ``.github/workflows`` (``integration.yml``).
        ref: The branch or tag to run it on. Default: the pull request's head branch, or
            the deployment's ref (a deployment of a bare commit needs ``ref``).
        on_labels: Run on pull requests carrying any of these labels (when labelled, and on
            each new commit pushed while labelled).
        on_deployment_environments: Run when a deployment to one of these environments
            reaches one of ``deployment_states``.
        deployment_states: ``success`` (default: test what was deployed), ``created``
            (the deployment event), ``in_progress``, ``failure`` or ``error``.
        inputs: The workflow's inputs; values may use ``{sha}``, ``{ref}``, ``{number}``
            (the pull request), ``{environment}`` and ``{repository}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9_.:\-]+$")
    workflow: str = Field(pattern=r"^[\w.\-]+\.ya?ml$", max_length=200)
    ref: str | None = Field(default=None, min_length=1, max_length=255)
    on_labels: list[str] = Field(default_factory=list)
    on_deployment_environments: list[str] = Field(default_factory=list)
    deployment_states: list[DeploymentState] = Field(default_factory=lambda: ["success"])
    inputs: dict[str, str] = Field(default_factory=dict, max_length=MAX_INPUTS)

    @model_validator(mode="after")
    def _has_a_trigger(self) -> DispatchRule:
        if not self.on_labels and not self.on_deployment_environments:
            raise ValueError("a dispatch rule needs on_labels or on_deployment_environments")
        return self

    @field_validator("inputs")
    @classmethod
    def _known_placeholders(cls, inputs: dict[str, str]) -> dict[str, str]:
        for key, value in inputs.items():
            try:
                used = {name for _, name, _, _ in string.Formatter().parse(value) if name}
            except ValueError as exc:
                raise ValueError(f"inputs.{key}: {exc}") from None
            unknown = sorted(used - PLACEHOLDERS)
            if unknown:
                known = ", ".join("{" + name + "}" for name in sorted(PLACEHOLDERS))
                raise ValueError(f"inputs.{key}: unknown placeholder {unknown[0]!r} ({known})")
        return inputs


class TestDispatchSettings(BaseModel):
    """The workflows ProductPilot dispatches for a product (``test_dispatch``)."""

    __test__ = False  # not a pytest test class, despite its name
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[DispatchRule] = Field(default_factory=list)

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[DispatchRule]) -> list[DispatchRule]:
        names = [rule.name for rule in rules]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"dispatch rules listed twice: {', '.join(duplicates)}")
        return rules


# --- what happened, and what it calls for ------------------------------------------------------


@dataclass(frozen=True)
class DispatchTrigger:
    """A labelled pull request or a deployment, as far as dispatching cares.

    Attributes:
        kind: ``pull_request`` or ``deployment``.
        repository: ``owner/name``, where the workflows live.
        sha: The commit to test.
        ref: The branch (or tag) it is on; ``None`` when no dispatch can run on it (a
            fork's branch, a deployment of a bare commit).
        labels: The pull request's labels.
        number: The pull request's number.
        environment: The deployment's environment.
        state: The deployment's state (``created`` for the deployment event).
        skip_reason: Why nothing may be dispatched for it at all (a closed pull request).
    """

    kind: Literal["pull_request", "deployment"]
    repository: str
    sha: str
    ref: str | None = None
    labels: tuple[str, ...] = ()
    number: int | None = None
    environment: str | None = None
    state: str | None = None
    skip_reason: str | None = None

    def describe(self) -> str:
        """For people: ``pull request #7`` or ``deployment to production (success)``."""
        if self.kind == "pull_request":
            return f"pull request #{self.number}"
        return f"deployment to {self.environment} ({self.state})"


@dataclass(frozen=True)
class PlannedDispatch:
    """One workflow to dispatch, with everything the call and its record need."""

    rule: str
    workflow: str
    repository: str
    ref: str
    sha: str
    inputs: dict[str, str]
    reason: str
    environment: str | None = None
    number: int | None = None

    @property
    def key(self) -> str:
        """The idempotency key: one dispatch per repository, workflow, commit and
        environment (a commit deployed to staging, then production, is tested in each)."""
        return dispatch_key(self.repository, self.workflow, self.sha, self.environment)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "rule": self.rule,
            "workflow": self.workflow,
            "repository": self.repository,
            "ref": self.ref,
            "sha": self.sha,
            "inputs": dict(self.inputs),
            "reason": self.reason,
            "environment": self.environment,
            "number": self.number,
        }


@dataclass(frozen=True)
class SkippedDispatch:
    """A rule that matched but could not be dispatched, and why (shown in the run's log)."""

    rule: str
    workflow: str
    reason: str


def dispatch_key(repository: str, workflow: str, sha: str, environment: str | None = None) -> str:
    """The idempotency key of dispatching ``workflow`` for commit ``sha``.

    Example:
        >>> dispatch_key("acme/shop", "ci.yml", "a" * 40) == dispatch_key(
        ...     "ACME/Shop", "ci.yml", "A" * 40)
        True
    """
    identity = "\n".join([repository.casefold(), workflow, sha.lower(), environment or ""])
    return hashlib.sha256(identity.encode()).hexdigest()[:40]


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def trigger_from_pull_request(payload: Mapping[str, Any]) -> DispatchTrigger | None:
    """The trigger of a ``pull_request`` webhook payload (as GitHub sent it), ``None`` when
    it names no repository or commit.

    A pull request from a fork gives no ref: its branch is not in the repository, so no
    workflow can be dispatched on it (and running a fork's code with the repository's
    secrets is what ``workflow_dispatch`` must not be used for).
    """
    pr = _obj(payload.get("pull_request"))
    head, base = _obj(pr.get("head")), _obj(pr.get("base"))
    repository = _str(_obj(payload.get("repository")).get("full_name"))
    sha = _str(head.get("sha"))
    if repository is None or sha is None:
        return None
    head_repository = _str(_obj(head.get("repo")).get("full_name"))
    base_repository = _str(_obj(base.get("repo")).get("full_name")) or repository
    own_branch = head_repository is not None and head_repository.casefold() == (
        base_repository.casefold()
    )
    labels = tuple(
        name for name in (_str(_obj(label).get("name")) for label in pr.get("labels") or []) if name
    )
    number = payload.get("number", pr.get("number"))
    skip = None
    if pr.get("state") == "closed" or payload.get("action") == "closed":
        skip = "the pull request is closed"
    return DispatchTrigger(
        kind="pull_request",
        repository=repository,
        sha=sha,
        ref=_str(head.get("ref")) if own_branch else None,
        labels=labels,
        number=number if isinstance(number, int) and not isinstance(number, bool) else None,
        skip_reason=skip,
    )


def trigger_from_deployment(kind: str, payload: Mapping[str, Any]) -> DispatchTrigger | None:
    """The trigger of a ``deployment`` or ``deployment_status`` webhook payload, ``None``
    when it names no repository or commit.

    A deployment's ``ref`` may be a bare commit SHA, on which GitHub cannot dispatch: such a
    trigger has no ref, and only rules with their own ``ref`` apply.
    """
    deployment = _obj(payload.get("deployment"))
    repository = _str(_obj(payload.get("repository")).get("full_name"))
    sha = _str(deployment.get("sha"))
    if repository is None or sha is None:
        return None
    ref = _str(deployment.get("ref"))
    state = (
        _str(_obj(payload.get("deployment_status")).get("state"))
        if kind == "deployment_status"
        else "created"
    )
    return DispatchTrigger(
        kind="deployment",
        repository=repository,
        sha=sha,
        ref=None if ref is None or _SHA.match(ref.lower()) else ref,
        environment=_str(deployment.get("environment")),
        state=state,
    )


def trigger_from_webhook(kind: str, payload: Mapping[str, Any]) -> DispatchTrigger | None:
    """The trigger of a stored GitHub delivery of ``kind`` (``X-GitHub-Event``), ``None``
    for other events.

    Example:
        >>> trigger_from_webhook("push", {}) is None
        True
    """
    if kind == "pull_request":
        return trigger_from_pull_request(payload)
    if kind in ("deployment", "deployment_status"):
        return trigger_from_deployment(kind, payload)
    return None


def _matches(rule: DispatchRule, trigger: DispatchTrigger) -> str | None:
    """Why ``rule`` applies to ``trigger`` (for the record), or ``None``."""
    if trigger.kind == "pull_request":
        wanted = [label for label in trigger.labels if label in rule.on_labels]
        return f"label {wanted[0]!r} on {trigger.describe()}" if wanted else None
    if (
        trigger.environment in rule.on_deployment_environments
        and trigger.state in rule.deployment_states
    ):
        return trigger.describe()
    return None


def plan_dispatches(
    settings: TestDispatchSettings, trigger: DispatchTrigger
) -> tuple[list[PlannedDispatch], list[SkippedDispatch]]:
    """The workflows ``trigger`` calls for under ``settings``, and the matching rules that
    cannot run (with the reason). Duplicates are not judged here: see
    :func:`claim_dispatch`."""
    planned: list[PlannedDispatch] = []
    skipped: list[SkippedDispatch] = []
    for rule in settings.rules:
        reason = _matches(rule, trigger)
        if reason is None:
            continue
        if trigger.skip_reason is not None:
            skipped.append(SkippedDispatch(rule.name, rule.workflow, trigger.skip_reason))
            continue
        ref = rule.ref or trigger.ref
        if ref is None:
            why = (
                "the pull request comes from a fork, whose branch cannot be dispatched on"
                if trigger.kind == "pull_request"
                else "the deployment names a commit, not a branch or tag; set the rule's ref"
            )
            skipped.append(SkippedDispatch(rule.name, rule.workflow, why))
            continue
        values = {
            "sha": trigger.sha,
            "ref": ref,
            "number": "" if trigger.number is None else str(trigger.number),
            "environment": trigger.environment or "",
            "repository": trigger.repository,
        }
        planned.append(
            PlannedDispatch(
                rule=rule.name,
                workflow=rule.workflow,
                repository=trigger.repository,
                ref=ref,
                sha=trigger.sha,
                inputs={key: value.format_map(values) for key, value in rule.inputs.items()},
                reason=reason,
                environment=trigger.environment if trigger.kind == "deployment" else None,
                number=trigger.number,
            )
        )
    return planned, skipped


# --- the record -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DispatchRecord:
    """A dispatch as stored (detached from the session)."""

    id: int
    key: str
    status: str
    parameters: dict[str, Any]
    result: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: Plan) -> DispatchRecord:
        return cls(row.id, row.parameters["key"], row.status, row.parameters, dict(row.result))


def _find(session: StoreSession, product: Product, key: str) -> Plan | None:
    return session.scalar(
        select(Plan).where(
            Plan.product_id == product.id,
            Plan.kind == DISPATCH_KIND,
            Plan.parameters["key"].as_string() == key,
        )
    )


def _instant(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def claim_dispatch(
    session: StoreSession,
    product: Product,
    planned: PlannedDispatch,
    *,
    source: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> DispatchRecord | None:
    """Record that ``planned`` is about to be dispatched, or ``None`` when it is a duplicate
    (already dispatched or completed, or claimed by a run that is still at it).

    A failed dispatch, or a claim abandoned longer than :data:`CLAIM_TIMEOUT` ago, is
    claimed again. Callers serialise claims per product (the task holds a Prefect
    concurrency slot), so two runs never claim the same key at once.

    Args:
        source: What started it (the delivery's vendor and id), kept for people.
    """
    moment = now or utcnow()
    row = _find(session, product, planned.key)
    if row is not None:
        if row.status in DispatchStatus.SETTLED:
            return None
        claimed = _instant(row.result.get("claimed_at"))
        if row.status == DispatchStatus.CLAIMED and claimed and moment - claimed < CLAIM_TIMEOUT:
            return None
        attempts = int(row.result.get("attempts", 0))
    else:
        row = Plan(product_id=product.id, kind=DISPATCH_KIND, parameters={})
        session.add(row)
        attempts = 0
    row.status = DispatchStatus.CLAIMED
    row.parameters = {**planned.to_dict(), "source": dict(source or {})}
    row.result = {"claimed_at": moment.isoformat(), "attempts": attempts + 1}
    session.flush()
    return DispatchRecord.from_row(row)


def _update(
    session: StoreSession, record_id: int, status: str, **result: Any
) -> DispatchRecord | None:
    row = session.get(Plan, record_id)
    if row is None or row.kind != DISPATCH_KIND:
        return None
    row.status = status
    row.result = {**row.result, **result}
    session.flush()
    return DispatchRecord.from_row(row)


def mark_dispatched(
    session: StoreSession, record_id: int, *, now: datetime | None = None
) -> DispatchRecord | None:
    """GitHub accepted the dispatch: its ``workflow_run`` is now outstanding."""
    moment = (now or utcnow()).isoformat()
    return _update(session, record_id, DispatchStatus.DISPATCHED, dispatched_at=moment, error="")


def mark_failed(session: StoreSession, record_id: int, error: str) -> DispatchRecord | None:
    """GitHub refused the dispatch (the reason is kept); a later trigger tries again."""
    return _update(session, record_id, DispatchStatus.FAILED, error=error[:2000])


def outstanding_dispatches(session: StoreSession, product: Product) -> list[DispatchRecord]:
    """The product's dispatches whose ``workflow_run`` has not completed yet, oldest first."""
    rows = session.scalars(
        select(Plan)
        .where(
            Plan.product_id == product.id,
            Plan.kind == DISPATCH_KIND,
            Plan.status == DispatchStatus.DISPATCHED,
        )
        .order_by(Plan.id)
    )
    return [DispatchRecord.from_row(row) for row in rows]


def _workflow_file(path: Any) -> str | None:
    """``integration.yml`` of a run's ``path`` (``.github/workflows/integration.yml``, or
    ``...@refs/heads/main`` as GitHub writes it for reusable workflows)."""
    if not isinstance(path, str) or not path:
        return None
    return path.split("@", 1)[0].rsplit("/", 1)[-1]


def dispatch_matches_run(
    record: Mapping[str, Any], run: Mapping[str, Any], *, by_branch: bool = False
) -> bool:
    """Whether the ``workflow_run`` object ``run`` is the run of the dispatch ``record``
    (its parameters): the same repository and workflow file, started by a
    ``workflow_dispatch``, at the commit under test.

    ``by_branch`` matches the branch instead of the commit: a dispatch runs at its ref's
    head, which is not the commit under test for a rule with its own ``ref`` (or when a
    commit was pushed in between).
    """
    if run.get("event") != "workflow_dispatch":
        return False
    repository = _str(_obj(run.get("repository")).get("full_name"))
    if repository and repository.casefold() != str(record["repository"]).casefold():
        return False
    if _workflow_file(run.get("path")) != record["workflow"]:
        return False
    if by_branch:
        return run.get("head_branch") == record["ref"]
    return str(run.get("head_sha", "")).lower() == str(record["sha"]).lower()


def complete_dispatches(
    session: StoreSession, product: Product, payload: Mapping[str, Any]
) -> list[DispatchRecord]:
    """Mark the product's outstanding dispatch a completed ``workflow_run`` webhook
    reports on (for the quality-gate flow, which turns the same payload into gate facts
    with :func:`productpilot.quality.gates.facts_from_workflow_run`).

    The dispatch of the run's commit is completed; failing that, the oldest outstanding
    dispatch of that workflow on the run's branch. Returns what it completed: nothing for a
    run ProductPilot did not dispatch, or one still in progress.
    """
    run = _obj(payload.get("workflow_run"))
    if run.get("status") != "completed":
        return []
    outstanding = outstanding_dispatches(session, product)
    for by_branch in (False, True):
        for record in outstanding:
            if dispatch_matches_run(record.parameters, run, by_branch=by_branch):
                completed = _update(
                    session,
                    record.id,
                    DispatchStatus.COMPLETED,
                    conclusion=run.get("conclusion"),
                    run_id=run.get("id"),
                    run_url=run.get("html_url"),
                    completed_at=run.get("updated_at"),
                )
                return [completed] if completed is not None else []
    return []


# --- telling people ---------------------------------------------------------------------------

DISPATCH_FAILED = "productpilot.test_dispatch.failed"


def dispatch_failure_finding(product_id: int, failed: Mapping[str, Any]) -> Finding:
    """A dispatch GitHub refused (the workflow does not exist, has no ``workflow_dispatch``
    trigger, the ref is unknown, the token may not run it) as a warning for the team.

    Args:
        failed: The dispatch (:meth:`PlannedDispatch.to_dict`) with its ``error``.
    """
    return Finding(
        kind=DISPATCH_FAILED,
        severity="warning",
        product_id=product_id,
        subject=(
            f"Could not start {failed['workflow']} for {str(failed['sha'])[:7]} "
            f"in {failed['repository']}"
        ),
        text=(
            f"ProductPilot tried to dispatch the {failed['rule']} suite ({failed['workflow']} "
            f"on {failed['ref']}) for {failed['reason']}, and GitHub refused: "
            f"{failed['error']}"
        ),
        dedupe_key=f"test-dispatch:{failed['key']}",
        facts=(
            ("workflow", str(failed["workflow"])),
            ("ref", str(failed["ref"])),
            ("commit", str(failed["sha"])),
            ("why", str(failed["reason"])),
        ),
    )
