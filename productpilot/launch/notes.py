"""Release notes and the changelog, from the pull requests merged and issues closed since the
last release.

Changes are sorted into sections by their labels (:class:`~productpilot.launch.config.
ReleaseSettings` maps labels to sections, first match wins; unclaimed changes go under
``Other``); changes labelled ``skip-changelog`` and the like stay out. Each audience reads its
own variant: customers the user-facing sections without links, the team every section with
the pull request links. The changelog entry follows `Keep a Changelog
<https://keepachangelog.com/en/1.1.0/>`_ and is put on top of an existing ``CHANGELOG.md``
(below its ``[Unreleased]`` section), replacing the entry of the same version on a re-run.

Example:
    >>> from productpilot.launch.config import ReleaseSettings
    >>> changes = [
    ...     Change(12, "Export to CSV", "pull_request", ("enhancement",),
    ...            "https://github.com/acme/shop/pull/12"),
    ...     Change(13, "Bump ruff", "pull_request", ("dependencies",),
    ...            "https://github.com/acme/shop/pull/13"),
    ... ]
    >>> notes = build_notes(changes, ReleaseSettings(), "1.2.0", date(2026, 12, 1))
    >>> [(title, [c.number for c in items]) for title, items in notes.sections]
    [('Features', [12]), ('Maintenance', [13])]
    >>> print(changelog_entry(notes))
    ## [1.2.0] - 2026-12-01
    <BLANKLINE>
    ### Features
    <BLANKLINE>
    - Export to CSV (#12)
    <BLANKLINE>
    ### Maintenance
    <BLANKLINE>
    - Bump ruff (#13)
    <BLANKLINE>
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from productpilot.launch.config import Audience, ReleaseSettings

ChangeKind = Literal["pull_request", "issue"]
#: An issue closed for one of these reasons was not done: it is no change.
NOT_DONE_REASONS = frozenset({"not_planned", "duplicate"})
CHANGELOG_HEADER = (
    "# Changelog\n\n"
    "All notable changes to this project are documented in this file.\n\n"
    "The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/).\n"
)
_VERSION_HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\]", re.MULTILINE)


@dataclass(frozen=True)
class Change:
    """One merged pull request or closed issue.

    Attributes:
        number: Its number in the repository.
        title: Its title, the line the notes show.
        kind: ``pull_request`` or ``issue``.
        labels: Label names.
        url: Its page on GitHub.
        author: Who opened it (a login), if known.
        done_at: When it was merged or closed.
    """

    number: int
    title: str
    kind: ChangeKind
    labels: tuple[str, ...] = ()
    url: str = ""
    author: str | None = None
    done_at: datetime | None = None

    @classmethod
    def from_github(cls, item: Mapping[str, Any]) -> Change:
        """A change from GitHub's JSON: a REST or webhook pull request or issue object
        (labels as objects, ``user`` as an object) or a :class:`~integrations.github.client.
        GitHubHook` dict (labels and user as names).

        Example:
            >>> Change.from_github({"number": 7, "title": "Fix login",
            ...     "labels": [{"name": "bug"}], "user": {"login": "ana"},
            ...     "html_url": "https://github.com/acme/shop/pull/7",
            ...     "merged_at": "2026-11-30T10:00:00Z"}).labels
            ('bug',)
        """
        labels = tuple(
            label if isinstance(label, str) else str(label["name"])
            for label in item.get("labels") or ()
        )
        user = item.get("user")
        author = user.get("login") if isinstance(user, Mapping) else user
        url = str(item.get("html_url") or "")
        is_pull = "merged_at" in item or "pull_request" in item or "/pull/" in url
        done = item.get("merged_at") if is_pull else item.get("closed_at")
        return cls(
            number=int(item["number"]),
            title=str(item.get("title") or "").strip(),
            kind="pull_request" if is_pull else "issue",
            labels=labels,
            url=url,
            author=author,
            done_at=_instant(done),
        )


def collect_changes(
    pull_requests: Iterable[Mapping[str, Any]],
    issues: Iterable[Mapping[str, Any]],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Change]:
    """The changes of a release: pull requests merged and issues closed as done within
    ``[since, until)``, oldest first.

    Pull requests closed without merging, issues closed as not planned or duplicates, and
    pull requests listed among the issues are left out.

    Example:
        >>> collect_changes(
        ...     [{"number": 1, "title": "A", "merged_at": None, "html_url": "u/pull/1"}],
        ...     [{"number": 2, "title": "B", "state": "closed", "state_reason": "completed",
        ...       "closed_at": "2026-11-30T10:00:00Z", "html_url": "u/issues/2"}],
        ... )[0].number
        2
    """
    changes: dict[tuple[str, int], Change] = {}
    for item in pull_requests:
        if not item.get("merged_at") and not item.get("merged"):
            continue
        change = Change.from_github(item)
        if _within(change.done_at, since, until):
            changes[("pull_request", change.number)] = change
    for item in issues:
        change = Change.from_github(item)
        if change.kind != "issue" or item.get("state") != "closed":
            continue
        if item.get("state_reason") in NOT_DONE_REASONS:
            continue
        if _within(change.done_at, since, until):
            changes[("issue", change.number)] = change
    return sorted(
        changes.values(),
        key=lambda c: (c.done_at.timestamp() if c.done_at else 0.0, c.kind, c.number),
    )


@dataclass(frozen=True)
class ReleaseNotes:
    """A release's changes by section, in the configured section order.

    Attributes:
        version: The release's version (``1.2.0``; a leading ``v`` is dropped).
        day: The release date.
        sections: ``(title, changes)`` pairs, empty sections left out.
        excluded: How many changes carried an excluded label.
    """

    version: str
    day: date
    sections: tuple[tuple[str, tuple[Change, ...]], ...]
    excluded: int = 0

    @property
    def changes(self) -> list[Change]:
        return [change for _title, items in self.sections for change in items]

    def summary(self, titles: Iterable[str] | None = None) -> str:
        """Counts per section, e.g. ``2 features, 1 fix``-style: ``Features 2, Fixes 1``."""
        wanted = set(titles) if titles is not None else None
        parts = [
            f"{title} {len(items)}"
            for title, items in self.sections
            if wanted is None or title in wanted
        ]
        return ", ".join(parts) or "no changes"


def build_notes(
    changes: Iterable[Change], settings: ReleaseSettings, version: str, day: date
) -> ReleaseNotes:
    """Sort ``changes`` into the sections ``settings`` defines."""
    grouped: dict[str, list[Change]] = {}
    excluded = 0
    for change in changes:
        if settings.is_excluded(change.labels):
            excluded += 1
            continue
        grouped.setdefault(settings.section_for(change.labels), []).append(change)
    order = [section.title for section in settings.sections] + [settings.other_section]
    return ReleaseNotes(
        version=plain_version(version),
        day=day,
        sections=tuple((title, tuple(grouped[title])) for title in order if title in grouped),
        excluded=excluded,
    )


def render_notes(
    notes: ReleaseNotes, settings: ReleaseSettings, audience: Audience, product: str = ""
) -> str:
    """The notes as ``audience`` reads them, in Markdown.

    Example:
        >>> from productpilot.launch.config import ReleaseSettings
        >>> settings = ReleaseSettings()
        >>> notes = build_notes([Change(3, "Faster search", "pull_request", ("perf",),
        ...                            "https://github.com/acme/shop/pull/3"),
        ...                     Change(4, "Pin CI", "pull_request", ("ci",), "")],
        ...                    settings, "v2.0.0", date(2026, 12, 1))
        >>> print(render_notes(notes, settings, settings.audiences[0], "Shop"))
        # Shop 2.0.0 (2026-12-01)
        <BLANKLINE>
        ## Performance
        <BLANKLINE>
        - Faster search
        <BLANKLINE>
    """
    titles = settings.sections_for(audience)
    heading = f"{product} {notes.version}".strip()
    lines = [f"# {heading} ({notes.day.isoformat()})", ""]
    shown = [(title, items) for title, items in notes.sections if title in titles]
    if not shown:
        lines += ["No changes of note in this release.", ""]
    for title, items in shown:
        lines += [f"## {title}", ""]
        lines += [_line(change, links=audience.links) for change in items]
        lines.append("")
    return "\n".join(lines)


def changelog_entry(notes: ReleaseNotes) -> str:
    """The Keep a Changelog entry of the release: every section, with numbers."""
    lines = [f"## [{notes.version}] - {notes.day.isoformat()}", ""]
    if not notes.sections:
        lines += ["No changes of note.", ""]
    for title, items in notes.sections:
        lines += [f"### {title}", ""]
        lines += [f"- {_escaped(change.title)} (#{change.number})" for change in items]
        lines.append("")
    return "\n".join(lines)


def prepend_changelog(existing: str, entry: str) -> str:
    """``existing`` (a CHANGELOG.md, or ``""``) with ``entry`` as its newest release.

    The entry goes below the title and the ``[Unreleased]`` section and above the newest
    release; an entry of the same version is replaced, so running a release twice leaves
    one entry.

    Example:
        >>> text = prepend_changelog("", "## [1.0.0] - 2026-11-01\\n\\n- A (#1)\\n")
        >>> text = prepend_changelog(text, "## [1.1.0] - 2026-12-01\\n\\n- B (#2)\\n")
        >>> [m.group("version") for m in _VERSION_HEADING.finditer(text)]
        ['1.1.0', '1.0.0']
    """
    found = _VERSION_HEADING.match(entry)
    if found is None:
        raise ValueError("a changelog entry starts with '## [<version>]'")
    version = found.group("version")
    text = existing if existing.strip() else CHANGELOG_HEADER
    text = _without_version(text, version)
    for heading in _VERSION_HEADING.finditer(text):
        if heading.group("version").lower() != "unreleased":
            before, after = text[: heading.start()], text[heading.start() :]
            return before.rstrip("\n") + "\n\n" + entry.rstrip("\n") + "\n\n" + after
    return text.rstrip("\n") + "\n\n" + entry.rstrip("\n") + "\n"


def plain_version(version: str) -> str:
    """``v1.2.0`` → ``1.2.0`` (Keep a Changelog and the notes show the bare number)."""
    version = version.strip()
    return version[1:] if re.match(r"^[vV]\d", version) else version


def _without_version(text: str, version: str) -> str:
    headings = list(_VERSION_HEADING.finditer(text))
    for index, heading in enumerate(headings):
        if heading.group("version") == version:
            end = headings[index + 1].start() if index + 1 < len(headings) else len(text)
            return text[: heading.start()] + text[end:]
    return text


def _line(change: Change, *, links: bool) -> str:
    title = _escaped(change.title)
    if not links:
        return f"- {title}"
    reference = f"#{change.number}"
    if change.url:
        reference = f"[{reference}]({change.url})"
    by = f" by @{change.author}" if change.author else ""
    return f"- {title} ({reference}{by})"


def _escaped(title: str) -> str:
    """A title on one line, so a stray newline cannot break the list."""
    return " ".join(title.split())


def _instant(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _within(moment: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    if moment is None:
        return since is None and until is None
    return (since is None or moment >= since) and (until is None or moment < until)
