"""Design-system automation: a Figma file-update or library-publish webhook becomes a design
version record, the note that keeps the design-tokens repository in step, and a finding.

Figma tells ProductPilot three things about a design file: ``LIBRARY_PUBLISH`` (the library
was published; the payload lists the created, modified and deleted components, styles and
variables), ``FILE_VERSION_UPDATE`` (someone saved a named version) and ``FILE_UPDATE`` (the
file was edited, sent after 30 minutes of inactivity). Each becomes a :class:`DesignVersion`:
which file, which version, who, and the changed library items. For the two events whose
payload lists no items, :func:`components_changed_since` finds the published components
updated since the version before.

The version of record is a comment on one GitHub issue per Figma file in the configured
design-tokens repository (:func:`issue_note`, :func:`version_marker`): engineers follow the
design there, the marker makes a redelivered webhook a no-op, and no ProductPilot table
pretends to be something it is not (docs/quality.md). People hear about asset changes
through the notification router (:func:`design_finding`).

Example:
    >>> version = version_from_webhook("LIBRARY_PUBLISH", {
    ...     "file_key": "k1", "file_name": "Tokens", "timestamp": "2026-08-01T10:00:00Z",
    ...     "webhook_id": "9", "modified_components": [{"key": "c1", "name": "Button"}]})
    >>> version.changes[0].name, version.changes[0].change, version.reference
    ('Button', 'modified', 'publish:9:2026-08-01T10:00:00Z')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from productpilot.notify.message import Finding
from productpilot.quality.dispatch import TestDispatchSettings

#: Finding kinds (and what routes match on).
LIBRARY_PUBLISHED = "productpilot.design.library_published"
VERSION_RECORDED = "productpilot.design.version_recorded"
#: The label of every design-tokens issue ProductPilot keeps, and the prefix of the one
#: naming its file (GitHub limits a label to 50 characters).
DESIGN_LABEL = "design-system"
FILE_LABEL_PREFIX = "figma:"
MAX_LABEL_LENGTH = 50
#: Items listed per change in a note or a finding; the rest are counted.
MAX_LISTED = 50
#: Figma's file keys: letters and digits (the URL segment after /design/ or /file/).
FILE_KEY = re.compile(r"^[A-Za-z0-9]{6,128}$")

Change = Literal["created", "modified", "deleted"]
ItemKind = Literal["component", "style", "variable"]
CHANGES: tuple[Change, ...] = ("created", "modified", "deleted")
ITEM_KINDS: tuple[ItemKind, ...] = ("component", "style", "variable")
HANDLED_EVENT_TYPES = frozenset({"LIBRARY_PUBLISH", "FILE_VERSION_UPDATE", "FILE_UPDATE"})


# --- configuration ----------------------------------------------------------------------------


class DesignSystemSettings(BaseModel):
    """Where a product's design versions are recorded (``design``).

    Attributes:
        design_tokens_repository: ``owner/name`` of the repository whose issues record each
            Figma file's versions (reached with the product's GitHub block). Without it,
            versions are announced and shown as artifacts only.
        files: The Figma file keys to follow (default: ``integrations.figma_files``, or
            every file the product's Figma webhook reports).
        issue_labels: Labels of the design-tokens issues, besides ``figma:<file key>``.
        announce_file_updates: Record and announce every plain edit (``FILE_UPDATE``); by
            default only edits that changed a published component are.
        search_trackers: Look for the issues of the product's Jira project and Linear team
            that mention the file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    design_tokens_repository: str | None = Field(default=None, pattern=r"^[\w.-]+/[\w.-]+$")
    files: list[str] = Field(default_factory=list)
    issue_labels: list[str] = Field(default_factory=lambda: [DESIGN_LABEL])
    announce_file_updates: bool = False
    search_trackers: bool = True

    def watches(self, file_key: str, configured_files: Sequence[str] = ()) -> bool:
        """Whether versions of ``file_key`` are recorded (``configured_files``: the
        product's ``integrations.figma_files``)."""
        wanted = self.files or list(configured_files)
        return not wanted or file_key in wanted


class DesignAndTestingSettings(BaseModel):
    """The ``design_and_testing`` section: design-system automation and the GitHub Actions
    suites dispatched on labelled pull requests and deployments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    design: DesignSystemSettings = Field(default_factory=DesignSystemSettings)
    test_dispatch: TestDispatchSettings = Field(default_factory=TestDispatchSettings)


# --- the version ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemChange:
    """One library item a version created, modified or deleted."""

    kind: ItemKind
    change: Change
    name: str
    key: str = ""


@dataclass(frozen=True)
class DesignVersion:
    """A new version of a Figma file, as recorded.

    Attributes:
        file_key: The file's key.
        file_name: Its name when the event was sent.
        event_type: ``LIBRARY_PUBLISH``, ``FILE_VERSION_UPDATE`` or ``FILE_UPDATE``.
        reference: What identifies this version in the record, so a redelivery (or a second
            edit event for the same saved version) is recorded once: ``version:<id>`` when
            the version is known, else the event's own identity.
        version_id: Figma's version id, when known (from the event or the file's history).
        label: The named version's label, when it has one.
        description: What the designer wrote (the publish or version description).
        created_at: When the version was made (ISO 8601), or the event's timestamp.
        author: Who made it (Figma handle).
        changes: The created, modified and deleted library items.
        changes_known: ``False`` when nothing told which items changed (a plain edit read
            without Figma credentials).
    """

    file_key: str
    file_name: str
    event_type: str
    reference: str
    version_id: str | None = None
    label: str | None = None
    description: str = ""
    created_at: str | None = None
    author: str | None = None
    changes: tuple[ItemChange, ...] = ()
    changes_known: bool = True

    @property
    def title(self) -> str:
        """``Checkout v2 of Tokens``, ``version 123 of Tokens`` or ``an edit of Tokens``."""
        if self.label:
            return f"{self.label} of {self.file_name}"
        if self.event_type == "LIBRARY_PUBLISH":
            return f"a library publish of {self.file_name}"
        if self.version_id:
            return f"version {self.version_id} of {self.file_name}"
        return f"an edit of {self.file_name}"

    def counts(self) -> dict[str, int]:
        """Changed items per change: ``{"created": 1, "modified": 3, "deleted": 0}``."""
        return {change: sum(1 for c in self.changes if c.change == change) for change in CHANGES}

    def to_dict(self) -> dict[str, Any]:
        return {
            "file_key": self.file_key,
            "file_name": self.file_name,
            "event_type": self.event_type,
            "reference": self.reference,
            "version_id": self.version_id,
            "label": self.label,
            "description": self.description,
            "created_at": self.created_at,
            "author": self.author,
            "changes": [vars(change) for change in self.changes],
            "changes_known": self.changes_known,
        }


def _text(value: Any, limit: int = 2000) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _items(payload: Mapping[str, Any]) -> tuple[ItemChange, ...]:
    """The library items a ``LIBRARY_PUBLISH`` payload lists, by kind then change."""
    found = []
    for kind in ITEM_KINDS:
        for change in CHANGES:
            listed = payload.get(f"{change}_{kind}s")
            for item in listed if isinstance(listed, list) else []:
                if isinstance(item, dict) and _text(item.get("name"), 500):
                    key = _text(item.get("key"), 200) or ""
                    found.append(ItemChange(kind, change, item["name"][:500], key))
    return tuple(found)


def version_from_webhook(event_type: str, payload: Mapping[str, Any]) -> DesignVersion:
    """The version a Figma webhook payload (as stored, passcode removed) announces.

    Raises:
        ValueError: an event type other than :data:`HANDLED_EVENT_TYPES`, or a payload
            without a file key.
    """
    if event_type not in HANDLED_EVENT_TYPES:
        raise ValueError(f"{event_type!r} events announce no design version")
    file_key = _text(payload.get("file_key"), 128)
    if file_key is None:
        raise ValueError(f"the {event_type} payload names no file")
    version_id = _text(payload.get("version_id"), 100)
    identity = f"{payload.get('webhook_id', '')}:{payload.get('timestamp', '')}"
    if version_id:
        reference = f"version:{version_id}"
    elif event_type == "LIBRARY_PUBLISH":
        reference = f"publish:{identity}"
    else:
        reference = f"update:{identity}"
    triggered_by = payload.get("triggered_by")
    is_publish = event_type == "LIBRARY_PUBLISH"
    return DesignVersion(
        file_key=file_key,
        file_name=_text(payload.get("file_name"), 500) or file_key,
        event_type=event_type,
        reference=reference,
        version_id=version_id,
        label=_text(payload.get("label"), 200),
        description=_text(payload.get("description")) or "",
        created_at=_text(payload.get("created_at"), 40) or _text(payload.get("timestamp"), 40),
        author=_text(triggered_by.get("handle"), 200) if isinstance(triggered_by, dict) else None,
        changes=_items(payload) if is_publish else (),
        # A publish lists its items; a version or an edit needs the file's components.
        changes_known=is_publish,
    )


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def components_changed_since(
    components: Iterable[Mapping[str, Any]], since: datetime | None
) -> tuple[ItemChange, ...]:
    """The published components (``GET /v1/files/:key/components``) created or updated
    after ``since``, by name; every component when ``since`` is unknown (the first version).

    Deleted components are not in that list: only a library publish tells them.
    """
    changed = []
    for component in components:
        updated = _instant(component.get("updated_at"))
        created = _instant(component.get("created_at"))
        name = _text(component.get("name"), 500)
        if name is None:
            continue
        if since is None or (created is not None and created > since):
            changed.append(ItemChange("component", "created", name, str(component.get("key", ""))))
        elif updated is not None and updated > since:
            changed.append(ItemChange("component", "modified", name, str(component.get("key", ""))))
    return tuple(sorted(changed, key=lambda c: (CHANGES.index(c.change), c.name)))


def with_history(
    version: DesignVersion,
    versions: Sequence[Mapping[str, Any]],
    components: Sequence[Mapping[str, Any]] | None,
) -> DesignVersion:
    """``version`` completed from the file's history (``GET /v1/files/:key/versions``,
    newest first) and its published components: the version id and label of an edit or a
    publish, and, for a version or an edit, the components changed since the version
    before it.
    """
    current_index = 0
    if version.version_id:
        current_index = next(
            (i for i, v in enumerate(versions) if v.get("id") == version.version_id), 0
        )
    current = versions[current_index] if versions else None
    previous = versions[current_index + 1] if len(versions) > current_index + 1 else None
    updates: dict[str, Any] = {}
    if current is not None and not version.version_id:
        updates["version_id"] = _text(current.get("id"), 100)
        if version.event_type == "FILE_UPDATE" and updates["version_id"]:
            # Figma sends FILE_UPDATE after each editing session; the saved version they
            # end in is the version, so two events for one version are one record.
            updates["reference"] = f"version:{updates['version_id']}"
    if current is not None and not version.label and version.event_type != "LIBRARY_PUBLISH":
        # A publish is not a saved version: the last version's label is not its name.
        updates["label"] = _text(current.get("label"), 200)
    if components is not None and version.event_type != "LIBRARY_PUBLISH":
        since = _instant(previous.get("created_at")) if previous else None
        updates["changes"] = components_changed_since(components, since)
        updates["changes_known"] = True
    return replace(version, **updates)


# --- the record -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkedIssue:
    """An issue of the team's tracker that mentions the Figma file."""

    tracker: str
    key: str
    title: str
    url: str
    status: str = ""


