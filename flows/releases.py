"""The release and rollback flows.

``release``: record the release, deploy it to each environment before production (staging),
check the sha's quality gates, wait for an approval in the Prefect UI when the product asks
for one, deploy to production, then write the release notes and the changelog and route one
notes finding per audience. A release the gates or a person stop never reaches production,
and the team is told why.

``rollback``: deploy the previous successful release's sha again as a new deployment, mark
the bad one failed on GitHub and rolled back in the store, and route a critical finding.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run

from productpilot.eventbus import product_id_of
from productpilot.launch.config import ReleaseSettings
from tasks.fairness import fair_share
from tasks.notify import deliver_through_vendors, route_findings
from tasks.releases import (
    ApprovalInput,
    blocked_finding,
    check_gates,
    deploy,
    failed_finding,
    finish_release,
    publish_release_notes,
    record_approval,
    retire_release,
    rolled_back_finding,
    start_release,
    start_rollback,
)


@flow(name="release", log_prints=True)
@fair_share
def release_flow(
    product: str,
    version: str,
    ref: str = "main",
    sha: str | None = None,
    previous_version: str | None = None,
    since: datetime | None = None,
    changes: list[dict[str, Any]] | None = None,
    approval_timeout_seconds: int | None = None,
) -> dict[str, Any]:
    """Ship ``version`` of a product from staging to production behind its quality gates.

    Without GitHub credentials for the product, deployments are recorded in the store only
    (the decision, notes and changelog are the same); the notes then come from ``changes``.

    Args:
        product: The product id, or its event resource id (``productpilot.product.<id>``).
        version: The version released (``1.2.0`` or ``v1.2.0``).
        ref: The git ref deployed (a branch, a tag, or the sha).
        sha: The commit ``ref`` points at, whose quality gates decide (default: ``ref``
            when it is a full sha).
        previous_version: The release the notes start after (default: the last release
            that reached production).
        since: When the notes start, overriding ``previous_version``.
        changes: Pull requests and issues as GitHub's JSON, instead of reading them from
            GitHub (a release without GitHub access, the demo).
        approval_timeout_seconds: How long to wait for the approval (default: the
            product's ``releases.approval_timeout_minutes``).

    Returns:
        The release's summary (see :func:`productpilot.launch.releases.summary`) with its
        ``notes`` when it reached production.
    """
    release = start_release(product_id_of(product), version, ref, sha, previous_version, since)
    settings = ReleaseSettings.model_validate(release["settings"])
    product_ids = [release["product_id"]]

    for environment in settings.environments[:-1]:
        deployed = deploy(release, environment)
        if deployed["state"] != "success":
            return _stop(release, "failed", deployed["description"], failed=True)

    checked = check_gates(release)
    decision = checked["decision"]
    print(f"{release['product']} v{release['version']}: {decision['reason']}")
    if not decision["promote"]:
        return _stop(release, "blocked", decision["reason"])
    if decision["needs_approval"]:
        timeout = approval_timeout_seconds or settings.approval_timeout_minutes * 60
        approval = record_approval(release, _wait_for_approval(timeout), timeout)
        print(approval["reason"])
        if not approval["approved"]:
            return _stop(release, "rejected", approval["reason"])

    deployed = deploy(release, settings.production)
    if deployed["state"] != "success":
        return _stop(release, "failed", deployed["description"], failed=True)
    notes = publish_release_notes(release, changes)
    summary = finish_release(release, "released", f"v{release['version']} is in production")
    route_findings(notes["findings"])
    deliver_through_vendors(product_ids)
    print(f"notes: {notes['file']}; changelog: {notes['changelog']}")
    return {**summary, "notes": {k: v for k, v in notes.items() if k != "findings"}}


def _wait_for_approval(timeout_seconds: int) -> dict[str, Any] | None:
    """Pause the run until someone answers the approval form in the Prefect UI; ``None``
    when nobody did in time.

    Polls every second for short waits, up to every 10 s for an hour or more.
    """
    poll = max(1, min(10, timeout_seconds // 360))
    try:
        answer = pause_flow_run(
            wait_for_input=ApprovalInput.with_initial_data(
                description="Promote this release to production?", approve=False
            ),
            timeout=timeout_seconds,
            poll_interval=poll,
        )
    except FlowPauseTimeout:
        return None
    return {"approve": answer.approve, "approver": answer.approver, "comment": answer.comment}


def _stop(
    release: dict[str, Any], status: str, reason: str, *, failed: bool = False
) -> dict[str, Any]:
    """End the release short of production and tell the team."""
    summary = finish_release(release, status, reason)
    finding = failed_finding(release, reason) if failed else blocked_finding(release, reason)
    route_findings([finding])
    deliver_through_vendors([release["product_id"]])
    print(f"{release['product']} v{release['version']} {status}: {reason}")
    return summary


@flow(name="rollback", log_prints=True)
@fair_share
def rollback_flow(
    product: str, environment: str | None = None, reason: str = "rolled back by hand"
) -> dict[str, Any]:
    """Put the previous successful release back in ``environment`` (default: production).

    Args:
        product: The product id, or its event resource id (``productpilot.product.<id>``).
        environment: The environment to roll back.
        reason: Why, for the record and the alert.

    Returns:
        The rollback's summary, with the release it ``retired``.
    """
    rollback = start_rollback(product_id_of(product), environment, reason)
    deployed = deploy(rollback, rollback["environment"], rollback["sha"])
    if deployed["state"] == "success":
        retired = retire_release(rollback)
        summary = finish_release(rollback, "completed", deployed["description"])
    else:
        retired = None
        summary = finish_release(rollback, "failed", deployed["description"])
    route_findings([rolled_back_finding(rollback, deployed)])
    deliver_through_vendors([rollback["product_id"]])
    print(f"{summary['name']}: {summary['status']} ({deployed['description']})")
    return {**summary, "retired": retired}
