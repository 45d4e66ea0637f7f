"""Emitting findings as Prefect events, where deployment triggers start reaction flows."""

from __future__ import annotations

import uuid
from typing import Any

from prefect import task

from integrations.prefect_events import PrefectEventEmitter
from productpilot.eventbus import TENANT_LABEL, product_resource_id


@task(name="emit-findings", retries=3, retry_delay_seconds=[2, 10, 30], retry_jitter_factor=0.5)
def emit_findings(findings: list[dict[str, Any]]) -> int:
    """Emit each finding (``name``, ``product_id``, ``tenant_id``, ``event_id``, ``payload``).

    Event ids are deterministic, so a retry after a partial failure re-sends the same events
    rather than new ones.
    """
    emitter = PrefectEventEmitter(timeout_seconds=15, reconnection_attempts=2)
    for finding in findings:
        emitter.emit(
            finding["name"],
            product_resource_id(finding["product_id"]),
            finding["payload"],
            uuid.UUID(str(finding["event_id"])),
            labels={TENANT_LABEL: str(finding["tenant_id"])},
        )
    return len(findings)
