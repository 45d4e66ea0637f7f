"""A fake Figma REST API: Figma's OpenAPI description judges every request *and* every answer.

Requests are checked by :class:`~tests.fakes.openapi.OpenAPIDescription` against
``figma_openapi.yaml`` (OpenAPI 3.1): the operation must exist, parameters must be typed
right, bodies must match. A request that breaks the description is a violation.

A valid request is answered from an in-memory workspace (files with versions and comments,
webhooks), and the answer is in turn checked against the operation's response schema for
its status, so the fake cannot drift from what Figma sends; a mismatch is a violation too.
Figma documents one deviation from its description, and the fake follows Figma: the
``/meta`` answer wraps the fields in ``"file"`` (figma/rest-api-spec#92).

Auth is Figma's: the token in ``X-Figma-Token``; a wrong or missing one is answered
``403 {"status": 403, "err": "Invalid token"}``.

Example:
    >>> from integrations.figma.client import FigmaHook
    >>> from tests.fakes.server import serving
    >>> with serving(FakeFigma()) as figma:
    ...     FigmaHook(TOKEN, figma.url).file_meta(FILE_KEY)["name"]
    'Checkout redesign'
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import jsonschema
import referencing
import referencing.jsonschema

from tests.fakes.openapi import OpenAPIDescription
from tests.fakes.server import FakeServer, Recorded, Reply
from tests.integrations.shared_data import shared_dir

TOKEN = "figd_fake_0123456789"
FILE_KEY = "Fk3yCheckout"
SPEC_URI = "urn:figma-openapi"
DESIGNER = {"id": "1001", "handle": "Ada", "img_url": "https://s3.figma.example/ada.png"}
BOT = {"id": "2002", "handle": "ProductPilot", "img_url": "https://s3.figma.example/bot.png"}
CONTEXTS = ("team", "project", "file")
#: Webhooks per page when listed by plan, small so tests see several pages.
WEBHOOK_PAGE_SIZE = 2


def figma_description() -> OpenAPIDescription:
    return OpenAPIDescription.load(shared_dir("api-specs") / "figma_openapi.yaml")


def error_reply(status: int, message: str, *, boolean_style: bool = False) -> Reply:
    """Figma's two error shapes: ``{status, err}``, or ``{error: true, status, message}`` on
    the comment and webhook endpoints that document it."""
    if boolean_style:
        return Reply(status, {"error": True, "status": status, "message": message})
    return Reply(status, {"status": status, "err": message})


def rate_limited_reply(retry_after: float = 60) -> Reply:
    """Figma's throttling answer, with the headers it sends."""
    reply = error_reply(429, "Rate limit exceeded")
    reply.headers = {
        "Retry-After": f"{retry_after:g}",
        "X-Figma-Plan-Tier": "pro",
        "X-Figma-Rate-Limit-Type": "low",
    }
    return reply


