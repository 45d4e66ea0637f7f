"""Static tables the generator draws from: segments, event names, endpoints, pages and texts.

Everything here is plain data so the docs (docs/synthetic-data.md) and the code can be checked
against each other, and so changing a table is a one-line diff.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Event names in a fixed order; the index is the event's kind code inside the generator.
SIGNUP: Final = 0
ACTIVATE: Final = 1
CONVERT: Final = 2
SESSION_START: Final = 3
PAGEVIEW: Final = 4
FEATURE_USED: Final = 5
API_REQUEST: Final = 6
NPS_RESPONSE: Final = 7
EVENT_NAMES: Final[tuple[str, ...]] = (
    "signup",
    "activate",
    "convert",
    "session_start",
    "pageview",
    "feature_used",
    "api_request",
    "nps_response",
)

# Account segments. `plan` is the tier the account signed up on (free = self-serve freemium,
# pro = pro trial, enterprise = sales-assisted trial); it never changes for a user.
PLANS: Final[tuple[str, ...]] = ("free", "pro", "enterprise")
PLAN_WEIGHTS: Final[tuple[float, ...]] = (0.72, 0.22, 0.06)
PLAN_ACTIVATION: Final[tuple[float, ...]] = (0.42, 0.60, 0.72)
PLAN_CONVERSION: Final[tuple[float, ...]] = (0.07, 0.28, 0.45)  # given activation
PLAN_SEAT_PRICE_USD: Final[tuple[float, ...]] = (15.0, 39.0, 89.0)
PLAN_MEAN_EXTRA_SEATS: Final[tuple[float, ...]] = (1.0, 4.0, 30.0)

PLATFORMS: Final[tuple[str, ...]] = ("web", "ios", "android")
PLATFORM_WEIGHTS: Final[tuple[float, ...]] = (0.62, 0.21, 0.17)
PLATFORM_ACTIVATION: Final[tuple[float, ...]] = (1.0, 0.92, 0.85)


@dataclass(frozen=True, slots=True)
class Country:
    """A country segment: ISO code, share of signups, UTC offset and conversion multiplier."""

    code: str
    weight: float
    utc_offset_hours: int
    conversion: float


COUNTRIES: Final[tuple[Country, ...]] = (
    Country("US", 0.34, -5, 1.15),
    Country("GB", 0.10, 0, 1.10),
    Country("DE", 0.09, 1, 1.10),
    Country("FR", 0.06, 1, 1.00),
    Country("IN", 0.10, 5, 0.55),
    Country("BR", 0.07, -3, 0.65),
    Country("CA", 0.06, -5, 1.10),
    Country("AU", 0.05, 10, 1.05),
    Country("JP", 0.05, 9, 0.90),
    Country("NL", 0.04, 1, 1.10),
    Country("ES", 0.04, 1, 0.85),
)

SOURCES: Final[tuple[str, ...]] = (
    "organic",
    "paid_search",
    "referral",
    "social",
    "partner",
    "campaign",
)
SOURCE_WEIGHTS: Final[tuple[float, ...]] = (0.40, 0.22, 0.15, 0.11, 0.07, 0.05)
SOURCE_ACTIVATION: Final[tuple[float, ...]] = (1.0, 0.95, 1.15, 0.9, 1.05, 0.6)
CAMPAIGN_SOURCE: Final = SOURCES.index("campaign")

# Share of a day's activity that falls into each *local* hour; shifted by the country's UTC
# offset when sampling, so the UTC profile is a blend of time zones like a real product's.
LOCAL_HOUR_PROFILE: Final[tuple[float, ...]] = (
    0.15, 0.10, 0.08, 0.07, 0.08, 0.15, 0.35, 0.70, 1.10, 1.40, 1.55, 1.60,
    1.50, 1.55, 1.60, 1.55, 1.40, 1.20, 0.95, 0.80, 0.70, 0.55, 0.40, 0.25,
)  # fmt: skip

# Monday..Sunday multipliers for working days; Saturday and Sunday use config.weekend_factor.
WORKDAY_FACTORS: Final[tuple[float, ...]] = (1.0, 1.02, 1.0, 0.97, 0.90)

PAGES: Final[tuple[str, ...]] = (
    "/home",
    "/dashboards",
    "/reports",
    "/alerts",
    "/settings",
    "/billing",
    "/integrations",
    "/docs",
)
PAGE_WEIGHTS: Final[tuple[float, ...]] = (0.26, 0.22, 0.16, 0.10, 0.08, 0.04, 0.06, 0.08)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An API endpoint with its log-normal latency (median, sigma) and baseline 5xx rate."""

    method: str
    path: str
    weight: float
    median_ms: float
    sigma: float
    error_rate: float


