"""Prefect global concurrency limits that tasks hold while they work.

A limit only limits once it exists on the Prefect server; :func:`exclusive` creates its limit
on first use, so a fresh server (the ephemeral one of ``make demo``, or a new deployment) is
guarded from the first run without a set-up step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound


def ensure_global_limit(name: str, limit: int) -> None:
    """Create the global concurrency limit ``name`` with ``limit`` slots unless it exists
    (an existing limit keeps whatever an operator set)."""
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
            return
        except ObjectNotFound:
            pass
        # Another run may create it between the read and here: that is as good.
        with suppress(ObjectAlreadyExists):
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=name, limit=limit)
            )


@contextmanager
def exclusive(name: str, wait_seconds: float) -> Iterator[bool]:
    """Hold the one slot of limit ``name`` for the block; yields ``False`` (and holds
    nothing) when another holder kept it longer than ``wait_seconds``.

    Example:
        >>> with exclusive("productpilot-rollup", wait_seconds=30) as mine:  # doctest: +SKIP
        ...     if mine:
        ...         fold()
    """
    ensure_global_limit(name, 1)
    with ExitStack() as held:
        try:
            held.enter_context(
                concurrency(name, occupy=1, timeout_seconds=wait_seconds, strict=True)
            )
        except TimeoutError:
            yield False
            return
        # Errors of the block pass through here; the stack releases the slot either way.
        yield True