class FigmaApiError(Exception):
    """A refusal the fake answers as Figma would."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.body)
        self.reply = reply


@dataclass
class FakeFile:
    key: str
    name: str
    created_at: datetime
    versions: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)


class FakeFigma(FakeServer):
    """Figma's REST API over an in-memory workspace.

    Args:
        token: The one token the fake accepts in ``X-Figma-Token``.
        clock: "Now", for ``created_at`` stamps.

    Attributes:
        files: The files, by key; one, :data:`FILE_KEY`, exists from the start.
        webhooks: The registered webhooks, by id (with their real passcodes).
    """

    def __init__(
        self,
        token: str = TOKEN,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.description = figma_description()
        super().__init__(self._answer_request, self.description.validator())
        self.token = token
        self.clock = clock
        self.files: dict[str, FakeFile] = {}
        self.webhooks: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._late_answers: list[float] = []
        self._registry = referencing.Registry().with_resource(
            SPEC_URI, referencing.jsonschema.DRAFT202012.create_resource(self.description.document)
        )
        self.add_file(FILE_KEY, "Checkout redesign", versions=("Checkout v1", None, "Checkout v2"))

    # --- the workspace, for tests -----------------------------------------------------------

    def add_file(self, key: str, name: str, versions: tuple[str | None, ...] = ()) -> FakeFile:
        """A file whose history has one version per label (``None``: an autosave), oldest
        first, an hour apart."""
        start = self.clock() - timedelta(hours=len(versions) + 1)
        file = FakeFile(key=key, name=name, created_at=start)
        for hour, label in enumerate(versions, start=1):
            file.versions.insert(
                0,
                {
                    "id": str(1000 + next(self._ids)),
                    "created_at": _stamp(start + timedelta(hours=hour)),
                    "label": label,
                    "description": f"{label} notes" if label else None,
                    "user": DESIGNER,
                    "thumbnail_url": f"https://s3.figma.example/{key}/{hour}.png",
                },
            )
        self.files[key] = file
        return file

    def add_component(
        self, file_key: str, name: str, *, created_at: datetime, updated_at: datetime
    ) -> dict[str, Any]:
        """A component published from the file's library; the component."""
        number = next(self._ids)
        component = {
            "key": f"c0mp{number:04d}",
            "file_key": file_key,
            "node_id": f"1:{number}",
            "thumbnail_url": f"https://s3.figma.example/{file_key}/c{number}.png",
            "name": name,
            "description": "",
            "created_at": _stamp(created_at),
            "updated_at": _stamp(updated_at),
            "user": DESIGNER,
            "containing_frame": {
                "nodeId": "1:1",
                "name": "Components",
                "pageId": "0:1",
                "pageName": "Library",
            },
        }
        self.files[file_key].components.append(component)
        return component

    def add_comment(self, file_key: str, message: str, user: dict[str, str] = DESIGNER) -> str:
        """A comment someone left in Figma's UI; its id."""
        return self._new_comment(self.files[file_key], message, None, user)["id"]

    def answer_late(self, *delays: float) -> None:
        """Carry out the next requests, but answer each ``delay`` seconds late (an answer
        lost to a client timeout, although Figma did the work)."""
        self._late_answers.extend(delays)

    # --- answering --------------------------------------------------------------------------

    def _answer_request(self, request: Recorded) -> Reply:
        if request.headers.get("x-figma-token") != self.token:
            return error_reply(403, "Invalid token")
        try:
            reply = self._route(request)
        except FigmaApiError as refusal:
            reply = refusal.reply
        self._check_answer(request, reply)
        if self._late_answers:
            reply.delay = self._late_answers.pop(0)
        return reply

    def _route(self, request: Recorded) -> Reply:
        parts = request.path.strip("/").split("/")
        match (request.method, parts):
            case ("GET", ["v1", "files", key, "versions"]):
                return self._versions(key, request)
            case ("GET", ["v1", "files", key, "components"]):
                return self._components(key)
            case ("GET", ["v1", "files", key, "meta"]):
                return self._meta(key)
            case ("GET", ["v1", "files", key, "comments"]):
                return Reply(200, {"comments": list(self._file(key).comments)})
            case ("POST", ["v1", "files", key, "comments"]):
                return self._post_comment(key, request.json())
            case ("POST", ["v2", "webhooks"]):
                return self._create_webhook(request.json())
            case ("GET", ["v2", "webhooks"]):
                return self._list_webhooks(request)
            case ("DELETE", ["v2", "webhooks", webhook_id]):
                return self._delete_webhook(webhook_id)
        # Valid for Figma (the validator passed it) but not played by this fake.
        raise NotImplementedError(f"the fake does not implement {request.method} {request.path}")

    def _file(self, key: str) -> FakeFile:
        if key not in self.files:
            raise FigmaApiError(error_reply(404, "Not found"))
        return self.files[key]

    def _components(self, key: str) -> Reply:
        if key not in self.files:
            # This endpoint documents the {error: true, ...} shape for a 404.
            raise FigmaApiError(error_reply(404, "Not found", boolean_style=True))
        components = list(self.files[key].components)
        return Reply(200, {"status": 200, "error": False, "meta": {"components": components}})

    def _versions(self, key: str, request: Recorded) -> Reply:
        file = self._file(key)
        size = int(float(request.query.get("page_size", ["30"])[-1]))
        return Reply(200, {"versions": file.versions[:size], "pagination": {}})

    def _meta(self, key: str) -> Reply:
        file = self._file(key)
        last = file.versions[0]["created_at"] if file.versions else _stamp(file.created_at)
        meta = {
            "name": file.name,
            "folder_name": "Growth",
            "last_touched_at": last,
            "creator": DESIGNER,
            "last_touched_by": DESIGNER,
            "thumbnail_url": f"https://s3.figma.example/{key}/thumb.png",
            "editorType": "figma",
            "role": "editor",
            "link_access": "org_view",
            "url": f"https://www.figma.com/design/{key}",
            "version": file.versions[0]["id"] if file.versions else "0",
        }
        return Reply(200, {"file": meta})

    def _post_comment(self, key: str, body: dict[str, Any]) -> Reply:
        file = self._file(key)
        parent = body.get("comment_id")
        if parent is not None:
            root = next((c for c in file.comments if c["id"] == parent), None)
            if root is None or root["parent_id"]:
                raise FigmaApiError(
                    error_reply(400, "comment_id must be a root comment", boolean_style=True)
                )
        return Reply(200, self._new_comment(file, body["message"], parent, BOT))

    def _new_comment(
        self, file: FakeFile, message: str, parent: str | None, user: dict[str, str]
    ) -> dict[str, Any]:
        roots = sum(1 for c in file.comments if not c["parent_id"])
        comment = {
            "id": str(next(self._ids)),
            "client_meta": {"x": 0.0, "y": 0.0},
            "file_key": file.key,
            "parent_id": parent or "",
            "user": user,
            "created_at": _stamp(self.clock()),
            "resolved_at": None,
            "message": message,
            "reactions": [],
            "order_id": None if parent else str(roots + 1),
        }
        file.comments.append(comment)
        return comment

    def _create_webhook(self, body: dict[str, Any]) -> Reply:
        context = body["context"].lower()
        if context not in CONTEXTS:
            raise FigmaApiError(
                error_reply(400, f"Invalid context {body['context']}", boolean_style=True)
            )
        if context == "file":
            self._file(body["context_id"])
        webhook = {
            "id": str(next(self._ids)),
            "event_type": body["event_type"],
            "team_id": body["context_id"] if context == "team" else "",
            "context": context.upper(),
            "context_id": body["context_id"],
            "plan_api_id": "plan-1",
            "status": body.get("status", "ACTIVE"),
            "client_id": None,
            "passcode": body["passcode"],
            "endpoint": body["endpoint"],
            "description": body.get("description"),
        }
        self.webhooks[webhook["id"]] = webhook
        return Reply(200, webhook)

    def _list_webhooks(self, request: Recorded) -> Reply:
        query = {name: values[-1] for name, values in request.query.items()}
        if ("context_id" in query) == ("plan_api_id" in query):
            raise FigmaApiError(
                error_reply(
                    400, "Provide either context and context_id, or plan_api_id", boolean_style=True
                )
            )
        # GET answers hide the passcode.
        listed = [{**hook, "passcode": ""} for hook in self.webhooks.values()]
        if "context_id" in query:
            context = query.get("context", "").upper()
            found = [
                h
                for h in listed
                if h["context_id"] == query["context_id"]
                and (not context or h["context"] == context)
            ]
            return Reply(200, {"webhooks": found})
        start = int(query.get("cursor", "0"))
        page = listed[start : start + WEBHOOK_PAGE_SIZE]
        pagination: dict[str, str] = {}
        if start + WEBHOOK_PAGE_SIZE < len(listed):
            following = {"plan_api_id": query["plan_api_id"], "cursor": start + WEBHOOK_PAGE_SIZE}
            pagination["next_page"] = f"{self.url}/v2/webhooks?{urlencode(following)}"
        return Reply(200, {"webhooks": page, "pagination": pagination})

    def _delete_webhook(self, webhook_id: str) -> Reply:
        if webhook_id not in self.webhooks:
            raise FigmaApiError(error_reply(404, "Not found", boolean_style=True))
        return Reply(200, self.webhooks.pop(webhook_id))

    # --- the answer must be Figma's ---------------------------------------------------------

    def _check_answer(self, request: Recorded, reply: Reply) -> None:
        """Raise (a violation, via FakeServer) when ``reply`` breaks the response schema."""
        operation = self.description.operation(request.method, request.path)
        assert operation is not None  # the validator found it
        responses = self.description.document["paths"][operation.template][request.method.lower()][
            "responses"
        ]
        if str(reply.status) not in responses:
            raise AssertionError(f"Figma documents no {reply.status} for {operation.template}")
        pointer = f"{operation.pointer}/responses/{reply.status}"
        node = responses[str(reply.status)]
        if "$ref" in node:
            pointer = node["$ref"].removeprefix("#")
        body = reply.body
        if operation.template.endswith("/meta") and reply.status == 200:
            body = body["file"]  # figma/rest-api-spec#92: the description lacks the wrapper
        schema = {"$ref": f"{SPEC_URI}#{pointer}/content/application~1json/schema"}
        validator = jsonschema.Draft202012Validator(schema, registry=self._registry)
        problems = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(body)
        ]
        if problems:
            raise AssertionError(f"the fake answer breaks the Figma description: {problems}")


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
