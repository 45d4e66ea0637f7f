"""Specification of release notes: changes from GitHub's JSON, sections by label, audience
variants, and the Keep a Changelog entry put on top of an existing changelog."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime

import pytest

from productpilot.launch.config import Audience, NotesSection, ReleaseSettings
from productpilot.launch.notes import (
    CHANGELOG_HEADER,
    Change,
    build_notes,
    changelog_entry,
    collect_changes,
    prepend_changelog,
    render_notes,
)
from tests.integrations.shared_data import GITHUB_WEBHOOKS, load, shared_dir

DAY = date(2026, 12, 1)
SETTINGS = ReleaseSettings()


def _pull(number: int, title: str, *labels: str, merged_at: str = "2026-11-20T10:00:00Z"):
    return {
        "number": number,
        "title": title,
        "labels": [{"name": label} for label in labels],
        "user": {"login": "ana"},
        "html_url": f"https://github.com/acme/shop/pull/{number}",
        "merged_at": merged_at,
    }


def _changes(*pulls: dict) -> list[Change]:
    return collect_changes(pulls, [])


# --- changes from GitHub's JSON -----------------------------------------------------------


def test_a_real_merged_pull_request_payload_is_a_change_with_its_labels() -> None:
    folder = shared_dir(GITHUB_WEBHOOKS)
    pull = copy.deepcopy(load(folder / "pull_request" / "closed.payload.json")["pull_request"])
    # The recorded payload was closed without merging; merged, it carries merged_at.
    assert collect_changes([pull], []) == []
    pull.update(merged=True, merged_at="2019-05-15T15:21:18Z")

    [change] = collect_changes([pull], [])

    assert change.kind == "pull_request"
    assert change.labels == ("bug",)
    assert change.number == pull["number"]
    assert change.author == pull["user"]["login"]
    assert change.done_at == datetime(2019, 5, 15, 15, 21, 18, tzinfo=UTC)
    notes = build_notes([change], SETTINGS, "1.0.0", DAY)
    assert [title for title, _ in notes.sections] == ["Fixes"]


def test_a_real_issue_payload_counts_only_once_closed_as_done() -> None:
    folder = shared_dir(GITHUB_WEBHOOKS)
    issue = copy.deepcopy(load(folder / "issues" / "opened.payload.json")["issue"])
    assert collect_changes([], [issue]) == []  # still open
    issue.update(state="closed", state_reason="completed", closed_at="2026-11-20T10:00:00Z")
    [change] = collect_changes([], [issue])
    assert (change.kind, change.labels) == ("issue", ("bug",))
    issue["state_reason"] = "not_planned"
    assert collect_changes([], [issue]) == []


def test_hook_dicts_with_label_names_read_the_same_as_github_json() -> None:
    hook_shape = {
        "number": 4,
        "title": "Export",
        "labels": ["enhancement"],
        "user": "ana",
        "html_url": "https://github.com/acme/shop/pull/4",
        "merged_at": "2026-11-20T10:00:00+00:00",
    }
    assert Change.from_github(hook_shape) == Change.from_github(_pull(4, "Export", "enhancement"))


def test_only_changes_inside_the_window_are_collected_oldest_first() -> None:
    changes = collect_changes(
        [
            _pull(1, "Before", merged_at="2026-10-31T23:59:59Z"),
            _pull(3, "Later", merged_at="2026-11-20T00:00:00Z"),
            _pull(2, "First", merged_at="2026-11-01T00:00:00Z"),
            {**_pull(5, "Unmerged"), "merged_at": None},
        ],
        [],
        since=datetime(2026, 11, 1, tzinfo=UTC),
        until=datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert [c.number for c in changes] == [2, 3]


def test_pull_requests_listed_among_issues_are_not_counted_twice() -> None:
    pull = _pull(9, "Export", "enhancement")
    as_issue = {**pull, "state": "closed", "closed_at": pull["merged_at"], "pull_request": {}}
    assert [c.number for c in collect_changes([pull], [as_issue])] == [9]


# --- sections -----------------------------------------------------------------------------


def test_labels_pick_sections_in_the_configured_order_and_the_rest_is_other() -> None:
    notes = build_notes(
        _changes(
            _pull(1, "Fix crash", "Bug"),
            _pull(2, "Export", "enhancement", "bug"),  # first matching section wins
            _pull(3, "Unlabelled"),
            _pull(4, "Internal rename", "skip-changelog", "feature"),
            _pull(5, "CVE fix", "security"),
        ),
        SETTINGS,
        "v1.4.0",
        DAY,
    )
    assert notes.version == "1.4.0"
    assert [(title, [c.number for c in items]) for title, items in notes.sections] == [
        ("Features", [2]),
        ("Fixes", [1]),
        ("Security", [5]),
        ("Other", [3]),
    ]
    assert notes.excluded == 1
    assert notes.summary() == "Features 1, Fixes 1, Security 1, Other 1"


def test_a_configured_mapping_replaces_the_defaults() -> None:
    settings = ReleaseSettings(
        sections=[NotesSection(title="New", labels=["kind/feature"])],
        other_section="Misc",
        exclude_labels=["internal"],
    )
    notes = build_notes(
        _changes(_pull(1, "A", "kind/feature"), _pull(2, "B", "bug"), _pull(3, "C", "internal")),
        settings,
        "2.0",
        DAY,
    )
    assert [(t, [c.number for c in items]) for t, items in notes.sections] == [
        ("New", [1]),
        ("Misc", [2]),
    ]


def test_a_section_listed_twice_or_an_audience_naming_an_unknown_one_is_refused() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        ReleaseSettings(sections=[NotesSection(title="Other", labels=["x"])])
    with pytest.raises(ValueError, match="unknown sections"):
        ReleaseSettings(audiences=[Audience(name="sales", sections=["Deals"])])


# --- audiences ----------------------------------------------------------------------------


def test_customers_read_user_facing_sections_without_links_and_the_team_reads_everything() -> None:
    notes = build_notes(
        _changes(_pull(1, "Export", "feature"), _pull(2, "Bump deps", "dependencies")),
        SETTINGS,
        "1.0.0",
        DAY,
    )
    customers, internal = SETTINGS.audiences

    assert render_notes(notes, SETTINGS, customers, "Shop") == (
        "# Shop 1.0.0 (2026-12-01)\n\n## Features\n\n- Export\n"
    )
    assert render_notes(notes, SETTINGS, internal, "Shop") == (
        "# Shop 1.0.0 (2026-12-01)\n\n"
        "## Features\n\n- Export ([#1](https://github.com/acme/shop/pull/1) by @ana)\n\n"
        "## Maintenance\n\n- Bump deps ([#2](https://github.com/acme/shop/pull/2) by @ana)\n"
    )


def test_an_audience_with_nothing_for_it_is_told_so() -> None:
    notes = build_notes(_changes(_pull(2, "Bump deps", "ci")), SETTINGS, "1.0.1", DAY)
    text = render_notes(notes, SETTINGS, SETTINGS.audiences[0])
    assert "No changes of note in this release." in text


def test_a_title_with_newlines_stays_on_its_line() -> None:
    notes = build_notes(_changes(_pull(1, "Export\n\nto CSV", "feature")), SETTINGS, "1", DAY)
    assert "- Export to CSV (#1)" in changelog_entry(notes)


# --- the changelog ------------------------------------------------------------------------


def test_a_new_changelog_gets_the_keep_a_changelog_header() -> None:
    notes = build_notes(_changes(_pull(1, "Export", "feature")), SETTINGS, "1.0.0", DAY)
    text = prepend_changelog("", changelog_entry(notes))
    assert text == CHANGELOG_HEADER + "\n## [1.0.0] - 2026-12-01\n\n### Features\n\n- Export (#1)\n"


def test_an_entry_goes_below_unreleased_and_above_the_newest_release() -> None:
    existing = (
        "# Changelog\n\n## [Unreleased]\n\n- Work in progress\n\n"
        "## [1.0.0] - 2026-11-01\n\n### Features\n\n- First (#1)\n"
    )
    notes = build_notes(_changes(_pull(2, "Second", "feature")), SETTINGS, "1.1.0", DAY)

    text = prepend_changelog(existing, changelog_entry(notes))

    assert text.index("## [Unreleased]") < text.index("## [1.1.0]") < text.index("## [1.0.0]")
    assert "- Work in progress" in text
    assert "- First (#1)" in text


def test_releasing_the_same_version_again_replaces_its_entry() -> None:
    first = build_notes(_changes(_pull(1, "Old text", "feature")), SETTINGS, "1.0.0", DAY)
    again = build_notes(_changes(_pull(1, "New text", "feature")), SETTINGS, "1.0.0", DAY)
    text = prepend_changelog(prepend_changelog("", changelog_entry(first)), changelog_entry(again))
    assert text.count("## [1.0.0]") == 1
    assert "New text" in text
    assert "Old text" not in text
