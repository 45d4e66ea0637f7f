"""Day-by-day event simulation: one day's events as columns, then as PostHog-style dicts.

A day is simulated from the population and the day's own random stream only, so days can be
produced lazily and in constant memory, and counting events (for calibration and manifests)
runs the same code without building dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from productpilot.synthetic import anomalies as anomaly_effects
from productpilot.synthetic.anomalies import Anomaly
from productpilot.synthetic.catalogue import (
    ACTIVATE,
    API_REQUEST,
    CLIENT_ERROR_RATE,
    CLIENT_ERROR_STATUSES,
    CLIENT_ERROR_WEIGHTS,
    CONVERT,
    COUNTRIES,
    ENDPOINTS,
    EVENT_NAMES,
    FEATURE_USED,
    LOCAL_HOUR_PROFILE,
    NPS_COMMENT_RATE,
    NPS_COMMENTS_DETRACTOR,
    NPS_COMMENTS_PASSIVE,
    NPS_COMMENTS_PROMOTER,
    NPS_RESPONSE,
    NPS_WEIGHTS_ACTIVATED,
    NPS_WEIGHTS_OTHER,
    PAGE_WEIGHTS,
    PAGES,
    PAGEVIEW,
    SERVER_ERROR_STATUSES,
    SERVER_ERROR_WEIGHTS,
    SESSION_START,
    SIGNUP,
)
from productpilot.synthetic.clock import DAY_US, HOUR_US, NEVER_US, SECOND_US
from productpilot.synthetic.config import SyntheticConfig
from productpilot.synthetic.features import FeatureSpec
from productpilot.synthetic.population import Population, day_factors
from productpilot.synthetic.rng import Stream, stream

# Engagement decays from `activity` towards this share of it as a user ages.
ACTIVITY_FLOOR: Final = 0.5
# Returning users are a bit less engaged than in their first stint.
RETURN_ACTIVITY: Final = 0.7
PAGEVIEWS_EXTRA_MEAN: Final = 2.5  # per session, on top of the landing pageview
API_REQUESTS_MEAN: Final = 3.0  # per session
NPS_MIN_AGE_DAYS: Final = 7
NPS_DAILY_RATE: Final = 0.04  # chance an eligible user answers the survey on an active day
EVENT_GAP_MEAN_S: Final = 40.0  # mean time between events in a session

# Sub-streams of a day's stream: UUIDs have their own, so counting events (which needs no
# UUIDs) and rendering them consume the simulation stream identically.
SIMULATION_SUBSTREAM: Final = 0
UUID_SUBSTREAM: Final = 1

_HOUR_WEIGHTS: Final = np.array(LOCAL_HOUR_PROFILE) / sum(LOCAL_HOUR_PROFILE)
_COUNTRY_OFFSETS: Final = np.array([c.utc_offset_hours for c in COUNTRIES], dtype=np.int64)
_PAGE_WEIGHTS: Final = np.array(PAGE_WEIGHTS)
_ENDPOINT_WEIGHTS: Final = np.array([e.weight for e in ENDPOINTS]) / sum(
    e.weight for e in ENDPOINTS
)
_ENDPOINT_LOG_MEDIAN: Final = np.log([e.median_ms for e in ENDPOINTS])
_ENDPOINT_SIGMA: Final = np.array([e.sigma for e in ENDPOINTS])
_ENDPOINT_ERROR: Final = np.array([e.error_rate for e in ENDPOINTS])
_ENDPOINT_POST: Final = np.array([e.method == "POST" for e in ENDPOINTS])
_NPS_CDF_ACTIVATED: Final = np.cumsum(NPS_WEIGHTS_ACTIVATED) / sum(NPS_WEIGHTS_ACTIVATED)
_NPS_CDF_OTHER: Final = np.cumsum(NPS_WEIGHTS_OTHER) / sum(NPS_WEIGHTS_OTHER)
_COMMENT_POOLS: Final = (  # (first index in NPS_COMMENTS, pool size) by NPS category
    (0, len(NPS_COMMENTS_DETRACTOR)),
    (len(NPS_COMMENTS_DETRACTOR), len(NPS_COMMENTS_PASSIVE)),
    (len(NPS_COMMENTS_DETRACTOR) + len(NPS_COMMENTS_PASSIVE), len(NPS_COMMENTS_PROMOTER)),
)


@dataclass(frozen=True, slots=True)
class EventModel:
    """Everything a day's simulation reads: config, features, population and anomaly plan."""

    config: SyntheticConfig
    features: tuple[FeatureSpec, ...]
    population: Population
    anomalies: tuple[Anomaly, ...]
    day_factor: np.ndarray
    feature_weight: np.ndarray

    @classmethod
    def build(
        cls,
        config: SyntheticConfig,
        features: tuple[FeatureSpec, ...],
        population: Population,
        anomalies: tuple[Anomaly, ...],
    ) -> EventModel:
        """Precompute the per-day and per-feature tables."""
        return cls(
            config=config,
            features=features,
            population=population,
            anomalies=anomalies,
            day_factor=day_factors(config),
            feature_weight=np.array([f.weight for f in features]),
        )


