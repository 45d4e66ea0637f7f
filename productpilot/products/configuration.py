"""A product's configuration: the validated document behind every automation.

Stored as JSON, one immutable version per change (see :mod:`productpilot.products.service`).
Sections are added by the features that read them; unknown keys are refused so a typo
never silently disables a gate or a route.

Example:
    >>> config = ProductConfiguration.model_validate(
    ...     {"kpis": [{"name": "activation_rate", "metric": "activation_rate", "target": 0.4}]}
    ... )
    >>> config.kpis[0].direction
    'increase'
"""

from __future__ import annotations

from datetime import time
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from productpilot.launch.config import ReleaseSettings
from productpilot.planning.scoring import ScoringConfig
from productpilot.quality.config import DevelopmentSettings
from productpilot.quality.design import DesignAndTestingSettings
from productpilot.quality.settings import QualitySettings

Name = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9_.:\-]+$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricDefinition(_Section):
    """How a metric is computed from events.

    ``count`` and ``unique_users`` count ``event``; ``ratio`` divides the unique users of
    ``event`` by those of ``denominator_event``; ``average`` and ``percentile`` aggregate a
    numeric ``property`` of ``event``; ``nps`` is the Net Promoter Score (% of 9-10 minus
    % of 0-6) of a 0-10 ``property``.
    """

    name: str = Name
    kind: Literal["count", "unique_users", "ratio", "average", "percentile", "nps"]
    event: str = Field(min_length=1, max_length=200)
    denominator_event: str | None = None
    property: str | None = None
    percentile: float | None = Field(default=None, gt=0, lt=100)
    filters: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _needs(self) -> MetricDefinition:
        if self.kind == "ratio" and not self.denominator_event:
            raise ValueError("a ratio metric needs denominator_event")
        if self.kind in ("average", "percentile", "nps") and not self.property:
            raise ValueError(f"a {self.kind} metric needs property")
        if self.kind == "percentile" and self.percentile is None:
            raise ValueError("a percentile metric needs percentile (e.g. 95)")
        return self


class KPI(_Section):
    """A metric the team is accountable for, with its target."""

    name: str = Name
    metric: str = Name
    target: float | None = None
    direction: Literal["increase", "decrease"] = "increase"
    description: str = ""


class GateDefinition(_Section):
    """A release quality gate; ``kind`` selects the check, ``threshold`` its bar."""

    name: str = Name
    kind: Literal[
        "required_checks",
        "changed_lines_coverage",
        "approvals",
        "no_critical_alerts",
        "performance_regression",
        "custom",
    ]
    threshold: float | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)


class PerformanceRule(_Section):
    """A guard on live performance, checked every few minutes over a sliding window.

    ``latency`` is a percentile of ``property`` (default ``latency_ms``), ``error_rate`` the
    mean of ``property`` (default ``error``, booleans as 0/1), ``usage`` the number of
    ``event`` events. The rule is breached when the signal passes ``above`` (latency, error
    rate) or falls under ``below`` (usage), or when it is worse than in the window before by
    more than ``max_change`` (0.5 = 50% higher latency or error rate, or 50% less usage).
    """

    name: str = Name
    signal: Literal["latency", "error_rate", "usage"]
    event: str = Field(default="api_request", min_length=1, max_length=200)
    property: str | None = None
    percentile: float = Field(default=95, gt=0, lt=100)
    above: float | None = None
    below: float | None = None
    max_change: float | None = Field(default=None, gt=0)
    window_minutes: int = Field(default=15, ge=1, le=1440)
    min_events: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _has_a_condition(self) -> PerformanceRule:
        if self.above is None and self.below is None and self.max_change is None:
            raise ValueError("a performance rule needs above, below or max_change")
        if self.signal == "usage" and self.above is not None:
            raise ValueError("usage rules guard against drops: use below, not above")
        if self.signal != "usage" and self.below is not None:
            raise ValueError(f"{self.signal} rules guard against rises: use above, not below")
        return self

    # A method, not a @property: the ``property`` field shadows the builtin in this class.
    def measured_property(self) -> str | None:
        """The event property the signal reads (None for usage, which counts events)."""
        defaults = {"latency": "latency_ms", "error_rate": "error", "usage": None}
        return self.property or defaults[self.signal]


class QuietHours(_Section):
    """Hours in the recipients' own time zone when non-critical notifications wait.

    A notification due inside them is deferred to their end, never dropped. ``start`` after
    ``end`` spans midnight (22:00-07:00).
    """

    start: time
    end: time
    timezone: str = Field(min_length=1, max_length=64)
    critical_too: bool = False

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return validate_timezone(value)


