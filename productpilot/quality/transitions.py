"""Workflow automation: move the issues a change mentions when the change moves.

A pull request opened, made ready, merged or closed, a release published, a deployment
that succeeded: each is a :class:`DevelopmentEvent`. The issue keys in its branch name,
title, body and commit messages are extracted (:func:`extract_issue_keys`), and the
product's :class:`WorkflowRule` list says which status each tool's issues move to
(:func:`plan_transitions`).

Jira (``ABC-123``) and Linear (``ENG-42``) keys look alike, and so do ``UTF-8`` and
``SHA-256``: a key counts only when its prefix is a configured Jira project or Linear team
(:class:`IssueKeyPatterns`). GitHub issues are ``#12`` (in the product's repository) or
``owner/repo#12``; branch names are searched for Jira and Linear keys only, case-insensitively
(Linear's branch names are lower-case: ``eng-42-fix-login``).

Each transition carries an idempotency key derived from the event's identity (what
happened, not which delivery told us), the issue and the target status: a redelivered or
re-emitted webhook plans the same keys, so the executor moves each issue once.

Example:
    >>> rules = [WorkflowRule(event="pr_merged", targets={"jira": "Done", "github": "closed"})]
    >>> event = DevelopmentEvent("pr_merged", "github:acme/app:pull/7:merged:abc",
    ...                          texts=("feature/PAY-12-refunds", "Refunds (fixes #3)"),
    ...                          repository="acme/app")
    >>> patterns = IssueKeyPatterns(jira_projects=("PAY",), github_repository="acme/app")
    >>> [(t.tool, t.issue_key, t.target_status) for t in plan_transitions(event, rules, patterns)]
    [('jira', 'PAY-12', 'Done'), ('github', 'acme/app#3', 'closed')]
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from productpilot.errors import ValidationError

EventKind = Literal[
    "pr_opened", "pr_ready_for_review", "pr_merged", "pr_closed", "released", "deployed"
]
Tool = Literal["jira", "linear", "github"]
_PREFIX = re.compile(r"^[A-Z][A-Z0-9_]{0,19}$")
_GITHUB_SHORT = re.compile(r"(?<![\w&/#])#(\d+)\b")
_GITHUB_FULL = re.compile(r"(?<![\w.-])([A-Za-z0-9][\w.-]*/[\w.-]+)#(\d+)\b")


class WorkflowRule(BaseModel):
    """When ``event`` happens, move the issues it mentions to ``targets[tool]``.

    To embed in the product configuration:
    ``workflow_rules: list[WorkflowRule] = Field(default_factory=list)``.

    Attributes:
        event: ``pr_opened``, ``pr_ready_for_review``, ``pr_merged``, ``pr_closed`` (closed
            without merging), ``released`` or ``deployed``.
        targets: tool -> the status to move to, e.g. ``{"jira": "In Review"}``; a tool
            without a target is left alone.
        environments: for ``deployed``: the environments that count (default
            ``production``); ignored by other events.
        branches: for pull-request events: the base branches that count (empty: all).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    event: EventKind
    targets: dict[Tool, str] = Field(min_length=1)
    environments: list[str] = Field(default_factory=lambda: ["production"])
    branches: list[str] = Field(default_factory=list)

    @field_validator("targets")
    @classmethod
    def _named_statuses(cls, targets: dict[str, str]) -> dict[str, str]:
        for tool, status in targets.items():
            if not status.strip():
                raise ValueError(f"targets.{tool} must name a status")
        return targets

    def matches(self, event: DevelopmentEvent) -> bool:
        """Whether this rule applies to the event (kind, environment, base branch).

        Example:
            >>> rule = WorkflowRule(event="deployed", targets={"jira": "Released"})
            >>> rule.matches(DevelopmentEvent("deployed", "x", environment="staging"))
            False
        """
        if event.kind != self.event:
            return False
        if event.kind == "deployed":
            return event.environment in self.environments
        if self.branches and event.kind.startswith("pr_"):
            return event.base_branch in self.branches
        return True


@dataclass(frozen=True, slots=True)
class IssueKeyPatterns:
    """Which keys belong to which tool.

    Attributes:
        jira_projects: Jira project keys (``PAY``).
        linear_teams: Linear team keys (``ENG``).
        github_repository: ``owner/repo`` that ``#12`` refers to; without it, only
            ``owner/repo#12`` references count.
    """

    jira_projects: tuple[str, ...] = ()
    linear_teams: tuple[str, ...] = ()
    github_repository: str | None = None

    def __post_init__(self) -> None:
        for prefix in (*self.jira_projects, *self.linear_teams):
            if not _PREFIX.match(prefix):
                raise ValidationError(
                    f"issue key prefix {prefix!r}: expected capitals and digits like 'ABC'"
                )
        shared = sorted(set(self.jira_projects) & set(self.linear_teams))
        if shared:
            raise ValidationError(f"issue key prefixes {shared} are both Jira and Linear")

    @classmethod
    def from_integrations(cls, mapping: Any) -> IssueKeyPatterns:
        """From a product's ``IntegrationMapping`` (``jira_project``, ``linear_team``,
        ``github_repository``).

        Example:
            >>> from productpilot.products.configuration import IntegrationMapping
            >>> IssueKeyPatterns.from_integrations(IntegrationMapping(jira_project="PAY"))
            IssueKeyPatterns(jira_projects=('PAY',), linear_teams=(), github_repository=None)
        """
        jira, linear = mapping.jira_project, mapping.linear_team
        return cls(
            jira_projects=(jira.upper(),) if jira else (),
            linear_teams=(linear.upper(),) if linear else (),
            github_repository=mapping.github_repository,
        )


