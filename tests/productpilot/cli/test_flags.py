"""``productpilot flags``: set, inspect, audit and evaluate a product's flags from the shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from productpilot.cli import app
from productpilot.cli import flags as flags_cli
from productpilot.launch.store import FLAG_CHANGED_EVENT
from productpilot.products import create_product
from productpilot.runtime import open_store
from productpilot.tenants import create_tenant
from tests.productpilot.webhooks.fakes import RecordingEmitter

runner = CliRunner()
CHECKOUT = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off"}
ROLLOUT = {**CHECKOUT, "targeting": {"fractional": [["on", 50], ["off", 50]]}}


def run(*args: str) -> tuple[int, str, str]:
    # Wide enough that rich does not wrap the table's cells.
    result = runner.invoke(app, list(args), env={"COLUMNS": "250"})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def web(home: Path) -> str:
    """A tenant ``acme-inc`` with the product ``web-app``."""
    store = open_store()
    tenant, _ = create_tenant(store, "Acme Inc")
    with store.tenant_session(tenant.id) as session:
        create_product(session, "Web App")
    return "web-app"


@pytest.fixture
def emitter(monkeypatch: pytest.MonkeyPatch) -> RecordingEmitter:
    recording = RecordingEmitter()
    monkeypatch.setattr(flags_cli, "event_emitter", lambda: recording)
    return recording


def flag(*args: str) -> tuple[int, str, str]:
    return run("flags", *args, "--tenant", "acme-inc")


def test_set_creates_then_updates_a_flag_and_announces_each_change(
    web: str, tmp_path: Path, emitter: RecordingEmitter
) -> None:
    code, out, _ = flag("set", web, "checkout", "--json", json.dumps(CHECKOUT), "-r", "launch")
    assert code == 0, out
    assert "Flag 'checkout' created: version 1." in out
    assert f"Announced as {FLAG_CHANGED_EVENT}." in out
    path = tmp_path / "checkout.json"
    path.write_text(json.dumps({**CHECKOUT, "state": "DISABLED"}))
    code, out, _ = flag("set", web, "checkout", "--file", str(path), "--actor", "ann")
    assert code == 0, out
    assert "Flag 'checkout' updated: version 2." in out
    assert 'state changed from "ENABLED" to "DISABLED"' in out
    assert [event.payload["action"] for event in emitter.events] == ["created", "updated"]
    assert emitter.events[1].payload["actor"] == "ann"
    code, out, _ = flag("set", web, "checkout", "--file", str(path))
    assert "unchanged (version 2)" in out
    assert len(emitter.events) == 2


def test_show_and_list_print_the_flags(web: str, emitter: RecordingEmitter) -> None:
    flag("set", web, "checkout", "--json", json.dumps(CHECKOUT))
    flag("set", web, "fast-search", "--json", json.dumps(ROLLOUT))
    code, out, _ = flag("show", web, "checkout")
    assert code == 0
    shown = json.loads(out)
    assert (shown["key"], shown["version"], shown["definition"]) == ("checkout", 1, CHECKOUT)
    code, out, _ = flag("list", web)
    assert code == 0
    assert "checkout" in out
    assert "fast-search" in out
    assert "boolean" in out


def test_history_shows_who_when_why_and_what(web: str, emitter: RecordingEmitter) -> None:
    flag("set", web, "checkout", "--json", json.dumps(CHECKOUT), "--actor", "ann", "-r", "beta")
    changed = {**CHECKOUT, "defaultVariant": "on"}
    flag("set", web, "checkout", "--json", json.dumps(changed), "--actor", "bob", "-r", "GA")
    flag("delete", web, "checkout", "--actor", "cy", "-r", "cleanup")
    code, out, _ = flag("history", web, "checkout")
    assert code == 0
    lines = [line for line in out.splitlines() if "│" in line and "version" not in line]
    assert [line.split("│")[3].strip() for line in lines if line.split("│")[1].strip()] == [
        "cy",
        "bob",
        "ann",
    ]
    assert "cleanup" in out
    assert 'defaultVariant changed from "off" to "on"' in out
    assert flag("show", web, "checkout")[0] == 1


def test_evaluate_answers_as_the_flag_document_does(web: str, emitter: RecordingEmitter) -> None:
    flag("set", web, "fast-search", "--json", json.dumps(ROLLOUT))
    values = set()
    for user in range(6):
        code, out, _ = flag("evaluate", web, "fast-search", "--targeting-key", f"u{user}")
        assert code == 0, out
        result = json.loads(out)
        assert result["reason"] == "TARGETING_MATCH"
        values.add(result["value"])
    assert values == {True, False}
    code, out, _ = flag("evaluate", web, "--context", '{"targetingKey": "u1"}')
    assert [result["key"] for result in json.loads(out)] == ["fast-search"]


MISTAKES = [
    (["set", "web-app", "f", "--json", "{nope"], "--json is not valid JSON"),
    (["set", "web-app", "f", "--json", "[1]"], "--json must be a JSON object"),
    (["set", "web-app", "f"], "exactly one of --file or --json"),
    (["set", "web-app", "f", "--file", "/nonexistent.json"], "no such file"),
    (
        ["set", "web-app", "f", "--json", '{"state": "ON", "variants": {"a": 1}}'],
        "flag 'f': unknown state 'ON'",
    ),
    (["set", "web-app", "f", "--json", "{}", "--expected-version", "3"], "no flag 'f'"),
    (["show", "web-app", "nope"], "no flag 'nope'"),
    (["history", "web-app", "nope"], "no flag 'nope'"),
    (["evaluate", "web-app", "nope"], "no flag 'nope'"),
    (["evaluate", "web-app", "--context", "3"], "--context must be a JSON object"),
    (["list", "no-such-product"], "no product 'no-such-product'"),
]


def test_mistakes_end_in_one_line_errors(web: str, emitter: RecordingEmitter) -> None:
    for args, message in MISTAKES:
        code, _out, err = flag(*args)
        assert code == 1, args
        assert message in err, (args, err)
        assert len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err
    assert emitter.events == []


def test_a_stale_expected_version_is_refused(web: str, emitter: RecordingEmitter) -> None:
    flag("set", web, "checkout", "--json", json.dumps(CHECKOUT))
    code, _out, err = flag(
        "set", web, "checkout", "--json", json.dumps(ROLLOUT), "--expected-version", "7"
    )
    assert code == 1
    assert "flag 'checkout' is at version 1, not 7" in err


def test_without_a_prefect_api_a_change_is_stored_but_not_announced(
    web: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRODUCTPILOT_PREFECT_API_URL", raising=False)
    assert flags_cli.event_emitter() is None
    code, out, _ = flag("set", web, "checkout", "--json", json.dumps(CHECKOUT))
    assert code == 0
    assert "Not announced: no Prefect API is configured." in out
    assert flag("show", web, "checkout")[0] == 0
