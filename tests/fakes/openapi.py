"""Check a request against a vendor's OpenAPI description, as the real service would.

The fakes use this so a test fails on a call the real Slack, Jira or Figma would refuse: an
operation that does not exist, a missing or mistyped parameter, a body that does not match the
operation's schema. Swagger 2.0 (Slack), OpenAPI 3.0 (Jira) and 3.1 (Figma) are read.

Example:
    >>> spec = OpenAPIDescription({"openapi": "3.1.0", "paths": {"/v1/files/{key}": {"get": {
    ...     "parameters": [{"name": "depth", "in": "query", "schema": {"type": "integer"}}]}}}})
    >>> spec.check(Recorded("GET", "/v1/files/abc", {"depth": ["x"]}, {}, b""))
    ["query parameter 'depth': 'x' is not an integer"]
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jsonschema
import referencing
import referencing.jsonschema
import yaml

from tests.fakes.server import Recorded

SPEC_URI = "urn:openapi-description"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True)
class Operation:
    """One operation of the description: where it is, and its merged parameters."""

    method: str
    template: str
    pointer: str
    parameters: tuple[tuple[dict[str, Any], str], ...]  # (parameter, its JSON pointer)
    path_params: Mapping[str, str]


class OpenAPIDescription:
    """A parsed API description that checks requests.

    Args:
        document: The description (as loaded from JSON or YAML).
        name: Shown in violations, e.g. the file name.
    """

    def __init__(self, document: dict[str, Any], name: str = "the API description") -> None:
        self.name = name
        self.version = str(document.get("openapi") or document.get("swagger") or "")
        self.is_swagger = self.version.startswith("2")
        self.document = document if self.version.startswith("3.1") else _with_nullable(document)
        specification = (
            referencing.jsonschema.DRAFT202012
            if self.version.startswith("3.1")
            else referencing.jsonschema.DRAFT4
        )
        self._validator_class = (
            jsonschema.Draft202012Validator
            if self.version.startswith("3.1")
            else jsonschema.Draft4Validator
        )
        self._registry = referencing.Registry().with_resource(
            SPEC_URI, specification.create_resource(self.document)
        )
        self._routes = sorted(
            (_route(template) for template in self.document.get("paths", {})),
            # Literal segments win over templated ones: /issue/createmeta before /issue/{key}.
            key=lambda route: (-route[2], -len(route[1])),
        )

    @classmethod
    def load(cls, path: Path | str) -> OpenAPIDescription:
        """The description in ``path`` (JSON or YAML), parsed once per process."""
        return _load(str(Path(path).resolve()))

    # --- finding the operation --------------------------------------------------------------

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation ``method path`` calls, or ``None`` when the API has none."""
        for pattern, template, _literal in self._routes:
            match = pattern.fullmatch(path)
            if not match:
                continue
            item_pointer = f"/paths/{_escape(template)}"
            item = self.document["paths"][template]
            if method.lower() not in item:
                continue
            op_pointer = f"{item_pointer}/{method.lower()}"
            merged: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
            for owner, pointer in ((item, item_pointer), (item[method.lower()], op_pointer)):
                for index, raw in enumerate(owner.get("parameters", [])):
                    parameter, where = self._resolve(raw, f"{pointer}/parameters/{index}")
                    merged[(parameter["name"], parameter["in"])] = (parameter, where)
            names = re.findall(r"{([^}]+)}", template)
            return Operation(
                method=method.upper(),
                template=template,
                pointer=op_pointer,
                parameters=tuple(merged.values()),
                path_params=dict(zip(names, match.groups(), strict=True)),
            )
        return None

    # --- checking a request -----------------------------------------------------------------

    def validator(
        self,
        base_path: str = "",
        auth_params: frozenset[str] = frozenset(),
        ignore_params: frozenset[str] = frozenset(),
    ) -> Callable[[Recorded], list[str]]:
        """A ``FakeServer`` validator.

        Args:
            base_path: Prefix of request paths not in the description's paths (Slack's
                ``/api``); the fake's own prefix is stripped already.
            auth_params: Parameters an ``Authorization`` header stands in for (Slack's
                ``token``, which its SDK sends as a Bearer header).
            ignore_params: Query parameters clients add that the description omits.
        """

        def validate(request: Recorded) -> list[str]:
            return self.check(request, base_path, auth_params, ignore_params)

        return validate

    def check(
        self,
        request: Recorded,
        base_path: str = "",
        auth_params: frozenset[str] = frozenset(),
        ignore_params: frozenset[str] = frozenset(),
    ) -> list[str]:
        """What is wrong with ``request`` (an empty list: nothing)."""
        path = request.path
        if base_path and path.startswith(base_path):
            path = path[len(base_path) :] or "/"
        operation = self.operation(request.method, path)
        if operation is None:
            return [f"{self.name} has no operation {request.method} {path}"]
        problems: list[str] = []
        authorised = "authorization" in request.headers
        body_params = self._body_params(request)
        declared = {(p["name"], p["in"]) for p, _ in operation.parameters}
        for parameter, pointer in operation.parameters:
            name, where = parameter["name"], parameter["in"]
            if name in auth_params and authorised:
                continue
            present, value, raw = self._value_of(request, operation, parameter, body_params)
            if not present:
                if parameter.get("required") or where == "path":
                    problems.append(f"missing required {where} parameter {name!r}")
                continue
            problems += self._check_value(parameter, pointer, value, raw, json_body=not raw)
        for name in request.query:
            if (name, "query") not in declared and name not in ignore_params:
                problems.append(f"query parameter {name!r} is not a parameter of this operation")
        if self.is_swagger:
            problems += self._check_swagger_body(request, operation, body_params, declared)
        else:
            problems += self._check_request_body(request, operation)
        return problems

    # --- parameters -------------------------------------------------------------------------

    def _body_params(self, request: Recorded) -> dict[str, Any] | None:
        if not request.body:
            return {}
        if request.content_type == "application/x-www-form-urlencoded":
            return {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
        if request.content_type == "application/json":
            try:
                data = json.loads(request.body)
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
        return None

    def _value_of(
        self,
        request: Recorded,
        operation: Operation,
        parameter: dict[str, Any],
        body_params: dict[str, Any] | None,
    ) -> tuple[bool, Any, bool]:
        """(present, value, value-is-a-raw-string) of ``parameter`` in ``request``."""
        name, where = parameter["name"], parameter["in"]
        if where == "path":
            value = operation.path_params.get(name)
            return value is not None, value, True
        if where == "query":
            values = request.query.get(name)
            if values is None:
                return False, None, True
            return (
                True,
                values if _schema_of(parameter).get("type") == "array" else values[-1],
                True,
            )
        if where == "header":
            value = request.headers.get(name.lower())
            return value is not None, value, True
        if where == "formData":
            source = body_params or {}
            raw = request.content_type != "application/json"
            if name not in source and request.method in ("GET", "DELETE"):
                values = request.query.get(name)
                return values is not None, values[-1] if values else None, True
            return name in source, source.get(name), raw
        return False, None, True

    def _check_value(
        self, parameter: dict[str, Any], pointer: str, value: Any, raw: bool, *, json_body: bool
    ) -> list[str]:
        schema = _schema_of(parameter)
        label = f"{parameter['in']} parameter {parameter['name']!r}"
        kind = schema.get("type")
        if json_body and kind == "string" and isinstance(value, (list, dict)):
            # A JSON body carries "JSON-encoded string" parameters (Slack's blocks) as JSON.
            return []
        if raw:
            coerced = _coerce(value, schema)
            if coerced is _INVALID:
                return [f"{label}: {value!r} is not {_article(kind)}"]
            value = coerced
        schema_pointer = f"{pointer}/schema" if "schema" in parameter else pointer
        target = {"$ref": f"{SPEC_URI}#{schema_pointer}"} if "schema" in parameter else schema
        return [f"{label}: {message}" for message in self._schema_errors(target, value)]

    # --- bodies -----------------------------------------------------------------------------

    def _check_swagger_body(
        self,
        request: Recorded,
        operation: Operation,
        body_params: dict[str, Any] | None,
        declared: set[tuple[str, str]],
    ) -> list[str]:
        body_parameter = next(
            ((p, ptr) for p, ptr in operation.parameters if p["in"] == "body"), None
        )
        if body_parameter is not None:
            parameter, pointer = body_parameter
            if not request.body:
                return ["missing request body"] if parameter.get("required") else []
            try:
                data = json.loads(request.body)
            except ValueError:
                return ["the body is not JSON"]
            target = {"$ref": f"{SPEC_URI}#{pointer}/schema"}
            return [f"body: {m}" for m in self._schema_errors(target, data)]
        if not request.body:
            return []
        if body_params is None:
            return [f"a body of type {request.content_type or 'unknown'} that cannot be read"]
        consumes = self.document["paths"][operation.template][operation.method.lower()].get(
            "consumes", self.document.get("consumes", [])
        )
        if consumes and request.content_type not in consumes:
            return [f"content type {request.content_type!r} is not one of {consumes}"]
        return [
            f"body parameter {name!r} is not a parameter of this operation"
            for name in body_params
            if (name, "formData") not in declared
        ]

    def _check_request_body(self, request: Recorded, operation: Operation) -> list[str]:
        raw = self.document["paths"][operation.template][operation.method.lower()].get(
            "requestBody"
        )
        if raw is None:
            return ["this operation takes no request body"] if request.body else []
        body, pointer = self._resolve(raw, f"{operation.pointer}/requestBody")
        if not request.body:
            return ["missing request body"] if body.get("required") else []
        content = body.get("content", {})
        media = _media_type(request.content_type, content)
        if media is None:
            return [f"content type {request.content_type!r} is not one of {sorted(content)}"]
        if "json" not in media:
            return []
        try:
            data = json.loads(request.body)
        except ValueError:
            return ["the body is not JSON"]
        if "schema" not in content[media]:
            return []
        target = {"$ref": f"{SPEC_URI}#{pointer}/content/{_escape(media)}/schema"}
        return [f"body: {m}" for m in self._schema_errors(target, data)]

    # --- schemas ----------------------------------------------------------------------------

    def _schema_errors(self, schema: dict[str, Any], instance: Any) -> list[str]:
        validator = self._validator_class(schema, registry=self._registry)
        return [_describe(error) for error in _first_errors(validator.iter_errors(instance))]

    def _resolve(self, node: dict[str, Any], pointer: str) -> tuple[dict[str, Any], str]:
        """Follow local ``$ref``\\ s to the node they name, and its pointer."""
        seen = 0
        while "$ref" in node and seen < 32:
            reference = node["$ref"]
            if not reference.startswith("#/"):
                raise ValueError(f"{self.name}: only local references are read ({reference})")
            pointer = reference[1:]
            node = self.document
            for token in pointer.lstrip("/").split("/"):
                node = node[token.replace("~1", "/").replace("~0", "~")]
            seen += 1
        return node, pointer


@cache
def _load(path: str) -> OpenAPIDescription:
    text = Path(path).read_text()
    document = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    return OpenAPIDescription(document, Path(path).name)


_INVALID = object()


def _route(template: str) -> tuple[re.Pattern[str], str, int]:
    parts = re.split(r"({[^}]+})", template)
    regex = "".join("([^/]+)" if part.startswith("{") else re.escape(part) for part in parts)
    literal = sum(len(part) for part in parts if not part.startswith("{"))
    return re.compile(regex), template, literal


def _schema_of(parameter: dict[str, Any]) -> dict[str, Any]:
    """The parameter's schema: OpenAPI 3 nests it, Swagger 2 puts it on the parameter."""
    if "schema" in parameter:
        return parameter["schema"]
    return {k: v for k, v in parameter.items() if k in ("type", "items", "enum", "format")}


def _coerce(value: Any, schema: dict[str, Any]) -> Any:
    """A string parameter read as the type its schema says (``_INVALID`` if it cannot be)."""
    kind = schema.get("type")
    if isinstance(value, list):
        if kind == "array":
            items = [_coerce(v, schema.get("items", {})) for part in value for v in part.split(",")]
            return _INVALID if _INVALID in items else items
        value = value[-1]
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except (TypeError, ValueError):
        return _INVALID
    if kind == "boolean":
        lowered = str(value).lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        return _INVALID
    if kind == "array":
        return [_coerce(v, schema.get("items", {})) for v in str(value).split(",")]
    return value


def _article(kind: str | None) -> str:
    return {"integer": "an integer", "array": "an array"}.get(kind or "", f"a {kind}")


def _media_type(content_type: str, content: Mapping[str, Any]) -> str | None:
    if content_type in content:
        return content_type
    family = content_type.split("/")[0] + "/*"
    for candidate in (family, "*/*"):
        if candidate in content:
            return candidate
    return None


def _first_errors(errors: Iterator[jsonschema.ValidationError]) -> list[jsonschema.ValidationError]:
    found = sorted(errors, key=lambda e: list(e.absolute_path))
    return found[:5]


def _describe(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{where or '(top)'}: {error.message}"


def _with_nullable(document: dict[str, Any]) -> dict[str, Any]:
    """A copy where OpenAPI 3.0's ``nullable: true`` is spelled as JSON Schema understands."""
    document = copy.deepcopy(document)

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = {key: walk(value) for key, value in node.items()}
        # Only the boolean keyword: "nullable" may also be a property's name.
        flags = [key for key in ("nullable", "x-nullable") if isinstance(node.get(key), bool)]
        nullable = any(node.pop(key) for key in flags)
        if nullable:
            if isinstance(node.get("type"), str) and "$ref" not in node:
                node["type"] = [node["type"], "null"]
                if "enum" in node:
                    node["enum"] = [*node["enum"], None]
            else:
                node = {"anyOf": [node, {"type": "null"}]}
        return node

    return walk(document)