@dataclass(frozen=True, slots=True)
class IssueKey:
    """An issue reference: ``("jira", "PAY-12")``, ``("github", "acme/app#3")``."""

    tool: Tool
    key: str


def extract_issue_keys(
    text: str, patterns: IssueKeyPatterns, *, branch: bool = False
) -> list[IssueKey]:
    """The issue keys in a text, in order of first mention, each once.

    Args:
        text: a title, body, commit message or (with ``branch=True``) a branch name.
        patterns: which prefixes belong to Jira and Linear, and the default repository.
        branch: the text is a branch name: GitHub ``#12`` references are not looked for.

    Example:
        >>> patterns = IssueKeyPatterns(("PAY",), ("ENG",), "acme/app")
        >>> keys = extract_issue_keys("PAY-1, eng-42; UTF-8 and see #7, octo/lib#2", patterns)
        >>> [k.key for k in keys]
        ['PAY-1', 'ENG-42', 'acme/app#7', 'octo/lib#2']
    """
    found: list[tuple[int, IssueKey]] = []
    tools: list[tuple[Tool, tuple[str, ...]]] = [
        ("jira", patterns.jira_projects),
        ("linear", patterns.linear_teams),
    ]
    for tool, prefixes in tools:
        if not prefixes:
            continue
        alternatives = "|".join(re.escape(p) for p in sorted(prefixes, key=len, reverse=True))
        # Not inside a longer word or number: "XPAY-1" and "PAY-12" (in "PAY-123") do not
        # count as "PAY-1".
        pattern = re.compile(rf"(?<![A-Za-z0-9])({alternatives})-([1-9]\d*)(?![\d])", re.I)
        for match in pattern.finditer(text):
            found.append((match.start(), IssueKey(tool, f"{match[1].upper()}-{match[2]}")))
    if not branch:
        for match in _GITHUB_FULL.finditer(text):
            found.append((match.start(), IssueKey("github", f"{match[1]}#{match[2]}")))
        if patterns.github_repository:
            for match in _GITHUB_SHORT.finditer(text):
                key = f"{patterns.github_repository}#{match[1]}"
                found.append((match.start(), IssueKey("github", key)))
    found.sort(key=lambda item: item[0])
    return list(dict.fromkeys(key for _, key in found))


@dataclass(frozen=True, slots=True)
class DevelopmentEvent:
    """Something that happened to a change.

    Attributes:
        kind: what happened.
        identity: names the happening itself, the same in every delivery of it
            (``github:acme/app:pull/7:merged:<merge sha>``).
        texts: title, body and commit messages to search for issue keys.
        branches: branch names to search (the head branch of a pull request).
        repository: ``owner/repo``.
        base_branch: the branch a pull request targets.
        environment: where a deployment went.
    """

    kind: EventKind
    identity: str
    texts: tuple[str, ...] = ()
    branches: tuple[str, ...] = ()
    repository: str | None = None
    base_branch: str | None = None
    environment: str | None = None

    def issue_keys(self, patterns: IssueKeyPatterns) -> list[IssueKey]:
        """Every issue key the event mentions, each once, branches first.

        Example:
            >>> DevelopmentEvent("pr_opened", "x", branches=("pay-3-fix",)).issue_keys(
            ...     IssueKeyPatterns(("PAY",)))
            [IssueKey(tool='jira', key='PAY-3')]
        """
        keys = [k for b in self.branches for k in extract_issue_keys(b, patterns, branch=True)]
        keys += [k for text in self.texts for k in extract_issue_keys(text, patterns)]
        return list(dict.fromkeys(keys))


@dataclass(frozen=True, slots=True)
class Transition:
    """Move one issue to a status.

    Attributes:
        tool: ``jira``, ``linear`` or ``github``.
        issue_key: ``PAY-12``, ``ENG-42``, ``acme/app#3``.
        target_status: the status to move to.
        event_kind: what caused it.
        idempotency_key: the same for every delivery of the same event.
    """

    tool: Tool
    issue_key: str
    target_status: str
    event_kind: EventKind
    idempotency_key: str


