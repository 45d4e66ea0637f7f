"""A product's backlog mirrored from Jira, Linear and GitHub, and the plan written back.

:func:`sync_backlog` reads each tool the product's configuration names (``integrations.
jira_project``, ``linear_team``, ``github_repository``): the open issues and those finished
within :attr:`SourceFields.window_days`, page by page and at most
:attr:`SourceFields.max_items` per tool. Each tool's mapping (``integrations/<vendor>/
backlog.py``) turns them into :func:`productpilot.planning.backlog.upsert_backlog` items,
upserted with ``source`` set to the tool's name, so a second sync updates rows instead of
adding twins. Two things ``upsert_backlog`` does not keep are stored here, in
``score_details``: the item's own scoring ``inputs`` (from the fields
:class:`SourceFields` names) and ``source_values``, what the tool held at the sync for the
fields a write-back sets.

:func:`write_back` (only with ``planning.write_back: true``) pushes each open item's
priority score, estimate and priority tier back, and only where the tool's value differs
from the new one: a second run writes nothing. The tier is the score's quartile among the
tool's open items (1: the top quarter).

Example:
    ```python
    configuration = current_configuration(session, product)
    with backlog_hooks(configuration.integrations) as hooks:
        report = sync_backlog(session, product, configuration, hooks)
        ...  # plan the backlog (productpilot.planning), save_plan(...)
        write_back(session, product, configuration, hooks)
    ```
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select

from integrations.channels import BlockLoader, load_block
from productpilot.db.models import BacklogItem, Product
from productpilot.db.tenancy import StoreSession
from productpilot.errors import ValidationError
from productpilot.planning.backlog import upsert_backlog
from productpilot.products.configuration import ConfigurationSections, IntegrationMapping

if TYPE_CHECKING:
    from integrations.github.client import GitHubHook
    from integrations.jira.client import JiraHook
    from integrations.linear.client import LinearHook

Source = Literal["jira", "linear", "github"]
SOURCES: tuple[Source, ...] = ("jira", "linear", "github")
#: Number of priority tiers a write-back assigns (Linear's 1 urgent ... 4 low).
TIERS = 4


@dataclass(frozen=True)
class SourceFields:
    """Where the tools keep what the planner reads and writes: each site's own choices.

    Attributes:
        window_days: Finished issues updated within this many days are synced (open ones
            always are): the recent history the estimates and the velocity learn from.
        max_items: At most this many issues per tool and sync.
        page_size: Issues per request.
        jira_story_points_field: The story points field (Jira Cloud's usual "Story point
            estimate" is ``customfield_10016``).
        jira_feature_field: A field naming the item's feature; the first component if unset.
        jira_team_field: A field naming the item's team (e.g. Jira's Team field).
        jira_input_fields: Scoring input name → the field holding it, e.g.
            ``{"impact": "customfield_10052"}``.
        jira_score_field: A number field the priority score is written to.
        jira_estimate_field: A number field the estimate (days) is written to. Not the story
            points or the time tracking, which the sync reads back as a person's estimate.
        jira_priority_names: Jira priority names for tiers 1-4 (``("Highest", "High",
            "Medium", "Low")``); unset: the priority is not written.
        linear_priority_input: The scoring input Linear's priority becomes (urgent 4 ... low
            1; "no priority" none), e.g. ``"urgency"``.
        linear_write_estimate: Write the estimate (whole days, at least 1) into issues that
            have none; Linear's estimate is what the sync reads as story points, so an
            estimate a person set is never overwritten.
        github_input_labels: Scoring input name → a label prefix: ``{"impact": "impact"}``
            reads ``impact:3`` as impact 3.

    Example:
        >>> SourceFields(jira_input_fields={"impact": "customfield_10052"}).window_days
        180
    """

    window_days: int = 180
    max_items: int = 2000
    page_size: int = 100
    jira_story_points_field: str = "customfield_10016"
    jira_feature_field: str | None = None
    jira_team_field: str | None = None
    jira_input_fields: Mapping[str, str] = field(default_factory=dict)
    jira_score_field: str | None = None
    jira_estimate_field: str | None = None
    jira_priority_names: tuple[str, str, str, str] | None = None
    linear_priority_input: str | None = None
    linear_write_estimate: bool = False
    github_input_labels: Mapping[str, str] = field(default_factory=dict)

    def input_names(self, source: Source) -> frozenset[str]:
        """The scoring inputs a sync from ``source`` owns (sets, or clears when empty)."""
        if source == "jira":
            return frozenset(self.jira_input_fields)
        if source == "linear":
            return frozenset({self.linear_priority_input} - {None})  # type: ignore[arg-type]
        return frozenset(self.github_input_labels)


@dataclass(frozen=True)
class FetchedBacklog:
    """What one tool holds, mapped: the upsert items, and per key its scoring inputs and the
    current values of the fields a write-back sets.

    Attributes:
        items: ``upsert_backlog`` dicts (``key``, ``title``, ``status``, ``depends_on``, ...).
        inputs: Key → the item's scoring inputs found in the tool.
        source_values: Key → the tool's current values of what a write-back sets (and what
            it needs to address the issue, such as Linear's issue id).
        truncated: More issues matched than :attr:`SourceFields.max_items`.
    """

    items: tuple[dict[str, Any], ...]
    inputs: Mapping[str, Mapping[str, float]]
    source_values: Mapping[str, Mapping[str, Any]]
    truncated: bool = False


@dataclass(frozen=True)
class WriteBackItem:
    """One open, scored item to push back to its tool.

    Attributes:
        key: Its key in the tool.
        score: The priority score.
        estimate_days: The plan's estimate, if it has one.
        tier: 1 (the top quarter of the tool's open items by score) to 4.
        source_values: The tool's values at the last sync or write-back.
    """

    key: str
    score: float
    estimate_days: float | None
    tier: int
    source_values: Mapping[str, Any]


@dataclass(frozen=True)
class SourceSync:
    """How one tool's sync went."""

    source: Source
    project: str
    fetched: int
    created: int
    updated: int
    dependencies: int
    with_inputs: int
    truncated: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "project": self.project,
            "fetched": self.fetched,
            "created": self.created,
            "updated": self.updated,
            "dependencies": self.dependencies,
            "with_inputs": self.with_inputs,
            "truncated": self.truncated,
        }


