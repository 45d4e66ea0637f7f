"""``productpilot dlq``: failed runs listed, shown, discarded, and replayed on Prefect."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from typer.testing import CliRunner

from productpilot.cli import app
from productpilot.cli import dlq as dlq_commands
from productpilot.db.models import DeadLetter
from productpilot.operations.deadletters import FailedRun, record
from productpilot.products import create_product
from productpilot.runtime import open_store
from productpilot.tenants import create_tenant

runner = CliRunner()
RUN_ID = "0b7e7c4e-8e0e-4a51-9d3f-3c1f7f1b2a10"

# The dlq group is registered in productpilot.cli.app by the integration; until then the
# tests mount it on the same app (with its one-line error handling).
if "dlq" not in {group.name for group in app.registered_groups}:
    app.add_typer(dlq_commands.app, name="dlq")


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


@flow(name="cli-replayable")
def cli_replayable(product_ids: list[int] | None = None) -> None:
    raise RuntimeError("never run here: the replay only schedules it")


def dead_letter(tenant_id: int, deployment: str | None = "nightly", **parameters: object) -> int:
    run_ = FailedRun(
        flow_run_id=RUN_ID,
        flow_name="cli-replayable",
        deployment_name=deployment,
        parameters=parameters,
        error="Failed: RuntimeError('vendor down')\nTraceback line two",
        attempts=2,
    )
    with open_store().tenant_session(tenant_id) as session:
        letter, _ = record(session, run_)
        return letter.id


@pytest.fixture
def acme(home: Path) -> int:
    tenant, _ = create_tenant(open_store(), "Acme Inc")
    return tenant.id


def test_list_shows_open_dead_letters_with_the_first_error_line(acme: int) -> None:
    letter_id = dead_letter(acme, product_ids=[1])
    code, out, _ = run("dlq", "list")
    assert code == 0
    assert str(letter_id) in out
    assert "cli-replayable" in out
    assert "nightly" in out
    assert "open" in out
    assert "RuntimeError('vendor down')" in out
    assert "Traceback line two" not in out
    code, out, _ = run("dlq", "list", "--status", "discarded")
    assert code == 0
    assert "cli-replayable" not in out


def test_list_of_another_tenant_shows_none_of_ours(acme: int) -> None:
    dead_letter(acme)
    create_tenant(open_store(), "Globex")
    code, out, _ = run("dlq", "list", "--tenant", "globex")
    assert code == 0
    assert "cli-replayable" not in out


def test_show_prints_the_run_parameters_and_full_error(acme: int) -> None:
    letter_id = dead_letter(acme, product_ids=[1, 2])
    code, out, _ = run("dlq", "show", str(letter_id), "--tenant", "acme-inc")
    assert code == 0
    assert RUN_ID in out
    assert "cli-replayable/nightly" in out
    assert '"product_ids"' in out
    assert "Traceback line two" in out


def test_discard_records_the_reason_and_a_second_discard_is_a_one_line_error(acme: int) -> None:
    letter_id = dead_letter(acme)
    code, out, _ = run("dlq", "discard", str(letter_id), "--reason", "[fixed] upstream")
    assert (code, out.strip()) == (0, f"Discarded dead letter {letter_id}.")
    code, out, _ = run("dlq", "show", str(letter_id))
    assert "discarded" in out
    assert "[discarded] [fixed] upstream" in out
    code, _, err = run("dlq", "discard", str(letter_id))
    assert code == 1
    assert "already discarded" in err
    assert "Traceback" not in err


def test_unknown_ids_and_statuses_are_one_line_errors(acme: int) -> None:
    assert run("dlq", "show", "999")[0] == 1
    assert "no dead letter 999" in run("dlq", "show", "999")[2]
    code, _, err = run("dlq", "list", "--status", "closed")
    assert code == 1
    assert "unknown status" in err


def test_replay_schedules_the_deployment_again_and_links_the_run(
    acme: int, prefect_harness: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # configure_prefect only sets what is unset: keep it from leaking into later tests.
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    cli_replayable.to_deployment(name="nightly").apply()
    with open_store().tenant_session(acme) as session:
        product = create_product(session, "Web App")
    letter_id = dead_letter(acme, product_ids=[product.id])

    code, out, err = run("dlq", "replay", str(letter_id))

    assert code == 0, err
    with open_store().tenant_session(acme) as session:
        letter = session.get(DeadLetter, letter_id)
        assert letter.status == "replayed"
        replay_id = letter.replay_flow_run_id
    assert replay_id in out
    with get_client(sync_client=True) as client:
        replayed = client.read_flow_run(UUID(replay_id))
    assert replayed.state.is_scheduled()
    assert replayed.parameters == {"product_ids": [product.id]}
    assert {"productpilot", f"tenant:{acme}", f"replay-of:{RUN_ID}"} <= set(replayed.tags)
    code, _, err = run("dlq", "replay", str(letter_id))
    assert code == 1
    assert "already replayed" in err


def test_replay_of_a_run_without_deployment_is_a_one_line_error(
    acme: int, prefect_harness: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    letter_id = dead_letter(acme, deployment=None)
    code, _, err = run("dlq", "replay", str(letter_id))
    assert code == 1
    assert "had no deployment" in err
