"""The fake-vendor server: records every request, refuses invalid ones loudly, plays failures."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes.server import FakeServer, Recorded, Reply, serving


def echo(request: Recorded) -> Reply:
    return Reply(200, {"params": request.params()})


def test_requests_are_answered_and_recorded() -> None:
    with serving(FakeServer(echo, prefix="/api")) as server:
        reply = httpx.post(server.url + "/x?a=1", json={"b": 2})
    assert reply.json() == {"params": {"a": "1", "b": 2}}
    assert [(r.method, r.path) for r in server.requests] == [("POST", "/x")]


def test_scripted_replies_come_first_in_order() -> None:
    with serving(FakeServer(echo)) as server:
        server.fail_next(Reply(429, headers={"Retry-After": "7"}), Reply(503))
        statuses = [httpx.get(server.url + "/x").status_code for _ in range(3)]
    assert statuses == [429, 503, 200]


def test_a_request_the_validator_refuses_fails_the_test() -> None:
    server = FakeServer(echo, validator=lambda r: ["always wrong"])
    with pytest.raises(AssertionError, match="always wrong"), serving(server):
        assert httpx.get(server.url + "/x").status_code == 400
