"""The store as tasks see it: one engine per worker process, from the environment."""

from __future__ import annotations

from productpilot.db.store import Store
from productpilot.runtime import open_store


def task_store() -> Store:
    """The store named by ``PRODUCTPILOT_DATABASE_URL`` (or the embedded default)."""
    return open_store()
