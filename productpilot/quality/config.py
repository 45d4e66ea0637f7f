"""The ``development`` section of a product's configuration: what the development flows do.

The gates themselves are the configuration's ``gates`` list
(:class:`~productpilot.products.configuration.GateDefinition`); this section says how the
``quality-gate`` flow reports them and which pull-request events move which issues
(``workflow_rules``, see :mod:`productpilot.quality.transitions`).

Example:
    >>> settings = DevelopmentSettings.model_validate({"workflow_rules": [
    ...     {"event": "pr_opened", "targets": {"jira": "In Review"}},
    ...     {"event": "pr_merged", "targets": {"jira": "Done", "linear": "Done"}}]})
    >>> [rule.event for rule in settings.workflow_rules]
    ['pr_opened', 'pr_merged']
    >>> DevelopmentSettings.model_validate({"workflow_rules": [{"event": "pr_merged"}]})
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for DevelopmentSettings
    workflow_rules.0.targets
      Field required [type=missing, input_value={'event': 'pr_merged'}, input_type=dict]
    ...
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from productpilot.quality.transitions import WorkflowRule

#: The check run the gates report as (``productpilot.quality.gates.GATE_CHECK_NAME``).
DEFAULT_CHECK_NAME = "ProductPilot quality gates"


class DevelopmentSettings(BaseModel):
    """How the development flows behave for one product.

    Attributes:
        workflow_rules: Which development events move which issues, in order (the first
            rule with a target for an issue's tool wins).
        check_run_name: The name of the check run the verdict is posted as; make it a
            required check in branch protection to block merging on a failed gate.
        post_check_runs: Post the verdict to GitHub (needs a GitHub App installation token
            in the product's ``github`` block); off, verdicts are only stored.
        ignore_apps: GitHub Apps (slugs or names) whose check suites never start an
            evaluation (the gates' own app, noisy bots); their check runs still count.
        failure_severity: How loudly a failed gate is told (``warning`` waits in digests,
            ``critical`` is sent at once and escalated).
        ticket_on_failure: A failed gate also opens (or comments on) a ticket through the
            product's Jira/Linear/GitHub notification routes.
        fetch_commit_messages: Read a pull request's commit messages for issue keys (one
            GitHub call per pull-request event).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    workflow_rules: list[WorkflowRule] = Field(default_factory=list)
    check_run_name: str = Field(default=DEFAULT_CHECK_NAME, min_length=1, max_length=120)
    post_check_runs: bool = True
    ignore_apps: list[str] = Field(default_factory=list)
    failure_severity: Literal["warning", "critical"] = "warning"
    ticket_on_failure: bool = True
    fetch_commit_messages: bool = True

    @field_validator("workflow_rules")
    @classmethod
    def _one_rule_per_event_and_branches(cls, rules: list[WorkflowRule]) -> list[WorkflowRule]:
        seen: set[tuple[str, tuple[str, ...], tuple[str, ...]]] = set()
        for index, rule in enumerate(rules):
            key = (rule.event, tuple(sorted(rule.branches)), tuple(sorted(rule.environments)))
            if key in seen:
                raise ValueError(
                    f"workflow_rules[{index}]: a second rule for event {rule.event!r} with "
                    "the same branches and environments; merge their targets into one rule"
                )
            seen.add(key)
        return rules

    def ignores_app(self, app: str | None) -> bool:
        """Whether check suites of ``app`` start no evaluation (case does not matter).

        Example:
            >>> DevelopmentSettings(ignore_apps=["Dependabot"]).ignores_app("dependabot")
            True
        """
        return app is not None and app.casefold() in {name.casefold() for name in self.ignore_apps}
