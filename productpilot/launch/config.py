"""The ``releases`` section of a product's configuration: where a release goes, what it
waits for, and how its notes are written for whom.

Example:
    >>> settings = ReleaseSettings()
    >>> settings.environments, settings.require_approval
    (['staging', 'production'], False)
    >>> settings.section_for(["enhancement"]), settings.section_for(["question"])
    ('Features', 'Other')
    >>> [audience.name for audience in settings.audiences]
    ['customers', 'internal']
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NotesSection(_Section):
    """One heading of the release notes and the labels that put a change under it.

    Attributes:
        title: The heading (``Features``).
        labels: Label names, compared case-insensitively.
        user_facing: Whether customers read it (maintenance work is for the team only).
    """

    title: str = Field(min_length=1, max_length=80)
    labels: list[str] = Field(min_length=1)
    user_facing: bool = True


class Audience(_Section):
    """Who a variant of the notes is for.

    Attributes:
        name: The audience; its finding kind is ``productpilot.release.notes.<name>``, so
            notification routes pick its channels (Slack for the team, e-mail for customers).
        sections: Section titles it reads (empty: the user-facing ones for
            ``user_facing_only``, else all, ``Other`` included).
        user_facing_only: Only user-facing sections (and never ``Other``).
        links: Show each change's pull request or issue link and number.
    """

    name: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9_\-]+$")
    sections: list[str] = Field(default_factory=list)
    user_facing_only: bool = False
    links: bool = True


def _default_sections() -> list[NotesSection]:
    return [
        NotesSection(title="Breaking changes", labels=["breaking", "breaking-change"]),
        NotesSection(title="Features", labels=["feature", "enhancement", "feat"]),
        NotesSection(title="Fixes", labels=["bug", "fix", "bugfix", "regression"]),
        NotesSection(title="Security", labels=["security"]),
        NotesSection(title="Performance", labels=["performance", "perf"]),
        NotesSection(title="Documentation", labels=["documentation", "docs"]),
        NotesSection(
            title="Maintenance",
            labels=["chore", "dependencies", "refactor", "ci", "build", "test"],
            user_facing=False,
        ),
    ]


def _default_audiences() -> list[Audience]:
    return [
        Audience(name="customers", user_facing_only=True, links=False),
        Audience(name="internal"),
    ]


class ReleaseSettings(_Section):
    """How the release flow ships this product and tells people about it.

    Attributes:
        environments: The GitHub environments a release passes through, in order; the last
            one is production, and promotion into it waits for the quality gates.
        require_approval: Promotion to production also waits for a person's approval, given
            in the Prefect UI as the paused run's input.
        approval_timeout_minutes: How long the run waits for that approval; silence is a
            rejection.
        sections: Label → section mapping of the notes, in the order they are shown; a
            change matches the first section one of its labels names.
        other_section: The heading of changes no section claims.
        exclude_labels: Changes carrying one of these are left out of the notes.
        audiences: The variants of the notes that are sent.
        environment_urls: Where each environment is reachable (GitHub shows the link).
        deploy_workflow: A ``workflow_dispatch`` workflow (``deploy.yml``) to start on the
            release's ref for each deployment, with inputs ``environment``, ``version`` and
            ``deployment_id``; without one, the team's job reacts to GitHub's
            ``deployment`` event.
    """

    environments: list[str] = Field(
        default_factory=lambda: ["staging", "production"], min_length=1, max_length=10
    )
    require_approval: bool = False
    approval_timeout_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    sections: list[NotesSection] = Field(default_factory=_default_sections)
    other_section: str = Field(default="Other", min_length=1, max_length=80)
    exclude_labels: list[str] = Field(
        default_factory=lambda: [
            "skip-changelog",
            "no-changelog",
            "duplicate",
            "invalid",
            "wontfix",
        ]
    )
    audiences: list[Audience] = Field(default_factory=_default_audiences)
    environment_urls: dict[str, str] = Field(default_factory=dict)
    deploy_workflow: str | None = Field(default=None, pattern=r"^[\w.-]+\.ya?ml$")

    @field_validator("environments")
    @classmethod
    def _valid_environments(cls, names: list[str]) -> list[str]:
        for name in names:
            if not name or len(name) > 100 or not all(c.isalnum() or c in "_.-" for c in name):
                raise ValueError(f"environment {name!r}: letters, digits, '_', '.', '-' only")
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"environments listed twice: {', '.join(duplicates)}")
        return names

    @model_validator(mode="after")
    def _consistent(self) -> ReleaseSettings:
        titles = [section.title for section in self.sections] + [self.other_section]
        duplicates = sorted({title for title in titles if titles.count(title) > 1})
        if duplicates:
            raise ValueError(f"note sections listed twice: {', '.join(duplicates)}")
        names = [audience.name for audience in self.audiences]
        if len(names) != len(set(names)):
            raise ValueError("audiences must have distinct names")
        for audience in self.audiences:
            unknown = sorted(set(audience.sections) - set(titles))
            if unknown:
                raise ValueError(
                    f"audience {audience.name!r} names unknown sections: {', '.join(unknown)}"
                )
        unknown_urls = sorted(set(self.environment_urls) - set(self.environments))
        if unknown_urls:
            raise ValueError(f"environment_urls for unknown environments: {unknown_urls}")
        return self

    @property
    def production(self) -> str:
        """The last environment: the one the gates guard."""
        return self.environments[-1]

    def section_for(self, labels: Iterable[str]) -> str:
        """The section a change with ``labels`` goes under (``other_section`` if none)."""
        wanted = {label.lower() for label in labels}
        for section in self.sections:
            if wanted & {label.lower() for label in section.labels}:
                return section.title
        return self.other_section

    def is_excluded(self, labels: Iterable[str]) -> bool:
        """Whether a change with ``labels`` stays out of the notes."""
        excluded = {label.lower() for label in self.exclude_labels}
        return any(label.lower() in excluded for label in labels)

    def sections_for(self, audience: Audience) -> list[str]:
        """The section titles ``audience`` reads, in display order."""
        if audience.sections:
            order = [section.title for section in self.sections] + [self.other_section]
            return [title for title in order if title in audience.sections]
        if audience.user_facing_only:
            return [section.title for section in self.sections if section.user_facing]
        return [section.title for section in self.sections] + [self.other_section]
