"""An event belongs to the product unless its configuration places it elsewhere."""

from __future__ import annotations

import pytest

from productpilot.products.configuration import IntegrationMapping
from productpilot.webhooks.scope import out_of_scope

MAPPING = IntegrationMapping(
    github_repository="acme/web",
    jira_project="WEB",
    linear_team="ENG",
    figma_files=["k1", "k2"],
)


@pytest.mark.parametrize(
    ("vendor", "payload"),
    [
        ("github", {"repository": "acme/web"}),
        ("github", {"repository": "ACME/Web"}),
        ("github", {"repository": None}),
        ("jira", {"project_key": "WEB"}),
        ("jira", {}),
        ("linear", {"team_key": "eng", "team_id": "t-1"}),
        ("linear", {"team_key": None, "team_id": None}),
        ("figma", {"file_key": "k2"}),
        ("slack", {"channel": "C1"}),
    ],
)
def test_events_about_the_products_place_or_about_no_place_belong(
    vendor: str, payload: dict
) -> None:
    assert out_of_scope(vendor, payload, MAPPING) is None


@pytest.mark.parametrize(
    ("vendor", "payload", "named"),
    [
        ("github", {"repository": "acme/api"}, "acme/api"),
        ("jira", {"project_key": "OPS"}, "OPS"),
        ("linear", {"team_key": "DES", "team_id": "t-2"}, "DES"),
        ("figma", {"file_key": "k9"}, "k9"),
    ],
)
def test_events_about_another_place_do_not_belong(vendor: str, payload: dict, named: str) -> None:
    reason = out_of_scope(vendor, payload, MAPPING)
    assert reason is not None
    assert named in reason


def test_a_linear_team_may_be_configured_by_id() -> None:
    mapping = IntegrationMapping(linear_team="t-1")
    assert out_of_scope("linear", {"team_key": "ENG", "team_id": "t-1"}, mapping) is None


@pytest.mark.parametrize(
    ("vendor", "payload"),
    [
        ("github", {"repository": "anyone/anything"}),
        ("jira", {"project_key": "ANY"}),
        ("linear", {"team_key": "ANY"}),
        ("figma", {"file_key": "any"}),
    ],
)
def test_without_a_mapping_every_event_belongs(vendor: str, payload: dict) -> None:
    assert out_of_scope(vendor, payload, IntegrationMapping()) is None
