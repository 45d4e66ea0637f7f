"""Design-system sync for a stored Figma delivery: the version completed from Figma, the
Jira and Linear issues that mention the file, the record in the design-tokens repository,
and the artifact.

One task per delivery (a few vendor calls). The record of a version is a comment on the
file's issue in ``design_and_testing.design.design_tokens_repository``, marked so that a
redelivered webhook finds it and records nothing twice (docs/quality.md explains why no
ProductPilot table holds it).
"""

from __future__ import annotations

import re
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact

from integrations.channels import load_block
from productpilot.db.models import Product
from productpilot.products import current_configuration
from productpilot.products.configuration import IntegrationMapping
from productpilot.quality.design import (
    DESIGN_LABEL,
    HANDLED_EVENT_TYPES,
    DesignVersion,
    LinkedIssue,
    design_finding,
    file_label,
    is_recorded,
    issue_body,
    issue_note,
    issue_title,
    jira_query,
    linear_filter,
    linked_from_jira,
    linked_from_linear,
    should_record,
    version_from_webhook,
    with_history,
)
from productpilot.vendors import RateLimitedError, TransientVendorError, VendorError
from tasks.retries import TRANSIENT_STORE_ERRORS, retry_on
from tasks.store import task_store
from tasks.suite_dispatch import github_hook, stored_delivery

#: Extra :meth:`FigmaCredentials.get_hook` options (tests pass a policy without waits).
figma_hook_options: dict[str, Any] = {}
#: Figma versions read to find the one before the new version.
HISTORY_PAGE = 10
#: Tracker issues linked to a version at most.
MAX_LINKED = 20


def _figma_history(
    mapping: IntegrationMapping, version: DesignVersion
) -> tuple[DesignVersion, str | None]:
    """``version`` completed from the file's history and components, and why it could not
    be (no credentials, a refused token), when it could not.

    Raises:
        VendorError: a retryable Figma failure (the task retries).
    """
    name = mapping.blocks.get("figma")
    if not name:
        return version, "no Figma credentials block"
    from integrations.figma.credentials import FigmaCredentials

    try:
        with load_block(FigmaCredentials, name).get_hook(**figma_hook_options) as hook:
            versions = hook.file_versions(version.file_key, page_size=HISTORY_PAGE)
            needs_components = version.event_type != "LIBRARY_PUBLISH"
            components = hook.file_components(version.file_key) if needs_components else None
    except VendorError as error:
        if error.retryable:
            raise
        return version, f"Figma refused: {error}"
    return with_history(version, versions, components), None


def _jira_links(mapping: IntegrationMapping, file_key: str) -> list[LinkedIssue]:
    name = mapping.blocks.get("jira")
    if not (mapping.jira_project and name):
        return []
    from integrations.jira.credentials import JiraCredentials

    hook = load_block(JiraCredentials, name).get_hook(
        credential_name=f"the Jira credentials block '{name}'"
    )
    issues = hook.search(
        jira_query(mapping.jira_project, file_key),
        fields=["summary", "status"],
        max_results=MAX_LINKED,
    )
    return linked_from_jira(issues, hook.browse_url)


def _linear_links(mapping: IntegrationMapping, file_key: str) -> list[LinkedIssue]:
    name = mapping.blocks.get("linear")
    if not (mapping.linear_team and name):
        return []
    from integrations.linear.credentials import LinearCredentials

    credential = f"the Linear credentials block '{name}'"
    with load_block(LinearCredentials, name).get_hook(credential=credential) as hook:
        issues = hook.issues(linear_filter(mapping.linear_team, file_key), first=MAX_LINKED)
    return linked_from_linear(issues)


