"""Live usage for planning: how many users touched each feature recently (RICE's reach), and
the baselines success criteria start from."""

from __future__ import annotations

from datetime import date, timedelta

from productpilot.analytics.adoption import feature_adoption
from productpilot.analytics.queries import day_bounds, load_events
from productpilot.db.tenancy import StoreSession

FEATURE_USED = "feature_used"


def reach_by_feature(
    session: StoreSession, product_id: int, as_of: date, window_days: int = 30
) -> dict[str, int]:
    """Distinct users with a ``feature_used`` event of each feature in the ``window_days``
    ending on ``as_of`` (both inclusive).

    Example:
        >>> reach_by_feature(session, product.id, date(2026, 11, 30))  # doctest: +SKIP
        {'alerts': 412, 'dashboards': 1290}
    """
    start, end = day_bounds(as_of - timedelta(days=window_days - 1), as_of)
    events = load_events(session, product_id, [FEATURE_USED], start, end, properties=True)
    if events.empty:
        return {}
    adoption = feature_adoption(events, start=start, end=end)
    return {stats.feature: stats.users for stats in adoption.features}
