"""Specification of the OFREP service logic, checked against the real OpenFeature SDK.

The SDK test serves :func:`evaluate_single` and :func:`evaluate_bulk` from a tiny FastAPI
app on a loopback port and lets ``openfeature-sdk`` with ``openfeature-provider-ofrep``
evaluate flags over HTTP: its answers must equal the in-process :func:`evaluate`.
"""

from __future__ import annotations

import doctest
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason
from openfeature.provider.no_op_provider import NoOpProvider

from productpilot.launch import ofrep as module
from productpilot.launch.flags import evaluate, set_rollout_percentage, validate_document
from productpilot.launch.ofrep import (
    BulkEvaluationFailure,
    BulkEvaluationSuccess,
    EvaluationFailure,
    EvaluationSuccess,
    bulk_etag,
    etag_matches,
    evaluate_bulk,
    evaluate_single,
)

DOMAIN = "productpilot-ofrep-test"


def flag_document() -> dict[str, Any]:
    document = {
        "flags": {
            "new-checkout": {
                "state": "ENABLED",
                "variants": {"on": True, "off": False},
                "defaultVariant": "off",
            },
            "banner-text": {
                "state": "ENABLED",
                "variants": {"plain": "Welcome", "staff": "Hello, colleague"},
                "defaultVariant": "plain",
                "targeting": {
                    "if": [{"ends_with": [{"var": "email"}, "@acme.com"]}, "staff", None]
                },
            },
            "page-size": {
                "state": "ENABLED",
                "variants": {"small": 10, "large": 50},
                "defaultVariant": "small",
                "targeting": {
                    "if": [{"sem_ver": [{"var": "app_version"}, ">=", "2.0.0"]}, "large", None]
                },
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
                "targeting": {"$ref": "beta"},
            },
            "fast-search": {
                "state": "ENABLED",
                "variants": {"on": True, "off": False},
                "defaultVariant": "off",
            },
            "old-report": {
                "state": "DISABLED",
                "variants": {"on": True, "off": False},
                "defaultVariant": "on",
            },
        },
        "$evaluators": {"beta": {"if": [{"starts_with": [{"var": "plan"}, "beta"]}, "grid", None]}},
        "metadata": {"flagSetId": "web", "version": "3"},
    }
    # a progressive rollout as the rollout machine writes it
    return set_rollout_percentage(document, "fast-search", 50, "on", "off").to_json()


CONTEXTS = [
    EvaluationContext("user-1", {"email": "ann@acme.com", "app_version": "2.1.0", "plan": "pro"}),
    EvaluationContext("user-2", {"email": "bob@mail.com", "app_version": "1.9.9", "plan": "free"}),
    EvaluationContext("user-3", {"email": "cy@mail.com", "app_version": "v2", "plan": "beta-1"}),
    EvaluationContext("user-4", {"plan": "team"}),
    EvaluationContext("user-5", {}),
    EvaluationContext("user-6", {"email": "dee@acme.com", "plan": "beta"}),
]


# --- the service logic ---------------------------------------------------------------------


def test_single_evaluation_answers_value_variant_reason_and_metadata() -> None:
    status, body = evaluate_single(
        flag_document(), "banner-text", {"context": {"targetingKey": "u", "email": "a@acme.com"}}
    )
    assert status == 200
    assert body == {
        "key": "banner-text",
        "value": "Hello, colleague",
        "reason": "TARGETING_MATCH",
        "variant": "staff",
        "metadata": {"flagSetId": "web", "version": "3"},
    }
    EvaluationSuccess.model_validate(body)


def test_a_missing_flag_is_404_with_the_protocols_error_body() -> None:
    status, body = evaluate_single(flag_document(), "nope", b'{"context": {}}')
    assert status == 404
    assert body["key"] == "nope"
    assert body["errorCode"] == "FLAG_NOT_FOUND"
    assert "nope" in body["errorDetails"]
    EvaluationFailure.model_validate(body)


@pytest.mark.parametrize(
    ("request_body", "details"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "request body must be a JSON object"),
        ({"context": "user-1"}, "context must be a JSON object"),
        ({"context": {"targetingKey": 7}}, "targetingKey must be a string"),
    ],
)
def test_an_invalid_context_is_400_invalid_context(request_body: Any, details: str) -> None:
    status, body = evaluate_single(flag_document(), "new-checkout", request_body)
    assert (status, body["errorCode"], body["key"]) == (400, "INVALID_CONTEXT", "new-checkout")
    assert details in body["errorDetails"]
    status, bulk, etag = evaluate_bulk(flag_document(), request_body)
    assert (status, bulk["errorCode"], etag) == (400, "INVALID_CONTEXT", None)
    BulkEvaluationFailure.model_validate(bulk)


