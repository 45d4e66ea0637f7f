"""A PRODUCTPILOT_HOME for tests: the embedded SQLite store, with no cached settings or store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from productpilot import runtime, settings


def _forget_cached_settings_and_store() -> None:
    settings.get_settings.cache_clear()
    runtime._store.cache_clear()


@contextmanager
def embedded_home(path: Path) -> Iterator[Path]:
    """Points PRODUCTPILOT_HOME at ``path`` (no database URL) until the block ends.

    The settings and the store are cached per process, so both are dropped on the way in
    (the new home is read) and on the way out (the next test does not see this one's).
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRODUCTPILOT_HOME", str(path))
        patch.delenv("PRODUCTPILOT_DATABASE_URL", raising=False)
        _forget_cached_settings_and_store()
        try:
            yield path
        finally:
            _forget_cached_settings_and_store()