def figma_url(file_key: str) -> str:
    """Where people open the file."""
    return f"https://www.figma.com/design/{file_key}"


def file_label(file_key: str) -> str:
    """The label of the file's design-tokens issue: ``figma:<key>``, within GitHub's 50."""
    return f"{FILE_LABEL_PREFIX}{file_key}"[:MAX_LABEL_LENGTH]


def version_marker(version: DesignVersion) -> str:
    """The hidden line that identifies a recorded version in the issue (what a redelivery
    looks for)."""
    return f"<!-- productpilot:design-version {version.file_key} {version.reference} -->"


def is_recorded(version: DesignVersion, texts: Iterable[str]) -> bool:
    """Whether any of ``texts`` (the issue's body and comments) records ``version``."""
    marker = version_marker(version)
    return any(marker in text for text in texts)


def jira_query(project: str, file_key: str) -> str:
    """The JQL of the project's issues mentioning the file (its key is in every link to
    it), newest first.

    Example:
        >>> jira_query("OPS", "Fk3yCheckout")
        'project = "OPS" AND text ~ "Fk3yCheckout" ORDER BY created DESC'
    """
    if not FILE_KEY.match(file_key):
        raise ValueError(f"not a Figma file key: {file_key!r}")
    quoted = project.replace("\\", "\\\\").replace('"', '\\"')
    return f'project = "{quoted}" AND text ~ "{file_key}" ORDER BY created DESC'


