"""Process set-up shared by the CLI, the API and workers: the store and Prefect's environment.

Nothing here imports Prefect; it only prepares the environment Prefect reads when it is
first imported, so call :func:`configure_prefect` before importing any flow.
"""

from __future__ import annotations

import os
import threading
import weakref
from functools import lru_cache

from sqlalchemy.engine import make_url

from productpilot.db.store import Store
from productpilot.settings import Settings, get_settings


def prefect_environment(settings: Settings) -> dict[str, str]:
    """The Prefect variables implied by ``settings``.

    No ``prefect_api_url`` means an ephemeral server whose database lives under
    ``home/prefect``, so the embedded default leaves nothing outside its home folder.
    """
    environment = {
        "PREFECT_HOME": str(settings.prefect_home.absolute()),
        # Offline by default: telemetry would only log connection errors.
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    if settings.prefect_api_url:
        environment["PREFECT_API_URL"] = settings.prefect_api_url
    else:
        # Prefect's 20 s for the ephemeral server to start is short on a busy laptop or CI
        # runner (seen here with both cores loaded); a slow start is not an error.
        environment["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "90"
    return environment


def configure_prefect(settings: Settings | None = None) -> None:
    """Export Prefect's variables unless the caller's environment already sets them."""
    for name, value in prefect_environment(settings or get_settings()).items():
        os.environ.setdefault(name, value)


def is_embedded(settings: Settings) -> bool:
    """True for a SQLite file store, which is migrated automatically on first use."""
    url = make_url(settings.database_url)
    return url.get_backend_name() == "sqlite"


@lru_cache(maxsize=4)
def _store(url: str) -> Store:
    return Store.from_url(url)


#: Embedded stores already brought to the latest schema by this process. Alembic's
#: context is process-global, so concurrent upgrades (task runs on threads) must not race.
_upgraded: weakref.WeakSet[Store] = weakref.WeakSet()
_upgrading = threading.Lock()


def open_store(settings: Settings | None = None) -> Store:
    """The store for ``settings`` (one engine per URL and process).

    An embedded SQLite store is brought to the latest schema on open; a server database
    is migrated explicitly with ``productpilot db upgrade``, as operators expect.
    """
    settings = settings or get_settings()
    store = _store(settings.database_url)
    if is_embedded(settings) and store not in _upgraded:
        with _upgrading:
            if store not in _upgraded:
                store.upgrade()
                _upgraded.add(store)
    return store
