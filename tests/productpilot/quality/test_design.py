"""Specification of design-system automation: the version a Figma webhook announces, the
components it changed, its record in the design-tokens issue, and its announcement.

Figma payloads are built here (the shared data holds no captured Figma deliveries) and
checked against the webhook payload schemas of Figma's OpenAPI description first."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
import referencing
import referencing.jsonschema
from pydantic import ValidationError

from productpilot.products.configuration import ProductConfiguration
from productpilot.quality import design as module
from productpilot.quality.design import (
    DesignSystemSettings,
    DesignVersion,
    ItemChange,
    LinkedIssue,
    components_changed_since,
    design_finding,
    file_label,
    is_recorded,
    issue_note,
    jira_query,
    linear_filter,
    linked_from_jira,
    linked_from_linear,
    should_record,
    version_from_webhook,
    version_marker,
    with_history,
)
from tests.integrations.figma.fake import DESIGNER, FILE_KEY, SPEC_URI, figma_description

SCHEMAS = {
    "LIBRARY_PUBLISH": "WebhookLibraryPublishPayload",
    "FILE_VERSION_UPDATE": "WebhookFileVersionUpdatePayload",
    "FILE_UPDATE": "WebhookFileUpdatePayload",
}


def figma_payload(event_type: str, **changes: Any) -> dict[str, Any]:
    """A Figma webhook body of ``event_type`` as Figma documents it (validated against the
    description's payload schema), with ``changes`` applied."""
    body: dict[str, Any] = {
        "event_type": event_type,
        "passcode": "s3cret",
        "timestamp": "2026-12-01T10:00:00Z",
        "webhook_id": "22",
        "file_key": FILE_KEY,
        "file_name": "Checkout redesign",
    }
    if event_type == "LIBRARY_PUBLISH":
        body |= {
            "description": "New button states",
            "triggered_by": DESIGNER,
            "library_item": {"key": "lib-1", "name": "Checkout redesign"},
            "created_components": [{"key": "c-new", "name": "Chip"}],
            "modified_components": [{"key": "c-btn", "name": "Button"}],
            "deleted_components": [],
            "created_styles": [],
            "modified_styles": [],
            "deleted_styles": [{"key": "s-old", "name": "Shadow/Old"}],
            "created_variables": [],
            "modified_variables": [],
            "deleted_variables": [],
        }
    elif event_type == "FILE_VERSION_UPDATE":
        body |= {
            "version_id": "1003",
            "description": "Ready for review",
            "created_at": "2026-12-01T09:58:00Z",
            "triggered_by": DESIGNER,
        }
    body |= changes
    description = figma_description()
    registry = referencing.Registry().with_resource(
        SPEC_URI, referencing.jsonschema.DRAFT202012.create_resource(description.document)
    )
    schema = {"$ref": f"{SPEC_URI}#/components/schemas/{SCHEMAS[event_type]}"}
    jsonschema.Draft202012Validator(schema, registry=registry).validate(body)
    return body


def stored(event_type: str, **changes: Any) -> dict[str, Any]:
    """The payload as the receiver stores it: without its passcode."""
    body = figma_payload(event_type, **changes)
    body.pop("passcode")
    return body


def test_the_module_examples_hold() -> None:
    assert doctest.testmod(module).failed == 0


# --- configuration ----------------------------------------------------------------------------


def test_the_section_lives_in_the_product_configuration() -> None:
    configuration = ProductConfiguration.model_validate(
        {"design_and_testing": {"design": {"design_tokens_repository": "acme/tokens"}}}
    )
    assert configuration.design_and_testing.design.design_tokens_repository == "acme/tokens"


def test_a_repository_is_owner_and_name() -> None:
    with pytest.raises(ValidationError, match="design_tokens_repository"):
        DesignSystemSettings(design_tokens_repository="tokens")


@pytest.mark.parametrize(
    ("files", "configured", "watched"),
    [
        ([], [], True),  # nothing configured: every file the webhook reports
        ([], ["A1b2C3"], False),  # integrations.figma_files
        (["Fk3yCheckout"], ["A1b2C3"], True),  # the section's own list wins
    ],
)
def test_which_files_are_followed(files: list[str], configured: list[str], watched: bool) -> None:
    assert DesignSystemSettings(files=files).watches(FILE_KEY, configured) is watched


# --- the version ------------------------------------------------------------------------------


def test_a_library_publish_lists_its_changed_items_by_kind() -> None:
    version = version_from_webhook("LIBRARY_PUBLISH", stored("LIBRARY_PUBLISH"))
    assert version.changes == (
        ItemChange("component", "created", "Chip", "c-new"),
        ItemChange("component", "modified", "Button", "c-btn"),
        ItemChange("style", "deleted", "Shadow/Old", "s-old"),
    )
    assert (version.reference, version.author, version.changes_known) == (
        "publish:22:2026-12-01T10:00:00Z",
        "Ada",
        True,
    )
    assert version.counts() == {"created": 1, "modified": 1, "deleted": 1}


def test_a_named_version_is_identified_by_its_version_id() -> None:
    version = version_from_webhook("FILE_VERSION_UPDATE", stored("FILE_VERSION_UPDATE"))
    assert (version.reference, version.version_id, version.created_at) == (
        "version:1003",
        "1003",
        "2026-12-01T09:58:00Z",
    )
    assert not version.changes_known  # only the file's components can tell


def test_other_events_and_payloads_without_a_file_are_refused() -> None:
    with pytest.raises(ValueError, match="announce no design version"):
        version_from_webhook("FILE_COMMENT", {})
    with pytest.raises(ValueError, match="names no file"):
        version_from_webhook("FILE_UPDATE", {"file_name": "x"})


def component(name: str, created: str, updated: str) -> dict[str, Any]:
    return {"key": f"k-{name}", "name": name, "created_at": created, "updated_at": updated}


COMPONENTS = [
    component("Button", "2026-11-01T00:00:00Z", "2026-12-01T09:00:00Z"),
    component("Card", "2026-11-01T00:00:00Z", "2026-11-20T00:00:00Z"),
    component("Chip", "2026-12-01T08:30:00Z", "2026-12-01T08:30:00Z"),
]
HISTORY = [
    {"id": "1003", "created_at": "2026-12-01T09:58:00Z", "label": "Checkout v2"},
    {"id": "1002", "created_at": "2026-12-01T08:00:00Z", "label": None},
    {"id": "1001", "created_at": "2026-11-01T00:00:00Z", "label": "Checkout v1"},
]


def test_components_changed_since_the_version_before() -> None:
    since = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert components_changed_since(COMPONENTS, since) == (
        ItemChange("component", "created", "Chip", "k-Chip"),
        ItemChange("component", "modified", "Button", "k-Button"),
    )


def test_the_first_version_lists_every_component_as_created() -> None:
    assert [c.change for c in components_changed_since(COMPONENTS[:1], None)] == ["created"]


def test_history_completes_a_named_version_with_its_label_and_changes() -> None:
    version = version_from_webhook("FILE_VERSION_UPDATE", stored("FILE_VERSION_UPDATE"))
    completed = with_history(version, HISTORY, COMPONENTS)
    assert completed.label == "Checkout v2"
    assert [c.name for c in completed.changes] == ["Chip", "Button"]
    assert completed.changes_known


def test_an_edit_becomes_the_saved_version_it_ended_in() -> None:
    edit = version_from_webhook("FILE_UPDATE", stored("FILE_UPDATE"))
    assert edit.reference == "update:22:2026-12-01T10:00:00Z"
    completed = with_history(edit, HISTORY, COMPONENTS)
    assert (completed.reference, completed.version_id) == ("version:1003", "1003")


def test_a_publish_keeps_the_items_figma_listed() -> None:
    publish = version_from_webhook("LIBRARY_PUBLISH", stored("LIBRARY_PUBLISH"))
    completed = with_history(publish, HISTORY, None)
    assert completed.changes == publish.changes
    assert completed.reference == publish.reference  # each publish is its own record
    assert completed.version_id == "1003"
    assert completed.label is None  # the last version's label does not name the publish


# --- the record -------------------------------------------------------------------------------


VERSION = DesignVersion(
    file_key=FILE_KEY,
    file_name="Checkout redesign",
    event_type="LIBRARY_PUBLISH",
    reference="publish:22:2026-12-01T10:00:00Z",
    description="New button states",
    author="Ada",
    changes=(
        ItemChange("component", "modified", "Button", "c-btn"),
        ItemChange("style", "deleted", "Shadow|Old", "s-old"),
    ),
)
LINKED = [LinkedIssue("jira", "OPS-4", "Restyle checkout", "https://x/browse/OPS-4", "To Do")]


def test_the_note_lists_the_changes_and_the_linked_issues_under_its_marker() -> None:
    note = issue_note(VERSION, LINKED)
    lines = note.splitlines()
    assert lines[0] == version_marker(VERSION)
    assert lines[1] == "### A library publish of Checkout redesign"
    assert "> New button states" in lines
    assert "**Changed:** 1 modified, 1 deleted" in lines
    assert "| deleted | style | Shadow\\|Old |" in lines  # a pipe cannot break the table
    assert "- [OPS-4](https://x/browse/OPS-4) Restyle checkout (To Do)" in lines


def test_a_note_says_when_the_changes_are_unknown() -> None:
    unknown = DesignVersion(FILE_KEY, "Checkout", "FILE_UPDATE", "update:1:2", changes_known=False)
    assert "Which components changed is not known" in issue_note(unknown)


def test_a_recorded_version_is_found_by_its_marker_only() -> None:
    assert is_recorded(VERSION, ["intro", issue_note(VERSION)])
    other = DesignVersion(FILE_KEY, "Checkout", "LIBRARY_PUBLISH", "publish:23:later")
    assert not is_recorded(other, ["intro", issue_note(VERSION)])


def test_the_file_label_fits_githubs_limit() -> None:
    assert file_label(FILE_KEY) == "figma:Fk3yCheckout"
    assert len(file_label("A" * 128)) == 50


def test_the_jira_query_refuses_what_is_not_a_file_key() -> None:
    with pytest.raises(ValueError, match="not a Figma file key"):
        jira_query("OPS", 'x" OR project = "SECRET')
    assert jira_query('O"PS', FILE_KEY).startswith('project = "O\\"PS"')


def test_jira_results_become_links() -> None:
    issues = [{"key": "OPS-4", "fields": {"summary": "Restyle", "status": {"name": "Done"}}}]
    assert linked_from_jira(issues, lambda key: f"https://jira/browse/{key}") == [
        LinkedIssue("jira", "OPS-4", "Restyle", "https://jira/browse/OPS-4", "Done")
    ]


def test_the_linear_filter_takes_a_team_key_or_id_and_refuses_what_is_not_a_file_key() -> None:
    wanted = linear_filter("ENG", FILE_KEY)
    assert wanted["team"] == {"or": [{"key": {"eq": "ENG"}}, {"id": {"eq": "ENG"}}]}
    assert {"description": {"containsIgnoreCase": FILE_KEY}} in wanted["or"]
    with pytest.raises(ValueError, match="not a Figma file key"):
        linear_filter("ENG", "a b")


def test_linear_results_become_links() -> None:
    issues = [{"identifier": "ENG-2", "title": "Restyle", "url": "u", "state": {"name": "Todo"}}]
    assert linked_from_linear(issues) == [LinkedIssue("linear", "ENG-2", "Restyle", "u", "Todo")]


# --- the announcement -------------------------------------------------------------------------


def test_the_finding_is_one_info_per_version() -> None:
    finding = design_finding(5, VERSION, LINKED, "https://github.com/acme/tokens/issues/1")
    assert (finding.kind, finding.severity) == ("productpilot.design.library_published", "info")
    assert finding.subject == (
        "Design update: a library publish of Checkout redesign (1 modified, 1 deleted)"
    )
    assert finding.text == (
        "Ada made a library publish of Checkout redesign: 1 modified, 1 deleted changed. "
        "Button, Shadow|Old. Mentioned by OPS-4."
    )
    assert finding.dedupe_key == f"design:{FILE_KEY}:{VERSION.reference}"
    assert finding.link == "https://github.com/acme/tokens/issues/1"


@pytest.mark.parametrize(
    ("event_type", "changes", "always", "recorded"),
    [
        ("LIBRARY_PUBLISH", (), False, True),
        ("FILE_VERSION_UPDATE", (), False, True),
        ("FILE_UPDATE", (), False, False),
        ("FILE_UPDATE", VERSION.changes, False, True),
        ("FILE_UPDATE", (), True, True),
    ],
)
def test_plain_edits_are_recorded_only_when_they_changed_components(
    event_type: str, changes: tuple[ItemChange, ...], always: bool, recorded: bool
) -> None:
    version = DesignVersion(FILE_KEY, "Checkout", event_type, "r", changes=changes)
    settings = DesignSystemSettings(announce_file_updates=always)
    assert should_record(version, settings) is recorded
