"""Product features: when each is released and how its adoption S-curve is shaped."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from productpilot.synthetic.clock import DAY_US, HOUR_US, iso_seconds
from productpilot.synthetic.config import SyntheticConfig

# Releases ship mid-afternoon UTC, after the day's deploy window.
RELEASE_HOUR: Final = 15


@dataclass(frozen=True, slots=True)
class FeatureProfile:
    """How a feature is released and adopted, before it is placed in a concrete period.

    ``release`` is either a day offset from the period start (an int, negative = before the
    period) or a fraction of the period (a float in [0, 1)).
    """

    release: int | float
    ceiling: float  # share of eligible users who ever adopt
    midpoint_days: float  # days after release when half of the eventual adopters have adopted
    spread_days: float  # logistic scale: larger = slower, flatter S-curve
    weight: float  # relative usage intensity among a user's adopted features
    plans: tuple[str, ...]  # plans allowed to use it
    team: str  # team that owns its backlog items
    label: str  # human name, used in backlog titles


ALL_PLANS: Final = ("free", "pro", "enterprise")
PAID_PLANS: Final = ("pro", "enterprise")

KNOWN_FEATURES: Final[dict[str, FeatureProfile]] = {
    "dashboards": FeatureProfile(-240, 0.85, 6.0, 3.0, 3.0, ALL_PLANS, "insights", "Dashboards"),
    "alerts": FeatureProfile(-90, 0.55, 12.0, 4.0, 1.5, ALL_PLANS, "insights", "Alerts"),
    "exports": FeatureProfile(-21, 0.40, 10.0, 3.5, 0.8, ALL_PLANS, "integrations", "Exports"),
    "sso": FeatureProfile(0.2, 0.90, 14.0, 4.0, 0.6, ("enterprise",), "platform", "SSO"),
    "api_access": FeatureProfile(0.4, 0.45, 12.0, 3.5, 1.2, PAID_PLANS, "integrations", "API"),
    "ai_assistant": FeatureProfile(0.6, 0.60, 8.0, 2.5, 1.5, ALL_PLANS, "ai", "AI assistant"),
}
# Features not in the catalogue get release slots in this order, then a generic curve.
_FALLBACK_RELEASES: Final[tuple[int | float, ...]] = (-120, -30, 0.25, 0.5, 0.75)
_FALLBACK_TEAMS: Final[tuple[str, ...]] = ("platform", "insights", "integrations", "growth")


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """A feature placed in a concrete period.

    Attributes:
        name: Feature name, as in ``properties.feature`` of ``feature_used`` events.
        release_us: Release moment in µs from the period start (negative = before the period).
        ceiling: Share of eligible users who eventually adopt it.
        midpoint_days: Days after release at which adoption reaches half its ceiling.
        spread_days: Logistic scale of the S-curve in days.
        weight: Relative usage intensity once adopted.
        plans: Plans that can use the feature.
        team: Owning team (used by the backlog).
        label: Human-readable name.
    """

    name: str
    release_us: int
    ceiling: float
    midpoint_days: float
    spread_days: float
    weight: float
    plans: tuple[str, ...]
    team: str
    label: str

    @property
    def release_day(self) -> int:
        """Day index of the release (negative = before the period)."""
        return math.floor(self.release_us / DAY_US)

    def adoption_share(self, days_since_release: float) -> float:
        """Expected share of eligible users who adopted it ``days_since_release`` days in."""
        if days_since_release <= 0:
            return 0.0
        at_release = _logistic(-self.midpoint_days / self.spread_days)
        now = _logistic((days_since_release - self.midpoint_days) / self.spread_days)
        return self.ceiling * (now - at_release) / (1.0 - at_release)

    def to_dict(self, start: date) -> dict[str, Any]:
        """JSON-ready description, with the release as an ISO timestamp."""
        return {
            "name": self.name,
            "release": iso_seconds(start, self.release_us),
            "ceiling": self.ceiling,
            "midpoint_days": self.midpoint_days,
            "spread_days": self.spread_days,
            "plans": list(self.plans),
            "team": self.team,
        }


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def feature_specs(config: SyntheticConfig) -> tuple[FeatureSpec, ...]:
    """Place the config's features in its period (deterministic; no randomness involved).

    Example:
        >>> specs = feature_specs(SyntheticConfig(days=90))
        >>> [(s.name, s.release_day) for s in specs][-1]
        ('ai_assistant', 54)
    """
    specs = []
    fallback = 0
    for name in config.features:
        profile = KNOWN_FEATURES.get(name)
        if profile is None:
            release = _FALLBACK_RELEASES[fallback % len(_FALLBACK_RELEASES)]
            team = _FALLBACK_TEAMS[fallback % len(_FALLBACK_TEAMS)]
            label = name.replace("_", " ").capitalize()
            profile = FeatureProfile(release, 0.5, 10.0, 3.5, 1.0, ALL_PLANS, team, label)
            fallback += 1
        day = (
            round(profile.release * config.days)
            if isinstance(profile.release, float)
            else profile.release
        )
        specs.append(
            FeatureSpec(
                name=name,
                release_us=day * DAY_US + RELEASE_HOUR * HOUR_US,
                ceiling=profile.ceiling,
                midpoint_days=profile.midpoint_days,
                spread_days=profile.spread_days,
                weight=profile.weight,
                plans=profile.plans,
                team=profile.team,
                label=profile.label,
            )
        )
    return tuple(specs)
