"""OFREP over a product's stored flags, and the flagd sync document, through the real API app.

One test serves the application with uvicorn on a loopback port and lets ``openfeature-sdk``
with ``openfeature-provider-ofrep`` (sending the API key and the product header) evaluate
every kind of flag: its answers must equal the in-process :func:`evaluate`.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openfeature import api as openfeature_api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.provider.no_op_provider import NoOpProvider

from productpilot.api.app import create_app
from productpilot.api.routers.ofrep import PRODUCT_HEADER
from productpilot.db.store import Store
from productpilot.launch.flags import evaluate, validate_document
from productpilot.launch.store import create_flag
from productpilot.products import get_product
from productpilot.settings import Settings
from tests.productpilot.api.conftest import Caller
from tests.productpilot.webhooks.fakes import RecordingEmitter

DOMAIN = "productpilot-ofrep-api-test"
FLAGS: dict[str, dict[str, Any]] = {
    "new-checkout": {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "off",
    },
    "banner-text": {
        "state": "ENABLED",
        "variants": {"plain": "Welcome", "staff": "Hello, colleague"},
        "defaultVariant": "plain",
        "targeting": {"if": [{"ends_with": [{"var": "email"}, "@acme.com"]}, "staff", None]},
    },
    "page-size": {
        "state": "ENABLED",
        "variants": {"small": 10, "large": 50},
        "defaultVariant": "small",
        "targeting": {"if": [{"sem_ver": [{"var": "app_version"}, ">=", "2.0.0"]}, "large", None]},
    },
    "discount-rate": {
        "state": "ENABLED",
        "variants": {"none": 0.0, "launch": 0.15},
        "defaultVariant": "none",
        "targeting": {"if": [{"in": [{"var": "plan"}, ["pro", "team"]]}, "launch", None]},
    },
    "layout": {
        "state": "ENABLED",
        "variants": {"classic": {"columns": 1}, "grid": {"columns": 3, "dense": True}},
        "defaultVariant": "classic",
        "targeting": {"if": [{"starts_with": [{"var": "plan"}, "beta"]}, "grid", None]},
    },
    "fast-search": {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "off",
        "targeting": {"fractional": [["on", 50], ["off", 50]]},
    },
}
CONTEXTS = [
    EvaluationContext("user-1", {"email": "ann@acme.com", "app_version": "2.1.0", "plan": "pro"}),
    EvaluationContext("user-2", {"email": "bob@mail.com", "app_version": "1.9.9", "plan": "free"}),
    EvaluationContext("user-3", {"email": "cy@mail.com", "plan": "beta-1"}),
    EvaluationContext("user-4", {"plan": "team"}),
    *(EvaluationContext(f"u{i}") for i in range(12)),
]
SDK_CALLS = [
    ("new-checkout", "get_boolean_details", True),
    ("banner-text", "get_string_details", "fallback"),
    ("page-size", "get_integer_details", 1),
    ("discount-rate", "get_float_details", 0.5),
    ("layout", "get_object_details", {"columns": 0}),
    ("fast-search", "get_boolean_details", True),
]
SINGLE = "/ofrep/v1/evaluate/flags/{key}"
BULK = "/ofrep/v1/evaluate/flags"


@pytest.fixture
def app(store: Store, tmp_path: Path) -> FastAPI:
    return create_app(store, settings=Settings(home=tmp_path / "home"), emitter=RecordingEmitter())


@pytest.fixture
def api(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def flagged(store: Store, acme: Caller) -> Caller:
    """Acme's product with every flag of :data:`FLAGS`."""
    with store.tenant_session(acme.tenant_id) as session:
        product = get_product(session, acme.product_id)
        for key, definition in FLAGS.items():
            create_flag(session, product, key, definition, "test")
    return acme


def ofrep_headers(caller: Caller) -> dict[str, str]:
    return {**caller.headers, PRODUCT_HEADER: str(caller.product_id)}


def context_of(context: EvaluationContext) -> dict[str, Any]:
    return {"targetingKey": context.targeting_key, **context.attributes}


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    """The API app on a loopback port, as a provider reaches it."""
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say they are TCP.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


# --- the real OpenFeature SDK ----------------------------------------------------------------


def test_the_openfeature_sdk_gets_what_evaluate_answers_from_the_running_api(
    served: str, flagged: Caller
) -> None:
    provider = OFREPProvider(served, headers_factory=lambda: ofrep_headers(flagged), timeout=5)
    openfeature_api.set_provider(provider, domain=DOMAIN)  # our own domain: globals stay clean
    try:
        client = openfeature_api.get_client(domain=DOMAIN)
        document = validate_document({"flags": FLAGS})
        for key, method, default in SDK_CALLS:
            for context in CONTEXTS:
                remote = getattr(client, method)(key, default, context)
                local = evaluate(document, key, context_of(context), default)
                assert remote.error_code is None, (key, remote.error_message)
                assert (remote.value, remote.variant, remote.reason) == (
                    local.value,
                    local.variant,
                    local.reason,
                ), (key, context)
        # targeting and the 50 % split really happened over the wire
        assert client.get_string_value("banner-text", "x", CONTEXTS[0]) == "Hello, colleague"
        assert client.get_integer_value("page-size", 1, CONTEXTS[0]) == 50
        split = {client.get_boolean_value("fast-search", False, c) for c in CONTEXTS[4:]}
        assert split == {True, False}
        missing = client.get_boolean_details("no-such-flag", True, CONTEXTS[0])
        assert (missing.value, missing.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)
    finally:
        openfeature_api.set_provider(NoOpProvider(), domain=DOMAIN)
        provider.session.close()