def test_an_unparseable_document_is_400_parse_error() -> None:
    broken = {"flags": {"f": {"state": "ON", "variants": {"a": 1}}}}
    status, body = evaluate_single(broken, "f", None)
    assert (status, body["errorCode"]) == (400, "PARSE_ERROR")
    assert "unknown state 'ON'" in body["errorDetails"]
    assert evaluate_bulk(broken, None)[:2] == (
        400,
        {"errorCode": "PARSE_ERROR", "errorDetails": body["errorDetails"]},
    )


def test_an_empty_body_or_no_context_evaluates_without_context() -> None:
    for request_body in (None, b"", "  ", {}, {"context": None}):
        status, body = evaluate_single(flag_document(), "new-checkout", request_body)
        assert (status, body["value"], body["reason"]) == (200, False, "STATIC")


def test_a_disabled_flag_answers_without_value_so_the_code_default_applies() -> None:
    status, body = evaluate_single(flag_document(), "old-report", {"context": {}})
    assert status == 200
    assert body == {"key": "old-report", "reason": "DISABLED", "metadata": body["metadata"]}


def test_bulk_evaluates_every_flag_for_the_context() -> None:
    context = {"targetingKey": "user-1", "email": "ann@acme.com", "plan": "beta"}
    status, body, etag = evaluate_bulk(flag_document(), {"context": context})
    assert status == 200
    assert etag is not None
    assert etag.startswith('"')
    assert etag.endswith('"')
    BulkEvaluationSuccess.model_validate(body)
    answers = {flag["key"]: (flag.get("value"), flag.get("variant")) for flag in body["flags"]}
    assert answers == {
        key: (None, None) if result.uses_code_default else (result.value, result.variant)
        for key in flag_document()["flags"]
        for result in [evaluate(flag_document(), key, context)]
    }
    assert answers["layout"] == ({"columns": 3, "dense": True}, "grid")
    assert body["metadata"] == {"flagSetId": "web", "version": "3"}


def test_bulk_answers_304_while_document_version_and_context_are_unchanged() -> None:
    request = {"context": {"targetingKey": "user-1", "plan": "pro"}}
    _, _, etag = evaluate_bulk(flag_document(), request)
    assert etag is not None
    assert evaluate_bulk(flag_document(), request, etag) == (304, None, etag)
    assert evaluate_bulk(flag_document(), request, f'W/{etag}, "other"')[0] == 304
    assert evaluate_bulk(flag_document(), request, "*")[0] == 304
    # another context, another document, or another stored version: a fresh answer
    other_context = {"context": {"targetingKey": "user-2", "plan": "pro"}}
    assert evaluate_bulk(flag_document(), other_context, etag)[0] == 200
    changed = set_rollout_percentage(flag_document(), "fast-search", 60, "on", "off")
    assert evaluate_bulk(changed, request, etag)[0] == 200
    assert evaluate_bulk(flag_document(), request, etag, version=12)[0] == 200


def test_the_etag_is_stable_across_key_order_and_processes() -> None:
    document = validate_document(flag_document())
    first = bulk_etag(document, {"a": 1, "b": [1, 2]})
    assert first == bulk_etag(validate_document(flag_document()), {"b": [1, 2], "a": 1})
    assert bulk_etag(document, None, version="v7") == bulk_etag(document, None, version="v7")
    assert bulk_etag(document, None, version="v7") != bulk_etag(document, None, version="v8")
    assert not etag_matches(None, first)
    assert not etag_matches('"something-else"', first)


def test_module_examples_run() -> None:
    assert doctest.testmod(module).failed == 0


# --- the real OpenFeature SDK over HTTP ----------------------------------------------------


