"""Runtime settings, read from the environment (prefix ``PRODUCTPILOT_``) or a ``.env`` file.

Example:
    >>> from productpilot.settings import Settings
    >>> Settings(home="/tmp/pp").database_url
    'sqlite:////tmp/pp/productpilot.db'
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from productpilot.errors import ConfigurationError

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Settings(BaseSettings):
    """Where ProductPilot keeps its state and which services it talks to.

    Attributes:
        home: Folder for the embedded store, generated data, reports and the
            ephemeral Prefect server's own database.
        database_url: SQLAlchemy URL of the store. Unset means SQLite in ``home``.
        log_level: Level for ProductPilot's loggers.
        prefect_api_url: A running Prefect server's API. Unset means an ephemeral,
            in-process server whose state lives in ``home/prefect``.
        api_cache_seconds: How long the API trusts an authenticated key or a product's
            owner before checking again (a revoked key works this long at most; 0: never).
    """

    model_config = SettingsConfigDict(
        env_prefix="PRODUCTPILOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    home: Path = Field(default=Path(".productpilot"))
    database_url: str = ""
    log_level: LogLevel = "INFO"
    prefect_api_url: str | None = None
    api_cache_seconds: float = Field(default=30, ge=0)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        self.home = self.home.expanduser()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.home.absolute() / 'productpilot.db'}"
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def prefect_home(self) -> Path:
        return self.home / "prefect"

    def configure_logging(self) -> None:
        logging.getLogger("productpilot").setLevel(self.log_level)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests build ``Settings`` directly instead.

    Raises:
        ConfigurationError: a ``PRODUCTPILOT_`` variable has an invalid value.
    """
    try:
        return Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = "PRODUCTPILOT_" + "_".join(str(part) for part in error["loc"]).upper()
        raise ConfigurationError(f"invalid {name}: {error['msg']}") from None
