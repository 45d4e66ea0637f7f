"""Reading request bodies within limits: size (as sent and decompressed) and encoding."""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from fastapi import Request

from productpilot.api.problems import ApiError


async def read_limited_body(request: Request, limit: int, decompressed_limit: int) -> bytes:
    """The body, gunzipped if ``Content-Encoding: gzip``; 413 past either limit.

    Decompression is bounded too, so a small gzip bomb cannot exhaust memory.
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the body is larger than {limit} bytes", kind="too-large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the body is larger than {limit} bytes", kind="too-large")
        chunks.append(chunk)
    body = b"".join(chunks)

    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise ApiError(415, f"unsupported Content-Encoding {encoding!r}: use gzip or none")
    inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    try:
        data = inflater.decompress(body, decompressed_limit + 1)
    except zlib.error:
        raise ApiError(400, "the body is not valid gzip", kind="bad-encoding") from None
    if len(data) > decompressed_limit or inflater.unconsumed_tail:
        raise ApiError(413, f"the body inflates past {decompressed_limit} bytes", kind="too-large")
    return data


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc.msg}", kind="bad-json") from None


def require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(415, "send the body as application/json", kind="unsupported-media-type")


def inline_schema(model: type[Any]) -> dict[str, Any]:
    """A model's JSON schema with its ``$defs`` inlined, for ``openapi_extra`` bodies."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref", "")
            if reference.startswith("#/$defs/"):
                return resolve(definitions[reference.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)
