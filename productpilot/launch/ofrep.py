"""The OpenFeature Remote Evaluation Protocol (OFREP v1) over a flag document, framework-free.

Two calls of the protocol (github.com/open-feature/protocol, ``service/openapi.yaml``):

* ``POST /ofrep/v1/evaluate/flags/{key}``: :func:`evaluate_single`, for server-side
  providers (each evaluation is a request). 200 with the value, 404 ``FLAG_NOT_FOUND``,
  400 for an invalid context or a flag that cannot be evaluated (``PARSE_ERROR``,
  ``GENERAL``).
* ``POST /ofrep/v1/evaluate/flags``: :func:`evaluate_bulk`, for client-side providers that
  evaluate every flag once per context and poll. The ``ETag`` hashes the document version
  and the context, so a poll with ``If-None-Match`` gets 304 until either changes.

A flag that serves the default in the caller's code (disabled, or a null
``defaultVariant`` with no targeting match) answers without ``value`` and ``variant``,
as OFREP represents a code default. A web framework maps ``(status, body, etag)`` to a
response and adds authentication; the request body may be passed parsed or raw.

Example:
    >>> document = {"flags": {"banner": {"state": "ENABLED", "variants": {"on": True,
    ...     "off": False}, "defaultVariant": "off"}}}
    >>> evaluate_single(document, "banner", {"context": {"targetingKey": "u1"}})
    (200, {'key': 'banner', 'value': False, 'reason': 'STATIC', 'variant': 'off', 'metadata': {}})
    >>> evaluate_single(document, "nope", None)[0]
    404
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from productpilot.errors import ValidationError
from productpilot.launch.flags import Evaluation, FlagDocument, evaluate, validate_document

RequestBody = Mapping[str, Any] | bytes | str | None
FailureCode = Literal[
    "FLAG_NOT_FOUND", "PARSE_ERROR", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "GENERAL"
]
FAILURE_CODES: tuple[str, ...] = FailureCode.__args__  # type: ignore[attr-defined]
_STATUS_BY_ERROR = {"FLAG_NOT_FOUND": 404}  # every other evaluation failure is a 400


# --- shapes (the protocol's components.schemas) --------------------------------------------


class EvaluationRequest(BaseModel):
    """Request body of both evaluation calls: ``{"context": {...}}``, all optional."""

    model_config = ConfigDict(extra="allow")

    context: dict[str, Any] | None = Field(
        default=None, description="Evaluation context: targetingKey and attributes."
    )


class EvaluationSuccess(BaseModel):
    """One flag's successful evaluation (``value``/``variant`` absent: use the code default)."""

    key: str
    value: Any = None
    reason: str = Field(description="STATIC, TARGETING_MATCH, DEFAULT or DISABLED.")
    variant: str | None = None
    metadata: dict[str, str | int | float | bool] = Field(default_factory=dict)


class EvaluationFailure(BaseModel):
    """One flag's failed evaluation (also the 404 body, with ``FLAG_NOT_FOUND``)."""

    key: str
    errorCode: FailureCode  # noqa: N815 (the protocol's field name)
    errorDetails: str | None = None  # noqa: N815


class BulkEvaluationSuccess(BaseModel):
    """Every flag of the document evaluated for one context."""

    flags: list[EvaluationSuccess | EvaluationFailure]
    metadata: dict[str, str | int | float | bool] | None = None


class BulkEvaluationFailure(BaseModel):
    """The bulk request as a whole failed (an invalid context, an unreadable document)."""

    errorCode: str  # noqa: N815
    errorDetails: str | None = None  # noqa: N815


# --- the two calls -------------------------------------------------------------------------


def evaluate_single(
    document: FlagDocument | Mapping[str, Any], key: str, request_body: RequestBody
) -> tuple[int, dict[str, Any]]:
    """``POST /ofrep/v1/evaluate/flags/{key}``: evaluate one flag.

    Args:
        document: the flag document (flagd JSON or validated).
        key: the flag key from the path.
        request_body: ``{"context": {...}}``, parsed or raw JSON; empty means no context.

    Returns:
        ``(status, body)``: 200 and an :class:`EvaluationSuccess`, or 404/400 and an
        :class:`EvaluationFailure` ``{key, errorCode, errorDetails}``.

    Example:
        >>> flags = {"flags": {"f": {"state": "ENABLED", "variants": {"a": 1}}}}
        >>> status, body = evaluate_single(flags, "f", b'{"context": []}')
        >>> status, body["errorCode"], body["errorDetails"]
        (400, 'INVALID_CONTEXT', 'context must be a JSON object')
    """
    try:
        context = parse_context(request_body)
    except ValidationError as exc:
        return 400, _failure(key, "INVALID_CONTEXT", str(exc))
    evaluation = evaluate(document, key, context)
    if evaluation.error_code is not None:
        body = _failure(key, evaluation.error_code, evaluation.error_message)
        return _STATUS_BY_ERROR.get(evaluation.error_code, 400), body
    return 200, _success(evaluation)