@dataclass(frozen=True)
class SyncReport:
    """What :func:`sync_backlog` did, per tool (none when no tool is configured)."""

    sources: tuple[SourceSync, ...]

    @property
    def fetched(self) -> int:
        return sum(source.fetched for source in self.sources)

    def to_dict(self) -> dict[str, Any]:
        return {"sources": [source.to_dict() for source in self.sources]}


@dataclass(frozen=True)
class WriteBackReport:
    """What :func:`write_back` did: per tool, open items checked and items changed."""

    enabled: bool
    checked: Mapping[str, int] = field(default_factory=dict)
    written: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "checked": dict(self.checked),
            "written": dict(self.written),
        }


@dataclass(frozen=True)
class BacklogHooks:
    """The vendor hooks a sync uses; ``None`` for a tool that has no credentials.

    Tests build one around hooks pointed at fakes; :func:`backlog_hooks` builds it from the
    configured Blocks. Closing it closes the Linear hook's connections.
    """

    jira: JiraHook | None = None
    linear: LinearHook | None = None
    github: GitHubHook | None = None

    def close(self) -> None:
        if self.linear is not None:
            self.linear.close()

    def __enter__(self) -> BacklogHooks:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def backlog_hooks(mapping: IntegrationMapping, load: BlockLoader = load_block) -> BacklogHooks:
    """The hooks of the tools ``mapping`` names a project and a credentials Block for.

    Raises:
        CredentialError: a Block is named but cannot be loaded (the error names it).

    Example:
        >>> backlog_hooks(IntegrationMapping())
        BacklogHooks(jira=None, linear=None, github=None)
    """
    jira = linear = github = None
    if mapping.jira_project and (name := mapping.blocks.get("jira")):
        from integrations.jira.credentials import JiraCredentials

        jira = load(JiraCredentials, name).get_hook(
            credential_name=f"the Jira credentials block '{name}'"
        )
    if mapping.linear_team and (name := mapping.blocks.get("linear")):
        from integrations.linear.credentials import LinearCredentials

        linear = load(LinearCredentials, name).get_hook(
            credential=f"the Linear credentials block '{name}'"
        )
    if mapping.github_repository and (name := mapping.blocks.get("github")):
        from prefect_github import GitHubCredentials

        from integrations.github.client import GitHubHook

        options = {"base_url": mapping.api_urls["github"]} if "github" in mapping.api_urls else {}
        github = GitHubHook.from_credentials(
            load(GitHubCredentials, name), block_name=name, **options
        )
    return BacklogHooks(jira=jira, linear=linear, github=github)


