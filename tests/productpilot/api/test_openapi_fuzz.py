"""The whole API, fuzzed from its own OpenAPI document (schemathesis, in process).

Every operation the app documents, including routers added later, is called with data
generated from its schema, both valid and deliberately invalid. Whatever a client sends,
the API must answer without a 5xx, and with a status code, content type and body that the
document declares for that operation. Three callers cover the ways in:

- the owner: a valid API key and, in every ``{product_id}``, a product its tenant owns, so
  generated bodies and queries reach real code past authentication and ownership;
- a tenant probing product ids: a valid key, generated ids (absent, invalid, out of range);
- a caller without a key, on every operation that requires one: it never succeeds.

Workflow operations talk to the session's Prefect test server, so they answer from Prefect
rather than 503. The run is bounded and derandomized: a failure reproduces on the next run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from prefect.settings import get_current_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from flows.ingestion import import_events_flow
from productpilot.api.app import create_app
from productpilot.api.prefect_gateway import PrefectGateway
from productpilot.db.store import Store
from productpilot.settings import Settings
from tests.productpilot.api.conftest import Caller

MAX_EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# The document does not depend on the store, so it is read once, at collection, from an app
# on a store that is never opened; every call goes to the test's own app (``app=``).
# (``schemathesis.pytest.from_fixture`` would read it per test, but breaks on pytest 9.2.)
_document_app = create_app(Store.from_url("sqlite://"), settings=Settings(home=Path("unused")))
schema = schemathesis.openapi.from_asgi("/openapi.json", _document_app)

bounded = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    # The store, app and caller live across the examples of one operation on purpose:
    # what one request stores, the next may read or repeat.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _requires_a_key(context: Any) -> bool:
    """Whether the operation declares a security requirement (filters see only the raw one)."""
    return bool(context.operation.definition.raw.get("security"))


@pytest.fixture(scope="module")
def deployments(prefect_harness: None) -> None:
    """A real deployment (no work pool, so runs created from it stay scheduled)."""
    import_events_flow.to_deployment(name="import-events").apply()


@pytest.fixture
def live_app(app: FastAPI, deployments: None) -> FastAPI:
    app.state.workflows = PrefectGateway(get_current_settings().api.url)
    return app


@schema.parametrize()
@bounded
def test_the_owner_gets_only_documented_answers(
    case: schemathesis.Case, live_app: FastAPI, acme: Caller
) -> None:
    if "product_id" in (case.path_parameters or {}):
        case.path_parameters["product_id"] = acme.product_id
    case.call_and_validate(app=live_app, headers=acme.headers, checks=CHECKS)


@schema.include(path_regex=r"\{product_id\}").parametrize()
@bounded
def test_any_product_id_gets_a_documented_answer(
    case: schemathesis.Case, live_app: FastAPI, acme: Caller
) -> None:
    case.call_and_validate(app=live_app, headers=acme.headers, checks=CHECKS)


@schema.include(_requires_a_key).parametrize()
@bounded
# Refused at the key lookup, before any query the database could answer differently.
@pytest.mark.parametrize("empty_store", ["sqlite"], indirect=True)
def test_without_a_key_nothing_succeeds(case: schemathesis.Case, live_app: FastAPI) -> None:
    response = case.call_and_validate(app=live_app, checks=CHECKS)
    assert response.status_code >= 400, f"{case.operation.label} answered without a key"
