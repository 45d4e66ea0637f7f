"""The design-system flow: a Figma publish, named version or edit is recorded in the
design-tokens repository, linked to the issues that mention the file, and announced."""

from __future__ import annotations

from typing import Any

from prefect import flow

from productpilot.errors import ValidationError
from productpilot.eventbus import product_id_of
from tasks.design import sync_design_version
from tasks.fairness import fair_share
from tasks.notify import deliver_through_vendors, route_findings


@flow(name="design-system-sync", log_prints=True)
@fair_share
def design_system_sync_flow(
    product: str | None = None, delivery_id: str | None = None
) -> dict[str, Any]:
    """Record the new version of a product's Figma file that a ``LIBRARY_PUBLISH``,
    ``FILE_VERSION_UPDATE`` or ``FILE_UPDATE`` webhook announces, with its changed
    components and the Jira issues that mention the file, as a comment on the file's issue
    in the design-tokens repository; announce it through the notification router.

    Args:
        product: The product, as its id or event resource id (``productpilot.product.<id>``).
        delivery_id: The stored Figma delivery (``{{ event.payload.delivery.id }}``).
    """
    if product is None or not delivery_id:
        raise ValidationError("design-system-sync needs product and delivery_id")
    product_id = product_id_of(product)
    synced = sync_design_version(product_id, delivery_id)
    if "reason" in synced:
        print(synced["reason"])
        return synced
    version, record = synced["version"], synced["record"]
    print(
        f"{version['file_name']} {version['reference']}: {len(version['changes'])} changed "
        f"items, {len(synced['linked'])} linked issues; record {record['status']}"
    )
    for note in synced["notes"]:
        print(note)
    finding = synced.pop("finding")
    if finding is not None:
        route_findings([finding])
        deliver_through_vendors([product_id])
    synced["announced"] = finding is not None
    return synced