def linked_from_jira(issues: Iterable[Mapping[str, Any]], browse_url: Any) -> list[LinkedIssue]:
    """Jira search results (``key``, ``fields.summary``, ``fields.status.name``) as links;
    ``browse_url(key)`` gives each one's address."""
    linked = []
    for issue in issues:
        fields = issue.get("fields") if isinstance(issue.get("fields"), dict) else {}
        status = fields.get("status") if isinstance(fields.get("status"), dict) else {}
        linked.append(
            LinkedIssue(
                tracker="jira",
                key=str(issue.get("key", "")),
                title=str(fields.get("summary") or ""),
                url=browse_url(str(issue.get("key", ""))),
                status=str(status.get("name") or ""),
            )
        )
    return linked


def linear_filter(team: str, file_key: str) -> dict[str, Any]:
    """The Linear ``IssueFilter`` of the team's issues mentioning the file in their title or
    description; ``team`` is its key or its id (as ``integrations.linear_team`` may be).

    Example:
        >>> linear_filter("ENG", "Fk3yCheckout")["or"][0]
        {'title': {'containsIgnoreCase': 'Fk3yCheckout'}}
    """
    if not FILE_KEY.match(file_key):
        raise ValueError(f"not a Figma file key: {file_key!r}")
    return {
        "team": {"or": [{"key": {"eq": team}}, {"id": {"eq": team}}]},
        "or": [
            {"title": {"containsIgnoreCase": file_key}},
            {"description": {"containsIgnoreCase": file_key}},
        ],
    }


