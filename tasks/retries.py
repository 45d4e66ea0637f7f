"""Retry policies: retry what a second attempt can fix, fail at once on what it cannot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect.client.schemas.objects import TaskRun
from prefect.states import State
from sqlalchemy.exc import OperationalError

from productpilot.errors import ProductPilotError

#: Transient database failures: a lost connection, a locked SQLite file, a failover.
TRANSIENT_STORE_ERRORS: tuple[type[BaseException], ...] = (OperationalError,)


def retry_on(*transient: type[BaseException]) -> Callable[[Any, TaskRun, State], bool]:
    """A ``retry_condition_fn`` that retries only when the failure is one of ``transient``.

    A :class:`~productpilot.errors.ProductPilotError` (bad input, missing product) is never
    retried: the same input fails the same way.

    Example:
        >>> @task(retries=3, retry_condition_fn=retry_on(OperationalError))  # doctest: +SKIP
        ... def load(): ...
    """

    def should_retry(_task: Any, _run: TaskRun, state: State) -> bool:
        try:
            state.result()
        except ProductPilotError:
            return False
        except transient:
            return True
        except Exception:
            return False
        return False

    return should_retry
