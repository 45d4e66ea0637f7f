"""``productpilot plan``: each planning step from the terminal, mistakes in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from productpilot.cli import app
from productpilot.db.models import Plan
from productpilot.planning.backlog import upsert_backlog
from productpilot.products import create_product
from productpilot.runtime import open_store
from productpilot.tenants import create_tenant
from tests.productpilot.planning.test_store import backlog

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


@pytest.fixture
def product_id(home: Path) -> int:
    store = open_store()
    tenant, _ = create_tenant(store, "Planners")
    with store.tenant_session(tenant.id) as session:
        product = create_product(session, "Web App")
        upsert_backlog(session, product, backlog(), source="local")
        return product.id


@pytest.mark.parametrize("step", ["score", "estimate", "schedule", "risk"])
def test_each_step_prints_its_table(product_id: int, step: str) -> None:
    result = run("plan", step, str(product_id), "--as-of", "2026-11-02")
    assert result.exit_code == 0, result.output
    assert "A" in result.stdout


def test_score_explains_each_score_and_names_what_is_missing(product_id: int) -> None:
    result = run("plan", "score", str(product_id), "--as-of", "2026-11-02", "--json")
    rows = json.loads(result.stdout)
    # No usage recorded: RICE has no reach for these items, and says so.
    assert {row["why"] for row in rows} == {"missing required inputs: reach"}


def test_risk_forecasts_when_the_backlog_will_be_done(product_id: int) -> None:
    result = run("plan", "risk", str(product_id), "--as-of", "2026-11-02", "--json")
    data = json.loads(result.stdout)
    assert {row["key"] for row in data["risks"]} == {"A", "B"}
    assert set(data["forecast"]["percentiles"]) == {"p50", "p85", "p95"}


def test_run_stores_the_plan(product_id: int) -> None:
    result = run("plan", "run", str(product_id), "--as-of", "2026-11-02")
    assert result.exit_code == 0, result.output
    assert "2 items over" in result.stdout
    with open_store().system_session() as session:
        assert len(list(session.scalars(select(Plan)))) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "score", "999"], "no product '999'"),
        (["plan", "score", "{id}", "--as-of", "2026-13-01"], "is not a date"),
        (["plan", "risk", "web-app"], "give its tenant too"),
    ],
)
def test_mistakes_end_in_one_line(product_id: int, args: list[str], message: str) -> None:
    result = run(*[a.format(id=product_id) for a in args])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_product_without_open_items_is_told_so(home: Path) -> None:
    store = open_store()
    tenant, _ = create_tenant(store, "Idle")
    with store.tenant_session(tenant.id) as session:
        product = create_product(session, "Empty")
        empty_id = product.id
    result = run("plan", "score", str(empty_id))
    assert result.exit_code == 1
    assert "has no open backlog items" in result.stderr
