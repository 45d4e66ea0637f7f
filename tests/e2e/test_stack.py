"""The local stack for real: ``up`` starts a Prefect server, a worker and the API as
processes on a fresh home; ``down`` stops exactly those processes.

Checked with the outside world's eyes: the API's ``/readyz`` answers, the worker is
registered in the ``productpilot`` pool (whose queues ``productpilot setup`` created), a
second ``up`` refuses, and after ``down`` no recorded pid is alive and no record is left.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from deployments.stack import WORKER_NAME, down, is_alive, main, record_path, status, up
from productpilot.errors import ConflictError

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_up_runs_server_worker_and_api_and_down_stops_exactly_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PRODUCTPILOT_DATABASE_URL", raising=False)  # the home's own store
    home = tmp_path / "home"
    stack = None
    try:
        stack = up(home, prefect_port=0, api_port=0, timeout=90)

        assert httpx.get(f"{stack.api_url}/readyz").json()["status"] == "ready"
        pool = f"{stack.prefect_api_url}/work_pools/productpilot"
        workers = httpx.post(f"{pool}/workers/filter", json={}).json()
        assert [worker["name"] for worker in workers] == [WORKER_NAME]
        queues = httpx.post(f"{pool}/queues/filter", json={}).json()
        assert [(q["name"], q["priority"]) for q in queues] == [
            ("critical", 1),
            ("high", 2),
            ("default", 3),
            ("batch", 4),
        ]
        assert "setup: created work pool productpilot: type process" in capsys.readouterr().out
        assert [p.name for p in stack.processes] == ["server", "worker", "api"]
        assert all(Path(p.log).is_file() for p in stack.processes)
        assert all(p["alive"] for p in (status(home) or {})["processes"])

        with pytest.raises(ConflictError, match="already running"):
            up(home, prefect_port=0, api_port=0)
        assert main(["up", "--home", str(home), "--prefect-port", "0", "--api-port", "0"]) == 1
        assert capsys.readouterr().err.count("\n") == 1
    finally:
        stopped = down(home)

    assert stack is not None
    assert stopped == ["api", "worker", "server"]
    assert [p.name for p in stack.processes if is_alive(p)] == []
    assert not record_path(home).exists()
    assert down(home) == []


def test_down_signals_only_what_was_recorded_and_still_is_that_process(tmp_path: Path) -> None:
    import subprocess
    import sys

    from deployments.stack import Process, Stack

    bystander = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    try:
        # The record names the bystander's pid, but with another start time: the pid was
        # reused after the recorded process ended, so it is not the stack's to stop.
        recycled = Process("worker", bystander.pid, bystander.pid, "1", str(tmp_path / "w.log"))
        Stack(str(tmp_path), "", "", "", (recycled,)).save(record_path(tmp_path))

        assert down(tmp_path) == []
        assert bystander.poll() is None
        assert not record_path(tmp_path).exists()
    finally:
        bystander.kill()
        bystander.wait()