@dataclass(frozen=True, slots=True)
class DayFrame:
    """One day's events as parallel columns, sorted by time.

    ``session`` indexes the day's sessions (-1 for funnel events). The payload columns mean
    different things per kind, which keeps a day at ~60 bytes per event:

    * ``choice``: source (signup), page (pageview), feature (feature_used), endpoint
      (api_request) or score (nps_response) index; -1 otherwise.
    * ``amount``: hours since signup (activate), days since signup (convert), latency in ms
      (api_request); 0 otherwise.
    * ``code``: seats (convert), HTTP status (api_request), comment index or -1 (nps_response).
    """

    kind: np.ndarray
    time_us: np.ndarray
    user: np.ndarray
    session: np.ndarray
    choice: np.ndarray
    amount: np.ndarray
    code: np.ndarray
    session_start_row: np.ndarray  # row of each session's session_start event

    def __len__(self) -> int:
        return len(self.kind)

    def counts(self) -> np.ndarray:
        """Number of events per kind code."""
        return np.bincount(self.kind, minlength=len(EVENT_NAMES))


def simulate_day(model: EventModel, day: int) -> DayFrame:
    """Simulate every event of ``day`` (0-based) of the period.

    Args:
        model: The prepared model.
        day: Day index in [0, config.days).

    Returns:
        The day's events, sorted by timestamp (ties keep generation order).
    """
    rng = stream(model.config.seed, Stream.EVENTS, day, SIMULATION_SUBSTREAM)
    pop = model.population
    lo = day * DAY_US
    hi = lo + DAY_US
    anomalies = tuple(a for a in model.anomalies if a.overlaps(lo, hi))
    eligible = int(np.searchsorted(pop.signup_us, hi, side="left"))

    # Who is active today.
    age = day - pop.signup_day[:eligible]
    age_f = age.astype(np.float64)
    first_stint = age_f < pop.lifetime_days[:eligible]
    comeback = (age_f >= pop.return_day[:eligible]) & (
        age_f < pop.return_day[:eligible] + pop.return_days[:eligible]
    )
    activity = pop.activity[:eligible]
    decayed = activity * (
        ACTIVITY_FLOOR + (1.0 - ACTIVITY_FLOOR) * np.exp(-age_f / pop.decay_days[:eligible])
    )
    p_active = np.where(first_stint, decayed, np.where(comeback, RETURN_ACTIVITY * activity, 0.0))
    p_active = p_active * model.day_factor[day]
    p_active[age == 0] = 1.0  # everyone is in the product on the day they sign up
    active = np.flatnonzero(rng.random(eligible) < p_active)

    # Sessions of active users.
    per_user = 1 + rng.poisson(pop.extra_sessions[active])
    session_user = np.repeat(active, per_user)
    n_sessions = len(session_user)
    first_session = np.zeros(n_sessions, dtype=bool)
    first_session[np.cumsum(per_user) - per_user] = True
    local_hour = rng.choice(24, size=n_sessions, p=_HOUR_WEIGHTS)
    utc_hour = (local_hour - _COUNTRY_OFFSETS[pop.country[session_user]]) % 24
    start = lo + utc_hour * HOUR_US + (rng.random(n_sessions) * HOUR_US).astype(np.int64)
    signup_at = pop.signup_us[session_user]
    after_signup = signup_at + (rng.uniform(5, 120, n_sessions) * SECOND_US).astype(np.int64)
    later_today = signup_at + (rng.random(n_sessions) * (hi - signup_at)).astype(np.int64)
    on_signup_day = signup_at >= lo
    # The signup session follows the signup; any other session that day cannot precede it.
    start = np.where(on_signup_day & first_session, after_signup, start)
    start = np.where(on_signup_day & ~first_session & (start <= signup_at), later_today, start)
    start = np.minimum(start, hi - 1)
    keep_p = anomaly_effects.session_keep_probability(anomalies, start)
    kept = rng.random(n_sessions) < keep_p

    n_pageviews = 1 + rng.poisson(PAGEVIEWS_EXTRA_MEAN, n_sessions)
    has_feature = (pop.adopt_us[session_user] < lo).any(axis=1)
    n_features = rng.poisson(pop.feature_rate[session_user]) * has_feature
    n_api = rng.poisson(API_REQUESTS_MEAN, n_sessions)
    session_age = day - pop.signup_day[session_user]
    nps = first_session & (session_age >= NPS_MIN_AGE_DAYS)
    nps &= rng.random(n_sessions) < NPS_DAILY_RATE
    duration_noise = rng.lognormal(0.0, 0.5, n_sessions)

    # Drop sessions lost to an outage only after all per-session draws, so the sessions that
    # survive have exactly the content they would have had without the outage.
    session_user, start, first_session = session_user[kept], start[kept], first_session[kept]
    n_pageviews, n_features, n_api = n_pageviews[kept], n_features[kept], n_api[kept]
    nps, duration_noise = nps[kept], duration_noise[kept]
    n_sessions = len(session_user)

    # Expand sessions into events: session_start, pageviews, feature uses, API calls, NPS.
    per_session = 1 + n_pageviews + n_features + n_api + nps
    total = int(per_session.sum())
    session = np.repeat(np.arange(n_sessions), per_session)
    position = np.arange(total) - np.repeat(np.cumsum(per_session) - per_session, per_session)
    rel = position - 1
    kind = np.full(total, PAGEVIEW, dtype=np.int8)
    feature_from = np.repeat(n_pageviews, per_session)
    api_from = feature_from + np.repeat(n_features, per_session)
    nps_from = api_from + np.repeat(n_api, per_session)
    kind[rel >= feature_from] = FEATURE_USED
    kind[rel >= api_from] = API_REQUEST
    kind[rel >= nps_from] = NPS_RESPONSE
    kind[position == 0] = SESSION_START

    # Events spread over the session; a session near midnight is compressed to fit the day.
    duration = per_session * EVENT_GAP_MEAN_S * SECOND_US * duration_noise
    room = (hi - 1 - start).astype(np.float64)
    duration = np.minimum(duration, room)
    offset = rng.random(total) * duration[session]
    offset[position == 0] = 0.0
    time_us = start[session] + offset.astype(np.int64)
    user = session_user[session]

    choice = np.full(total, -1, dtype=np.int64)
    amount = np.zeros(total)
    code = np.full(total, -1, dtype=np.int64)
    _pageviews(rng, kind, choice)
    _feature_uses(rng, model, lo, kind, user, choice)
    _api_requests(rng, anomalies, kind, time_us, choice, amount, code)
    _nps_responses(rng, pop, kind, user, choice, code)

    # Adoption drops thin out one feature's use in one segment.
    keep_p = anomaly_effects.feature_keep_probability(
        anomalies, time_us, np.where(kind == FEATURE_USED, choice, -1), pop.platform[user]
    )
    keep = rng.random(total) < keep_p
    session_columns = (kind[keep], time_us[keep], user[keep], session[keep], choice[keep])
    session_columns += (amount[keep], code[keep])

    funnel_columns = _funnel_events(pop, lo, hi, eligible)
    columns = [np.concatenate([f, s]) for f, s in zip(funnel_columns, session_columns, strict=True)]
    order = np.argsort(columns[1], kind="stable")
    kind, time_us, user, session, choice, amount, code = (c[order] for c in columns)
    session_start_row = np.empty(n_sessions, dtype=np.int64)
    starts = np.flatnonzero(kind == SESSION_START)
    session_start_row[session[starts]] = starts
    return DayFrame(kind, time_us, user, session, choice, amount, code, session_start_row)


