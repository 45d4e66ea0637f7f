"""The four DORA metrics from deployments, changes and incidents.

Over a window ``[start, end)`` and the production environment(s):

* **Deployment frequency**: successful deployments per day and per week.
* **Lead time for changes**: from a change's start (its first commit, or the pull request's
  creation) to the end of the first successful deployment that shipped it; median and P85
  (percentiles interpolate linearly between ranks, as ``numpy.percentile`` does). A
  deployment ships a change when it lists the change's sha in ``shas`` (or deploys it);
  when no deployment lists it, the first one started after the change was merged ships it
  (the usual "deploy the branch head" set-up).
* **Change failure rate**: deployments that failed, or that caused an incident, over all
  deployments (successful and failed).
* **Time to restore**: incidents from opened to resolved, and failed deployments from the
  first failure of a run of failures to the next successful deployment (one outage, however
  many attempts it took); the median.

Each metric also gets a performance band. The State of DevOps reports' bands leave gaps and
overlap between levels, so these are contiguous readings of the 2023 report (upper bounds,
see :data:`BANDS`).

Example:
    >>> from datetime import datetime, timedelta
    >>> t0 = datetime(2026, 3, 2)
    >>> deployments = [Deployment(str(i), "production", f"s{i}", "success", t0 + timedelta(days=i))
    ...                for i in range(7)]
    >>> metrics = dora_metrics(deployments, [], [], start=t0, end=t0 + timedelta(days=7))
    >>> (metrics.deployments, metrics.deployments_per_week, metrics.deployment_frequency_band)
    (7, 7.0, 'elite')
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from productpilot.errors import ValidationError

Band = Literal["elite", "high", "medium", "low"]
DeploymentStatus = Literal["success", "failure", "pending"]
DAY = timedelta(days=1)

#: Band limits. Frequency: at least this many deployments per day; the others: at most.
BANDS: dict[str, tuple[tuple[Band, float | timedelta], ...]] = {
    "deployment_frequency": (("elite", 1.0), ("high", 1 / 7), ("medium", 1 / 30)),
    "lead_time": (("elite", DAY), ("high", 7 * DAY), ("medium", 30 * DAY)),
    "change_failure_rate": (("elite", 0.05), ("high", 0.10), ("medium", 0.15)),
    "time_to_restore": (("elite", timedelta(hours=1)), ("high", DAY), ("medium", 7 * DAY)),
}


@dataclass(frozen=True, slots=True)
class Deployment:
    """A deployment and its outcome.

    Attributes:
        id: the deployment's id.
        environment: where it went (``production``).
        sha: the commit deployed.
        status: ``success``, ``failure`` or ``pending`` (not finished; ignored).
        finished_at: when it succeeded or failed.
        shas: the commits it shipped (since the previous deployment), when known.
        started_at: when it started (creation of the GitHub deployment).
    """

    id: str
    environment: str
    sha: str
    status: DeploymentStatus
    finished_at: datetime | None
    shas: frozenset[str] = frozenset()
    started_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """A change on its way to production.

    Attributes:
        id: the pull request (``acme/app#7``) or commit.
        sha: its merge commit (or the commit itself).
        started_at: its first commit, or the pull request's creation.
        merged_at: when it reached the deployed branch.
    """

    id: str
    sha: str
    started_at: datetime
    merged_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Incident:
    """A production incident.

    Attributes:
        id: the incident's id.
        opened_at: when it began (or was declared).
        resolved_at: when service was restored; ``None`` while open.
        deployment_id: the deployment that caused it, when known.
    """

    id: str
    opened_at: datetime
    resolved_at: datetime | None = None
    deployment_id: str | None = None


@dataclass(frozen=True, slots=True)
class DoraMetrics:
    """The four metrics over a window.

    Attributes:
        start: window start (inclusive).
        end: window end (exclusive).
        deployments: successful deployments finished in the window.
        failed_deployments: failed deployments finished in the window.
        deployments_per_day: ``deployments`` / days in the window.
        deployments_per_week: seven times that.
        deployment_frequency_band: its band.
        changes_measured: changes shipped in the window (the lead-time sample).
        lead_time_median: median lead time (``None`` without changes).
        lead_time_p85: 85th percentile.
        lead_time_band: band of the median.
        change_failure_rate: failed-or-incident deployments over all deployments (``None``
            without deployments).
        change_failure_band: its band.
        restores_measured: restored incidents and failure runs (the time-to-restore sample).
        time_to_restore_median: their median duration.
        time_to_restore_band: its band.
    """

    start: datetime
    end: datetime
    deployments: int
    failed_deployments: int
    deployments_per_day: float
    deployments_per_week: float
    deployment_frequency_band: Band
    changes_measured: int
    lead_time_median: timedelta | None
    lead_time_p85: timedelta | None
    lead_time_band: Band | None
    change_failure_rate: float | None
    change_failure_band: Band | None
    restores_measured: int
    time_to_restore_median: timedelta | None
    time_to_restore_band: Band | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times ISO 8601, durations in hours."""

        def hours(value: timedelta | None) -> float | None:
            return None if value is None else value.total_seconds() / 3600

        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "deployments": self.deployments,
            "failed_deployments": self.failed_deployments,
            "deployments_per_day": self.deployments_per_day,
            "deployments_per_week": self.deployments_per_week,
            "deployment_frequency_band": self.deployment_frequency_band,
            "changes_measured": self.changes_measured,
            "lead_time_median_hours": hours(self.lead_time_median),
            "lead_time_p85_hours": hours(self.lead_time_p85),
            "lead_time_band": self.lead_time_band,
            "change_failure_rate": self.change_failure_rate,
            "change_failure_band": self.change_failure_band,
            "restores_measured": self.restores_measured,
            "time_to_restore_median_hours": hours(self.time_to_restore_median),
            "time_to_restore_band": self.time_to_restore_band,
        }