def sync_backlog(
    session: StoreSession,
    product: Product,
    configuration: ConfigurationSections,
    hooks: BacklogHooks,
    *,
    fields: SourceFields | None = None,
    now: datetime | None = None,
) -> SyncReport:
    """Mirror the backlog of every tool ``configuration.integrations`` names into the store.

    Args:
        session: The product's tenant session (flushed, not committed).
        product: Whose backlog.
        configuration: The product's configuration (its ``integrations``).
        hooks: One hook per configured tool.
        fields: Where the tools keep points, inputs, scores (defaults: :class:`SourceFields`).
        now: The time the window counts back from (default: now).

    Raises:
        ValidationError: a tool is configured without credentials, or its project, team or
            repository does not exist (or the credentials cannot see it).
        productpilot.vendors.VendorError: a tool failed (a refused credential names its Block).

    Example:
        >>> report = sync_backlog(session, product, configuration, hooks)  # doctest: +SKIP
        >>> [(s.source, s.created, s.updated) for s in report.sources]  # doctest: +SKIP
        [('jira', 12, 0), ('github', 4, 0)]
    """
    fields = fields or SourceFields()
    since = (now or datetime.now(UTC)) - timedelta(days=fields.window_days)
    synced = []
    for source, project, fetch in _configured(configuration.integrations, hooks, fields, since):
        fetched = fetch()
        items = _keep_known_starts(session, product, source, fetched.items)
        result = upsert_backlog(session, product, items, source=source)
        _store_details(session, product, source, fetched, fields.input_names(source))
        synced.append(
            SourceSync(
                source=source,
                project=project,
                fetched=len(items),
                created=result.created,
                updated=result.updated,
                dependencies=result.dependencies,
                with_inputs=sum(1 for inputs in fetched.inputs.values() if inputs),
                truncated=fetched.truncated,
            )
        )
    return SyncReport(tuple(synced))


def write_back(
    session: StoreSession,
    product: Product,
    configuration: ConfigurationSections,
    hooks: BacklogHooks,
    *,
    fields: SourceFields | None = None,
) -> WriteBackReport:
    """Push each open, scored item's score, estimate and tier to its tool, where it changed.

    Does nothing unless ``configuration.planning.write_back`` is true. Only values that
    differ from what the tool held (at the last sync, or as this wrote it) are sent, so a
    re-run sends nothing. Run it after a sync and a plan.

    Raises:
        productpilot.vendors.VendorError: a tool refused a write.

    Example:
        >>> write_back(session, product, configuration, hooks).written  # doctest: +SKIP
        {'jira': 12, 'github': 4}
    """
    if not configuration.planning.write_back:
        return WriteBackReport(enabled=False)
    fields = fields or SourceFields()
    mapping = configuration.integrations
    checked: dict[str, int] = {}
    written: dict[str, int] = {}
    for source in SOURCES:
        writer = _writer(source, mapping, hooks, fields)
        if writer is None:
            continue
        rows = _open_scored_rows(session, product, source)
        tiers = priority_tiers({row.external_key: float(row.priority_score) for row in rows})  # type: ignore[arg-type]
        items = [
            WriteBackItem(
                key=row.external_key,
                score=float(row.priority_score),  # type: ignore[arg-type]
                estimate_days=_planned_estimate(row),
                tier=tiers[row.external_key],
                source_values=dict((row.score_details or {}).get("source_values") or {}),
            )
            for row in rows
        ]
        changes = writer(items)
        by_key = {row.external_key: row for row in rows}
        for key, values in changes.items():
            row = by_key[key]
            details = dict(row.score_details or {})
            details["source_values"] = {**(details.get("source_values") or {}), **values}
            row.score_details = details
        checked[source] = len(items)
        written[source] = len(changes)
    session.flush()
    return WriteBackReport(enabled=True, checked=checked, written=written)


