"""Specification of workflow automation: issue keys in changes, rules, idempotent transitions."""

from __future__ import annotations

import copy
import doctest

import pydantic
import pytest

from productpilot.errors import ValidationError
from productpilot.products.configuration import IntegrationMapping
from productpilot.quality import transitions as module
from productpilot.quality.transitions import (
    DevelopmentEvent,
    IssueKey,
    IssueKeyPatterns,
    WorkflowRule,
    event_from_github,
    extract_issue_keys,
    plan_transitions,
    with_commit_messages,
)
from tests.integrations.shared_data import GITHUB_WEBHOOKS, load, shared_dir

PATTERNS = IssueKeyPatterns(
    jira_projects=("PAY", "AB2"), linear_teams=("ENG",), github_repository="acme/app"
)


def keys(text: str, *, branch: bool = False) -> list[str]:
    return [key.key for key in extract_issue_keys(text, PATTERNS, branch=branch)]


# --- issue keys --------------------------------------------------------------------------------


def test_jira_and_linear_keys_count_only_for_configured_prefixes() -> None:
    assert keys("PAY-12: refunds; see ENG-42 and AB2-7") == ["PAY-12", "ENG-42", "AB2-7"]
    assert keys("UTF-8, SHA-256, ISO-8601, OPS-1") == []  # look alike, not ours
    assert extract_issue_keys("PAY-1 ENG-2", PATTERNS)[1] == IssueKey("linear", "ENG-2")


def test_keys_are_whole_words_and_numbers_start_at_one() -> None:
    assert keys("XPAY-1 PAY-123 PAY-0 PAY-01 (PAY-5) [ENG-6]: PAY-7.") == [
        "PAY-123",
        "PAY-5",
        "ENG-6",
        "PAY-7",
    ]


def test_branch_names_match_case_insensitively_but_not_github_numbers() -> None:
    assert keys("feature/PAY-12-refunds", branch=True) == ["PAY-12"]
    assert keys("ana/eng-42-fix-login", branch=True) == ["ENG-42"]  # Linear's branch names
    assert keys("fix/#12-crash", branch=True) == []


def test_github_references_short_and_full() -> None:
    assert keys("Fixes #12, closes octo/lib#3 and acme/app#12 again") == [
        "acme/app#12",
        "octo/lib#3",
    ]
    assert keys("an &#12; entity, issue#4, C#7 and #0x") == []
    without_repo = IssueKeyPatterns(jira_projects=("PAY",))
    assert [k.key for k in extract_issue_keys("#5 and octo/lib#6", without_repo)] == ["octo/lib#6"]


def test_each_key_once_in_order_of_first_mention() -> None:
    assert keys("ENG-2 PAY-1 eng-2 PAY-1 #3 acme/app#3") == ["ENG-2", "PAY-1", "acme/app#3"]


def test_patterns_are_checked_and_built_from_the_integration_mapping() -> None:
    with pytest.raises(ValidationError, match="expected capitals"):
        IssueKeyPatterns(jira_projects=("pay-",))
    with pytest.raises(ValidationError, match="both Jira and Linear"):
        IssueKeyPatterns(jira_projects=("ENG",), linear_teams=("ENG",))
    mapping = IntegrationMapping(
        jira_project="pay", linear_team="ENG", github_repository="acme/app"
    )
    assert IssueKeyPatterns.from_integrations(mapping) == IssueKeyPatterns(
        ("PAY",), ("ENG",), "acme/app"
    )


# --- rules ---------------------------------------------------------------------------------------