def dora_metrics(
    deployments: Iterable[Deployment],
    changes: Iterable[Change],
    incidents: Iterable[Incident],
    *,
    start: datetime,
    end: datetime,
    environments: Collection[str] = ("production",),
) -> DoraMetrics:
    """The four DORA metrics over ``[start, end)``; see the module docstring.

    Deployments (and their restores) count when they finished in the window, changes when
    the deployment that shipped them did, incidents when they were opened in it.

    Raises:
        ValidationError: the window is empty or reversed.

    Example:
        >>> t0 = datetime(2026, 3, 2)
        >>> deployed = Deployment("1", "production", "abc", "success", t0 + timedelta(hours=5))
        >>> change = Change("acme/app#1", "abc", t0)
        >>> dora_metrics([deployed], [change], [], start=t0, end=t0 + DAY).lead_time_median
        datetime.timedelta(seconds=18000)
    """
    if end <= start:
        raise ValidationError(f"the window must end after it starts: {start} .. {end}")
    finished = sorted(
        (
            d
            for d in deployments
            if d.environment in environments and d.status != "pending" and d.finished_at
        ),
        key=lambda d: _utc(d.finished_at),
    )
    incidents = list(incidents)
    in_window = [d for d in finished if _within(d.finished_at, start, end)]
    succeeded = [d for d in in_window if d.status == "success"]
    failed = [d for d in in_window if d.status == "failure"]

    days = (end - start) / DAY
    per_day = len(succeeded) / days
    lead_times = _lead_times(changes, [d for d in finished if d.status == "success"], start, end)
    causing = {i.deployment_id for i in incidents if i.deployment_id is not None}
    failing = {d.id for d in failed} | {d.id for d in succeeded if d.id in causing}
    failure_rate = len(failing) / len(in_window) if in_window else None
    restores = _restore_times(finished, incidents, causing, start, end)

    lead_median = _percentile(lead_times, 50)
    restore_median = _percentile(restores, 50)
    return DoraMetrics(
        start=start,
        end=end,
        deployments=len(succeeded),
        failed_deployments=len(failed),
        deployments_per_day=per_day,
        deployments_per_week=per_day * 7,
        deployment_frequency_band=frequency_band(per_day),
        changes_measured=len(lead_times),
        lead_time_median=lead_median,
        lead_time_p85=_percentile(lead_times, 85),
        lead_time_band=_at_most_band("lead_time", lead_median),
        change_failure_rate=failure_rate,
        change_failure_band=_at_most_band("change_failure_rate", failure_rate),
        restores_measured=len(restores),
        time_to_restore_median=restore_median,
        time_to_restore_band=_at_most_band("time_to_restore", restore_median),
    )