def _record_in_github(
    mapping: IntegrationMapping,
    repository: str,
    labels: list[str],
    version: DesignVersion,
    linked: list[LinkedIssue],
) -> dict[str, Any]:
    """Comment the version on the file's issue (opening the issue first, for the file's
    first version); ``duplicate`` when a comment records it already."""
    hook = github_hook(mapping)
    if hook is None:
        return {"status": "not recorded", "reason": "no GitHub credentials block"}
    label = file_label(version.file_key)
    issues = hook.search_open_issues(repository, label)
    if issues:
        issue = issues[-1]  # the oldest open one, should people have opened twins
        number, url, status = issue["number"], issue["html_url"], "commented"
        comments = hook.issue_comments(repository, number)
        if is_recorded(version, [comment["body"] for comment in comments]):
            return {"status": "duplicate", "issue": number, "url": url}
    else:
        # The body introduces the issue; each version, the first too, is a comment, so a
        # redelivery has one place to look.
        created = hook.create_issue(
            repository,
            issue_title(version),
            issue_body(version),
            labels=list(dict.fromkeys([*labels, label])),
        )
        number, url, status = created["number"], created["html_url"], "opened"
    hook.comment_issue(repository, number, issue_note(version, linked))
    return {"status": status, "issue": number, "url": url}


def _artifact_key(product_id: int, file_key: str) -> str:
    # Artifact keys are lower-case letters, digits and dashes.
    return f"design-{product_id}-{re.sub(r'[^a-z0-9-]', '-', file_key.lower())}"


@task(
    name="sync-design-version",
    retries=2,
    retry_delay_seconds=[10, 60],
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS, TransientVendorError, RateLimitedError),
)
def sync_design_version(product_id: int, delivery_id: str) -> dict[str, Any]:
    """Record the version the Figma delivery ``delivery_id`` announces.

    Reads the stored delivery; completes the version from Figma (its id, and which
    published components changed since the version before) when the product has a Figma
    block; finds the issues of the product's Jira project and Linear team that mention the
    file; comments the version on the file's issue in the design-tokens repository;
    publishes the note as a Markdown artifact. Safe to retry and to run again for the same
    delivery.

    Returns:
        ``version`` (the record), ``linked`` issues, ``record`` (``opened``,
        ``commented``, ``duplicate`` or ``not recorded``, with the issue), ``notes``
        (what was left out and why) and ``finding`` (to route, or ``None``); or ``reason``
        when the delivery is not one to record.
    """
    found = stored_delivery(product_id, "figma", delivery_id)
    if found is None:
        return {"reason": f"no stored Figma delivery {delivery_id!r} for product {product_id}"}
    product, delivery = found
    with task_store().tenant_session(product.tenant_id) as session:
        configuration = current_configuration(session, session.get(Product, product_id))
    settings = configuration.design_and_testing.design
    mapping = configuration.integrations
    if delivery.kind not in HANDLED_EVENT_TYPES:
        return {"reason": f"a {delivery.kind} delivery announces no design version"}
    try:
        version = version_from_webhook(delivery.kind, delivery.payload)
    except ValueError as refused:  # a payload without a file: nothing to record
        return {"reason": str(refused)}
    if not settings.watches(version.file_key, mapping.figma_files):
        return {"reason": f"the Figma file {version.file_key} is not followed"}

    notes: list[str] = []
    version, missing = _figma_history(mapping, version)
    if missing:
        notes.append(f"version history not read: {missing}")
    if not should_record(version, settings):
        return {
            "reason": "an edit that changed no published component"
            + (f" ({missing})" if missing else ""),
            "version": version.to_dict(),
        }
    linked = (
        [*_jira_links(mapping, version.file_key), *_linear_links(mapping, version.file_key)]
        if settings.search_trackers
        else []
    )
    if settings.design_tokens_repository:
        record = _record_in_github(
            mapping,
            settings.design_tokens_repository,
            settings.issue_labels or [DESIGN_LABEL],
            version,
            linked,
        )
    else:
        record = {"status": "not recorded", "reason": "no design_tokens_repository"}
    if record["status"] == "not recorded":
        notes.append(f"not recorded in GitHub: {record['reason']}")
    note = issue_note(version, linked)
    create_markdown_artifact(
        note,
        key=_artifact_key(product_id, version.file_key),
        description=f"Latest design version of {version.file_name}",
    )
    announce = record["status"] != "duplicate"
    return {
        "version": version.to_dict(),
        "linked": [vars(issue) for issue in linked],
        "record": record,
        "notes": notes,
        "finding": design_finding(product_id, version, linked, record.get("url"))
        if announce
        else None,
    }
