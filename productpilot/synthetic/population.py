"""The user population: who signs up when, their segment, funnel outcome and engagement.

All per-user randomness is drawn up front into flat numpy arrays (O(users) memory), sorted by
signup time. The event simulation then only looks users up, which is what lets it stream
day by day: a day's events depend on the population and that day's own random stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.random import Generator

from productpilot.synthetic.anomalies import SIGNUP_SPIKE, Anomaly
from productpilot.synthetic.catalogue import (
    CAMPAIGN_SOURCE,
    COUNTRIES,
    LOCAL_HOUR_PROFILE,
    PLAN_ACTIVATION,
    PLAN_CONVERSION,
    PLAN_MEAN_EXTRA_SEATS,
    PLAN_WEIGHTS,
    PLANS,
    PLATFORM_ACTIVATION,
    PLATFORM_WEIGHTS,
    PLATFORMS,
    SOURCE_ACTIVATION,
    SOURCE_WEIGHTS,
    WORKDAY_FACTORS,
)
from productpilot.synthetic.clock import DAY_US, HOUR_US, NEVER_US, weekday_of
from productpilot.synthetic.config import SyntheticConfig
from productpilot.synthetic.features import FeatureSpec
from productpilot.synthetic.ids import user_ids
from productpilot.synthetic.rng import Stream, stream

# Funnel timing: activation a median 8 h after signup with a long tail into days; conversion a
# median 6 days after activation.
ACTIVATION_MEDIAN_HOURS: Final = 8.0
ACTIVATION_SIGMA: Final = 1.3
CONVERSION_MEDIAN_DAYS: Final = 6.0
CONVERSION_SIGMA: Final = 0.7
# Engagement: mean days until churn by funnel stage, and the share of churned users who return.
LIFETIME_DAYS_NOT_ACTIVATED: Final = 3.0
LIFETIME_DAYS_ACTIVATED: Final = 35.0
LIFETIME_DAYS_CONVERTED: Final = 150.0
RETURN_SHARE: Final = 0.3
RETURN_GAP_MIN_DAYS: Final = 7.0
RETURN_GAP_MEAN_DAYS: Final = 21.0
RETURN_STINT_MEAN_DAYS: Final = 14.0
# A new user needs a few days to discover a feature that is already out.
ADOPTION_LAG_MEAN_DAYS: Final = 5.0

_COUNTRY_WEIGHTS: Final = np.array([c.weight for c in COUNTRIES])
_COUNTRY_OFFSETS: Final = np.array([c.utc_offset_hours for c in COUNTRIES])
_COUNTRY_CONVERSION: Final = np.array([c.conversion for c in COUNTRIES])
_HOUR_WEIGHTS: Final = np.array(LOCAL_HOUR_PROFILE) / sum(LOCAL_HOUR_PROFILE)


def day_factors(config: SyntheticConfig) -> np.ndarray:
    """Weekly seasonality multiplier of every day of the period (signups and activity)."""
    weekly = (*WORKDAY_FACTORS, config.weekend_factor, config.weekend_factor)
    return np.array([weekly[weekday_of(config.start, d)] for d in range(config.days)])


def expected_signups(config: SyntheticConfig) -> np.ndarray:
    """Expected signups per day: exponential growth x weekly seasonality, summing to users."""
    days = np.arange(config.days)
    trend = config.growth ** (days / max(config.days - 1, 1))
    rate = trend * day_factors(config)
    return rate * (config.users / rate.sum())


def utc_hour_profile() -> np.ndarray:
    """Share of a day's activity per UTC hour, blended over the countries' time zones."""
    profile = np.zeros(24)
    for weight, offset in zip(_COUNTRY_WEIGHTS, _COUNTRY_OFFSETS, strict=True):
        # Local hour h is UTC hour h - offset.
        profile += weight * np.roll(_HOUR_WEIGHTS, -offset)
    return profile / profile.sum()


@dataclass(frozen=True, slots=True)
class Population:
    """Per-user arrays, all of length ``size`` and ordered by signup time.

    Times are µs from the period start; ``NEVER_US`` marks a funnel step never reached.
    Engagement fields are in days of user age (days since the signup day).
    """

    size: int
    signup_us: np.ndarray
    signup_day: np.ndarray
    plan: np.ndarray
    country: np.ndarray
    platform: np.ndarray
    source: np.ndarray
    activate_us: np.ndarray
    convert_us: np.ndarray
    seats: np.ndarray
    activity: np.ndarray  # daily activity probability at the start of a user's life
    decay_days: np.ndarray  # how fast that probability settles to half of its start
    lifetime_days: np.ndarray  # age at which the user churns
    return_day: np.ndarray  # age at which a churned user comes back (inf = never)
    return_days: np.ndarray  # length of the comeback
    extra_sessions: np.ndarray  # mean sessions per active day beyond the first
    feature_rate: np.ndarray  # mean feature_used events per session
    adopt_us: np.ndarray  # (size, features): when each feature becomes part of their usage
    distinct_ids: list[str]
    plan_names: list[str]
    country_names: list[str]
    platform_names: list[str]


def build_population(
    config: SyntheticConfig,
    features: tuple[FeatureSpec, ...],
    anomalies: tuple[Anomaly, ...],
) -> Population:
    """Draw every user of the period (base signups plus signup-spike extras)."""
    rate = expected_signups(config)
    counts = stream(config.seed, Stream.SIGNUP_COUNTS).poisson(rate)
    signup_us, country, plan, platform, source = _base_signups(config, counts)
    for anomaly in anomalies:
        if anomaly.kind == SIGNUP_SPIKE:
            extra = _spike_signups(config, anomaly, rate)
            signup_us, country, plan, platform, source = (
                np.concatenate([a, b])
                for a, b in zip((signup_us, country, plan, platform, source), extra, strict=True)
            )
    order = np.argsort(signup_us, kind="stable")
    signup_us, country, plan, platform = (
        signup_us[order],
        country[order],
        plan[order],
        platform[order],
    )
    source = source[order]
    size = len(signup_us)

    funnel = stream(config.seed, Stream.FUNNEL)
    activate_us, convert_us, seats = _funnel(funnel, signup_us, plan, country, platform, source)
    engagement = stream(config.seed, Stream.ENGAGEMENT)
    activated = activate_us < NEVER_US
    converted = convert_us < NEVER_US
    activity, decay, lifetime, return_day, return_days, extra_sessions, feature_rate = _engagement(
        engagement, signup_us, activate_us, convert_us, activated, converted
    )
    adopt_us = _adoption(config, features, signup_us, plan)
    salt = int(stream(config.seed, Stream.IDENTITY).integers(0, 1 << 48))
    return Population(
        size=size,
        signup_us=signup_us,
        signup_day=(signup_us // DAY_US).astype(np.int64),
        plan=plan,
        country=country,
        platform=platform,
        source=source,
        activate_us=activate_us,
        convert_us=convert_us,
        seats=seats,
        activity=activity,
        decay_days=decay,
        lifetime_days=lifetime,
        return_day=return_day,
        return_days=return_days,
        extra_sessions=extra_sessions,
        feature_rate=feature_rate,
        adopt_us=adopt_us,
        distinct_ids=user_ids(size, salt),
        plan_names=[PLANS[i] for i in plan.tolist()],
        country_names=[COUNTRIES[i].code for i in country.tolist()],
        platform_names=[PLATFORMS[i] for i in platform.tolist()],
    )


def _segments(rng: Generator, size: int, campaign: bool) -> tuple[np.ndarray, ...]:
    country = rng.choice(len(COUNTRIES), size=size, p=_COUNTRY_WEIGHTS).astype(np.int8)
    plan = rng.choice(len(PLANS), size=size, p=PLAN_WEIGHTS).astype(np.int8)
    platform = rng.choice(len(PLATFORMS), size=size, p=PLATFORM_WEIGHTS).astype(np.int8)
    source = rng.choice(len(SOURCE_WEIGHTS), size=size, p=SOURCE_WEIGHTS).astype(np.int8)
    if campaign:
        source[:] = CAMPAIGN_SOURCE
    return country, plan, platform, source


def _base_signups(config: SyntheticConfig, counts: np.ndarray) -> tuple[np.ndarray, ...]:
    rng = stream(config.seed, Stream.SIGNUP_USERS)
    size = int(counts.sum())
    day = np.repeat(np.arange(config.days, dtype=np.int64), counts)
    country, plan, platform, source = _segments(rng, size, campaign=False)
    local_hour = rng.choice(24, size=size, p=_HOUR_WEIGHTS)
    utc_hour = (local_hour - _COUNTRY_OFFSETS[country]) % 24
    within_hour = (rng.random(size) * HOUR_US).astype(np.int64)
    signup_us = day * DAY_US + utc_hour.astype(np.int64) * HOUR_US + within_hour
    return signup_us, country, plan, platform, source


def _spike_signups(
    config: SyntheticConfig, anomaly: Anomaly, rate: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Extra campaign signups that lift the window's signup rate by ``magnitude``."""
    rng = stream(config.seed, Stream.SPIKE_USERS, int(anomaly.id[1:]))
    profile = utc_hour_profile()
    hours = range(anomaly.start_us // HOUR_US, anomaly.end_us // HOUR_US)
    baseline = sum(rate[min(h // 24, config.days - 1)] * profile[h % 24] for h in hours)
    size = int(rng.poisson((anomaly.magnitude - 1.0) * baseline))
    country, plan, platform, source = _segments(rng, size, campaign=True)
    offsets = (rng.random(size) * (anomaly.end_us - anomaly.start_us)).astype(np.int64)
    return anomaly.start_us + offsets, country, plan, platform, source


def _funnel(
    rng: Generator,
    signup_us: np.ndarray,
    plan: np.ndarray,
    country: np.ndarray,
    platform: np.ndarray,
    source: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    size = len(signup_us)
    # Draw every array at full size whatever the outcomes, so one user's fate never shifts the
    # numbers another user gets.
    p_activate = (
        np.asarray(PLAN_ACTIVATION)[plan]
        * np.asarray(PLATFORM_ACTIVATION)[platform]
        * np.asarray(SOURCE_ACTIVATION)[source]
    )
    activated = rng.random(size) < np.minimum(p_activate, 0.95)
    delay_hours = rng.lognormal(math.log(ACTIVATION_MEDIAN_HOURS), ACTIVATION_SIGMA, size)
    activate_us = np.where(
        activated, signup_us + (delay_hours * HOUR_US).astype(np.int64) + 1, NEVER_US
    )
    p_convert = np.asarray(PLAN_CONVERSION)[plan] * _COUNTRY_CONVERSION[country]
    converted = activated & (rng.random(size) < np.minimum(p_convert, 0.95))
    delay_days = rng.lognormal(math.log(CONVERSION_MEDIAN_DAYS), CONVERSION_SIGMA, size)
    convert_us = np.where(
        converted, activate_us + (delay_days * DAY_US).astype(np.int64) + 1, NEVER_US
    )
    seats = 1 + rng.poisson(np.asarray(PLAN_MEAN_EXTRA_SEATS)[plan])
    return activate_us, convert_us, seats


def _engagement(
    rng: Generator,
    signup_us: np.ndarray,
    activate_us: np.ndarray,
    convert_us: np.ndarray,
    activated: np.ndarray,
    converted: np.ndarray,
) -> tuple[np.ndarray, ...]:
    size = len(signup_us)
    activity = np.where(activated, rng.beta(5.0, 4.0, size), rng.beta(2.0, 7.0, size))
    # Paying users keep coming back more often.
    activity = np.where(converted, np.minimum(activity * 1.25, 0.95), activity)
    decay = 4.0 + rng.exponential(10.0, size)
    unit = rng.exponential(1.0, size)
    converted_age = np.where(converted, (convert_us - signup_us) / DAY_US, 0.0)
    lifetime = np.where(
        converted,
        converted_age + unit * LIFETIME_DAYS_CONVERTED,
        unit * np.where(activated, LIFETIME_DAYS_ACTIVATED, LIFETIME_DAYS_NOT_ACTIVATED),
    )
    returns = rng.random(size) < RETURN_SHARE
    gap = RETURN_GAP_MIN_DAYS + rng.exponential(RETURN_GAP_MEAN_DAYS, size)
    return_day = np.where(returns, lifetime + gap, np.inf)
    return_days = 1.0 + rng.exponential(RETURN_STINT_MEAN_DAYS, size)
    extra_sessions = rng.gamma(1.0, 0.35, size)
    feature_rate = rng.gamma(2.0, 0.6, size)
    return activity, decay, lifetime, return_day, return_days, extra_sessions, feature_rate


def _adoption(
    config: SyntheticConfig,
    features: tuple[FeatureSpec, ...],
    signup_us: np.ndarray,
    plan: np.ndarray,
) -> np.ndarray:
    """When each user starts using each feature (NEVER_US if they never do).

    Each user gets a latent adoption time from the feature's logistic S-curve (inverse-CDF
    sampling, truncated at the release so nobody adopts before it), and cannot adopt before
    signing up plus a discovery lag.
    """
    size = len(signup_us)
    adopt = np.full((size, len(features)), NEVER_US, dtype=np.int64)
    for index, spec in enumerate(features):
        # One sub-stream per feature position: adding a feature leaves the others unchanged.
        rng = stream(config.seed, Stream.ADOPTION, index)
        u = rng.random(size)
        lag_days = rng.exponential(ADOPTION_LAG_MEAN_DAYS, size)
        eligible = np.isin(plan, [PLANS.index(p) for p in spec.plans])
        adopter = eligible & (u < spec.ceiling)
        at_release = 1.0 / (1.0 + math.exp(spec.midpoint_days / spec.spread_days))
        level = at_release + (u / spec.ceiling) * (1.0 - at_release)
        level = np.clip(level, at_release, 1.0 - 1e-9)
        days_after = spec.midpoint_days + spec.spread_days * np.log(level / (1.0 - level))
        latent = spec.release_us + (np.maximum(days_after, 0.0) * DAY_US).astype(np.int64)
        personal = signup_us + (lag_days * DAY_US).astype(np.int64)
        adopt[:, index] = np.where(adopter, np.maximum(latent, personal), NEVER_US)
    return adopt
