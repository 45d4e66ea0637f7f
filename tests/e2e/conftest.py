"""End-to-end fixtures: ``productpilot api`` as a real server process on a real store.

``start_api(database_url)`` starts the server on a free loopback port, waits until
``/readyz`` answers, and returns an :class:`ApiServer`; every server a test started is
stopped when the test ends, whatever state it is in. ``server_url(store)`` names a test
store (see ``tests/conftest.py``) so that a server process opens the same database: on
PostgreSQL that includes the test's own schema.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import text

from productpilot.db.store import Store

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_url(store: Store) -> str:
    """The URL a separate process needs to open ``store``'s database (and schema)."""
    if store.dialect != "postgresql":
        return store.url
    with store.engine.connect() as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    separator = "&" if "?" in store.url else "?"
    return f"{store.url}{separator}options={quote(f'-csearch_path={schema}')}"


class ApiServer:
    """One ``productpilot api`` process; :meth:`start` again after a kill to restart it.

    The process leads its own process group, so signals reach uvicorn's worker processes
    too when ``workers > 1``.
    """

    def __init__(self, database_url: str, home: Path, *, workers: int = 1) -> None:
        self.database_url = database_url
        self.home = home
        self.workers = workers
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log = home / "api.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Start on a fresh free port and return once ``/readyz`` answers 200."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the server is already running")
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        command = [sys.executable, "-m", "productpilot", "api", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--workers", str(self.workers)]
        command += ["--log-level", "warning"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.home,  # so no developer's .env is read
                env=self._environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_until_ready(timeout)

    def kill(self) -> int:
        """SIGKILL the server (no shutdown of any kind); returns its exit status."""
        return self._signal_and_wait(signal.SIGKILL, STOP_TIMEOUT_S)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), or by SIGKILL if that takes too long."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self._signal_and_wait(signal.SIGTERM, STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()

    def _environment(self) -> dict[str, str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("PRODUCTPILOT_")}
        environment["PRODUCTPILOT_DATABASE_URL"] = self.database_url
        environment["PRODUCTPILOT_HOME"] = str(self.home)
        return environment

    def _signal_and_wait(self, signum: signal.Signals, timeout: float) -> int:
        assert self.process is not None, "the server was never started"
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)
        return self.process.wait(timeout)

    def _wait_until_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"the API exited with {self.process.returncode}:\n{self._tail()}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/readyz").status_code == 200:
                        return
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"the API was not ready within {timeout:.0f} s:\n{self._tail()}")

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@pytest.fixture
def start_api(tmp_path: Path) -> Iterator[Callable[..., ApiServer]]:
    """Start ``productpilot api`` on ``database_url``; every server is stopped at teardown."""
    servers: list[ApiServer] = []

    def start(database_url: str, *, workers: int = 1) -> ApiServer:
        server = ApiServer(database_url, tmp_path / f"api-{len(servers)}", workers=workers)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()