def test_workflow_rules_validate_like_the_rest_of_the_configuration() -> None:
    rule = WorkflowRule.model_validate(
        {"event": "pr_opened", "targets": {"jira": "In Review", "linear": "In Review"}}
    )
    assert rule.environments == ["production"]
    for bad in [
        {"event": "pr_opened", "targets": {}},
        {"event": "pr_opened", "targets": {"jira": "  "}},
        {"event": "pr_approved", "targets": {"jira": "Done"}},
        {"event": "pr_opened", "targets": {"trello": "Done"}},
        {"event": "pr_opened", "targets": {"jira": "Done"}, "typo": 1},
    ]:
        with pytest.raises(pydantic.ValidationError):
            WorkflowRule.model_validate(bad)
    with pytest.raises(pydantic.ValidationError):
        rule.event = "pr_merged"  # type: ignore[misc]  # frozen, like other sections


def test_rules_match_on_kind_environment_and_base_branch() -> None:
    deployed = WorkflowRule(
        event="deployed", targets={"jira": "Released"}, environments=["prod", "eu-prod"]
    )
    assert deployed.matches(DevelopmentEvent("deployed", "x", environment="eu-prod"))
    assert not deployed.matches(DevelopmentEvent("deployed", "x", environment="staging"))
    merged_to_main = WorkflowRule(event="pr_merged", targets={"jira": "Done"}, branches=["main"])
    assert merged_to_main.matches(DevelopmentEvent("pr_merged", "x", base_branch="main"))
    assert not merged_to_main.matches(DevelopmentEvent("pr_merged", "x", base_branch="develop"))
    assert not merged_to_main.matches(DevelopmentEvent("pr_closed", "x", base_branch="main"))


# --- planning ---------------------------------------------------------------------------------


RULES = [
    WorkflowRule(event="pr_opened", targets={"jira": "In Review", "linear": "In Review"}),
    WorkflowRule(event="pr_merged", targets={"jira": "Done", "github": "closed"}),
    WorkflowRule(event="pr_merged", targets={"jira": "Ignored", "linear": "Done"}),
    WorkflowRule(event="deployed", targets={"linear": "Released"}),
]


def merged_event(identity: str = "github:acme/app:pull/7:pr_merged:abc") -> DevelopmentEvent:
    return DevelopmentEvent(
        "pr_merged",
        identity,
        texts=("Refunds for PAY-12", "Also ENG-4, fixes #3. Follows PAY-12."),
        branches=("feature/pay-12-refunds",),
        repository="acme/app",
        base_branch="main",
    )


def test_a_merge_moves_every_mentioned_issue_to_its_tools_target() -> None:
    planned = plan_transitions(merged_event(), RULES, PATTERNS)
    # The first matching rule with a target for the tool wins: Jira gets "Done", not
    # "Ignored"; Linear's target comes from the second rule.
    assert [(t.tool, t.issue_key, t.target_status) for t in planned] == [
        ("jira", "PAY-12", "Done"),
        ("linear", "ENG-4", "Done"),
        ("github", "acme/app#3", "closed"),
    ]
    assert {t.event_kind for t in planned} == {"pr_merged"}
    assert len({t.idempotency_key for t in planned}) == 3


def test_tools_without_a_target_and_events_without_a_rule_plan_nothing() -> None:
    opened = DevelopmentEvent(
        "pr_opened", "github:acme/app:pull/7:pr_opened:t", texts=("PAY-1 #3",)
    )
    assert [(t.tool, t.issue_key) for t in plan_transitions(opened, RULES, PATTERNS)] == [
        ("jira", "PAY-1")
    ]
    closed = DevelopmentEvent("pr_closed", "id", texts=("PAY-1",))
    assert plan_transitions(closed, RULES, PATTERNS) == []
    assert plan_transitions(DevelopmentEvent("pr_merged", "id"), RULES, PATTERNS) == []


