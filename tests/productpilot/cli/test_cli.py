"""The command line: what users type, what they see, and one-line errors for mistakes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from productpilot.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def acme(home: Path) -> str:
    code, out, _ = run("tenants", "create", "Acme Inc")
    assert code == 0, out
    return re.search(r"pp_\S+", out).group(0)


@pytest.mark.parametrize(
    "command",
    [
        ["--help"],
        ["tenants", "create", "--help"],
        ["tenants", "list", "--help"],
        ["tenants", "pin", "--help"],
        ["products", "create", "--help"],
        ["products", "list", "--help"],
        ["products", "show", "--help"],
        ["events", "import", "--help"],
        ["demo", "--help"],
        ["db", "upgrade", "--help"],
        ["outbox", "list", "--help"],
        ["outbox", "show", "--help"],
        ["outbox", "retry", "--help"],
        ["outbox", "ack", "--help"],
        ["dlq", "list", "--help"],
        ["dlq", "replay", "--help"],
        ["setup", "--help"],
    ],
)
def test_every_command_explains_itself(command: list[str]) -> None:
    code, out, _ = run(*command)
    assert code == 0
    assert "Usage:" in out
    assert len(out.split("Usage:")[1].strip()) > 40


def test_creating_a_tenant_prints_its_key_once(home: Path, acme: str) -> None:
    code, out, _ = run("tenants", "list")
    assert code == 0
    assert "acme-inc" in out
    assert acme not in out


def test_a_tenant_is_pinned_to_a_region_and_the_list_shows_it(home: Path, acme: str) -> None:
    code, out, _ = run("tenants", "pin", "acme-inc", "eu")
    assert code == 0
    assert "now runs in region eu" in out
    result = runner.invoke(app, ["tenants", "list"], env={"COLUMNS": "200"})
    assert re.search(r"acme-inc\s.*\beu\b", result.stdout)
    code, out, _ = run("tenants", "pin", "acme-inc")
    assert "now runs in any region" in out


def test_products_are_created_listed_and_shown_with_their_configuration(
    home: Path, acme: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"webhook_secrets": {"github": "hush"}}))
    code, out, err = run(
        "products", "create", "Web App", "-t", "acme-inc", "--timezone", "Europe/Berlin",
        "--config", str(config),
    )  # fmt: skip
    assert code == 0, err
    assert "web-app" in run("products", "list", "-t", "acme-inc")[1]
    code, out, _ = run("products", "show", "web-app", "-t", "acme-inc")
    shown = json.loads(out)
    assert shown["timezone"] == "Europe/Berlin"
    assert shown["configuration"]["webhook_secrets_configured"] == ["github"]
    assert "hush" not in out


def test_events_import_reports_counts_and_bad_lines(home: Path, acme: str, tmp_path: Path) -> None:
    run("products", "create", "Web App", "-t", "acme-inc")
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"event": "signup", "distinct_id": "u1", "timestamp": "2026-08-01T00:00:00Z"}\ngarbage\n'
    )
    code, out, err = run("events", "import", str(events), "--product", "1")
    assert code == 0, err
    assert "1 new" in out
    assert "1 rejected" in out
    assert "line 2: not valid JSON" in err
    rejects = list((home / "imports").glob("events.jsonl.*.rejected.jsonl"))
    assert len(rejects) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tenants", "create", "Acme Inc"], "tenant 'acme-inc' already exists"),
        (["tenants", "pin", "acme-inc", "EU West"], "invalid region 'EU West'"),
        (["tenants", "pin", "nobody", "eu"], "no tenant 'nobody'"),
        (["products", "list", "-t", "nobody"], "no tenant 'nobody'"),
        (["products", "create", "X", "-t", "acme-inc", "--timezone", "Moon/Base"], "time zone"),
        (["products", "show", "nope", "-t", "acme-inc"], "no product 'nope'"),
        (["events", "import", "missing.jsonl", "--product", "1"], "no product '1'"),
        (["events", "import", "x.jsonl", "--product", "web"], "give its tenant too"),
        (["products", "create", "X", "-t", "acme-inc", "--config", "none.json"], "no such file"),
    ],
)
def test_user_mistakes_end_in_one_line_without_a_traceback(
    home: Path, acme: str, args: list[str], message: str
) -> None:
    code, out, err = run(*args)
    assert code == 1
    assert err.startswith("error: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in out + err


def test_an_invalid_setting_is_named_in_the_error(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRODUCTPILOT_LOG_LEVEL", "loud")
    code, _, err = run("tenants", "list")
    assert code == 1
    assert err.startswith("error: invalid PRODUCTPILOT_LOG_LEVEL")


def test_an_unreachable_database_is_one_line(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODUCTPILOT_DATABASE_URL", "postgresql+psycopg://x@127.0.0.1:9/none")
    code, _, err = run("tenants", "list")
    assert code == 1
    assert err.startswith("error: cannot use the database")
    assert len(err.strip().splitlines()) == 1