ENDPOINTS: Final[tuple[Endpoint, ...]] = (
    Endpoint("GET", "/api/v1/dashboards", 0.22, 140.0, 0.45, 0.006),
    Endpoint("GET", "/api/v1/events", 0.20, 95.0, 0.50, 0.005),
    Endpoint("POST", "/api/v1/events", 0.18, 45.0, 0.35, 0.004),
    Endpoint("GET", "/api/v1/reports", 0.12, 420.0, 0.60, 0.012),
    Endpoint("POST", "/api/v1/exports", 0.05, 1100.0, 0.70, 0.020),
    Endpoint("GET", "/api/v1/alerts", 0.10, 80.0, 0.40, 0.005),
    Endpoint("POST", "/api/v1/auth/token", 0.08, 60.0, 0.30, 0.003),
    Endpoint("POST", "/api/v1/assistant/query", 0.05, 1800.0, 0.55, 0.015),
)
SERVER_ERROR_STATUSES: Final[tuple[int, ...]] = (500, 502, 503, 504)
SERVER_ERROR_WEIGHTS: Final[tuple[float, ...]] = (0.55, 0.15, 0.20, 0.10)
CLIENT_ERROR_RATE: Final = 0.02
CLIENT_ERROR_STATUSES: Final[tuple[int, ...]] = (400, 401, 403, 404, 409, 422, 429)
CLIENT_ERROR_WEIGHTS: Final[tuple[float, ...]] = (0.22, 0.18, 0.08, 0.30, 0.05, 0.12, 0.05)

# NPS score distributions (index = score 0..10). Activated users are happier.
NPS_WEIGHTS_ACTIVATED: Final[tuple[float, ...]] = (
    0.02, 0.01, 0.01, 0.02, 0.02, 0.05, 0.06, 0.13, 0.20, 0.22, 0.26,
)  # fmt: skip
NPS_WEIGHTS_OTHER: Final[tuple[float, ...]] = (
    0.06, 0.04, 0.05, 0.06, 0.06, 0.12, 0.11, 0.15, 0.13, 0.11, 0.11,
)  # fmt: skip
NPS_COMMENT_RATE: Final = 0.35
NPS_COMMENTS_DETRACTOR: Final[tuple[str, ...]] = (
    "Reports take forever to load.",
    "Too expensive for a small team.",
    "The mobile app keeps logging me out.",
    "Hard to set up, docs are confusing.",
    "Exports fail on large date ranges.",
    "Missing integrations we need.",
)
NPS_COMMENTS_PASSIVE: Final[tuple[str, ...]] = (
    "Does the job, but the UI feels dated.",
    "Good dashboards, alerts are noisy.",
    "Would love better permissions.",
    "Solid, a bit slow at times.",
    "Pricing is fair, onboarding could be smoother.",
)
NPS_COMMENTS_PROMOTER: Final[tuple[str, ...]] = (
    "Love the dashboards!",
    "Saves our team hours every week.",
    "Alerts caught an incident before our customers did.",
    "Great support and fast releases.",
    "The AI assistant is surprisingly useful.",
    "Best analytics tool we have tried.",
)
# All comments in one tuple; an nps_response stores its comment as an index into it.
NPS_COMMENTS: Final[tuple[str, ...]] = (
    NPS_COMMENTS_DETRACTOR + NPS_COMMENTS_PASSIVE + NPS_COMMENTS_PROMOTER
)
