"""The store: one engine, and sessions scoped to a tenant (or, explicitly, to the system)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from productpilot.db.engine import create_store_engine
from productpilot.db.tenancy import SYSTEM_KEY, TENANT_KEY, StoreSession
from productpilot.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic configuration for ``url`` that works from any working directory."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class Store:
    """Entry point to the database.

    Example:
        >>> store = Store.from_url("sqlite:///:memory:")
        >>> store.upgrade()
        >>> with store.system_session() as session:
        ...     _ = session.add(Tenant(slug="acme", name="Acme"))  # doctest: +SKIP
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(bind=engine, class_=StoreSession, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str) -> Store:
        return cls(create_store_engine(url))

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        return cls.from_url(settings.database_url)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` with Alembic (idempotent)."""
        config = alembic_config(self.url)
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    @contextmanager
    def tenant_session(self, tenant_id: int) -> Iterator[StoreSession]:
        """A session that sees and writes only ``tenant_id``'s rows; commits on success."""
        with self._sessions(info={TENANT_KEY: tenant_id}) as session, session.begin():
            yield session

    @contextmanager
    def system_session(self) -> Iterator[StoreSession]:
        """A session across tenants, for administration (tenants, key lookup, workers)."""
        with self._sessions(info={SYSTEM_KEY: True}) as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