def evaluate_bulk(
    document: FlagDocument | Mapping[str, Any],
    request_body: RequestBody,
    if_none_match: str | None = None,
    *,
    version: str | int | None = None,
) -> tuple[int, dict[str, Any] | None, str | None]:
    """``POST /ofrep/v1/evaluate/flags``: evaluate every flag, with ETag revalidation.

    Args:
        document: the flag document.
        request_body: ``{"context": {...}}``, parsed or raw JSON.
        if_none_match: the ``If-None-Match`` header, if sent (a list, ``W/`` and ``*``
            are understood).
        version: the stored document's version; defaults to its content fingerprint.

    Returns:
        ``(status, body, etag)``: 200 with a :class:`BulkEvaluationSuccess` and the ETag;
        304 with no body when ``if_none_match`` holds the current ETag; 400 with a
        :class:`BulkEvaluationFailure` (and no ETag) for an invalid context or document.
        Set the ``ETag`` header to ``etag`` on 200 and 304.

    Example:
        >>> flags = {"flags": {"f": {"state": "ENABLED", "variants": {"a": 1},
        ...                          "defaultVariant": "a"}}}
        >>> status, body, etag = evaluate_bulk(flags, {"context": {"targetingKey": "u1"}})
        >>> status, [flag["value"] for flag in body["flags"]]
        (200, [1])
        >>> evaluate_bulk(flags, {"context": {"targetingKey": "u1"}}, etag)[:2]
        (304, None)
    """
    try:
        context = parse_context(request_body)
    except ValidationError as exc:
        return 400, _bulk_failure("INVALID_CONTEXT", str(exc)), None
    try:
        flags = document if isinstance(document, FlagDocument) else validate_document(document)
    except ValidationError as exc:
        return 400, _bulk_failure("PARSE_ERROR", str(exc)), None
    etag = bulk_etag(flags, context, version=version)
    if etag_matches(if_none_match, etag):
        return 304, None, etag
    results: list[EvaluationSuccess | EvaluationFailure] = []
    for key in flags.flags:
        evaluation = evaluate(flags, key, context)
        if evaluation.error_code is not None:
            results.append(_failure_model(key, evaluation.error_code, evaluation.error_message))
        else:
            results.append(_success_model(evaluation))
    body = BulkEvaluationSuccess(flags=results, metadata=dict(flags.metadata) or None)
    return 200, body.model_dump(exclude_none=True), etag


def parse_context(request_body: RequestBody) -> dict[str, Any] | None:
    """The evaluation context of a request body (``None`` when absent).

    Raises:
        ValidationError: the body is not JSON, not an object, or its ``context`` is not an
            object or has a non-string ``targetingKey``.

    Example:
        >>> parse_context(b'{"context": {"targetingKey": "u1", "plan": "pro"}}')
        {'targetingKey': 'u1', 'plan': 'pro'}
        >>> parse_context(b"") is None
        True
    """
    body: Any = request_body
    if isinstance(body, bytes | str):
        if not body.strip():
            return None
        try:
            body = json.loads(body)
        except ValueError as exc:
            raise ValidationError(f"request body is not valid JSON: {exc}") from exc
    if body is None:
        return None
    if not isinstance(body, Mapping):
        raise ValidationError("request body must be a JSON object")
    context = body.get("context")
    if context is None:
        return None
    if not isinstance(context, Mapping):
        raise ValidationError("context must be a JSON object")
    targeting_key = context.get("targetingKey")
    if targeting_key is not None and not isinstance(targeting_key, str):
        raise ValidationError("context.targetingKey must be a string")
    return dict(context)


def bulk_etag(
    document: FlagDocument, context: Mapping[str, Any] | None, *, version: str | int | None = None
) -> str:
    """A strong ETag over the document version and the evaluation context.

    Only what the answer depends on: a rule reading ``$flagd.timestamp`` changes its answer
    with time under the same ETag, as in flagd.

    Example:
        >>> flags = validate_document({"flags": {}})
        >>> bulk_etag(flags, {"a": 1}) == bulk_etag(flags, {"a": 1}) != bulk_etag(flags, None)
        True
    """
    identity = str(version) if version is not None else document.fingerprint
    canonical = json.dumps(
        {"version": identity, "context": context}, sort_keys=True, separators=(",", ":")
    )
    return '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header selects ``etag`` (weak comparison, RFC 9110).

    Example:
        >>> etag_matches('W/"x", "abc"', '"abc"'), etag_matches("abc", '"abc"')
        (True, True)
    """
    if not if_none_match:
        return False
    wanted = etag.strip('"')
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*":
            return True
        candidate = candidate.removeprefix("W/").strip('"')
        if candidate == wanted:
            return True
    return False


def _success_model(evaluation: Evaluation) -> EvaluationSuccess:
    return EvaluationSuccess(
        key=evaluation.key,
        value=None if evaluation.uses_code_default else evaluation.value,
        reason=evaluation.reason,
        variant=evaluation.variant,
        metadata=dict(evaluation.metadata),
    )


def _success(evaluation: Evaluation) -> dict[str, Any]:
    # Leaving value and variant out is how OFREP says "use the default in your code".
    return _success_model(evaluation).model_dump(exclude_none=True)


def _failure_model(key: str, code: str, details: str | None) -> EvaluationFailure:
    # Untyped evaluation never answers TYPE_MISMATCH; anything outside the enum is GENERAL.
    known = code if code in FAILURE_CODES else "GENERAL"
    return EvaluationFailure(key=key, errorCode=known, errorDetails=details)  # type: ignore[arg-type]


def _failure(key: str, code: str, details: str | None) -> dict[str, Any]:
    return _failure_model(key, code, details).model_dump(exclude_none=True)


def _bulk_failure(code: str, details: str) -> dict[str, Any]:
    return BulkEvaluationFailure(errorCode=code, errorDetails=details).model_dump()