class Escalation(_Section):
    """Where a critical notification goes when nobody acknowledged it in time."""

    after_minutes: int = Field(ge=1, le=7 * 24 * 60)
    channel: Literal["slack", "teams", "email", "outbox"]
    recipients: list[str] = Field(min_length=1)


NotificationChannel = Literal["slack", "teams", "email", "outbox", "jira", "linear", "github"]
TICKET_CHANNELS = frozenset({"jira", "linear", "github"})


class NotificationRoute(_Section):
    """Which findings go where, and how patiently.

    ``kinds`` are patterns (``productpilot.anomaly.*``); empty ``kinds``/``severities``
    match everything. For ``jira``, ``linear`` and ``github`` the route opens a ticket (one per
    problem: a recurrence is a comment) and ``recipients`` are projects, team keys or
    ``owner/repo``.

    Attributes:
        dedupe_minutes: Findings with the same dedupe key within this window are one
            notification (0: every finding is sent).
        group_wait_minutes: Non-critical findings wait this long to be sent together as one
            digest (0: each on its own). Critical ones never wait.
        group_interval_minutes: After a digest went out, the next one for this recipient
            waits at least this long.
        max_per_hour: At most this many notifications per recipient and hour; beyond it
            non-critical findings join the next digest, and critical ones ride together in one
            digest sent at once (never held back, never a flood).
        quiet_hours: When non-critical notifications are deferred.
        escalation: Where unacknowledged critical notifications go next.
    """

    kinds: list[str] = Field(default_factory=list)
    severities: list[Literal["info", "warning", "critical"]] = Field(default_factory=list)
    channel: NotificationChannel
    recipients: list[str] = Field(min_length=1)
    dedupe_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    group_wait_minutes: int = Field(default=5, ge=0, le=24 * 60)
    group_interval_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    max_per_hour: int | None = Field(default=30, ge=1)
    quiet_hours: QuietHours | None = None
    escalation: Escalation | None = None

    @model_validator(mode="after")
    def _escalation_needs_an_alert_channel(self) -> NotificationRoute:
        if self.escalation is not None and self.channel in TICKET_CHANNELS:
            raise ValueError("escalation applies to alerts, not to ticket routes")
        return self


class IntegrationMapping(_Section):
    """Where this product lives in the team's tools, and which credentials reach them.

    ``blocks`` names the Prefect Block documents holding each vendor's credentials
    (``prefect_slack.SlackCredentials``, ``prefect_github.GitHubCredentials``,
    ``prefect_email.EmailServerCredentials``, ProductPilot's Jira/Linear/Figma blocks); a
    vendor without one keeps its notifications in the outbox. ``teams_webhooks`` maps a
    Teams recipient name to the Teams webhook block that posts to it.
    """

    jira_project: str | None = None
    linear_team: str | None = None
    github_repository: str | None = Field(default=None, pattern=r"^[\w.-]+/[\w.-]+$")
    figma_files: list[str] = Field(default_factory=list)
    blocks: dict[Literal["slack", "jira", "linear", "github", "figma", "email"], str] = Field(
        default_factory=dict
    )
    teams_webhooks: dict[str, str] = Field(default_factory=dict)
    email_sender: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    #: API roots other than the public ones: GitHub Enterprise Server
    #: (``https://<host>/api/v3``), GovSlack (``https://slack-gov.com/api/``).
    api_urls: dict[Literal["slack", "github"], str] = Field(default_factory=dict)

    @field_validator("api_urls")
    @classmethod
    def _http_urls(cls, urls: dict[str, str]) -> dict[str, str]:
        for vendor, url in urls.items():
            if not url.startswith(("https://", "http://")):
                raise ValueError(f"api_urls.{vendor} must be an http(s) URL")
        return urls


Vendor = Literal["github", "jira", "linear", "figma", "slack"]


class TeamCapacity(_Section):
    """A team the planner schedules: how many items it works on at once, and its pace.

    ``velocity`` (working days of work finished per sprint) is measured from the team's
    history when left out.
    """

    name: str = Field(min_length=1, max_length=120)
    people: int = Field(default=2, ge=1, le=1000)
    velocity: float | None = Field(default=None, gt=0)