# --- the protocol through the app ---------------------------------------------------------


def test_single_evaluation_answers_the_protocols_shapes(api: TestClient, flagged: Caller) -> None:
    headers = ofrep_headers(flagged)
    context = {"context": {"targetingKey": "u", "email": "a@acme.com"}}
    ok = api.post(SINGLE.format(key="banner-text"), json=context, headers=headers)
    assert ok.status_code == 200
    assert ok.json()["value"] == "Hello, colleague"
    assert ok.json()["metadata"]["flagSetId"] == "acme-app"
    missing = api.post(SINGLE.format(key="nope"), json=context, headers=headers)
    assert (missing.status_code, missing.json()["errorCode"]) == (404, "FLAG_NOT_FOUND")
    invalid = api.post(SINGLE.format(key="banner-text"), content=b"{oops", headers=headers)
    assert (invalid.status_code, invalid.json()["errorCode"]) == (400, "INVALID_CONTEXT")


def test_the_product_header_is_required_and_must_be_the_callers_product(
    api: TestClient, flagged: Caller, globex: Caller
) -> None:
    url = SINGLE.format(key="new-checkout")
    absent = api.post(url, json={}, headers=flagged.headers)
    assert absent.status_code == 400
    assert absent.json()["errorCode"] == "GENERAL"
    assert PRODUCT_HEADER in absent.json()["errorDetails"]
    bulk_absent = api.post(BULK, json={}, headers={**flagged.headers, PRODUCT_HEADER: "seven"})
    assert (bulk_absent.status_code, bulk_absent.json()["errorCode"]) == (400, "GENERAL")
    # globex's key naming acme's product is refused, as is a product that does not exist
    foreign = {**globex.headers, PRODUCT_HEADER: str(flagged.product_id)}
    assert api.post(url, json={}, headers=foreign).status_code == 403
    assert api.post(BULK, json={}, headers=foreign).status_code == 403
    nowhere = {**flagged.headers, PRODUCT_HEADER: "999999"}
    assert api.post(url, json={}, headers=nowhere).status_code == 403
    without_key = {PRODUCT_HEADER: str(flagged.product_id)}
    assert api.post(url, json={}, headers=without_key).status_code == 401
    assert api.post(BULK, json={}, headers=without_key).status_code == 401


def test_bulk_evaluation_is_304_until_a_flag_changes(api: TestClient, flagged: Caller) -> None:
    headers = ofrep_headers(flagged)
    request = {"context": {"targetingKey": "user-1", "plan": "beta"}}
    first = api.post(BULK, json=request, headers=headers)
    assert first.status_code == 200
    answers = {flag["key"]: flag.get("value") for flag in first.json()["flags"]}
    assert answers["layout"] == {"columns": 3, "dense": True}
    assert set(answers) == set(FLAGS)
    etag = first.headers["etag"]
    again = api.post(BULK, json=request, headers={**headers, "If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    api.put(
        f"/api/v1/products/{flagged.product_id}/flags/layout",
        json={"definition": {**FLAGS["layout"], "state": "DISABLED"}},
        headers={**flagged.headers, "If-Match": "*"},
    )
    changed = api.post(BULK, json=request, headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    layout = next(flag for flag in changed.json()["flags"] if flag["key"] == "layout")
    assert layout["reason"] == "DISABLED"


# --- the flagd sync source --------------------------------------------------------------------


def test_flags_json_is_the_flagd_document_with_an_etag(api: TestClient, flagged: Caller) -> None:
    url = f"/api/v1/products/{flagged.product_id}/flags.json"
    first = api.get(url, headers=flagged.headers)
    assert first.status_code == 200
    document = first.json()
    assert document["$schema"] == "https://flagd.dev/schema/v0/flags.json"
    assert document["flags"] == validate_document({"flags": FLAGS}).to_json()["flags"]
    assert document["metadata"]["version"] in first.headers["etag"]
    validate_document(document)  # what flagd loads, we load too
    etag = first.headers["etag"]
    assert api.get(url, headers={**flagged.headers, "If-None-Match": etag}).status_code == 304
    api.delete(f"/api/v1/products/{flagged.product_id}/flags/layout", headers=flagged.headers)
    after = api.get(url, headers={**flagged.headers, "If-None-Match": etag})
    assert after.status_code == 200
    assert "layout" not in after.json()["flags"]
    assert api.get(url).status_code == 401