def linked_from_linear(issues: Iterable[Mapping[str, Any]]) -> list[LinkedIssue]:
    """Linear issues (``identifier``, ``title``, ``url``, ``state.name``) as links."""
    return [
        LinkedIssue(
            tracker="linear",
            key=str(issue.get("identifier", "")),
            title=str(issue.get("title") or ""),
            url=str(issue.get("url") or ""),
            status=str((issue.get("state") or {}).get("name") or ""),
        )
        for issue in issues
    ]


def _changes_markdown(version: DesignVersion) -> list[str]:
    if not version.changes_known:
        return ["Which components changed is not known: the product has no Figma credentials."]
    if not version.changes:
        return ["No published component, style or variable changed."]
    lines = ["| change | kind | name |", "|---|---|---|"]
    for change in version.changes[:MAX_LISTED]:
        name = change.name.replace("|", "\\|")
        lines.append(f"| {change.change} | {change.kind} | {name} |")
    if len(version.changes) > MAX_LISTED:
        lines.append(f"\nand {len(version.changes) - MAX_LISTED} more.")
    return lines


def issue_title(version: DesignVersion) -> str:
    return f"Design system: {version.file_name} ({version.file_key})"


def issue_note(version: DesignVersion, linked: Sequence[LinkedIssue] = ()) -> str:
    """The Markdown that records ``version``, a comment on the file's design-tokens issue:
    the changed components and the tracker issues that mention the file.

    Example:
        >>> note = issue_note(DesignVersion("k1", "Tokens", "FILE_VERSION_UPDATE",
        ...     "version:7", version_id="7", label="v2", author="Ada"))
        >>> note.splitlines()[1]
        '### v2 of Tokens'
    """
    counts = version.counts()
    lines = [
        version_marker(version),
        # A label is the designer's own spelling; the generated titles start a sentence.
        f"### {version.title if version.label else version.title[:1].upper() + version.title[1:]}",
        "",
        f"[Open in Figma]({figma_url(version.file_key)})"
        + (f" · version `{version.version_id}`" if version.version_id else "")
        + (f" · by {version.author}" if version.author else "")
        + (f" · {version.created_at}" if version.created_at else ""),
    ]
    if version.description:
        lines += ["", *(f"> {line}" for line in version.description.splitlines())]
    if version.changes:
        summary = ", ".join(f"{counts[change]} {change}" for change in CHANGES if counts[change])
        lines += ["", f"**Changed:** {summary}"]
    lines += ["", *_changes_markdown(version)]
    if linked:
        lines += ["", "**Issues that mention this file:**"]
        lines += [
            f"- [{issue.key}]({issue.url}) {issue.title}"
            + (f" ({issue.status})" if issue.status else "")
            for issue in linked
        ]
    return "\n".join(lines)


