"""The ingest API under SIGKILL: an acknowledged batch is stored, a retried one is not doubled.

Concurrent clients stream batches of events (each with a ``uuid``) to a real server
process. After some batches are acknowledged, and while others are in flight, the process
is killed with SIGKILL: no shutdown hook, no flush. After a restart on the same store:

- every event of every acknowledged batch is in the store (the API answers only after
  the commit, so an acknowledgement is a promise);
- the clients retry every batch they sent, acknowledged or not, and the store ends up
  holding each event exactly once, with every retry answer accounting for the whole batch
  (``accepted + duplicates == batch size``).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from productpilot.db.models import Event
from productpilot.db.store import Store
from tests.e2e.conftest import ApiServer, server_url
from tests.productpilot.api.conftest import Caller, make_caller

pytestmark = pytest.mark.e2e

CLIENTS = 4
BATCH_SIZE = 100
ACKS_BEFORE_KILL = 20
DEADLINE_S = 15.0


def batch(index: int) -> list[dict[str, object]]:
    """The events of batch ``index``; the same every time it is (re)sent."""
    timestamp = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    return [
        {
            "uuid": f"crash-{index}-{position}",
            "event": "pageview",
            "distinct_id": f"user-{position % 7}",
            "timestamp": timestamp,
            "properties": {"batch": index, "position": position},
        }
        for position in range(BATCH_SIZE)
    ]


def keys(indexes: set[int]) -> set[str]:
    return {event["uuid"] for index in indexes for event in batch(index)}


def post(client: httpx.Client, caller: Caller, index: int) -> httpx.Response:
    return client.post(
        f"/api/v1/products/{caller.product_id}/events",
        json={"events": batch(index)},
        headers=caller.headers,
    )


@dataclass
class Stream:
    """What the clients saw, shared between their threads."""

    caller: Caller
    base_url: str
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_index: int = 0
    sent: set[int] = field(default_factory=set)
    acked: dict[int, dict[str, object]] = field(default_factory=dict)
    failed_at: dict[int, float] = field(default_factory=dict)  # batch -> when it was sent
    unexpected: list[str] = field(default_factory=list)

    def take(self) -> int:
        with self.lock:
            index, self.next_index = self.next_index, self.next_index + 1
            self.sent.add(index)
            return index

    def client(self) -> None:
        """Send batch after batch until the server goes away (or the test says stop)."""
        with httpx.Client(base_url=self.base_url, timeout=10.0) as client:
            while not self.stop.is_set():
                index = self.take()
                sent_at = time.monotonic()
                try:
                    response = post(client, self.caller, index)
                except httpx.TransportError:
                    with self.lock:
                        self.failed_at[index] = sent_at
                    return
                with self.lock:
                    if response.status_code == 200:
                        self.acked[index] = response.json()
                    else:
                        self.unexpected.append(f"batch {index}: {response.status_code}")

    def wait_for_acks(self, count: int) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while len(self.acked) < count and not self.unexpected:
            assert time.monotonic() < deadline, f"only {len(self.acked)} batches acknowledged"
            time.sleep(0.01)
        assert not self.unexpected, self.unexpected


def stored_keys(store: Store, caller: Caller) -> list[str]:
    with store.tenant_session(caller.tenant_id) as session:
        return list(session.scalars(select(Event.idempotency_key)))


def test_acknowledged_batches_survive_sigkill_and_retries_add_no_duplicates(
    store: Store, start_api: Callable[..., ApiServer]
) -> None:
    caller = make_caller(store, "Crash Test")
    server = start_api(server_url(store))
    stream = Stream(caller, server.base_url)
    clients = [threading.Thread(target=stream.client) for _ in range(CLIENTS)]
    for thread in clients:
        thread.start()

    stream.wait_for_acks(ACKS_BEFORE_KILL)
    killed_at = time.monotonic()
    assert server.kill() == -signal.SIGKILL
    stream.stop.set()
    for thread in clients:
        thread.join(DEADLINE_S)
    assert not any(thread.is_alive() for thread in clients)
    assert not stream.unexpected, stream.unexpected
    in_flight = {index for index, sent_at in stream.failed_at.items() if sent_at < killed_at}
    assert in_flight, "no request was in flight when the server was killed"

    # Every acknowledgement was a promise: the events are there after a crash.
    assert all(a["accepted"] + a["duplicates"] == BATCH_SIZE for a in stream.acked.values())
    lost = keys(set(stream.acked)) - set(stored_keys(store, caller))
    assert not lost, f"{len(lost)} acknowledged events are not in the store"

    server.start()
    with httpx.Client(base_url=server.base_url, timeout=10.0) as client:
        retries = {index: post(client, caller, index) for index in sorted(stream.sent)}
    assert {index: r.status_code for index, r in retries.items() if r.status_code != 200} == {}
    answers = {index: r.json() for index, r in retries.items()}
    assert all(a["accepted"] + a["duplicates"] == BATCH_SIZE for a in answers.values())
    assert all(a["rejected"] == [] for a in answers.values())
    assert all(answers[index]["accepted"] == 0 for index in stream.acked)

    stored = stored_keys(store, caller)
    assert len(stored) == len(set(stored)) == BATCH_SIZE * len(stream.sent)
    assert set(stored) == keys(stream.sent)
