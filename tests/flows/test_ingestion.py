"""The import-events flow: a deployable, idempotent import with a report in the UI."""

from __future__ import annotations

import json
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
)

from flows.ingestion import import_events_flow
from productpilot.products import create_product
from productpilot.runtime import open_store
from productpilot.tenants import create_tenant


def test_the_flow_imports_reports_bad_rows_and_publishes_a_table(
    home: Path, tmp_path: Path
) -> None:
    store = open_store()
    tenant, _ = create_tenant(store, "Acme")
    with store.tenant_session(tenant.id) as session:
        product = create_product(session, "Web App")
    events = tmp_path / "events.jsonl"
    good = {"event": "signup", "distinct_id": "u1", "timestamp": "2026-08-01T00:00:00Z"}
    events.write_text(json.dumps(good) + "\n" + '{"event": 1}\n')

    state = import_events_flow(
        product.id, str(events), str(tmp_path / "rejects.jsonl"), return_state=True
    )
    report = state.result()
    again = import_events_flow(product.id, str(events))

    assert (report["inserted"], report["rejected"]) == (1, 1)
    assert report["rejected_sample"][0]["line"] == 2
    assert (tmp_path / "rejects.jsonl").exists()
    assert (again["inserted"], again["duplicates"]) == (0, 1)
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["event-import"]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
            )
        )
    assert len(artifacts) == 1
    rows = json.loads(artifacts[0].data)
    assert {"measure": "rejected line 2", "value": "event must be a string"} in rows
