"""Rendering: a day's event columns become the public event dicts.

Dicts cost ~20x more memory than the columns, so they are built in batches and only one
batch exists at a time; this is what keeps ``events()`` and ``write()`` flat in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import numpy as np

from productpilot.synthetic.catalogue import (
    ACTIVATE,
    API_REQUEST,
    CONVERT,
    ENDPOINTS,
    EVENT_NAMES,
    FEATURE_USED,
    NPS_COMMENTS,
    NPS_RESPONSE,
    PAGES,
    PAGEVIEW,
    PLAN_SEAT_PRICE_USD,
    SIGNUP,
    SOURCES,
)
from productpilot.synthetic.clock import iso_timestamps
from productpilot.synthetic.events import UUID_SUBSTREAM, DayFrame, EventModel
from productpilot.synthetic.ids import random_uuids
from productpilot.synthetic.rng import Stream, stream

BATCH_SIZE: Final = 4096  # event dicts built at once


def event_batches(
    model: EventModel, day: int, frame: DayFrame, batch_size: int = BATCH_SIZE
) -> Iterator[list[dict[str, Any]]]:
    """Turn ``day``'s columns into event dicts (the public format), ``batch_size`` at a time.

    Args:
        model: The model the frame was simulated with.
        day: The frame's day index (selects the UUID stream).
        frame: The output of ``simulate_day(model, day)``.
        batch_size: Events per yielded list.

    Yields:
        Lists of event dicts, in timestamp order.
    """
    n = len(frame)
    if n == 0:
        return
    uuids = random_uuids(stream(model.config.seed, Stream.EVENTS, day, UUID_SUBSTREAM), n)
    for lo in range(0, n, batch_size):
        rows = slice(lo, min(lo + batch_size, n))
        yield _build_events(model, frame, uuids, rows)


def _build_events(
    model: EventModel, frame: DayFrame, uuids: np.ndarray, rows: slice
) -> list[dict[str, Any]]:
    pop = model.population
    session = frame.session[rows]
    in_session = session >= 0
    session_uuids = np.full(len(session), "", dtype=uuids.dtype)
    session_uuids[in_session] = uuids[frame.session_start_row[session[in_session]]]
    session_ids = session_uuids.tolist()
    feature_names = [f.name for f in model.features]
    distinct_ids, plans = pop.distinct_ids, pop.plan_names
    countries, platforms = pop.country_names, pop.platform_names
    events: list[dict[str, Any]] = []
    append = events.append
    columns = zip(
        uuids[rows].tolist(),
        frame.kind[rows].tolist(),
        frame.user[rows].tolist(),
        iso_timestamps(model.config.start, frame.time_us[rows]),
        session.tolist(),
        session_ids,
        frame.choice[rows].tolist(),
        frame.amount[rows].tolist(),
        frame.code[rows].tolist(),
        strict=True,
    )
    for event_id, kind, user, timestamp, session, session_id, choice, amount, code in columns:
        properties: dict[str, Any] = {
            "plan": plans[user],
            "country": countries[user],
            "platform": platforms[user],
        }
        if session >= 0:
            properties["session_id"] = session_id
        if kind == API_REQUEST:
            endpoint = ENDPOINTS[choice]
            properties["endpoint"] = endpoint.path
            properties["method"] = endpoint.method
            properties["latency_ms"] = amount
            properties["status"] = code
            properties["error"] = code >= 500
        elif kind == PAGEVIEW:
            properties["path"] = PAGES[choice]
        elif kind == FEATURE_USED:
            properties["feature"] = feature_names[choice]
        elif kind == NPS_RESPONSE:
            properties["score"] = choice
            if code >= 0:
                properties["comment"] = NPS_COMMENTS[code]
        elif kind == SIGNUP:
            properties["source"] = SOURCES[choice]
        elif kind == ACTIVATE:
            properties["hours_since_signup"] = amount
        elif kind == CONVERT:
            properties["days_since_signup"] = amount
            properties["seats"] = code
            properties["mrr_usd"] = round(code * PLAN_SEAT_PRICE_USD[pop.plan[user]], 2)
        append(
            {
                "uuid": event_id,
                "event": EVENT_NAMES[kind],
                "distinct_id": distinct_ids[user],
                "timestamp": timestamp,
                "properties": properties,
            }
        )
    return events
