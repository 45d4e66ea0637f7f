"""The shared reference data (``../shared/data`` next to the repository), or a clean skip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
GITHUB_WEBHOOKS = "github-webhooks"
JIRA_WEBHOOKS = "jira-webhooks"


def shared_dir(name: str) -> Path:
    """The folder ``name`` of the shared data; skips the test when it is absent."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"the shared data folder {path} is absent")
    return path


def shared_files(name: str, pattern: str = "*.json") -> list[Path]:
    """Files of a shared folder for parametrisation; none (so the tests skip) when absent."""
    path = SHARED_DATA / name
    return sorted(path.glob(pattern)) if path.is_dir() else []


def github_payloads() -> list[Path]:
    """Every octokit example payload, one folder per ``X-GitHub-Event``."""
    return shared_files(GITHUB_WEBHOOKS, "*/*.json")


def jira_payloads() -> list[Path]:
    return shared_files(JIRA_WEBHOOKS)


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_bytes())


def case_id(path: Path) -> str:
    """``pull_request/opened.payload.json`` style test ids."""
    return f"{path.parent.name}/{path.name}"