def plan_transitions(
    event: DevelopmentEvent, rules: Sequence[WorkflowRule], patterns: IssueKeyPatterns
) -> list[Transition]:
    """The transitions an event asks for: one per mentioned issue whose tool has a target in
    a matching rule (the first matching rule with a target for that tool wins).

    Example:
        >>> rule = WorkflowRule(event="pr_opened", targets={"linear": "In Review"})
        >>> event = DevelopmentEvent("pr_opened", "github:a/b:pull/1:opened:t",
        ...                          texts=("ENG-4 and PAY-1",))
        >>> patterns = IssueKeyPatterns(jira_projects=("PAY",), linear_teams=("ENG",))
        >>> [t.issue_key for t in plan_transitions(event, [rule], patterns)]
        ['ENG-4']
    """
    matching = [rule for rule in rules if rule.matches(event)]
    if not matching:
        return []
    transitions = []
    for issue in event.issue_keys(patterns):
        target = next((r.targets[issue.tool] for r in matching if issue.tool in r.targets), None)
        if target is None:
            continue
        transitions.append(
            Transition(
                tool=issue.tool,
                issue_key=issue.key,
                target_status=target,
                event_kind=event.kind,
                idempotency_key=idempotency_key(event.identity, issue, target),
            )
        )
    return transitions


def idempotency_key(identity: str, issue: IssueKey, target_status: str) -> str:
    """A stable key for "this event moves this issue to this status".

    Example:
        >>> issue = IssueKey("jira", "PAY-1")
        >>> idempotency_key("e", issue, "Done") == idempotency_key("e", issue, "Done")
        True
    """
    text = "\x1f".join(("transition", identity, issue.tool, issue.key, target_status))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# --- events from GitHub webhooks ----------------------------------------------------------------


def event_from_github(event: str, payload: Mapping[str, Any]) -> DevelopmentEvent | None:
    """The development event a GitHub webhook stands for, or ``None`` when it is none.

    ``pull_request`` ``opened``/``reopened`` -> ``pr_opened``, ``ready_for_review`` ->
    ``pr_ready_for_review``, ``closed`` -> ``pr_merged`` or ``pr_closed``; ``release``
    ``published`` -> ``released``; ``deployment_status`` ``success`` -> ``deployed``.
    A pull request's texts are its title and body; its head branch is searched too. Commit
    messages are not in these payloads: a flow that fetched them adds them to ``texts``.

    Example:
        >>> event_from_github("pull_request", {"action": "labeled"}) is None
        True
    """
    if not isinstance(payload, Mapping):
        raise ValidationError("webhook payload: expected a JSON object")
    repository = (payload.get("repository") or {}).get("full_name")
    action = payload.get("action")
    if event == "pull_request":
        return _pull_request_event(payload, action, repository)
    if event == "release" and action == "published":
        release = _object(payload, "release")
        return DevelopmentEvent(
            "released",
            f"github:{repository}:release/{release.get('id') or release.get('tag_name')}",
            texts=tuple(t for t in (release.get("name"), release.get("body")) if t),
            repository=repository,
        )
    if event == "deployment_status":
        status = _object(payload, "deployment_status")
        if status.get("state") != "success":
            return None
        deployment = _object(payload, "deployment")
        return DevelopmentEvent(
            "deployed",
            f"github:{repository}:deployment/{deployment.get('id')}:success",
            texts=tuple(t for t in (deployment.get("description"),) if t),
            branches=tuple(b for b in (deployment.get("ref"),) if b),
            repository=repository,
            environment=status.get("environment") or deployment.get("environment"),
        )
    return None


def _pull_request_event(
    payload: Mapping[str, Any], action: Any, repository: str | None
) -> DevelopmentEvent | None:
    if action not in ("opened", "reopened", "ready_for_review", "closed"):
        return None
    pull = _object(payload, "pull_request")
    kind: EventKind
    # The identity names the happening: reopening or re-readying later is another one, so
    # its time is part of it; a merge is named by its merge commit.
    if action == "opened":
        kind, moment = "pr_opened", pull.get("created_at")
    elif action == "reopened":
        kind, moment = "pr_opened", f"reopened:{pull.get('updated_at')}"
    elif action == "ready_for_review":
        kind, moment = "pr_ready_for_review", pull.get("updated_at")
    elif action == "closed" and (pull.get("merged") or pull.get("merged_at")):
        kind, moment = "pr_merged", pull.get("merge_commit_sha") or pull.get("merged_at")
    else:
        kind, moment = "pr_closed", pull.get("closed_at")
    number = pull.get("number")
    return DevelopmentEvent(
        kind,
        f"github:{repository}:pull/{number}:{kind}:{moment}",
        texts=tuple(t for t in (pull.get("title"), pull.get("body")) if t),
        branches=tuple(b for b in ((pull.get("head") or {}).get("ref"),) if b),
        repository=repository,
        base_branch=(pull.get("base") or {}).get("ref"),
    )


def _object(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = payload.get(key)
    if not isinstance(value, Mapping):
        raise ValidationError(f"webhook payload: no {key!r} object")
    return value


def with_commit_messages(event: DevelopmentEvent, messages: Iterable[str]) -> DevelopmentEvent:
    """The event with commit messages added to the texts searched (the identity is kept).

    Example:
        >>> with_commit_messages(DevelopmentEvent("deployed", "x"), ["PAY-2 fix"]).texts
        ('PAY-2 fix',)
    """
    return DevelopmentEvent(
        event.kind,
        event.identity,
        (*event.texts, *messages),
        event.branches,
        event.repository,
        event.base_branch,
        event.environment,
    )
