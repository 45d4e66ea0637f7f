"""Development tasks: quality gates on GitHub webhooks, and workflow transitions.

Coarse, one stage each: gather a commit's facts (the stored delivery, the commit's check
runs, the pull request's reviews, the repository's open alerts), evaluate and record the
verdict, post it as a GitHub check run, and plan the issue transitions an event asks for.
Findings go to :func:`tasks.notify.route_findings` and events to
:func:`tasks.events.emit_findings`, called by the flows.

Without a ``github`` block in the product's ``integrations.blocks`` everything still runs
from the webhook payloads alone (nothing is fetched, no check run is posted), so recorded
payloads can be replayed offline.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from prefect import task

from integrations.channels import load_block
from productpilot.db.models import Product
from productpilot.db.store import Store
from productpilot.eventbus import product_resource_id
from productpilot.notify.message import Finding
from productpilot.products import current_configuration
from productpilot.products.configuration import ProductConfiguration
from productpilot.quality import history
from productpilot.quality.findings_store import open_critical_findings
from productpilot.quality.gates import (
    CheckRun,
    GateFacts,
    Review,
    Verdict,
    evaluate_gates,
    facts_from_webhook,
    merge_facts,
)
from productpilot.quality.security import Finding as SecurityFinding
from productpilot.quality.security import parse_code_scanning_alert, parse_dependabot_alert
from productpilot.quality.transitions import (
    IssueKeyPatterns,
    event_from_github,
    plan_transitions,
    with_commit_messages,
)
from productpilot.quality.workflow import record_transitions
from productpilot.webhooks import StoredDelivery, find_delivery
from tasks.retries import TRANSIENT_STORE_ERRORS, retry_on
from tasks.store import products_in_scope, task_store

GATE_FAILED = "productpilot.gate.failed"
GATE_PASSED = "productpilot.gate.passed"
#: Namespace of gate event ids (uuid5 of the stored verdict). Never change it.
GATE_EVENT_NAMESPACE = uuid.UUID("5b0f3c1e-6a4d-4e4b-9d55-3f1b7f0f2a61")
#: The webhook kinds the gates learn from.
GATE_KINDS = frozenset(
    {
        "pull_request",
        "pull_request_review",
        "check_run",
        "check_suite",
        "workflow_run",
        "code_scanning_alert",
        "dependabot_alert",
    }
)


def github_hook(configuration: ProductConfiguration, load: Any = load_block) -> Any | None:
    """The product's GitHub hook from its ``github`` block, or ``None`` without one."""
    mapping = configuration.integrations
    name = mapping.blocks.get("github")
    if not name:
        return None
    from prefect_github import GitHubCredentials

    from integrations.github.client import GitHubHook

    options = {"base_url": mapping.api_urls["github"]} if "github" in mapping.api_urls else {}
    return GitHubHook.from_credentials(load(GitHubCredentials, name), block_name=name, **options)


def _product_and_configuration(
    store: Store, product_id: int
) -> tuple[Product, ProductConfiguration] | None:
    found = products_in_scope(store, [product_id])
    if not found:
        return None
    product = found[0]
    with store.tenant_session(product.tenant_id) as session:
        configuration = current_configuration(session, session.get(Product, product.id))
    return product, configuration


def _delivery(store: Store, product: Product, delivery_id: str) -> StoredDelivery | None:
    delivery = find_delivery(store, product.tenant_id, "github", delivery_id)
    if delivery is None or delivery.product_id not in (None, product.id):
        return None
    return delivery


def _skip(reason: str, **more: Any) -> dict[str, Any]:
    return {"skipped": reason, **more}


# --- quality gates --------------------------------------------------------------------------