def test_a_redelivery_plans_the_same_idempotency_keys_and_another_event_new_ones() -> None:
    first = [t.idempotency_key for t in plan_transitions(merged_event(), RULES, PATTERNS)]
    again = [t.idempotency_key for t in plan_transitions(merged_event(), RULES, PATTERNS)]
    assert first == again
    other = plan_transitions(merged_event("github:acme/app:pull/8:pr_merged:def"), RULES, PATTERNS)
    assert not set(first) & {t.idempotency_key for t in other}
    # Another target for the same issue and event is another transition.
    retargeted = [WorkflowRule(event="pr_merged", targets={"jira": "Closed"})]
    assert plan_transitions(merged_event(), retargeted, PATTERNS)[0].idempotency_key not in first
    # Commit messages add issues, not identities.
    with_commits = with_commit_messages(merged_event(), ["ENG-9 tidy"])
    planned = plan_transitions(with_commits, RULES, PATTERNS)
    assert [t.idempotency_key for t in planned][:3] == first
    assert planned[3].issue_key == "ENG-9"


# --- events from GitHub -------------------------------------------------------------------------


def webhook(path: str) -> dict:
    return load(shared_dir(GITHUB_WEBHOOKS) / path)


def test_pull_request_webhooks_become_development_events() -> None:
    opened = event_from_github("pull_request", webhook("pull_request/opened.payload.json"))
    assert opened == DevelopmentEvent(
        "pr_opened",
        "github:Codertocat/Hello-World:pull/2:pr_opened:2019-05-15T15:20:33Z",
        texts=(
            "Update the README with new information.",
            "This is a pretty simple change that we need to pull into master.",
        ),
        branches=("changes",),
        repository="Codertocat/Hello-World",
        base_branch="master",
    )
    null_body = event_from_github(
        "pull_request", webhook("pull_request/opened.with-null-body.json")
    )
    assert null_body.texts == ("Update the README with new information.",)
    ready = event_from_github("pull_request", webhook("pull_request/ready_for_review.payload.json"))
    assert ready.kind == "pr_ready_for_review"
    reopened = event_from_github("pull_request", webhook("pull_request/reopened.payload.json"))
    assert (reopened.kind, reopened.identity == opened.identity) == ("pr_opened", False)
    closed = event_from_github("pull_request", webhook("pull_request/closed.payload.json"))
    assert closed.kind == "pr_closed"  # closed without merging
    merged_payload = copy.deepcopy(webhook("pull_request/closed.payload.json"))
    merged_payload["pull_request"].update(merged=True, merged_at="2019-05-15T15:21:18Z")
    merged = event_from_github("pull_request", merged_payload)
    assert merged.identity == (
        "github:Codertocat/Hello-World:pull/2:pr_merged:c4295bd74fb0f4fda03689c3df3f2803b658fd85"
    )
    assert event_from_github("pull_request", webhook("pull_request/labeled.payload.json")) is None


def test_release_and_deployment_webhooks_become_development_events() -> None:
    released = event_from_github("release", webhook("release/published.payload.json"))
    assert (released.kind, released.identity) == (
        "released",
        "github:Codertocat/Hello-World:release/17372790",
    )
    assert event_from_github("release", webhook("release/created.payload.json")) is None
    deployed = event_from_github("deployment_status", webhook("deployment_status/payload.json"))
    assert (deployed.kind, deployed.environment, deployed.branches) == (
        "deployed",
        "production",
        ("master",),
    )
    assert deployed.identity == "github:Codertocat/Hello-World:deployment/145988746:success"
    in_progress = webhook("deployment_status/gh-pages.payload.json")
    assert event_from_github("deployment_status", in_progress) is None
    assert event_from_github("push", webhook("push/payload.json")) is None


def test_every_shared_webhook_of_the_known_events_is_handled_without_error() -> None:
    folder = shared_dir(GITHUB_WEBHOOKS)
    kinds = set()
    for event in ("pull_request", "release", "deployment_status"):
        for path in sorted((folder / event).glob("*.json")):
            result = event_from_github(event, load(path))
            if result is not None:
                kinds.add(result.kind)
                plan_transitions(result, RULES, PATTERNS)
    assert kinds == {"pr_opened", "pr_ready_for_review", "pr_closed", "released", "deployed"}


def test_docstring_examples() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0
    assert results.failed == 0
