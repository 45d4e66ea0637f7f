"""A real HTTP server on loopback that plays a vendor, for the real client libraries to call.

A fake is a :class:`FakeServer` with a ``handler`` (the vendor's behaviour) and a
``validator`` (the vendor's API description): every request is first checked by the
validator, and a request the real service would reject is answered 400 *and* recorded in
``violations``; the ``fake_server`` fixtures fail the test when any were recorded. Scripted
replies (``fail_next``) play the vendor's bad days: 401, 429 with ``Retry-After``, 5xx, a
reply that comes too late.

Example:
    >>> with FakeServer(lambda request: Reply(200, {"ok": True})) as server:
    ...     httpx.get(server.url + "/ping").json()
    {'ok': True}
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx  # noqa: F401 (used by the doctest)


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        """A form-encoded body (or the query string, for GET), one value per name."""
        source = self.body.decode() if self.body else ""
        return {name: values[-1] for name, values in parse_qs(source).items()}

    def params(self) -> dict[str, Any]:
        """The call's parameters however they were sent: JSON body, form body or query."""
        merged: dict[str, Any] = {name: values[-1] for name, values in self.query.items()}
        if self.content_type == "application/json" and self.body:
            merged.update(self.json())
        elif self.content_type == "application/x-www-form-urlencoded":
            merged.update(self.form())
        return merged


@dataclass
class Reply:
    """What the fake answers: a JSON body (or raw bytes), a status, extra headers.

    ``delay`` holds the answer back that many seconds, to make a client time out.
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, self.headers.get("Content-Type", "application/octet-stream")
        if self.body is None:
            return b"", self.headers.get("Content-Type", "application/json")
        return json.dumps(self.body).encode(), "application/json; charset=utf-8"


Handler = Callable[[Recorded], Reply]
Validator = Callable[[Recorded], list[str]]


class FakeServer:
    """Serves ``handler`` on ``127.0.0.1`` (a free port) in a background thread.

    Args:
        handler: Answers a valid request.
        validator: Lists what is wrong with a request (empty: valid); a request with
            violations is answered 400 and recorded in :attr:`violations`.
        prefix: Path prefix stripped before the handler sees the path (e.g. ``/api``).
    """

    def __init__(
        self, handler: Handler, validator: Validator | None = None, *, prefix: str = ""
    ) -> None:
        self.handler = handler
        self.validator = validator
        self.prefix = prefix
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self._scripted: list[Reply] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._request_handler())
        self._server.daemon_threads = True
        # A short poll: shutdown() waits for it, and the default half second per fake adds
        # up to many seconds over a suite.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.prefix}"

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def fail_next(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies`` (in order) instead of the handler.

        Scripted replies skip validation of nothing: the request is still checked and
        recorded, so a client's retry must be as valid as its first try.
        """
        with self._lock:
            self._scripted.extend(replies)

    def calls(self, path: str, method: str | None = None) -> list[Recorded]:
        """The recorded requests to ``path`` (after the prefix), optionally by method."""
        return [
            r
            for r in self.requests
            if r.path == path and (method is None or r.method == method.upper())
        ]

    # --- the HTTP side ---------------------------------------------------------------------

    def _answer(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
        problems = self.validator(request) if self.validator else []
        if problems:
            with self._lock:
                self.violations += [f"{request.method} {request.path}: {p}" for p in problems]
            return Reply(
                400, {"error": "request does not match the API description", "problems": problems}
            )
        with self._lock:
            scripted = self._scripted.pop(0) if self._scripted else None
        if scripted is not None:
            return scripted
        try:
            return self.handler(request)
        except Exception as exc:  # a bug in the fake: make it loud, not a hang
            with self._lock:
                self.violations.append(f"{request.method} {request.path}: fake crashed: {exc!r}")
            return Reply(500, {"error": f"fake crashed: {exc!r}"})

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                path = parts.path
                if fake.prefix and path.startswith(fake.prefix):
                    path = path[len(fake.prefix) :] or "/"
                recorded = Recorded(
                    method=self.command,
                    path=path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                reply = fake._answer(recorded)
                if reply.delay:
                    time.sleep(reply.delay)
                payload, content_type = reply.encoded()
                self.send_response(reply.status)
                headers = {"Content-Type": content_type, **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                # The client may have given up already (a timeout test).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: pytest shows failures, not access logs."""

        return _Handler


@contextmanager
def serving(server: FakeServer) -> Iterator[FakeServer]:
    """Run ``server`` for the block, then fail if any request broke the API description."""
    with server:
        yield server
    assert server.violations == [], "requests the real service would reject:\n" + "\n".join(
        server.violations
    )