@task(
    name="gather-gate-facts",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def gather_gate_facts(product_id: int, delivery_id: str) -> dict[str, Any]:
    """What is known about the commit a GitHub delivery is about: the delivery's facts
    merged into the commit's last stored facts, completed from GitHub when the product has
    a ``github`` block (every check run of the commit, the pull request's reviews, the
    repository's open code-scanning and Dependabot alerts).

    Returns ``{"skipped": reason}`` for a delivery that says nothing about a commit, the
    gates' own check run, or a check suite of an ignored app.
    """
    store = task_store()
    loaded = _product_and_configuration(store, product_id)
    if loaded is None:
        return _skip(f"no product {product_id}")
    product, configuration = loaded
    delivery = _delivery(store, product, delivery_id)
    if delivery is None:
        return _skip(f"no stored GitHub delivery {delivery_id!r} for product {product_id}")
    if delivery.kind not in GATE_KINDS:
        return _skip(f"a {delivery.kind} delivery carries no gate facts")
    settings = configuration.development
    payload = delivery.payload
    # Posting the verdict makes GitHub send a check_run event for it: not news.
    own_name = (payload.get("check_run") or {}).get("name") == settings.check_run_name
    if delivery.kind == "check_run" and own_name:
        return _skip("the gates' own check run")
    if delivery.kind == "check_suite":
        app = (payload.get("check_suite") or {}).get("app") or {}
        if settings.ignores_app(app.get("slug")) or settings.ignores_app(app.get("name")):
            return _skip(f"check suites of {app.get('slug') or app.get('name')} are ignored")
    news = facts_from_webhook(delivery.kind, payload)
    if news is None:
        return _skip(f"a {delivery.kind} delivery carries no gate facts")
    repository = (payload.get("repository") or {}).get("full_name")
    fetched = []
    hook = github_hook(configuration)
    with store.tenant_session(product.tenant_id) as session:
        previous = _previous_facts(session, product.id, news, repository)
    facts = merge_facts(previous, news) if previous is not None else news
    if facts.head_sha is None:
        return _skip("the delivery names no commit and none was evaluated before")
    if hook is not None and repository:
        facts, fetched = _complete_from_github(hook, repository, facts, configuration)
    if {gate.kind for gate in configuration.gates} & {"no_critical_alerts", "custom"}:
        with store.tenant_session(product.tenant_id) as session:
            stored = open_critical_findings(session, product.id)
        facts = with_stored_findings(facts, stored)
        fetched.append("security_findings")
    return {
        "product_id": product.id,
        "tenant_id": product.tenant_id,
        "repository": repository,
        "sha": facts.head_sha,
        "facts": history.facts_to_json(facts),
        "fetched": fetched,
        "delivery": {"id": delivery.delivery_id, "kind": delivery.kind},
    }


def with_stored_findings(facts: GateFacts, stored: Sequence[SecurityFinding]) -> GateFacts:
    """``facts`` with the open findings the ``security-scan`` flow keeps (local scanners,
    and GitHub's alerts as of its last run) added to its alerts, each fingerprint once.

    The store is what a product without a GitHub block has, and what local scanners such as
    pip-audit and bandit report; GitHub's live alerts, when fetched, win for the same
    fingerprint.
    """
    if not stored:
        return facts
    known = {alert.fingerprint for alert in facts.alerts or ()}
    alerts = (*(facts.alerts or ()), *(f for f in stored if f.fingerprint not in known))
    return dataclasses.replace(facts, alerts=alerts)


def _previous_facts(
    session: Any, product_id: int, news: GateFacts, repository: str | None
) -> GateFacts | None:
    """The facts to merge into: the commit's, else (a new head) the pull request's latest,
    whose reviews and alerts carry over; alerts carry to any commit of the repository."""
    if news.head_sha is not None:
        known = history.latest_facts(session, product_id, news.head_sha)
        if known is not None:
            return known
    for number in news.pull_requests:
        verdicts = history.pull_request_history(session, product_id, number, repository=repository)
        if verdicts:
            return verdicts[-1].facts
    return None


def _complete_from_github(
    hook: Any, repository: str, facts: GateFacts, configuration: ProductConfiguration
) -> tuple[GateFacts, list[str]]:
    kinds = {gate.kind for gate in configuration.gates}
    sha = facts.head_sha
    assert sha is not None
    fetched = ["check_runs"]
    runs = tuple(
        CheckRun(
            name=run["name"],
            status=run["status"],
            conclusion=run["conclusion"],
            run_id=run["id"],
            observed_at=_time(run["completed_at"] or run["started_at"]),
            url=run["html_url"],
        )
        for run in hook.check_runs_for_ref(repository, sha)
        if run["name"] != configuration.development.check_run_name
    )
    extra = GateFacts(head_sha=sha, check_runs=runs)
    if facts.pull_requests and kinds & {"approvals", "custom"}:
        fetched.append("reviews")
        reviews = tuple(
            Review(
                reviewer=review["user"] or "ghost",
                state=review["state"],
                submitted_at=_time(review["submitted_at"]),
                review_id=review["id"],
            )
            for number in facts.pull_requests
            for review in hook.pull_request_reviews(repository, number)
        )
        extra = GateFacts(head_sha=sha, check_runs=runs, reviews=reviews)
    merged = merge_facts(facts, extra)
    if kinds & {"no_critical_alerts", "custom"}:
        fetched.append("alerts")
        # The repository's open alerts replace what webhooks told: a fixed alert is gone.
        alerts = tuple(
            [
                parse_code_scanning_alert(_code_scanning(a))
                for a in hook.code_scanning_alerts(repository)
            ]
            + [parse_dependabot_alert(_dependabot(a)) for a in hook.dependabot_alerts(repository)]
        )
        merged = dataclasses.replace(merged, alerts=alerts)
    return merged, fetched


def _dependabot(alert: dict[str, Any]) -> dict[str, Any]:
    """The hook's flat Dependabot alert in the REST shape the parser reads."""
    return {
        "number": alert["number"],
        "state": alert["state"],
        "html_url": alert["html_url"],
        "dependency": {
            "package": {"name": alert["package"], "ecosystem": alert["ecosystem"]},
            "manifest_path": alert["manifest_path"],
        },
        "security_advisory": {"ghsa_id": alert["ghsa_id"], "summary": alert["summary"]},
        "security_vulnerability": {"severity": alert["severity"]},
    }


def _code_scanning(alert: dict[str, Any]) -> dict[str, Any]:
    """The hook's flat code-scanning alert in the REST shape the parser reads."""
    return {
        "number": alert["number"],
        "state": alert["state"],
        "html_url": alert["html_url"],
        "tool": {"name": alert["tool"]},
        "rule": {
            "id": alert["rule_id"],
            "severity": alert["severity"],
            "security_severity_level": alert["security_severity_level"],
            "description": alert["description"],
        },
    }


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@task(
    name="evaluate-gates",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def evaluate_and_record(gathered: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """Evaluate the product's gates on the gathered facts and store the verdict (one new
    ``quality_gate_results`` row); says what changed since the commit's previous verdict
    and which findings that calls for (a failure, or the recovery of a failed pull request).
    """
    if "skipped" in gathered:
        return gathered
    store = task_store()
    moment = now or datetime.now(UTC)
    facts = history.facts_from_json(gathered["facts"])
    with store.tenant_session(gathered["tenant_id"]) as session:
        product = session.get(Product, gathered["product_id"])
        configuration = current_configuration(session, product)
        settings = configuration.development
        verdict = evaluate_gates(configuration.gates, facts)
        before = _previous_verdict(session, product.id, facts, gathered["repository"])
        stored = history.record_verdict(
            session,
            product.id,
            verdict,
            facts,
            gate=settings.check_run_name,
            repository=gathered["repository"],
            check_run_id=before.check_run_id
            if before is not None and before.subject == verdict.head_sha
            else None,
            delivery=gathered["delivery"],
            evaluated_at=moment,
        )
        product_name = product.name
    previous_outcome = before.outcome if before is not None else None
    findings = _findings(
        product_name, gathered, verdict, stored, previous_outcome, configuration, moment
    )
    return {
        **{k: gathered[k] for k in ("product_id", "tenant_id", "repository", "sha")},
        "verdict_id": stored.id,
        "outcome": verdict.outcome,
        "previous_outcome": previous_outcome,
        "check_run_id": stored.check_run_id,
        "check_run": verdict.check_run_request(settings.check_run_name),
        "post": settings.post_check_runs,
        # Unchanged verdicts are not posted again (each post makes GitHub send an event).
        "changed": before is None
        or before.subject != verdict.head_sha
        or (before.outcome, before.summary) != (verdict.outcome, stored.summary),
        "notifications": findings,
        "events": _events(gathered, verdict, stored) if verdict.outcome == "failed" else [],
    }


def _previous_verdict(
    session: Any, product_id: int, facts: GateFacts, repository: str | None
) -> history.StoredVerdict | None:
    assert facts.head_sha is not None
    latest = history.latest_verdict(session, product_id, facts.head_sha)
    if latest is not None:
        return latest
    for number in facts.pull_requests:
        verdicts = history.pull_request_history(session, product_id, number, repository=repository)
        if verdicts:
            return verdicts[-1]
    return None


def _subject_label(gathered: dict[str, Any], facts: GateFacts) -> tuple[str, str]:
    """A readable name of what was judged, and the key of "this problem" for threads."""
    where = gathered["repository"] or "the repository"
    if facts.pull_requests:
        numbers = ", ".join(f"#{n}" for n in facts.pull_requests)
        return f"PR {numbers} of {where}", f"gate:{where}:pr:{facts.pull_requests[0]}"
    sha = gathered["sha"][:12]
    return f"commit {sha} of {where}", f"gate:{where}:sha:{gathered['sha']}"


def _findings(
    product_name: str,
    gathered: dict[str, Any],
    verdict: Verdict,
    stored: history.StoredVerdict,
    previous_outcome: str | None,
    configuration: ProductConfiguration,
    now: datetime,
) -> list[Finding]:
    facts = history.facts_from_json(gathered["facts"])
    label, dedupe_key = _subject_label(gathered, facts)
    facts_table = tuple(
        (result.name, f"{result.outcome}: {result.reasons[0] if result.reasons else ''}")
        for result in verdict.results
    )
    link = _commit_link(gathered)
    if verdict.outcome == "failed":
        failed = [r.name for r in verdict.results if r.outcome == "failed"]
        return [
            Finding(
                kind=GATE_FAILED,
                severity=configuration.development.failure_severity,
                product_id=gathered["product_id"],
                subject=f"Quality gate failed on {label}: {', '.join(failed)}",
                text=f"{verdict.title} on commit {gathered['sha'][:12]}.",
                dedupe_key=dedupe_key,
                facts=facts_table,
                link=link,
                occurred_at=now,
                ticket=configuration.development.ticket_on_failure,
            )
        ]
    if verdict.outcome == "passed" and previous_outcome == "failed":
        return [
            Finding(
                kind=GATE_PASSED,
                severity="info",
                product_id=gathered["product_id"],
                subject=f"Quality gate passes again on {label}",
                text=f"{verdict.title} on commit {gathered['sha'][:12]}.",
                dedupe_key=dedupe_key,
                facts=facts_table,
                link=link,
                occurred_at=now,
                ticket=configuration.development.ticket_on_failure,
                resolves=True,
            )
        ]
    return []


def _commit_link(gathered: dict[str, Any]) -> str | None:
    if not gathered["repository"]:
        return None
    return f"https://github.com/{gathered['repository']}/commit/{gathered['sha']}"


def _events(
    gathered: dict[str, Any], verdict: Verdict, stored: history.StoredVerdict
) -> list[dict[str, Any]]:
    return [
        {
            "name": GATE_FAILED,
            "product_id": gathered["product_id"],
            "tenant_id": gathered["tenant_id"],
            # One event per stored verdict: a retried emission is the same event.
            "event_id": str(uuid.uuid5(GATE_EVENT_NAMESPACE, f"verdict:{stored.id}")),
            "payload": {
                "repository": gathered["repository"],
                "sha": gathered["sha"],
                "pull_requests": list(history.facts_from_json(gathered["facts"]).pull_requests),
                "title": verdict.title,
                "failed": [r.name for r in verdict.results if r.outcome == "failed"],
                "verdict_id": stored.id,
                "resource": product_resource_id(gathered["product_id"]),
            },
        }
    ]


@task(name="post-check-run", retries=2, retry_delay_seconds=[5, 30])
def post_check_run(evaluated: dict[str, Any]) -> dict[str, Any]:
    """Report the verdict as the gates' check run on the commit: the commit's existing
    check run is updated (the one stored with an earlier verdict, or found by name on
    GitHub), otherwise one is created; its id is stored with the verdict.

    Skipped without a ``github`` block, with ``development.post_check_runs`` off, or when
    the verdict did not change.
    """
    if "skipped" in evaluated:
        return evaluated
    if not evaluated["post"] or not evaluated["repository"]:
        return _skip("check runs are not posted for this product")
    if not evaluated["changed"] and evaluated["check_run_id"]:
        return _skip("the verdict did not change", check_run_id=evaluated["check_run_id"])
    store = task_store()
    loaded = _product_and_configuration(store, evaluated["product_id"])
    assert loaded is not None
    _product, configuration = loaded
    hook = github_hook(configuration)
    if hook is None:
        return _skip("no github block: the verdict is stored only")
    request = evaluated["check_run"]
    output = request["output"]
    repository, sha = evaluated["repository"], evaluated["sha"]
    run_id = evaluated["check_run_id"] or hook.find_check_run(repository, sha, request["name"])
    if run_id is None:
        run_id = hook.create_check_run(
            repository,
            sha,
            request["name"],
            status=request["status"],
            conclusion=request.get("conclusion"),
            title=output["title"],
            summary=output["summary"],
            text=output["text"],
            external_id=f"productpilot:{evaluated['product_id']}",
        )
        action = "created"
    else:
        hook.update_check_run(
            repository,
            run_id,
            status=request["status"],
            conclusion=request.get("conclusion"),
            title=output["title"],
            summary=output["summary"],
            text=output["text"],
        )
        action = "updated"
    with store.tenant_session(evaluated["tenant_id"]) as session:
        history.set_check_run_id(session, evaluated["verdict_id"], run_id)
    return {"check_run_id": run_id, "action": action}


# --- workflow transitions -------------------------------------------------------------------


@task(
    name="record-transitions",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS),
)
def plan_and_record_transitions(
    product_id: int, delivery_id: str, now: datetime | None = None
) -> dict[str, Any]:
    """The issue moves a GitHub delivery asks for by the product's workflow rules, written
    to the outbox once each (the dispatcher makes them). Issue keys come from the pull
    request's branch, title and body, and, with a ``github`` block and
    ``development.fetch_commit_messages``, its commit messages.
    """
    store = task_store()
    loaded = _product_and_configuration(store, product_id)
    if loaded is None:
        return _skip(f"no product {product_id}")
    product, configuration = loaded
    rules = configuration.development.workflow_rules
    if not rules:
        return _skip("no workflow rules")
    delivery = _delivery(store, product, delivery_id)
    if delivery is None:
        return _skip(f"no stored GitHub delivery {delivery_id!r} for product {product_id}")
    event = event_from_github(delivery.kind, delivery.payload)
    if event is None:
        return _skip(f"{delivery.kind}.{delivery.payload.get('action')} moves no issue")
    if not any(rule.matches(event) for rule in rules):
        return _skip(f"no workflow rule for {event.kind}")
    pull = delivery.payload.get("pull_request") or {}
    hook = github_hook(configuration)
    if (
        hook is not None
        and configuration.development.fetch_commit_messages
        and event.repository
        and pull.get("number") is not None
    ):
        commits = hook.pull_request_commits(event.repository, int(pull["number"]))
        event = with_commit_messages(event, [c["message"] for c in commits])
    patterns = IssueKeyPatterns.from_integrations(configuration.integrations)
    transitions = plan_transitions(event, rules, patterns)
    cause = f"{event.kind.replace('_', ' ')} ({event.identity})"
    with store.tenant_session(product.tenant_id) as session:
        report = record_transitions(
            session,
            session.get(Product, product.id),
            transitions,
            now=now or datetime.now(UTC),
            cause=cause,
        )
    return {
        "product_id": product.id,
        "event": event.kind,
        "identity": event.identity,
        "planned": [
            {"tool": t.tool, "issue": t.issue_key, "status": t.target_status} for t in transitions
        ],
        "recorded": report.recorded,
        "duplicates": report.duplicates,
        "skipped_tools": report.skipped,
    }