def frequency_band(per_day: float) -> Band:
    """The band of a deployment rate: elite daily or more, high weekly, medium monthly.

    Example:
        >>> frequency_band(1.0), frequency_band(0.2), frequency_band(0.05), frequency_band(0.01)
        ('elite', 'high', 'medium', 'low')
    """
    for band, at_least in BANDS["deployment_frequency"]:
        if per_day >= at_least:  # type: ignore[operator]
            return band
    return "low"


def _at_most_band(metric: str, value: Any) -> Band | None:
    if value is None:
        return None
    for band, limit in BANDS[metric]:
        # Lead and restore times are "less than" a day/week; failure rates "up to" 5%.
        if (value < limit) if isinstance(value, timedelta) else (value <= limit):
            return band
    return "low"


def _lead_times(
    changes: Iterable[Change], shipped: Sequence[Deployment], start: datetime, end: datetime
) -> list[timedelta]:
    first_listing: dict[str, Deployment] = {}
    for deployment in shipped:  # in order of finishing: the first listing wins
        for sha in {deployment.sha, *deployment.shas}:
            first_listing.setdefault(sha, deployment)
    lead_times = []
    for change in changes:
        deployment = first_listing.get(change.sha)
        if deployment is None and change.merged_at is not None:
            merged = _utc(change.merged_at)
            deployment = next(
                (d for d in shipped if _utc(d.started_at or d.finished_at) >= merged), None
            )
        if deployment is not None and _within(deployment.finished_at, start, end):
            lead_times.append(_utc(deployment.finished_at) - _utc(change.started_at))
    return lead_times


def _restore_times(
    finished: Sequence[Deployment],
    incidents: Sequence[Incident],
    causing: set[str | None],
    start: datetime,
    end: datetime,
) -> list[timedelta]:
    restores = [
        _utc(i.resolved_at) - _utc(i.opened_at)
        for i in incidents
        if i.resolved_at is not None and _within(i.opened_at, start, end)
    ]
    outage_start: Deployment | None = None
    for deployment in finished:
        if deployment.status == "failure" and deployment.id not in causing:
            outage_start = outage_start or deployment
        elif deployment.status == "success" and outage_start is not None:
            # A failed deployment's outage ends with the next success; its incident, when
            # there is one, measures it instead.
            if _within(outage_start.finished_at, start, end):
                restores.append(_utc(deployment.finished_at) - _utc(outage_start.finished_at))
            outage_start = None
    return restores


def _percentile(values: Sequence[timedelta], percent: float) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(v.total_seconds() for v in values)
    rank = (len(ordered) - 1) * percent / 100
    low, high = math.floor(rank), math.ceil(rank)
    seconds = ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
    return timedelta(seconds=seconds)


def _within(moment: datetime | None, start: datetime, end: datetime) -> bool:
    return moment is not None and _utc(start) <= _utc(moment) < _utc(end)


def _utc(moment: datetime | None) -> datetime:
    if moment is None:
        raise ValidationError("a time is missing")
    # Naive times are taken as UTC so that both kinds compare.
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- from GitHub webhooks -----------------------------------------------------------------------