def priority_tiers(scores: Mapping[str, float]) -> dict[str, int]:
    """Each key's quartile by score, 1 (highest quarter) to 4; equal scores share a tier.

    Example:
        >>> priority_tiers({"A": 9.0, "B": 7.0, "C": 7.0, "D": 1.0, "E": 0.5})
        {'A': 1, 'B': 1, 'C': 1, 'D': 3, 'E': 4}
    """
    ranked = sorted(scores, key=lambda key: (-scores[key], key))
    first_rank: dict[float, int] = {}
    for rank, key in enumerate(ranked):
        first_rank.setdefault(scores[key], rank)
    return {key: 1 + TIERS * first_rank[scores[key]] // len(ranked) for key in ranked}


# --- the tools --------------------------------------------------------------------------


def _configured(
    mapping: IntegrationMapping, hooks: BacklogHooks, fields: SourceFields, since: datetime
) -> list[tuple[Source, str, Callable[[], FetchedBacklog]]]:
    """``(source, project, fetch)`` of every tool ``mapping`` names; no fetch runs yet."""
    configured: list[tuple[Source, str, Callable[[], FetchedBacklog]]] = []
    if mapping.jira_project:
        from integrations.jira.backlog import fetch_jira_backlog

        jira = _required(hooks.jira, "jira", "jira_project", mapping.jira_project)
        project = mapping.jira_project
        configured.append(("jira", project, lambda: fetch_jira_backlog(jira, project, fields)))
    if mapping.linear_team:
        from integrations.linear.backlog import fetch_linear_backlog

        linear = _required(hooks.linear, "linear", "linear_team", mapping.linear_team)
        team = mapping.linear_team
        configured.append(
            ("linear", team, lambda: fetch_linear_backlog(linear, team, fields, since))
        )
    if mapping.github_repository:
        from integrations.github.backlog import fetch_github_backlog

        github = _required(hooks.github, "github", "github_repository", mapping.github_repository)
        repo = mapping.github_repository
        configured.append(
            ("github", repo, lambda: fetch_github_backlog(github, repo, fields, since))
        )
    return configured


def _required(hook: Any, vendor: str, setting: str, value: str) -> Any:
    if hook is None:
        raise ValidationError(
            f"integrations.{setting} is {value!r} but no {vendor} credentials are available: "
            f"name the Block in integrations.blocks.{vendor}"
        )
    return hook


def _writer(
    source: Source, mapping: IntegrationMapping, hooks: BacklogHooks, fields: SourceFields
) -> Callable[[Sequence[WriteBackItem]], dict[str, dict[str, Any]]] | None:
    """The write-back of ``source``, or ``None`` when it is not configured."""
    if source == "jira" and mapping.jira_project and hooks.jira is not None:
        from integrations.jira.backlog import write_back_jira

        jira = hooks.jira
        return lambda items: write_back_jira(jira, items, fields)
    if source == "linear" and mapping.linear_team and hooks.linear is not None:
        from integrations.linear.backlog import write_back_linear

        linear = hooks.linear
        return lambda items: write_back_linear(linear, items, fields)
    if source == "github" and mapping.github_repository and hooks.github is not None:
        from integrations.github.backlog import write_back_github

        github, repo = hooks.github, mapping.github_repository
        return lambda items: write_back_github(github, repo, items)
    return None


# --- the store --------------------------------------------------------------------------


def _rows(session: StoreSession, product: Product, source: str) -> dict[str, BacklogItem]:
    return {
        row.external_key: row
        for row in session.scalars(
            select(BacklogItem).where(
                BacklogItem.product_id == product.id, BacklogItem.source == source
            )
        )
    }


def _keep_known_starts(
    session: StoreSession, product: Product, source: str, items: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Items with the start an earlier sync saw kept, where the tool no longer tells it.

    Jira tells when an issue entered its status category; once it is done, that is when it
    finished, and GitHub tells no start at all. An item that an earlier sync saw in
    progress keeps that start, so finished items still tell how long they took.
    """
    known = {key: row.started_at for key, row in _rows(session, product, source).items()}
    kept = []
    for item in items:
        if item.get("started_at") is None and item.get("status") != "todo":
            item = {**item, "started_at": known.get(str(item["key"]))}
        kept.append(item)
    return kept


def _store_details(
    session: StoreSession,
    product: Product,
    source: str,
    fetched: FetchedBacklog,
    owned_inputs: frozenset[str],
) -> None:
    """Write the synced inputs and source values into ``score_details``.

    The sync owns the inputs it is configured to read: it sets them, or removes them when
    the tool's field is empty. Inputs set by other means are left alone.
    """
    rows = _rows(session, product, source)
    for item in fetched.items:
        key = str(item["key"])
        row = rows[key]
        details = dict(row.score_details or {})
        inputs = {
            name: value
            for name, value in (details.get("inputs") or {}).items()
            if name not in owned_inputs
        }
        inputs.update(fetched.inputs.get(key, {}))
        details["inputs"] = inputs
        details["source_values"] = dict(fetched.source_values.get(key, {}))
        row.score_details = details
    session.flush()


def _open_scored_rows(session: StoreSession, product: Product, source: str) -> list[BacklogItem]:
    return sorted(
        (
            row
            for row in _rows(session, product, source).values()
            if row.status != "done" and row.completed_at is None and row.priority_score is not None
        ),
        key=lambda row: row.external_key,
    )


def _planned_estimate(row: BacklogItem) -> float | None:
    estimate = (row.score_details or {}).get("estimate") or {}
    value = estimate.get("value")
    return float(value) if value is not None else row.estimate_days
