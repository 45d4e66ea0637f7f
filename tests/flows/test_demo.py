"""The demo flow: the whole product on synthetic data, safe to re-run.

The demo runs every flow, so it is run once for the module (and once more to show that a
re-run duplicates nothing); each test reads what that run left.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from flows.demo import demo_flow
from productpilot.db.models import BacklogDependency, BacklogItem, Event, Product
from productpilot.runtime import open_store
from tests.embedded_home import embedded_home


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One PRODUCTPILOT_HOME for the module's demo runs."""
    with embedded_home(tmp_path_factory.mktemp("demo") / "home") as path:
        yield path


@pytest.fixture(scope="module")
def summary(demo_home: Path) -> dict[str, Any]:
    return demo_flow(preset="tiny", seed=3)


def test_the_demo_loads_every_generated_event_and_the_backlog(summary: dict[str, Any]) -> None:

    events_file = Path(summary["files"]["events"])
    backlog = json.loads(Path(summary["files"]["backlog"]).read_text())
    generated = sum(1 for _ in events_file.open())
    assert summary["import"]["inserted"] == generated > 0
    assert summary["import"]["rejected"] == 0
    assert summary["api_key"].startswith("pp_")

    # The rollout's simulated traffic is today's; the generated dataset ends before it.
    period = json.loads(Path(summary["files"]["manifest"]).read_text())["period"]
    dataset_end = datetime.fromisoformat(period["end"]).replace(tzinfo=UTC)
    store = open_store()
    with store.tenant_session(summary["tenant_id"]) as session:
        in_dataset = select(func.count()).select_from(Event).where(Event.timestamp < dataset_end)
        assert session.scalar(in_dataset) == generated
        assert session.scalar(select(func.count()).select_from(BacklogItem)) == len(backlog)
        edges = sum(len(item.get("depends_on", [])) for item in backlog)
        assert session.scalar(select(func.count()).select_from(BacklogDependency)) == edges
        assert session.scalars(select(Product.slug)).one() == "demo-app"
    assert json.loads(Path(summary["files"]["summary"]).read_text())["import"]["inserted"]


def test_the_demo_gates_pull_requests_releases_rolls_out_and_reports_quality(
    summary: dict[str, Any],
) -> None:
    assert summary["development"]["verdicts"]["passed"] > 0
    assert summary["development"]["verdicts"]["failed"] > 0
    assert summary["release"]["status"] == "released"
    assert Path(summary["files"]["release notes"]).read_text().count("#10") == 2
    assert summary["rollout"]["status"] == "rolled_back"
    assert "rolled back" in Path(summary["files"]["launch report"]).read_text().lower()
    assert Path(summary["files"]["QA report"]).read_text().lower().startswith("<!doctype html>")


def test_the_demo_folds_every_event_into_the_rollups(summary: dict[str, Any]) -> None:
    from productpilot.db.models import EventCountDaily

    assert summary["rollup"]["events"] == summary["import"]["inserted"]
    with open_store().tenant_session(summary["tenant_id"]) as session:
        total = session.scalar(select(func.sum(EventCountDaily.count)))
    assert total == summary["import"]["inserted"]


def test_running_the_demo_again_duplicates_nothing(summary: dict[str, Any]) -> None:
    first = summary
    second = demo_flow(preset="tiny", seed=3)

    assert second["api_key"] is None  # the tenant exists; its key was shown the first time
    assert (second["tenant_id"], second["product_id"]) == (first["tenant_id"], first["product_id"])
    assert second["import"]["inserted"] == 0
    assert second["import"]["duplicates"] == first["import"]["inserted"]
    assert second["backlog"]["created"] == 0