def _pageviews(rng: np.random.Generator, kind: np.ndarray, choice: np.ndarray) -> None:
    rows = np.flatnonzero(kind == PAGEVIEW)
    choice[rows] = rng.choice(len(PAGES), size=len(rows), p=_PAGE_WEIGHTS)


def _feature_uses(
    rng: np.random.Generator,
    model: EventModel,
    lo: int,
    kind: np.ndarray,
    user: np.ndarray,
    choice: np.ndarray,
) -> None:
    rows = np.flatnonzero(kind == FEATURE_USED)
    # Only features adopted before today's start: a release or adoption mid-day shows up from
    # the next day, which also guarantees no feature event precedes its release.
    adopted = model.population.adopt_us[user[rows]] < lo
    cumulative = np.cumsum(adopted * model.feature_weight, axis=1)
    target = rng.random(len(rows)) * cumulative[:, -1]
    choice[rows] = (cumulative <= target[:, None]).sum(axis=1)


def _api_requests(
    rng: np.random.Generator,
    anomalies: tuple[Anomaly, ...],
    kind: np.ndarray,
    time_us: np.ndarray,
    choice: np.ndarray,
    amount: np.ndarray,
    code: np.ndarray,
) -> None:
    rows = np.flatnonzero(kind == API_REQUEST)
    n = len(rows)
    times = time_us[rows]
    endpoint = rng.choice(len(ENDPOINTS), size=n, p=_ENDPOINT_WEIGHTS)
    z = rng.standard_normal(n)
    latency = np.exp(_ENDPOINT_LOG_MEDIAN[endpoint] + _ENDPOINT_SIGMA[endpoint] * z)
    latency *= anomaly_effects.latency_multiplier(anomalies, times, endpoint)
    p_error = _ENDPOINT_ERROR[endpoint] * anomaly_effects.error_multiplier(anomalies, times)
    server_error = rng.random(n) < np.minimum(p_error, 1.0)
    client_error = rng.random(n) < CLIENT_ERROR_RATE
    server_status = rng.choice(SERVER_ERROR_STATUSES, size=n, p=SERVER_ERROR_WEIGHTS)
    client_status = rng.choice(CLIENT_ERROR_STATUSES, size=n, p=CLIENT_ERROR_WEIGHTS)
    ok_status = np.where(_ENDPOINT_POST[endpoint], 201, 200)
    status = np.where(server_error, server_status, np.where(client_error, client_status, ok_status))
    choice[rows] = endpoint
    amount[rows] = np.round(latency, 1)
    code[rows] = status


