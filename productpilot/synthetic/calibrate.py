"""Calibrate the number of users so a dataset has a requested number of events."""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from productpilot.synthetic.config import SyntheticConfig
from productpilot.synthetic.dataset import SyntheticDataset

PILOT_USERS: Final = 2000
MAX_ROUNDS: Final = 4
GOOD_ENOUGH: Final = 0.01  # relative error at which calibration stops


def count_events(config: SyntheticConfig) -> int:
    """Total events of ``config``'s dataset, counted without building event dicts."""
    return sum(SyntheticDataset(config).event_counts().values())


def calibrate_users(base: SyntheticConfig, target: int) -> int:
    """The ``users`` value that brings ``base``'s dataset closest to ``target`` events.

    Events grow linearly with users, so a pilot run gives events per user; a few secant steps
    on the real config then absorb the Poisson noise of that particular seed.
    """
    per_user = count_events(replace(base, users=PILOT_USERS)) / PILOT_USERS
    users = max(1, round(target / max(per_user, 1e-9)))
    best_users, best_error = users, float("inf")
    tried: set[int] = set()
    for _ in range(MAX_ROUNDS):
        if users in tried:
            break
        tried.add(users)
        produced = count_events(replace(base, users=users))
        error = abs(produced - target) / target
        if error < best_error:
            best_users, best_error = users, error
        if error <= GOOD_ENOUGH or produced == 0:
            break
        users = max(1, round(users * target / produced))
    return best_users
