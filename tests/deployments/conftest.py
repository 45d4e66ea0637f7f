import pytest


@pytest.fixture(autouse=True)
def _prefect(prefect_harness: None) -> None:
    """Every set-up test converges the session's Prefect test server."""
