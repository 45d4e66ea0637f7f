"""Release tasks: record a release, deploy it environment by environment on GitHub, check its
quality gates, write its notes and changelog, and roll a bad one back.

Each task is one stage of one release (a release is a handful of GitHub calls, not a batch).
What ProductPilot does on GitHub is *record* deployments: it creates the deployment (GitHub
sends the ``deployment`` event the team's deploy job listens to), dispatches
``releases.deploy_workflow`` when one is configured, and reports the deployment's statuses.
Without a GitHub repository and credentials Block in the product's ``integrations``,
deployments are recorded in the store only (``deployment_id`` ``None``,
``recorded_on_github`` false), and the notes come from the changes handed in.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.input import RunInput
from pydantic import Field

from integrations.channels import BlockLoader, load_block
from integrations.github.client import GitHubHook
from productpilot.db.models import Product, Tenant
from productpilot.errors import ValidationError
from productpilot.launch import releases as store
from productpilot.launch.config import ReleaseSettings
from productpilot.launch.notes import (
    Change,
    ReleaseNotes,
    build_notes,
    changelog_entry,
    collect_changes,
    prepend_changelog,
    render_notes,
)
from productpilot.notify.message import Finding
from productpilot.products import current_configuration
from productpilot.products.configuration import IntegrationMapping
from productpilot.settings import get_settings
from productpilot.vendors import VendorError
from tasks.retries import TRANSIENT_STORE_ERRORS, retry_on
from tasks.store import task_store

NOTES_KIND = "productpilot.release.notes"
BLOCKED_KIND = "productpilot.release.blocked"
FAILED_KIND = "productpilot.release.failed"
ROLLED_BACK_KIND = "productpilot.release.rolled_back"
SHA = re.compile(r"^[0-9a-f]{40}$")


class ApprovalInput(RunInput):
    """The form the Prefect UI shows on a release paused for approval."""

    approve: bool = Field(description="Promote this release to production")
    approver: str = Field(default="", description="Your name, for the record")
    comment: str = Field(default="", description="Why (shown in the release record)")


def github_hook(mapping: IntegrationMapping, load: BlockLoader = load_block) -> GitHubHook | None:
    """The hook on the product's GitHub repository, or ``None`` without a repository or a
    credentials Block (deployments are then recorded in the store only)."""
    name = mapping.blocks.get("github")
    if not mapping.github_repository or not name:
        return None
    from prefect_github import GitHubCredentials

    options = {"base_url": mapping.api_urls["github"]} if "github" in mapping.api_urls else {}
    return GitHubHook.from_credentials(load(GitHubCredentials, name), block_name=name, **options)


def _context(product_id: int) -> tuple[Product, Tenant, Any]:
    """The product, its tenant and its configuration (a system read: the flow is given a
    product id, and all later work happens in the tenant's session)."""
    with task_store().system_session() as session:
        product = session.get(Product, product_id)
        if product is None:
            raise ValidationError(f"product {product_id} not found")
        configuration = current_configuration(session, product)
        tenant = session.get(Tenant, product.tenant_id)
        session.expunge_all()
        return product, tenant, configuration


def _described(
    product: Product, tenant: Tenant, configuration: Any, settings: ReleaseSettings
) -> dict[str, Any]:
    """What the release and rollback tasks pass along about the product."""
    return {
        "product_id": product.id,
        "tenant_id": product.tenant_id,
        "tenant": tenant.slug,
        "product": product.name,
        "slug": product.slug,
        "repository": configuration.integrations.github_repository,
        "gates_configured": bool(configuration.gates),
        "settings": settings.model_dump(mode="json"),
    }


@task(
    name="start-release",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def start_release(
    product_id: int,
    version: str,
    ref: str,
    sha: str | None,
    previous_version: str | None = None,
    since: datetime | None = None,
) -> dict[str, Any]:
    """Record the release as running; returns what the later stages need.

    ``since`` (when the notes start) defaults to when the product's last release that
    reached production finished, or, with ``previous_version``, when that release did.

    Raises:
        ValidationError: no sha and ``ref`` is not one (the gates are recorded per sha).
    """
    commit = sha or (ref if SHA.match(ref) else None)
    if commit is None:
        raise ValidationError(f"give the commit sha of {ref!r}: quality gates are per commit")
    product, tenant, configuration = _context(product_id)
    settings: ReleaseSettings = configuration.releases
    with task_store().tenant_session(product.tenant_id) as session:
        owned = session.get(Product, product_id)
        if since is None:
            since = _previous_release_end(session, owned, settings, previous_version)
        launch = store.start_release(
            session, owned, version=version, ref=ref, sha=commit,
            environments=settings.environments, previous_version=previous_version, since=since,
        )  # fmt: skip
        launch_id = launch.id
        plan = dict(launch.plan)
    return {"launch_id": launch_id, **_described(product, tenant, configuration, settings), **plan}


def _previous_release_end(session, product, settings, previous_version) -> datetime | None:
    for launch in store.releases(session, product):
        if launch.plan.get("kind") != store.RELEASE or launch.status == "running":
            continue
        if previous_version is not None:
            if launch.plan.get("version") == previous_version.lstrip("vV"):
                return launch.finished_at or launch.started_at
        elif store.reached(launch, settings.production):
            return launch.finished_at
    return None


@task(name="deploy-release", retries=0)
def deploy(release: dict[str, Any], environment: str, sha: str | None = None) -> dict[str, Any]:
    """Deploy ``release`` (or ``sha``, for a rollback) to ``environment``: the GitHub
    deployment, its ``in_progress`` and final statuses, each also in the store.

    Returns ``{"environment", "deployment_id", "state", "description"}``; a vendor failure
    is a ``failure`` state (recorded on GitHub when the deployment exists), not an
    exception, so the flow can tell people and stop.
    """
    commit = sha or release["sha"]
    settings = ReleaseSettings.model_validate(release["settings"])
    _product, _tenant, configuration = _context(release["product_id"])
    hook = github_hook(configuration.integrations)
    repository = release["repository"]
    url = settings.environment_urls.get(environment)
    deployment_id: int | None = None
    state, description = "success", f"v{release['version']} is live in {environment}"
    recorded = False
    try:
        if hook is not None:
            deployment_id = hook.create_deployment(
                repository,
                commit,
                environment,
                description=f"{release['product']} v{release['version']} ({release['kind']})",
                payload={
                    "productpilot_launch": release["launch_id"],
                    "version": release["version"],
                },
                # ProductPilot's gates decide promotion; GitHub's contexts are not asked again.
                required_contexts=[],
            )
        _record(release, environment, deployment_id, commit, "in_progress", "deploying")
        recorded = True
        if hook is not None and deployment_id is not None:
            hook.create_deployment_status(
                repository, deployment_id, "in_progress", description=f"deploying to {environment}"
            )
            if settings.deploy_workflow:
                hook.dispatch_workflow(
                    repository,
                    settings.deploy_workflow,
                    release["ref"],
                    {
                        "environment": environment,
                        "version": release["version"],
                        "deployment_id": str(deployment_id),
                    },
                )
            hook.create_deployment_status(
                repository, deployment_id, "success", environment_url=url, description=description
            )
    except VendorError as error:
        state, description = "failure", f"deployment to {environment} failed: {error}"
        if hook is not None and deployment_id is not None:
            # GitHub may be down altogether: the store below still says failure.
            with contextlib.suppress(VendorError):
                hook.create_deployment_status(
                    repository, deployment_id, "failure", description=description
                )
    _record(release, environment, deployment_id, commit, state, description, new=not recorded)
    return {
        "environment": environment,
        "deployment_id": deployment_id,
        "state": state,
        "description": description,
    }


def _record(
    release: dict[str, Any],
    environment: str,
    deployment_id: int | None,
    sha: str,
    state: str,
    description: str,
    *,
    new: bool = True,
) -> None:
    with task_store().tenant_session(release["tenant_id"]) as session:
        owned = session.get(Product, release["product_id"])
        launch = store.get_release(session, owned, release["launch_id"])
        if new:
            store.record_deployment(
                session, launch, environment, deployment_id=deployment_id, sha=sha
            )
        store.record_status(session, launch, environment, state, description)  # type: ignore[arg-type]


@task(name="check-release-gates")
def check_gates(release: dict[str, Any]) -> dict[str, Any]:
    """The quality gates' verdict on the release's sha, and the promotion decision; both
    are stored with the release."""
    settings = ReleaseSettings.model_validate(release["settings"])
    with task_store().tenant_session(release["tenant_id"]) as session:
        owned = session.get(Product, release["product_id"])
        launch = store.get_release(session, owned, release["launch_id"])
        gates = store.gate_check(
            session, owned, release["sha"], gates_configured=release["gates_configured"]
        )
        decision = store.promotion_decision(gates, require_approval=settings.require_approval)
        store.record_step(session, launch, "gates", gates.to_dict())
        store.record_step(session, launch, "decision", decision.to_dict())
    return {"gates": gates.to_dict(), "decision": decision.to_dict()}


@task(name="record-approval")
def record_approval(
    release: dict[str, Any], answer: dict[str, Any] | None, timeout_seconds: float
) -> dict[str, Any]:
    """What the approval answer means (silence: a rejection), stored with the release."""
    approval = store.approval_decision(answer, timeout_seconds=timeout_seconds)
    with task_store().tenant_session(release["tenant_id"]) as session:
        owned = session.get(Product, release["product_id"])
        launch = store.get_release(session, owned, release["launch_id"])
        store.record_step(session, launch, "approval", approval.to_dict())
    return approval.to_dict()


@task(name="finish-release")
def finish_release(release: dict[str, Any], status: str, reason: str) -> dict[str, Any]:
    """End the release (or rollback) as ``status``; returns its summary."""
    with task_store().tenant_session(release["tenant_id"]) as session:
        owned = session.get(Product, release["product_id"])
        launch = store.get_release(session, owned, release["launch_id"])
        store.finish_release(session, launch, status, reason)  # type: ignore[arg-type]
        return store.summary(launch)


@task(
    name="publish-release-notes",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def publish_release_notes(
    release: dict[str, Any], changes: Sequence[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The release notes: from ``changes`` (GitHub-shaped pull requests and issues) when
    given, else from the pull requests merged and issues closed on GitHub since the last
    release. Writes ``release-notes-<version>.md`` and prepends to ``CHANGELOG.md`` under
    ``<home>/reports/<tenant>/<product>/``, publishes the changelog entry as a Markdown
    artifact, stores the summary with the release, and returns one finding per audience.
    """
    settings = ReleaseSettings.model_validate(release["settings"])
    since = datetime.fromisoformat(release["since"]) if release.get("since") else None
    if changes is None:
        pulls, issues = _changes_on_github(release, since)
    else:
        pulls = [c for c in changes if Change.from_github(c).kind == "pull_request"]
        issues = [c for c in changes if Change.from_github(c).kind == "issue"]
    collected = collect_changes(pulls, issues, since=since)
    day = datetime.now(UTC).date()
    notes = build_notes(collected, settings, release["version"], day)
    entry = changelog_entry(notes)

    folder = get_settings().home / "reports" / release["tenant"] / release["slug"]
    folder.mkdir(parents=True, exist_ok=True)
    changelog = folder / "CHANGELOG.md"
    existing = changelog.read_text() if changelog.exists() else ""
    changelog.write_text(prepend_changelog(existing, entry))
    rendered = {
        audience.name: render_notes(notes, settings, audience, release["product"])
        for audience in settings.audiences
    }
    notes_file = folder / f"release-notes-{_file_safe(notes.version)}.md"
    notes_file.write_text(_notes_document(rendered))
    create_markdown_artifact(
        entry,
        key=f"changelog-product-{release['product_id']}",
        description=f"Changelog of {release['product']} v{notes.version}",
    )
    record = {
        "version": notes.version,
        "since": release.get("since"),
        "sections": {title: [c.number for c in items] for title, items in notes.sections},
        "excluded": notes.excluded,
        "changelog": str(changelog.absolute()),
        "file": str(notes_file.absolute()),
    }
    with task_store().tenant_session(release["tenant_id"]) as session:
        owned = session.get(Product, release["product_id"])
        launch = store.get_release(session, owned, release["launch_id"])
        store.record_step(session, launch, "notes", record)
    findings = [
        _notes_finding(release, audience.name, rendered[audience.name], notes, settings)
        for audience in settings.audiences
    ]
    return {**record, "findings": findings, "changelog_entry": entry}


def _changes_on_github(
    release: dict[str, Any], since: datetime | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    _product, _tenant, configuration = _context(release["product_id"])
    hook = github_hook(configuration.integrations)
    if hook is None:
        return [], []
    repository = release["repository"]
    pulls = hook.merged_pull_requests(repository, since=since)
    issues = hook.list_issues(repository, state="closed", since=since)
    return pulls, issues


def _notes_document(rendered: dict[str, str]) -> str:
    parts = [f"<!-- audience: {name} -->\n\n{text}" for name, text in rendered.items()]
    return "\n".join(parts)


def _notes_finding(
    release: dict[str, Any],
    audience: str,
    text: str,
    notes: ReleaseNotes,
    settings: ReleaseSettings,
) -> Finding:
    audience_model = next(a for a in settings.audiences if a.name == audience)
    counts = notes.summary(settings.sections_for(audience_model))
    version, day = notes.version, notes.day
    return Finding(
        kind=f"{NOTES_KIND}.{audience}",
        severity="info",
        product_id=release["product_id"],
        subject=f"{release['product']} {version} is out: {counts}",
        text=text,
        dedupe_key=f"release:{release['product_id']}:{version}:{audience}",
        facts=(("version", version), ("date", day.isoformat()), ("sha", release["sha"][:12])),
    )


def blocked_finding(release: dict[str, Any], reason: str) -> Finding:
    """A release that stopped before production, for the team."""
    return Finding(
        kind=BLOCKED_KIND,
        severity="warning",
        product_id=release["product_id"],
        subject=f"{release['product']} v{release['version']} was not promoted to production",
        text=reason,
        dedupe_key=f"release-blocked:{release['launch_id']}",
        facts=(("version", release["version"]), ("sha", release["sha"][:12])),
    )


def failed_finding(release: dict[str, Any], reason: str) -> Finding:
    """A deployment that failed: an incident."""
    return Finding(
        kind=FAILED_KIND,
        severity="critical",
        product_id=release["product_id"],
        subject=f"{release['product']} v{release['version']}: deployment failed",
        text=reason,
        dedupe_key=f"release-failed:{release['launch_id']}",
        facts=(("version", release["version"]), ("sha", release["sha"][:12])),
        ticket=True,
    )


# --- rollback -------------------------------------------------------------------------------


@task(
    name="start-rollback",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def start_rollback(product_id: int, environment: str | None, reason: str) -> dict[str, Any]:
    """Record the rollback of ``environment`` (default: production) to the previous
    successful release; returns what :func:`deploy` and :func:`retire_release` need.

    Raises:
        ValidationError: nothing to roll back, or nowhere to roll back to.
    """
    product, tenant, configuration = _context(product_id)
    settings: ReleaseSettings = configuration.releases
    target_environment = environment or settings.production
    with task_store().tenant_session(product.tenant_id) as session:
        owned = session.get(Product, product_id)
        plan = store.rollback_plan(session, owned, target_environment)
        launch = store.start_rollback(session, owned, plan, reason)
        retired = {
            "launch_id": plan.current.id,
            "version": plan.current.plan["version"],
            "deployment_id": store.latest_deployment_id(plan.current, target_environment),
        }
        launch_id, rollback_plan = launch.id, dict(launch.plan)
    return {
        "launch_id": launch_id,
        **_described(product, tenant, configuration, settings),
        "retired": retired,
        **rollback_plan,
    }


@task(name="retire-release")
def retire_release(rollback: dict[str, Any]) -> dict[str, Any]:
    """Mark the rolled-back release's deployment ``failure`` on GitHub (where it has one)
    and the release ``rolled_back`` in the store."""
    retired = rollback["retired"]
    reason = f"rolled back to v{rollback['version']}: {rollback['reason']}"
    _product, _tenant, configuration = _context(rollback["product_id"])
    hook = github_hook(configuration.integrations)
    marked_on_github = False
    if hook is not None and retired["deployment_id"] is not None:
        hook.create_deployment_status(
            rollback["repository"], retired["deployment_id"], "failure", description=reason
        )
        marked_on_github = True
    with task_store().tenant_session(rollback["tenant_id"]) as session:
        owned = session.get(Product, rollback["product_id"])
        launch = store.get_release(session, owned, retired["launch_id"])
        store.record_status(session, launch, rollback["environment"], "failure", reason)
        store.finish_release(session, launch, "rolled_back", reason)
    return {**retired, "marked_on_github": marked_on_github}


def rolled_back_finding(rollback: dict[str, Any], deployed: dict[str, Any]) -> Finding:
    """A rollback done (or failed): critical, so it is never folded into a digest."""
    retired = rollback["retired"]
    done = deployed["state"] == "success"
    subject = (
        f"{rollback['product']} {rollback['environment']} rolled back from "
        f"v{retired['version']} to v{rollback['version']}"
        if done
        else f"{rollback['product']}: rollback of {rollback['environment']} failed"
    )
    return Finding(
        kind=ROLLED_BACK_KIND,
        severity="critical",
        product_id=rollback["product_id"],
        subject=subject,
        text=f"Reason: {rollback['reason']}. {deployed['description']}.",
        dedupe_key=f"rollback:{rollback['launch_id']}",
        facts=(
            ("environment", rollback["environment"]),
            ("from", f"v{retired['version']}"),
            ("to", f"v{rollback['version']} ({rollback['sha'][:12]})"),
        ),
        ticket=True,
    )


def _file_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "release"
