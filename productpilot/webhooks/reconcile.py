"""The reconciler: emit again what was stored but never emitted (Prefect was down, a crash).

Example:
    >>> report = reemit_pending(
    ...     store, normalise=normalise_delivery, emitter=emitter
    ... )  # doctest: +SKIP
    >>> report.as_dict()  # doctest: +SKIP
    {'examined': 3, 'processed': 2, 'ignored': 0, 'queued': 1}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from productpilot.db.store import Store
from productpilot.db.types import utcnow
from productpilot.eventbus import EventEmitter
from productpilot.products.configuration import IntegrationMapping
from productpilot.webhooks.deliveries import pending_deliveries
from productpilot.webhooks.settle import Normaliser, Outcome, settle_delivery
from productpilot.webhooks.targets import product_integrations

#: A delivery younger than this is probably still being settled by its request.
DEFAULT_GRACE = timedelta(seconds=60)


@dataclass
class ReemitReport:
    """How many pending deliveries were looked at, and what became of them."""

    examined: int = 0
    outcomes: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))

    def as_dict(self) -> dict[str, int]:
        return {"examined": self.examined} | {str(k): v for k, v in self.outcomes.items()}


def reemit_pending(
    store: Store,
    *,
    normalise: Normaliser,
    emitter: EventEmitter,
    limit: int = 500,
    grace: timedelta = DEFAULT_GRACE,
    now: datetime | None = None,
) -> ReemitReport:
    """Settle up to ``limit`` pending deliveries of every tenant, oldest first.

    Each is normalised again (normalisers are deterministic) and checked against its
    product's current configuration; its event keeps the id it would have had the first
    time, so a consumer can recognise a repeat.
    """
    cutoff = (now or utcnow()) - grace
    report = ReemitReport()
    mappings: dict[int | None, IntegrationMapping] = {}
    for delivery in pending_deliveries(store, limit=limit, received_before=cutoff):
        if delivery.product_id not in mappings:
            mappings[delivery.product_id] = product_integrations(
                store, delivery.tenant_id, delivery.product_id
            )
        settlement = settle_delivery(
            store,
            delivery,
            normalise=normalise,
            emitter=emitter,
            integrations=mappings[delivery.product_id],
        )
        report.examined += 1
        report.outcomes[settlement.outcome] += 1
    return report
