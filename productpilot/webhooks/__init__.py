"""Inbound webhooks, vendor-neutral and Prefect-free: storing deliveries, settling them into
events through an :class:`EventEmitter`, and re-emitting what is still pending.

Vendor verification and normalisation live in ``integrations/<vendor>/webhooks.py``; the HTTP
receivers in ``productpilot/api/routers/webhooks.py``; the reconciler flow in
``flows/webhooks.py``. See docs/webhooks.md.
"""

from productpilot.webhooks.deliveries import (
    DeliveryStatus,
    Recorded,
    StoredDelivery,
    find_delivery,
    mark_emitted,
    mark_failed,
    mark_ignored,
    pending_deliveries,
    record_delivery,
)
from productpilot.webhooks.events import WebhookEvent, delivery_event_id
from productpilot.webhooks.reconcile import ReemitReport, reemit_pending
from productpilot.webhooks.settle import Normaliser, Outcome, Settlement, settle_delivery
from productpilot.webhooks.targets import WebhookTarget, product_integrations, webhook_target

__all__ = [
    "DeliveryStatus",
    "Normaliser",
    "Outcome",
    "Recorded",
    "ReemitReport",
    "Settlement",
    "StoredDelivery",
    "WebhookEvent",
    "WebhookTarget",
    "delivery_event_id",
    "find_delivery",
    "mark_emitted",
    "mark_failed",
    "mark_ignored",
    "pending_deliveries",
    "product_integrations",
    "record_delivery",
    "reemit_pending",
    "settle_delivery",
    "webhook_target",
]
