"""The router's pure decisions: which routes a finding takes, and when it may be sent.

Nothing here touches the store, so every rule is tested on its own, across time zones and
daylight-saving changes.

Example:
    >>> from datetime import UTC, datetime, time
    >>> quiet = QuietHours(start=time(22), end=time(7), timezone="Europe/Berlin")
    >>> quiet_until(datetime(2026, 12, 1, 22, 30, tzinfo=UTC), quiet).isoformat()
    '2026-12-02T06:00:00+00:00'
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from zoneinfo import ZoneInfo

from productpilot.notify.message import Finding
from productpilot.products.configuration import TICKET_CHANNELS, NotificationRoute, QuietHours

HOUR = timedelta(hours=1)


def route_key(index: int, route: NotificationRoute) -> str:
    """A stable name for a configured route: its position and a hash of its definition, so
    editing a route starts new digests rather than appending to the old route's."""
    digest = hashlib.sha256(route.model_dump_json().encode()).hexdigest()[:12]
    return f"{index}:{digest}"


def matches(route: NotificationRoute, finding: Finding) -> bool:
    """Whether ``finding`` takes ``route`` (kinds are shell-style patterns). Ticket routes
    take only findings that ask for a ticket (a daily report opens none)."""
    if route.channel in TICKET_CHANNELS and not finding.ticket:
        return False
    if route.severities and finding.severity not in route.severities:
        return False
    return not route.kinds or any(fnmatchcase(finding.kind, kind) for kind in route.kinds)


def matching_routes(
    routes: Sequence[NotificationRoute], finding: Finding
) -> list[tuple[str, NotificationRoute]]:
    """The routes ``finding`` takes, with their keys, in configuration order."""
    return [(route_key(i, r), r) for i, r in enumerate(routes) if matches(r, finding)]


def quiet_until(moment: datetime, quiet: QuietHours) -> datetime:
    """When a notification due at ``moment`` may go out under ``quiet`` (``moment`` itself
    when it falls outside the quiet hours).

    Quiet hours are wall-clock times in the recipients' zone, so they follow daylight
    saving time: 07:00 in Berlin is 06:00 UTC in winter and 05:00 UTC in summer.
    """
    zone = ZoneInfo(quiet.timezone)
    local = moment.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    spans_midnight = quiet.start > quiet.end
    if quiet.start == quiet.end:
        return moment
    if spans_midnight:
        inside = clock >= quiet.start or clock < quiet.end
    else:
        inside = quiet.start <= clock < quiet.end
    if not inside:
        return moment
    end_day = local.date()
    if spans_midnight and clock >= quiet.start:
        end_day += timedelta(days=1)
    # A wall-clock time built in the zone, then converted: DST shifts land where people
    # expect them (an end at 02:30 on a spring-forward night resolves to 03:30 local).
    end = datetime.combine(end_day, quiet.end, tzinfo=zone)
    return max(moment, end.astimezone(moment.tzinfo))


def next_slot(planned: datetime, booked: Sequence[datetime], max_per_hour: int | None) -> datetime:
    """The earliest instant at or after ``planned`` when one more send keeps a recipient
    within ``max_per_hour`` in every sliding hour (``booked``: when its other notifications
    went or will go out).
    """
    if max_per_hour is None:
        return planned
    times = sorted(booked)

    def fits(slot: datetime) -> bool:
        # Every hour-long window that would hold the new send: the one ending at it, and
        # those ending at sends already booked within the hour after it.
        ends = [slot, *(t for t in times if slot < t < slot + HOUR)]
        return all(sum(1 for t in times if end - HOUR < t <= end) < max_per_hour for end in ends)

    slot = planned
    while not fits(slot):
        # The next instant a booked send leaves a window.
        slot = min(t + HOUR for t in times if t + HOUR > slot)
    return slot


def over_limit(planned: datetime, recent: Sequence[datetime], max_per_hour: int | None) -> bool:
    """Whether a send at ``planned`` would exceed ``max_per_hour`` for the recipient."""
    return next_slot(planned, recent, max_per_hour) > planned


def idempotency_key(*parts: object) -> str:
    """A 64-character key from ``parts`` (the outbox's unique column)."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