def issue_body(version: DesignVersion) -> str:
    """The body of a file's design-tokens issue; each version is a comment on it."""
    return (
        f"ProductPilot records each new version of the Figma file "
        f"[{version.file_name}]({figma_url(version.file_key)}) here, one comment per "
        "version with the library components it changed, so that the design tokens in this "
        "repository can follow."
    )


def should_record(version: DesignVersion, settings: DesignSystemSettings) -> bool:
    """Publishes and named versions are recorded (and announced); a plain edit only when it
    changed a published component, or when ``announce_file_updates`` asks for every edit:
    Figma sends ``FILE_UPDATE`` after each editing session, most of which change nothing
    the design tokens follow."""
    if version.event_type != "FILE_UPDATE":
        return True
    return settings.announce_file_updates or bool(version.changes)


def design_finding(
    product_id: int,
    version: DesignVersion,
    linked: Sequence[LinkedIssue] = (),
    record_url: str | None = None,
) -> Finding:
    """The announcement of ``version`` for the notification router (``info``; one per
    version, whichever way it was delivered)."""
    counts = version.counts()
    changed = ", ".join(f"{counts[c]} {c}" for c in CHANGES if counts[c]) or "no library items"
    names = ", ".join(change.name for change in version.changes[:10])
    more = f" and {len(version.changes) - 10} more" if len(version.changes) > 10 else ""
    text = f"{version.author or 'Someone'} made {version.title}: {changed} changed."
    if names:
        text += f" {names}{more}."
    if linked:
        text += " Mentioned by " + ", ".join(issue.key for issue in linked) + "."
    facts = [("file", version.file_name), ("changed", changed)]
    if version.version_id:
        facts.append(("version", version.version_id))
    if record_url:
        facts.append(("recorded in", record_url))
    return Finding(
        kind=LIBRARY_PUBLISHED if version.event_type == "LIBRARY_PUBLISH" else VERSION_RECORDED,
        severity="info",
        product_id=product_id,
        subject=f"Design update: {version.title} ({changed})",
        text=text,
        dedupe_key=f"design:{version.file_key}:{version.reference}",
        facts=tuple(facts),
        link=record_url or figma_url(version.file_key),
    )
