"""Test doubles for the core's EventEmitter interface."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Emitted:
    name: str
    resource_id: str
    payload: dict[str, Any]
    event_id: uuid.UUID
    labels: dict[str, str]
    occurred: datetime | None


@dataclass
class RecordingEmitter:
    """Records every event; with ``failing=True`` raises instead, like Prefect being down."""

    failing: bool = False
    events: list[Emitted] = field(default_factory=list)

    def emit(
        self,
        name: str,
        resource_id: str,
        payload: dict[str, Any],
        event_id: uuid.UUID,
        *,
        labels: Mapping[str, str] | None = None,
        occurred: datetime | None = None,
    ) -> None:
        if self.failing:
            raise ConnectionError("Prefect is unreachable")
        self.events.append(
            Emitted(name, resource_id, payload, event_id, dict(labels or {}), occurred)
        )

    @property
    def names(self) -> list[str]:
        return [event.name for event in self.events]
