"""The dependency rules of docs/architecture.md, checked on the source.

``productpilot/`` is the pure core, except its two entry points, ``productpilot/cli`` and
``productpilot/api``, which start flows and so may reach Prefect and ``flows/``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINTS = ("productpilot/cli", "productpilot/api", "productpilot/__main__.py")


def imported_modules(package: str) -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(ROOT)), alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((str(path.relative_to(ROOT)), node.module))
    return found


def offenders(package: str, forbidden: tuple[str, ...]) -> list[tuple[str, str]]:
    return [
        (path, module)
        for path, module in imported_modules(package)
        if module.split(".")[0] in forbidden or module in forbidden
    ]


def test_the_core_imports_no_prefect_and_no_orchestration_layer() -> None:
    found = offenders("productpilot", ("prefect", "flows", "tasks", "integrations"))
    assert [(p, m) for p, m in found if not p.startswith(ENTRY_POINTS)] == []


def test_the_core_does_not_depend_on_its_entry_points() -> None:
    found = offenders("productpilot", ("productpilot.cli", "productpilot.api"))
    assert [(p, m) for p, m in found if not p.startswith(ENTRY_POINTS)] == []


@pytest.mark.parametrize("package", ["tasks", "integrations"])
def test_tasks_and_integrations_never_import_flows(package: str) -> None:
    assert offenders(package, ("flows",)) == []
