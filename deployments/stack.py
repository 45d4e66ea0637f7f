"""The local stack: a Prefect server, a worker on the ``productpilot`` pool and the
ProductPilot API, as separate processes on this machine (``make up`` / ``make down``).

:func:`up` starts them in dependency order and waits for each to answer:

1. ``prefect server start`` (SQLite under ``<home>/prefect``; PostgreSQL when
   ``PREFECT_API_DATABASE_CONNECTION_URL`` is set), ready when ``/api/health`` answers;
2. ``productpilot setup`` against it (work pool, queues, limits);
3. ``python -m deployments.worker --pool productpilot`` (Prefect's process worker with
   per-tenant admission), ready when the pool lists it;
4. ``productpilot api`` with ``PRODUCTPILOT_PREFECT_API_URL`` pointing at the server,
   ready when ``/readyz`` answers.

Each process leads its own process group (so flow runs a worker started, or uvicorn's
workers, go with it) and logs to ``<home>/stack/logs/<name>.log``. The pids, process groups
and start times are recorded in ``<home>/stack/stack.json`` as each process starts;
:func:`down` signals exactly those groups (SIGTERM, then SIGKILL after a timeout), never a
process found by name, and a recorded pid that now belongs to a different process (its
start time differs) is left alone.
If any step fails, what was started is stopped again and the log's tail is shown.

Example:
    $ python -m deployments.stack up      # prints the Prefect UI and API docs URLs
    $ python -m deployments.stack status
    $ python -m deployments.stack down
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from productpilot.errors import ConflictError, ProductPilotError, UnavailableError

POOL = "productpilot"
WORKER_NAME = "productpilot-stack"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
POLL_S = 0.2


@dataclass(frozen=True)
class Process:
    """One recorded process of the stack."""

    name: str
    pid: int
    pgid: int
    started: str  # the kernel's start time (/proc/<pid>/stat), to recognise pid reuse
    log: str


@dataclass(frozen=True)
class Stack:
    """What :func:`up` started and where it answers."""

    home: str
    prefect_api_url: str
    prefect_ui_url: str
    api_url: str
    processes: tuple[Process, ...]

    @classmethod
    def load(cls, path: Path) -> Stack:
        data = json.loads(path.read_text())
        return cls(**{**data, "processes": tuple(Process(**p) for p in data["processes"])})

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2) + "\n")
        temporary.replace(path)  # a reader never sees half a record


def record_path(home: Path) -> Path:
    return home / "stack" / "stack.json"


def _start_time(pid: int) -> str:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks); "" where /proc is absent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) may contain spaces and parentheses: split after it.
    return stat.rsplit(")", 1)[1].split()[19]


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def is_alive(process: Process) -> bool:
    """Whether the recorded process still runs (and is still the one that was recorded)."""
    # Reap it if this process started it (up and down in one test), or it stays a zombie.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(process.pid, os.WNOHANG)
    try:
        os.kill(process.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else: certainly not ours to signal
    if _zombie(process.pid):
        return False
    return not process.started or _start_time(process.pid) == process.started


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _check_port(port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise ConflictError(f"port {port} for the {what} is in use; pick another")


def _bin(name: str) -> str:
    """A console script of this interpreter's environment (the venv's ``prefect``)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def _environment(home: Path, prefect_api_url: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    # Keep only the Prefect settings an operator sets for the server's database, messaging
    # and services, the worker and results; a profile's API URL or home would point the
    # children elsewhere.
    environment.update(
        {
            k: v
            for k, v in os.environ.items()
            if k.startswith(
                (
                    "PREFECT_API_DATABASE_",
                    "PREFECT_MESSAGING_",
                    "PREFECT_REDIS_",
                    "PREFECT_SERVER_",
                    "PREFECT_WORKER_",
                    "PREFECT_RESULTS_",
                )
            )
        }
    )
    environment.update(
        {
            "PREFECT_HOME": str(home / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_API_URL": prefect_api_url,
            "PRODUCTPILOT_HOME": str(home),
            "PRODUCTPILOT_PREFECT_API_URL": prefect_api_url,
        }
    )
    return environment


class _Starter:
    """Starts the stack's processes and remembers them, to record or to undo."""

    def __init__(self, home: Path, environment: dict[str, str], stack: Stack) -> None:
        self.home = home
        self.environment = environment
        self.stack = stack
        self.logs = home / "stack" / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.processes: list[Process] = []
        self.popen: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, command: list[str]) -> Process:
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            child = subprocess.Popen(
                command,
                cwd=self.home,  # so no developer's .env is read by the children
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, child.pid, os.getpgid(child.pid), _start_time(child.pid), str(log))
        self.processes.append(process)
        self.popen[name] = child
        # Recorded at once: if `up` itself dies mid-way, `down` still finds what it started.
        replace(self.stack, processes=tuple(self.processes)).save(record_path(self.home))
        return process

    def run(self, name: str, command: list[str], timeout: float) -> str:
        """Run ``command`` to completion; its output is logged and returned."""
        log = self.logs / f"{name}.log"
        try:
            result = subprocess.run(
                command,
                cwd=self.home,
                env=self.environment,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise UnavailableError(f"{name} did not finish in {timeout:.0f} s") from None
        log.write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise UnavailableError(f"{name} failed ({log}):\n{_tail(log)}")
        return result.stdout

    def wait_until(self, name: str, ready: Any, deadline: float) -> None:
        """Poll ``ready()`` until it is true; fail if the process exits or time runs out."""
        child = self.popen[name]
        log = self.logs / f"{name}.log"
        while time.monotonic() < deadline:
            if child.poll() is not None:
                raise UnavailableError(f"{name} exited with {child.returncode}:\n{_tail(log)}")
            with contextlib.suppress(Exception):
                if ready():
                    return
            time.sleep(POLL_S)
        raise UnavailableError(f"{name} was not ready in time ({log}):\n{_tail(log)}")


def _tail(log: Path, lines: int = 15) -> str:
    if not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _answers(url: str) -> bool:
    import httpx

    return httpx.get(url, timeout=2.0).status_code == 200


def _worker_registered(prefect_api_url: str, name: str) -> bool:
    import httpx

    response = httpx.post(
        f"{prefect_api_url}/work_pools/{POOL}/workers/filter", json={}, timeout=2.0
    )
    return response.status_code == 200 and any(worker["name"] == name for worker in response.json())


def worker_names(workers: int) -> list[str]:
    """The names the stack's ``workers`` workers register under.

    Example:
        >>> worker_names(1), worker_names(2)
        (['productpilot-stack'], ['productpilot-stack-1', 'productpilot-stack-2'])
    """
    if workers == 1:
        return [WORKER_NAME]
    return [f"{WORKER_NAME}-{number}" for number in range(1, workers + 1)]


def running(home: Path) -> Stack | None:
    """The recorded stack if any of its processes still runs; a dead record is removed."""
    path = record_path(home)
    if not path.exists():
        return None
    stack = Stack.load(path)
    if any(is_alive(process) for process in stack.processes):
        return stack
    path.unlink()
    return None


def up(
    home: Path,
    *,
    prefect_port: int = 4200,
    api_port: int = 8000,
    timeout: float = READY_TIMEOUT_S,
    workers: int = 1,
) -> Stack:
    """Start the stack under ``home`` and return its record (ports ``0``: any free port;
    ``workers`` process workers on the pool, each its own process).

    Raises:
        ConflictError: a stack is already running under ``home``, or a port is taken.
        UnavailableError: a process did not start or answer in time (the rest is stopped).
    """
    home = home.absolute()
    if (stack := running(home)) is not None:
        raise ConflictError(f"the stack is already running (Prefect UI {stack.prefect_ui_url})")
    prefect_port = prefect_port or _free_port()
    api_port = api_port or _free_port()
    _check_port(prefect_port, "Prefect server")
    _check_port(api_port, "API")
    ui_url = f"http://127.0.0.1:{prefect_port}"
    prefect_api_url = f"{ui_url}/api"
    api_url = f"http://127.0.0.1:{api_port}"
    (home / "prefect").mkdir(parents=True, exist_ok=True)
    stack = Stack(str(home), prefect_api_url, ui_url, api_url, ())
    starter = _Starter(home, _environment(home, prefect_api_url), stack)
    deadline = time.monotonic() + timeout
    prefect = _bin("prefect")
    api_options = ["--port", str(api_port), "--log-level", "warning"]
    try:
        starter.start(
            "server",
            [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(prefect_port)],
        )
        starter.wait_until("server", lambda: _answers(f"{prefect_api_url}/health"), deadline)
        setup_output = starter.run(
            "setup",
            [sys.executable, "-m", "productpilot.cli.setup"],
            timeout=max(deadline - time.monotonic(), 1),
        )
        # ProductPilot's process worker: it leaves a run queued while its tenant's slots are
        # taken instead of starting a process that would only defer (deployments/worker.py).
        worker = [sys.executable, "-m", "deployments.worker", "--pool", POOL]
        for name in worker_names(workers):
            # Process (and log) names: "worker", or "worker-1", "worker-2", ...
            starter.start(name.replace(WORKER_NAME, "worker"), [*worker, "--name", name])
        for name in worker_names(workers):
            starter.wait_until(
                name.replace(WORKER_NAME, "worker"),
                lambda name=name: _worker_registered(prefect_api_url, name),
                deadline,
            )
        starter.start(
            "api",
            [sys.executable, "-m", "productpilot", "api", "--host", "127.0.0.1", *api_options],
        )
        starter.wait_until("api", lambda: _answers(f"{api_url}/readyz"), deadline)
    except BaseException:
        _stop(starter.processes, STOP_TIMEOUT_S)
        record_path(home).unlink(missing_ok=True)
        raise
    stack = replace(stack, processes=tuple(starter.processes))
    for line in setup_output.splitlines():
        print(f"setup: {line}")
    return stack


def _stop(processes: list[Process] | tuple[Process, ...], timeout: float) -> list[str]:
    """SIGTERM each process group (last started first), then SIGKILL what outlives
    ``timeout``; returns the names of the processes that were running."""
    alive = [process for process in reversed(processes) if is_alive(process)]
    for process in alive:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(is_alive(p) for p in alive):
        time.sleep(POLL_S)
    for process in alive:
        if is_alive(process):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pgid, signal.SIGKILL)
    while any(is_alive(p) for p in alive) and time.monotonic() < deadline + timeout:
        time.sleep(POLL_S)
    return [process.name for process in alive]


def down(home: Path, *, timeout: float = STOP_TIMEOUT_S) -> list[str]:
    """Stop the processes :func:`up` recorded under ``home`` and remove the record;
    returns the names of those that were still running (none when nothing was recorded)."""
    path = record_path(home.absolute())
    if not path.exists():
        return []
    stopped = _stop(Stack.load(path).processes, timeout)
    path.unlink()
    return stopped


def status(home: Path) -> dict[str, Any] | None:
    """The recorded stack with each process's state, or ``None`` when none is recorded."""
    path = record_path(home.absolute())
    if not path.exists():
        return None
    stack = Stack.load(path)
    return {
        **asdict(stack),
        "processes": [{**asdict(p), "alive": is_alive(p)} for p in stack.processes],
    }


def _default_home() -> Path:
    from productpilot.settings import get_settings

    return get_settings().home


def main(argv: list[str] | None = None) -> int:
    """``python -m deployments.stack up|down|status``; user errors are one line, status 1."""
    parser = argparse.ArgumentParser(prog="python -m deployments.stack", description=__doc__)
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--home", type=Path, help="Default: PRODUCTPILOT_HOME.")
    parser.add_argument("--prefect-port", type=int, default=4200, help="0: any free port.")
    parser.add_argument("--api-port", type=int, default=8000, help="0: any free port.")
    parser.add_argument("--timeout", type=float, default=READY_TIMEOUT_S)
    parser.add_argument("--workers", type=int, default=1, help="Process workers on the pool.")
    arguments = parser.parse_args(argv)
    try:
        home = (arguments.home or _default_home()).absolute()
        if arguments.action == "up":
            stack = up(
                home,
                prefect_port=arguments.prefect_port,
                api_port=arguments.api_port,
                timeout=arguments.timeout,
                workers=arguments.workers,
            )
            print(f"Prefect UI:  {stack.prefect_ui_url}")
            print(f"API docs:    {stack.api_url}/docs")
            print(f"logs:        {home / 'stack' / 'logs'}")
            print("stop with:   make down")
        elif arguments.action == "down":
            stopped = down(home)
            print(f"stopped {', '.join(stopped)}" if stopped else "no stack was running")
        else:
            state = status(home)
            if state is None:
                print("no stack is recorded")
            else:
                print(f"Prefect UI {state['prefect_ui_url']}, API {state['api_url']}")
                for process in state["processes"]:
                    alive = "running" if process["alive"] else "gone"
                    print(
                        f"{process['name']:<7} pid {process['pid']:<8} {alive:<8} {process['log']}"
                    )
    except ProductPilotError as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        detail = "\n".join(str(exc).splitlines()[1:])
        if detail:
            print(detail, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
