"""Settings come from PRODUCTPILOT_ variables, with an embedded default for everything."""

from __future__ import annotations

from pathlib import Path

import pytest

from productpilot.errors import ConfigurationError
from productpilot.runtime import prefect_environment
from productpilot.settings import Settings, get_settings


def test_the_default_store_is_sqlite_inside_the_home_folder(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "pp")
    assert settings.database_url == f"sqlite:///{tmp_path / 'pp' / 'productpilot.db'}"
    assert settings.is_sqlite


def test_variables_with_the_prefix_configure_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODUCTPILOT_DATABASE_URL", "postgresql+psycopg://db/pp")
    monkeypatch.setenv("PRODUCTPILOT_LOG_LEVEL", "debug")
    monkeypatch.setenv("PRODUCTPILOT_PREFECT_API_URL", "http://127.0.0.1:4200/api")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://db/pp"
    assert settings.log_level == "DEBUG"
    assert not settings.is_sqlite
    assert prefect_environment(settings)["PREFECT_API_URL"] == "http://127.0.0.1:4200/api"


def test_no_prefect_url_means_an_ephemeral_server_kept_in_the_home(tmp_path: Path) -> None:
    environment = prefect_environment(Settings(home=tmp_path))
    assert "PREFECT_API_URL" not in environment
    assert environment["PREFECT_HOME"] == str(tmp_path / "prefect")
    assert environment["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert int(environment["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"]) > 20


def test_an_invalid_variable_is_a_configuration_error_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PRODUCTPILOT_LOG_LEVEL", "verbose")
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match="PRODUCTPILOT_LOG_LEVEL"):
            get_settings()
    finally:
        get_settings.cache_clear()