def ofrep_app(document: dict[str, Any]) -> FastAPI:
    """What the product mounts, minus authentication and the store."""
    app = FastAPI()

    @app.post("/ofrep/v1/evaluate/flags/{key}")
    async def single(key: str, request: Request) -> Response:
        status, body = evaluate_single(document, key, await request.body())
        return JSONResponse(body, status_code=status)

    @app.post("/ofrep/v1/evaluate/flags")
    async def bulk(request: Request) -> Response:
        status, body, etag = evaluate_bulk(
            document, await request.body(), request.headers.get("if-none-match")
        )
        headers = {"ETag": etag} if etag else {}
        if body is None:
            return Response(status_code=status, headers=headers)
        return JSONResponse(body, status_code=status, headers=headers)

    return app


@pytest.fixture(scope="module")
def ofrep_url() -> Iterator[str]:
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say they are
    # TCP, and without it every request waits ~40 ms for a delayed ACK.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))  # bound here, so no other process can take the port
    port = listener.getsockname()[1]
    config = uvicorn.Config(ofrep_app(flag_document()), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the OFREP test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


@pytest.fixture
def sdk_client(ofrep_url: str) -> Iterator[Any]:
    provider = OFREPProvider(ofrep_url, timeout=5.0)
    api.set_provider(provider, domain=DOMAIN)  # a domain of our own: global state stays clean
    try:
        yield api.get_client(domain=DOMAIN)
    finally:
        api.set_provider(NoOpProvider(), domain=DOMAIN)
        provider.session.close()


SDK_FLAGS = [
    ("new-checkout", "get_boolean_details", True),
    ("banner-text", "get_string_details", "fallback"),
    ("page-size", "get_integer_details", 1),
    ("discount-rate", "get_float_details", 0.5),
    ("layout", "get_object_details", {"columns": 0}),
    ("fast-search", "get_boolean_details", True),
]


@pytest.mark.parametrize(("key", "method", "default"), SDK_FLAGS)
def test_the_openfeature_sdk_over_ofrep_answers_what_evaluate_answers(
    sdk_client: Any, key: str, method: str, default: Any
) -> None:
    document = flag_document()
    for context in CONTEXTS:
        remote = getattr(sdk_client, method)(key, default, context)
        local = evaluate(
            document, key, {"targetingKey": context.targeting_key, **context.attributes}, default
        )
        assert remote.error_code is None, remote.error_message
        assert (remote.value, remote.variant, remote.reason) == (
            local.value,
            local.variant,
            local.reason,
        ), (key, context)


def test_the_sdk_sees_targeting_and_the_rollout_split_users(sdk_client: Any) -> None:
    banner = {
        context.targeting_key: sdk_client.get_string_value("banner-text", "x", context)
        for context in CONTEXTS
    }
    assert banner["user-1"] == banner["user-6"] == "Hello, colleague"
    assert banner["user-2"] == "Welcome"
    users = [EvaluationContext(f"u{i}") for i in range(20)]
    remote = [sdk_client.get_boolean_value("fast-search", False, user) for user in users]
    local = [
        evaluate(flag_document(), "fast-search", {"targetingKey": user.targeting_key}).value
        for user in users
    ]
    assert remote == local
    assert 0 < sum(remote) < len(users)  # the 50 % rollout serves both sides


def test_the_sdk_gets_its_default_for_missing_and_disabled_flags(sdk_client: Any) -> None:
    missing = sdk_client.get_boolean_details("no-such-flag", True, CONTEXTS[0])
    assert (missing.value, missing.reason, missing.error_code) == (
        True,
        Reason.ERROR,
        ErrorCode.FLAG_NOT_FOUND,
    )
    # OFREP leaves out value and variant; this provider (0.3.0) then falls back to the
    # default through its error path, so the value is right and the reason says ERROR.
    disabled = sdk_client.get_boolean_details("old-report", False, CONTEXTS[0])
    assert disabled.value is False
    assert evaluate(flag_document(), "old-report", {}, False).reason == "DISABLED"


def test_a_poll_of_the_bulk_endpoint_revalidates_with_the_etag(ofrep_url: str) -> None:
    request = {"context": {"targetingKey": "user-1", "plan": "beta"}}
    url = f"{ofrep_url}/ofrep/v1/evaluate/flags"
    first = httpx.post(url, json=request)
    assert first.status_code == 200
    assert len(first.json()["flags"]) == len(flag_document()["flags"])
    again = httpx.post(url, json=request, headers={"If-None-Match": first.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["etag"] == first.headers["etag"]
    other = httpx.post(
        url,
        json={"context": {"targetingKey": "user-2"}},
        headers={"If-None-Match": first.headers["etag"]},
    )
    assert other.status_code == 200