def deployment_from_webhook(event: str, payload: Mapping[str, Any]) -> Deployment | None:
    """A ``deployment`` (started: ``pending``) or ``deployment_status`` webhook as a
    :class:`Deployment`; ``None`` for other events.

    ``success`` is a success, ``failure`` and ``error`` are failures; ``queued``,
    ``in_progress`` and ``pending`` leave it pending.

    Example:
        >>> deployment_from_webhook("deployment_status", {
        ...     "deployment_status": {"state": "error", "created_at": "2026-03-02T10:00:00Z"},
        ...     "deployment": {"id": 5, "sha": "abc", "environment": "production"}}).status
        'failure'
    """
    if event not in ("deployment", "deployment_status"):
        return None
    deployment = _object(payload, "deployment")
    started = _time(deployment.get("created_at"))
    environment = deployment.get("environment")
    status: DeploymentStatus = "pending"
    finished = None
    if event == "deployment_status":
        state = _object(payload, "deployment_status")
        environment = state.get("environment") or environment
        status = {"success": "success", "failure": "failure", "error": "failure"}.get(
            state.get("state"), "pending"
        )
        finished = _time(state.get("created_at")) if status != "pending" else None
    if deployment.get("id") is None or not deployment.get("sha") or not environment:
        raise ValidationError("deployment payload: id, sha or environment is missing")
    return Deployment(
        id=str(deployment["id"]),
        environment=str(environment),
        sha=str(deployment["sha"]),
        status=status,
        finished_at=finished,
        started_at=started,
    )


def change_from_pull_request(payload: Mapping[str, Any]) -> Change | None:
    """A merged pull request (``pull_request`` webhook, ``closed``) as a :class:`Change`
    starting at the pull request's creation; ``None`` when it is not merged.

    Example:
        >>> change_from_pull_request({"pull_request": {"number": 2, "merged_at": None}}) is None
        True
    """
    pull = _object(payload, "pull_request")
    if not pull.get("merged_at"):
        return None
    repository = (payload.get("repository") or {}).get("full_name")
    sha = pull.get("merge_commit_sha")
    if not sha or not pull.get("created_at"):
        raise ValidationError("pull_request payload: merged, but no merge_commit_sha/created_at")
    return Change(
        id=f"{repository}#{pull.get('number')}",
        sha=str(sha),
        started_at=_time(pull["created_at"]),  # type: ignore[arg-type]
        merged_at=_time(pull["merged_at"]),
    )


def changes_from_push(payload: Mapping[str, Any], *, branch: str | None = None) -> list[Change]:
    """The commits of a ``push`` webhook to ``branch`` (default: the repository's default
    branch) as changes starting at their commit time and merged when pushed.

    Example:
        >>> changes_from_push({"ref": "refs/tags/v1", "commits": []}, branch="main")
        []
    """
    repository = payload.get("repository") or {}
    branch = branch or repository.get("default_branch")
    if payload.get("deleted") or payload.get("ref") != f"refs/heads/{branch}":
        return []
    pushed_at = repository.get("pushed_at")
    if isinstance(pushed_at, int | float):  # push payloads give it as a Unix time
        merged = datetime.fromtimestamp(pushed_at, UTC)
    else:
        merged = _time(pushed_at)
    changes = []
    for commit in payload.get("commits") or []:
        # Non-distinct commits were pushed to another branch before; they reach this one now.
        started = _time(commit.get("timestamp")) or merged
        if not commit.get("id") or started is None:
            raise ValidationError("push payload: a commit without id or timestamp")
        changes.append(
            Change(
                id=f"{repository.get('full_name')}@{commit['id'][:12]}",
                sha=str(commit["id"]),
                started_at=started,
                merged_at=merged,
            )
        )
    return changes


def _object(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = payload.get(key) if isinstance(payload, Mapping) else None
    if not isinstance(value, Mapping):
        raise ValidationError(f"webhook payload: no {key!r} object")
    return value


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"not an ISO 8601 time: {value!r}") from None
