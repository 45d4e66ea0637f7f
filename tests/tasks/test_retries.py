"""Tasks retry what a second attempt can fix and fail at once on what it cannot."""

from __future__ import annotations

import pytest
from prefect import flow, task
from sqlalchemy.exc import OperationalError

from productpilot.errors import ValidationError
from tasks.retries import TRANSIENT_STORE_ERRORS, retry_on


def flaky_task(error: Exception, failures: int) -> tuple[object, list[int]]:
    calls: list[int] = []

    @task(retries=3, retry_delay_seconds=0, retry_condition_fn=retry_on(*TRANSIENT_STORE_ERRORS))
    def work() -> str:
        calls.append(1)
        if len(calls) <= failures:
            raise error
        return "done"

    return work, calls


def test_a_transient_store_error_is_retried_until_it_passes() -> None:
    work, calls = flaky_task(OperationalError("SELECT 1", {}, Exception("database is locked")), 2)

    @flow
    def run() -> str:
        return work()

    assert run() == "done"
    assert len(calls) == 3


def test_bad_input_fails_at_once_without_retries() -> None:
    work, calls = flaky_task(ValidationError("no such file: x.jsonl"), 1)

    @flow
    def run() -> str:
        return work()

    with pytest.raises(ValidationError):
        run()
    assert len(calls) == 1


def test_unexpected_errors_are_not_retried_either() -> None:
    work, calls = flaky_task(KeyError("bug"), 1)

    @flow
    def run() -> str:
        return work()

    with pytest.raises(KeyError):
        run()
    assert len(calls) == 1