def _nps_responses(
    rng: np.random.Generator,
    pop: Population,
    kind: np.ndarray,
    user: np.ndarray,
    choice: np.ndarray,
    code: np.ndarray,
) -> None:
    rows = np.flatnonzero(kind == NPS_RESPONSE)
    n = len(rows)
    activated = pop.activate_us[user[rows]] < NEVER_US
    u = rng.random(n)
    score = np.where(
        activated,
        np.searchsorted(_NPS_CDF_ACTIVATED, u, side="right"),
        np.searchsorted(_NPS_CDF_OTHER, u, side="right"),
    )
    score = np.minimum(score, 10)
    category = np.where(score <= 6, 0, np.where(score <= 8, 1, 2))
    pool_start = np.array([p[0] for p in _COMMENT_POOLS])[category]
    pool_size = np.array([p[1] for p in _COMMENT_POOLS])[category]
    pick = (rng.random(n) * pool_size).astype(np.int64)
    commented = rng.random(n) < NPS_COMMENT_RATE
    choice[rows] = score
    code[rows] = np.where(commented, pool_start + pick, -1)


def _funnel_events(pop: Population, lo: int, hi: int, eligible: int) -> tuple[np.ndarray, ...]:
    """Signups, activations and conversions that happen in [lo, hi)."""
    first = int(np.searchsorted(pop.signup_us, lo, side="left"))
    signups = np.arange(first, eligible)
    activations = np.flatnonzero(
        (pop.activate_us[:eligible] >= lo) & (pop.activate_us[:eligible] < hi)
    )
    conversions = np.flatnonzero(
        (pop.convert_us[:eligible] >= lo) & (pop.convert_us[:eligible] < hi)
    )
    user = np.concatenate([signups, activations, conversions])
    kind = np.concatenate(
        [
            np.full(len(signups), SIGNUP, dtype=np.int8),
            np.full(len(activations), ACTIVATE, dtype=np.int8),
            np.full(len(conversions), CONVERT, dtype=np.int8),
        ]
    )
    time_us = np.concatenate(
        [pop.signup_us[signups], pop.activate_us[activations], pop.convert_us[conversions]]
    )
    n = len(user)
    choice = np.concatenate(
        [pop.source[signups].astype(np.int64), np.full(len(activations) + len(conversions), -1)]
    )
    hours = (pop.activate_us[activations] - pop.signup_us[activations]) / HOUR_US
    days = (pop.convert_us[conversions] - pop.signup_us[conversions]) / DAY_US
    amount = np.concatenate([np.zeros(len(signups)), np.round(hours, 1), np.round(days, 1)])
    code = np.concatenate(
        [np.full(len(signups) + len(activations), -1), pop.seats[conversions].astype(np.int64)]
    )
    return kind, time_us, user, np.full(n, -1, dtype=np.int64), choice, amount, code
