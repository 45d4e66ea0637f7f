"""The ``development`` section of a product's configuration: refused mistakes name the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from productpilot.products.configuration import ProductConfiguration


def test_workflow_rules_are_read_from_the_configuration() -> None:
    config = ProductConfiguration.model_validate(
        {"development": {"workflow_rules": [{"event": "pr_merged", "targets": {"jira": "Done"}}]}}
    )
    assert config.development.workflow_rules[0].targets == {"jira": "Done"}
    assert config.development.check_run_name == "ProductPilot quality gates"


@pytest.mark.parametrize(
    ("development", "message"),
    [
        ({"workflow_rules": [{"event": "pr_merged"}]}, "workflow_rules.0.targets"),
        ({"workflow_rules": [{"event": "merged", "targets": {"jira": "Done"}}]}, "event"),
        ({"workflow_rules": [{"event": "pr_opened", "targets": {"jira": " "}}]}, "must name"),
        (
            {"workflow_rules": [{"event": "pr_opened", "targets": {"jira": "A"}}] * 2},
            "a second rule for event 'pr_opened'",
        ),
        ({"ignore_app": ["x"]}, "ignore_app"),
    ],
)
def test_mistakes_are_refused_naming_the_field(development: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ProductConfiguration.model_validate({"development": development})