class PlanningSettings(_Section):
    """How the planning flow scores, estimates, schedules and forecasts the backlog.

    Example:
        >>> PlanningSettings().scoring.method, PlanningSettings().sprint_length_days
        ('rice', 10)
    """

    scoring: ScoringConfig = Field(
        default_factory=lambda: ScoringConfig(defaults={"impact": 1.0, "confidence": 0.8})
    )
    teams: list[TeamCapacity] = Field(default_factory=list)
    #: People per team for teams not listed in ``teams``.
    default_team_people: int = Field(default=2, ge=1, le=1000)
    sprint_length_days: int = Field(default=10, ge=1, le=60)
    objective: Literal["weighted_completion", "makespan", "lateness"] = "weighted_completion"
    time_limit_seconds: float = Field(default=10.0, gt=0, le=300)
    #: Completed items needed before the learnt effort model replaces the defaults.
    min_history: int = Field(default=30, ge=10)
    default_effort_days: float = Field(default=3.0, gt=0)
    #: Success criteria: the relative KPI change targeted, and when it is measured.
    success_uplift: float = Field(default=0.10, gt=-1, le=10)
    success_after_days: int = Field(default=30, ge=1, le=365)
    #: Write score, estimate and priority back to the item's source tool.
    write_back: bool = False

    @field_validator("teams")
    @classmethod
    def _unique_teams(cls, teams: list[TeamCapacity]) -> list[TeamCapacity]:
        names = [team.name for team in teams]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"teams listed twice: {', '.join(duplicates)}")
        return teams

    def people(self, team: str) -> int:
        return next((t.people for t in self.teams if t.name == team), self.default_team_people)


class ConfigurationSections(_Section):
    """Everything in a configuration except the webhook secrets (which are write-only)."""

    kpis: list[KPI] = Field(default_factory=list)
    metrics: list[MetricDefinition] = Field(default_factory=list)
    gates: list[GateDefinition] = Field(default_factory=list)
    performance_rules: list[PerformanceRule] = Field(default_factory=list)
    notification_routes: list[NotificationRoute] = Field(default_factory=list)
    integrations: IntegrationMapping = Field(default_factory=IntegrationMapping)
    planning: PlanningSettings = Field(default_factory=PlanningSettings)
    releases: ReleaseSettings = Field(default_factory=ReleaseSettings)
    development: DevelopmentSettings = Field(default_factory=DevelopmentSettings)
    design_and_testing: DesignAndTestingSettings = Field(default_factory=DesignAndTestingSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)

    @field_validator("kpis", "metrics", "gates", "performance_rules")
    @classmethod
    def _unique_names(cls, items: list[Any]) -> list[Any]:
        names = [item.name for item in items]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate names: {', '.join(duplicates)}")
        return items


class ProductConfiguration(ConfigurationSections):
    """The whole configuration document of one product, secrets included."""

    webhook_secrets: dict[Vendor, SecretStr] = Field(default_factory=dict)

    def to_document(self) -> dict[str, Any]:
        """The document to store, secrets included (they are write-only at the edges)."""
        document = self.model_dump(mode="json", exclude={"webhook_secrets"})
        document["webhook_secrets"] = {
            vendor: secret.get_secret_value() for vendor, secret in self.webhook_secrets.items()
        }
        return document

    def public_view(self) -> dict[str, Any]:
        """The document as shown to users: secrets are write-only, so only which vendors have
        one is listed (under ``webhook_secrets_configured``), never a placeholder that could
        be sent back and stored as the secret."""
        document = self.model_dump(mode="json", exclude={"webhook_secrets"})
        document["webhook_secrets_configured"] = sorted(self.webhook_secrets)
        return document


class PublicConfiguration(ConfigurationSections):
    """A configuration as shown: which vendors have a webhook secret, not the secrets."""

    webhook_secrets_configured: list[Vendor] = Field(default_factory=list)


class ConfigurationUpdate(ConfigurationSections):
    """A configuration as sent to replace the current one.

    ``webhook_secrets`` is merged, not replaced, because secrets are never shown: leave it
    out to keep every secret, give a vendor a string to set its secret, or null to remove it.
    """

    webhook_secrets: dict[Vendor, SecretStr | None] | None = None

    def merged_document(self, current: ProductConfiguration) -> dict[str, Any]:
        """The full document to store, with ``current``'s secrets merged in."""
        secrets = {v: s.get_secret_value() for v, s in current.webhook_secrets.items()}
        for vendor, secret in (self.webhook_secrets or {}).items():
            if secret is None:
                secrets.pop(vendor, None)
            else:
                secrets[vendor] = secret.get_secret_value()
        document = self.model_dump(mode="json", exclude={"webhook_secrets"})
        document["webhook_secrets"] = secrets
        return document


def validate_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name like 'Europe/Berlin')"
        ) from None
    return name
