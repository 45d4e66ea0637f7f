"""The generator's configuration: one frozen value that fully determines a dataset."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime
from typing import Any, Final

DEFAULT_START: Final = date(2026, 8, 1)
DEFAULT_FEATURES: Final[tuple[str, ...]] = (
    "dashboards",
    "alerts",
    "exports",
    "sso",
    "api_access",
    "ai_assistant",
)
# Anomaly detectors need a baseline, so nothing is injected before this day of the period.
ANOMALY_FREE_DAYS: Final = 14
# Each anomaly gets its own slot of at least this many days so windows never overlap.
MIN_ANOMALY_SLOT_DAYS: Final = 3

_FEATURE_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,39}")

PRESETS: Final[dict[str, dict[str, Any]]] = {
    # Small enough for unit tests (well under 5k events) but still spans the anomaly slots.
    "tiny": {"users": 60, "days": 35},
    # About 75k events; a realistic demo that generates in well under a second.
    "demo": {"users": 1500, "days": 90},
    # About 1M events over half a year, for benchmarks.
    "large": {"users": 14000, "days": 180},
}


def _require_int(name: str, value: object, minimum: int) -> None:
    # bool is an int subclass; SyntheticConfig(users=True) is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything that determines a synthetic dataset; equal configs give identical data.

    Attributes:
        seed: Root seed (>= 0) of every random stream.
        users: Expected number of signups over the period (the realised count is Poisson).
        days: Length of the period in days; timestamps fall in [start, start + days).
        start: First day of the period (UTC midnight). Fixed default, never "today".
        features: Names of the product features users adopt (lowercase snake_case).
        anomalies: Number of injected anomalies; 0 turns them off.
        backlog_items: Number of backlog items; None scales it with users and days.
        growth: Expected daily signups on the last day divided by those on the first day.
        weekend_factor: Activity and signups on Saturday/Sunday relative to a Monday.

    Example:
        >>> config = SyntheticConfig(seed=7, users=2000, days=90)
        >>> config.end.isoformat()
        '2026-10-30'
        >>> SyntheticConfig.preset("tiny", seed=3).seed
        3
    """

    seed: int = 0
    users: int = 2000
    days: int = 90
    start: date = DEFAULT_START
    features: tuple[str, ...] = DEFAULT_FEATURES
    anomalies: int = 5
    backlog_items: int | None = None
    growth: float = 3.0
    weekend_factor: float = 0.55

    def __post_init__(self) -> None:
        # Accept any iterable of names but store a tuple so the config stays hashable.
        if not isinstance(self.features, tuple):
            if isinstance(self.features, str):
                raise ValueError("features must be a sequence of names, not a single string")
            object.__setattr__(self, "features", tuple(self.features))
        self._validate()

    def _validate(self) -> None:
        _require_int("seed", self.seed, 0)
        _require_int("users", self.users, 1)
        _require_int("days", self.days, 1)
        _require_int("anomalies", self.anomalies, 0)
        if self.backlog_items is not None:
            _require_int("backlog_items", self.backlog_items, 0)
        if isinstance(self.start, datetime) or not isinstance(self.start, date):
            raise ValueError(f"start must be a datetime.date, got {type(self.start).__name__}")
        if not self.features:
            raise ValueError("features must name at least one feature")
        for name in self.features:
            if not isinstance(name, str) or not _FEATURE_NAME.fullmatch(name):
                raise ValueError(
                    f"feature name {name!r} must be lowercase snake_case (a-z, 0-9, _), "
                    "starting with a letter, at most 40 characters"
                )
        if len(set(self.features)) != len(self.features):
            raise ValueError(f"features must be unique, got {self.features!r}")
        if not (isinstance(self.growth, int | float) and math.isfinite(self.growth)):
            raise ValueError(f"growth must be a finite number, got {self.growth!r}")
        if self.growth <= 0:
            raise ValueError(f"growth must be > 0, got {self.growth}")
        if not isinstance(self.weekend_factor, int | float) or not (0 < self.weekend_factor <= 1):
            raise ValueError(f"weekend_factor must be in (0, 1], got {self.weekend_factor!r}")
        needed = ANOMALY_FREE_DAYS + MIN_ANOMALY_SLOT_DAYS * self.anomalies
        if self.anomalies and self.days < needed:
            raise ValueError(
                f"days={self.days} is too short for {self.anomalies} anomalies: they start after "
                f"day {ANOMALY_FREE_DAYS} and need {MIN_ANOMALY_SLOT_DAYS} days each, so at "
                f"least {needed} days (or pass anomalies=0)"
            )

    @property
    def end(self) -> date:
        """The first day after the period (exclusive bound of every timestamp)."""
        return date.fromordinal(self.start.toordinal() + self.days)

    @property
    def backlog_size(self) -> int:
        """Number of backlog items, resolving the default that scales with users and days."""
        if self.backlog_items is not None:
            return self.backlog_items
        # A product team grows sub-linearly with its user base; items accrue linearly with time.
        scaled = 60.0 * math.sqrt(self.users / 2000.0) * (self.days / 90.0)
        return int(min(2000, max(20, round(scaled))))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields (dates as ISO strings, tuples as lists)."""
        data = asdict(self)
        data["start"] = self.start.isoformat()
        data["features"] = list(self.features)
        return data

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> SyntheticConfig:
        """A named configuration, optionally with some fields replaced.

        Args:
            name: "tiny" (unit tests, < 5k events), "demo" (~75k events) or "large" (~1M).
            **overrides: Any config field, e.g. ``seed=3``.

        Returns:
            The preset's config.

        Raises:
            ValueError: If the name is unknown or an override is invalid.

        Example:
            >>> SyntheticConfig.preset("demo").users
            1500
        """
        try:
            values = PRESETS[name]
        except KeyError:
            raise ValueError(
                f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}"
            ) from None
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown config fields: {', '.join(sorted(unknown))}")
        return cls(**{**values, **overrides})

    @classmethod
    def for_event_count(
        cls, events: int, *, seed: int = 0, days: int = 90, **overrides: Any
    ) -> SyntheticConfig:
        """A config whose dataset has close to ``events`` events (typically within 2%).

        The number of users is calibrated by counting (not materialising) the events of
        candidate configs, so the result is exact for the returned config's own seed.

        Args:
            events: Target number of events (>= 100).
            seed: Root seed.
            days: Length of the period.
            **overrides: Other config fields (not ``users``, which is calibrated).

        Returns:
            The calibrated config.

        Example:
            >>> config = SyntheticConfig.for_event_count(20_000, seed=1, days=60)
            >>> (config.seed, config.days, config.users > 0)
            (1, 60, True)
        """
        _require_int("events", events, 100)
        if "users" in overrides:
            raise ValueError("for_event_count() calibrates users; do not pass it")
        # Imported here because the generator itself depends on this module.
        from productpilot.synthetic.calibrate import calibrate_users

        base = cls(seed=seed, days=days, **overrides)
        return replace(base, users=calibrate_users(base, events))
