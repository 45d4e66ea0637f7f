"""Feature flags as flagd flag-definition documents: validation, diff, evaluation, rollouts.

A document is flagd's JSON (``https://flagd.dev/schema/v0/flags.json``): ``flags`` maps a
key to ``{state, variants, defaultVariant, targeting, metadata}``; ``targeting`` is JSON
Logic with flagd's ``fractional``, ``sem_ver``, ``starts_with`` and ``ends_with``;
``$evaluators`` holds shared rules referenced as ``{"$ref": "name"}``. Evaluation runs
openfeature-flagd-core's evaluator in process, so a flag answers here exactly as it does in
a flagd provider.

The schema is not shipped by any installed package (and nothing may be downloaded at run
time), so :func:`validate_document` checks its rules itself, plus what flagd-core needs
to load a document (no unknown flag fields) and what makes a flag fail at evaluation time
(a targeting result or a ``fractional`` bucket that names no variant).

Example:
    >>> document = validate_document({"flags": {"new-checkout": {
    ...     "state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off"}}})
    >>> document = set_rollout_percentage(document, "new-checkout", 10, "on", "off")
    >>> document.flags["new-checkout"].targeting
    {'fractional': [['on', 10], ['off', 90]]}
    >>> evaluate(document, "new-checkout", {"targetingKey": "user-1"}, False).reason
    'TARGETING_MATCH'
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal

from openfeature.contrib.tools.flagd.core import FlagdCore
from openfeature.contrib.tools.flagd.core.targeting.targeting import OPERATORS
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode, OpenFeatureError

from productpilot.errors import ValidationError

FlagKind = Literal["boolean", "string", "number", "object"]
Reason = Literal["STATIC", "TARGETING_MATCH", "DEFAULT", "DISABLED", "ERROR"]
Scalar = str | int | float | bool

STATES = ("ENABLED", "DISABLED")
FLAG_FIELDS = ("state", "variants", "defaultVariant", "targeting", "metadata")
DOCUMENT_FIELDS = ("$schema", "flags", "$evaluators", "metadata")
SEM_VER_OPERATORS = ("=", "!=", ">", "<", ">=", "<=", "~", "^")
# Operators that json-logic handles itself (lazily evaluated), beside the flagd-core table.
_SPECIAL_OPERATORS = frozenset({"if", "?:", "and", "or", "filter", "reduce", "map", "all", "some"})
KNOWN_OPERATORS = frozenset(OPERATORS) | _SPECIAL_OPERATORS | {"none"}
# flagd-core's fractional hashes into this many slots per unit of weight: any weight total
# works, so percentages with up to two decimals are written over 100, 1000 or 10000.
_ROLLOUT_SCALES = (100, 1_000, 10_000)


# --- the document --------------------------------------------------------------------------


@dataclass(frozen=True)
class FlagDefinition:
    """One flag of a document.

    Attributes:
        key: the flag key.
        state: ``"ENABLED"`` or ``"DISABLED"`` (a disabled flag serves the caller's default).
        variants: variant name -> value, all of one :attr:`kind`.
        default_variant: served when targeting is absent or returns null; ``None`` defers
            to the default in the calling code.
        targeting: JSON Logic returning a variant name, or ``None``.
        metadata: scalar annotations reported with each evaluation.
    """

    key: str
    state: str
    variants: dict[str, Any]
    default_variant: str | None = None
    targeting: dict[str, Any] | None = None
    metadata: dict[str, Scalar] = field(default_factory=dict)

    @property
    def kind(self) -> FlagKind:
        """The type of the variants' values."""
        return value_kind(next(iter(self.variants.values())))  # type: ignore[return-value]

    def to_json(self) -> dict[str, Any]:
        """The flag as flagd JSON (a deep copy)."""
        data: dict[str, Any] = {"state": self.state, "variants": copy.deepcopy(self.variants)}
        data["defaultVariant"] = self.default_variant
        if self.targeting is not None:
            data["targeting"] = copy.deepcopy(self.targeting)
        if self.metadata:
            data["metadata"] = dict(self.metadata)
        return data


@dataclass(frozen=True)
class FlagDocument:
    """A validated flagd flag-definition document; build it with :func:`validate_document`.

    Treat it as immutable: :func:`set_rollout_percentage` returns a new document.

    Attributes:
        flags: flag key -> definition, in document order.
        evaluators: shared targeting rules (``$evaluators``).
        metadata: flag-set metadata (e.g. ``flagSetId``, ``version``).
        schema: the ``$schema`` URL, if given.
    """

    flags: dict[str, FlagDefinition]
    evaluators: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Scalar] = field(default_factory=dict)
    schema: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The document as flagd JSON (a deep copy), ready to store or serve to flagd."""
        data: dict[str, Any] = {}
        if self.schema is not None:
            data["$schema"] = self.schema
        data["flags"] = {key: flag.to_json() for key, flag in self.flags.items()}
        if self.evaluators:
            data["$evaluators"] = copy.deepcopy(self.evaluators)
        if self.metadata:
            data["metadata"] = dict(self.metadata)
        return data

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON: equal documents, equal fingerprints."""
        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @cached_property
    def _core(self) -> FlagdCore:
        # Loaded once per document: flagd-core parses every flag on load.
        core = FlagdCore()
        core.set_flags(self.to_json())  # a copy: flagd-core rewrites the dicts it loads
        return core


def validate_document(data: Mapping[str, Any] | str | bytes) -> FlagDocument:
    """Check a flagd flag-definition document and return it as a :class:`FlagDocument`.

    Args:
        data: the document, parsed or as JSON text.

    Returns:
        The validated document (a deep copy of ``data``).

    Raises:
        ValidationError: one line naming the flag and the problem, e.g.
            ``flag 'checkout': defaultVariant 'blue' is not a variant (on, off)``.

    Example:
        >>> validate_document({"flags": {"a": {"state": "ON", "variants": {"x": 1}}}})
        Traceback (most recent call last):
        ...
        productpilot.errors.ValidationError: flag 'a': unknown state 'ON' (use ENABLED or DISABLED)
    """
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise ValidationError(f"flag document is not valid JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ValidationError("flag document must be a JSON object with a 'flags' object")
    unknown = [name for name in data if name not in DOCUMENT_FIELDS]
    if unknown:
        raise ValidationError(
            f"flag document: unknown field {unknown[0]!r} (use {', '.join(DOCUMENT_FIELDS)})"
        )
    schema = data.get("$schema")
    if schema is not None and not isinstance(schema, str):
        raise ValidationError("flag document: $schema must be a string")
    flags = data.get("flags")
    if not isinstance(flags, Mapping):
        raise ValidationError("flag document: 'flags' must be an object of flag key -> flag")
    evaluators = data.get("$evaluators") or {}
    if not isinstance(evaluators, Mapping) or not all(
        isinstance(name, str) and name and isinstance(rule, Mapping)
        for name, rule in evaluators.items()
    ):
        raise ValidationError("flag document: $evaluators must map names to JSON Logic objects")
    for name, rule in evaluators.items():
        if '"$ref"' in json.dumps(rule):
            # flagd-core expands shared rules in one pass, so a nested $ref may stay unexpanded
            raise ValidationError(f"$evaluators '{name}': a shared rule may not use $ref")
        _check_logic(rule, f"$evaluators '{name}'", evaluators)
    metadata = _metadata(data.get("metadata"), "flag document")
    for name in ("flagSetId", "version"):
        if name in metadata and not isinstance(metadata[name], str):
            raise ValidationError(f"flag document: metadata {name} must be a string")
    definitions = {}
    for key, flag in flags.items():
        definitions[key] = _flag(key, flag, evaluators)
    document = FlagDocument(
        flags=definitions,
        evaluators=copy.deepcopy(dict(evaluators)),
        metadata=metadata,
        schema=schema,
    )
    try:
        _ = document._core  # what flagd-core refuses, flagd refuses too
    except OpenFeatureError as exc:
        raise ValidationError(f"flag document: flagd cannot load it: {exc.error_message}") from exc
    return document


def value_kind(value: Any) -> FlagKind | None:
    """The flagd type of a variant value, ``None`` for a type flagd has no flags of.

    Example:
        >>> [value_kind(v) for v in (True, "a", 2, 0.5, {"k": 1}, [1], None)]
        ['boolean', 'string', 'number', 'number', 'object', None, None]
    """
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    return None


def _flag(key: Any, flag: Any, evaluators: Mapping[str, Any]) -> FlagDefinition:
    if not isinstance(key, str) or not key:
        raise ValidationError("flag document: a flag key must be a non-empty string")
    where = f"flag '{key}'"
    if not isinstance(flag, Mapping):
        raise ValidationError(f"{where}: must be an object with state and variants")
    unknown = [name for name in flag if name not in FLAG_FIELDS]
    if unknown:
        raise ValidationError(
            f"{where}: unknown field {unknown[0]!r} (use {', '.join(FLAG_FIELDS)})"
        )
    state = flag.get("state")
    if state not in STATES:
        raise ValidationError(f"{where}: unknown state {state!r} (use ENABLED or DISABLED)")
    variants = flag.get("variants")
    if not isinstance(variants, Mapping) or not variants:
        raise ValidationError(f"{where}: variants must be a non-empty object of name -> value")
    kinds: dict[str, str] = {}
    for name, value in variants.items():
        if not isinstance(name, str) or not name:
            raise ValidationError(f"{where}: variant names must be non-empty strings")
        kind = value_kind(value)
        if kind is None:
            raise ValidationError(
                f"{where}: variant '{name}' is {type(value).__name__}; "
                "use boolean, string, number or object values"
            )
        kinds.setdefault(kind, name)
    if len(kinds) > 1:
        described = ", ".join(f"'{name}' is {kind}" for kind, name in kinds.items())
        raise ValidationError(f"{where}: variant types are mixed ({described})")
    default = flag.get("defaultVariant")
    if default is not None and not isinstance(default, str):
        raise ValidationError(f"{where}: defaultVariant must be a variant name or null")
    if default == "":
        default = None  # flagd reads an empty defaultVariant as "use the code default"
    if default is not None and default not in variants:
        raise ValidationError(
            f"{where}: defaultVariant '{default}' is not a variant ({', '.join(variants)})"
        )
    targeting = flag.get("targeting")
    if targeting is not None:
        if not isinstance(targeting, Mapping):
            raise ValidationError(f"{where}: targeting must be a JSON Logic object")
        _check_logic(targeting, where, evaluators)
        for result in _targeting_results(targeting, evaluators):
            if result is not None and _variant_name(result) not in variants:
                raise ValidationError(
                    f"{where}: targeting can return {result!r}, which is not a variant "
                    f"({', '.join(variants)})"
                )
    return FlagDefinition(
        key=key,
        state=state,
        variants=copy.deepcopy(dict(variants)),
        default_variant=default,
        targeting=copy.deepcopy(dict(targeting)) if targeting else None,
        metadata=_metadata(flag.get("metadata"), where),
    )


def _metadata(metadata: Any, where: str) -> dict[str, Scalar]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise ValidationError(f"{where}: metadata must be an object")
    for name, value in metadata.items():
        if not isinstance(name, str) or not name:
            raise ValidationError(f"{where}: metadata keys must be non-empty strings")
        if value_kind(value) not in ("boolean", "string", "number"):
            raise ValidationError(f"{where}: metadata '{name}' must be a string, number or boolean")
    return dict(metadata)


def _check_logic(logic: Any, where: str, evaluators: Mapping[str, Any]) -> None:
    """Check a JSON Logic expression: known operators, flagd operators' argument shapes."""
    if isinstance(logic, list):
        for item in logic:
            _check_logic(item, where, evaluators)
        return
    if not isinstance(logic, Mapping) or not logic:
        return  # a literal (the empty object is flagd's "no targeting")
    if len(logic) != 1:
        raise ValidationError(
            f"{where}: a JSON Logic operation has exactly one operator, got {', '.join(logic)}"
        )
    operator, args = next(iter(logic.items()))
    if operator == "$ref":
        if args not in evaluators:
            raise ValidationError(f"{where}: $ref {args!r} names no entry of $evaluators")
        return
    if operator not in KNOWN_OPERATORS:
        raise ValidationError(f"{where}: unknown JSON Logic operator {operator!r}")
    arguments = args if isinstance(args, list) else [args]
    if operator == "if" and len(arguments) != 3:
        raise ValidationError(
            f"{where}: 'if' takes [condition, then, else] (nest ifs for more branches)"
        )
    if operator in ("starts_with", "ends_with") and len(arguments) != 2:
        raise ValidationError(f"{where}: '{operator}' takes [attribute, text]")
    if operator == "sem_ver" and (len(arguments) != 3 or arguments[1] not in SEM_VER_OPERATORS):
        raise ValidationError(
            f"{where}: 'sem_ver' takes [version, operator, version] with an operator "
            f"among {' '.join(SEM_VER_OPERATORS)}"
        )
    if operator == "fractional":
        _check_fractional(arguments, where)
    _check_logic(arguments, where, evaluators)


def _check_fractional(arguments: list[Any], where: str) -> None:
    buckets = arguments[1:] if arguments and not isinstance(arguments[0], list) else arguments
    if not buckets:
        raise ValidationError(f"{where}: 'fractional' needs at least one [variant, weight]")
    total = 0
    for bucket in buckets:
        valid = isinstance(bucket, list) and 1 <= len(bucket) <= 2
        weight = bucket[1] if valid and len(bucket) == 2 else 1
        if not valid or isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise ValidationError(
                f"{where}: 'fractional' buckets are [variant, weight] with a whole weight >= 0,"
                f" got {bucket!r}"
            )
        total += weight
    if total <= 0:
        raise ValidationError(f"{where}: 'fractional' weights add up to 0")


def _targeting_results(logic: Any, evaluators: Mapping[str, Any]) -> Iterator[Any]:
    """The literal values a targeting rule can return (its if-branches and fractional
    buckets); computed results (``var``, ``cat``...) are not known before evaluation."""
    if not isinstance(logic, Mapping):
        yield logic
        return
    if len(logic) != 1:
        return
    operator, args = next(iter(logic.items()))
    if operator == "$ref":  # evaluators hold no $ref (checked), so this ends
        yield from _targeting_results(evaluators.get(args), evaluators)
    elif operator == "if" and isinstance(args, list):
        for branch in args[1:]:
            yield from _targeting_results(branch, evaluators)
    elif operator == "fractional" and isinstance(args, list):
        for bucket in args:
            if isinstance(bucket, list) and bucket:
                yield from _targeting_results(bucket[0], evaluators)


def _variant_name(result: Any) -> str:
    # flagd-core turns a boolean result into "true"/"false" and other values into str().
    return str(result).lower() if isinstance(result, bool) else str(result)


def _as_document(document: FlagDocument | Mapping[str, Any]) -> FlagDocument:
    return document if isinstance(document, FlagDocument) else validate_document(document)


# --- diff ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One change between two documents, for the audit trail.

    Attributes:
        flag: the flag key, ``None`` for a document-level change.
        action: ``"added"``, ``"removed"`` or ``"changed"``.
        field: the changed field (``"state"``, ``"variants.on"``, ``"targeting"``,
            ``"metadata.owner"``, ``"$evaluators.beta"``...), ``None`` for a whole flag.
        before: the old value (``None`` when added).
        after: the new value (``None`` when removed).
    """

    flag: str | None
    action: Literal["added", "removed", "changed"]
    field: str | None
    before: Any = None
    after: Any = None

    def describe(self) -> str:
        """One readable line, e.g. ``flag 'a': state changed from "ENABLED" to "DISABLED"``."""
        subject = f"flag '{self.flag}'" if self.flag is not None else "document"
        if self.field is None:
            return f"{subject} {self.action}"
        if self.action == "added":
            return f"{subject}: {self.field} added: {_short(self.after)}"
        if self.action == "removed":
            return f"{subject}: {self.field} removed (was {_short(self.before)})"
        return f"{subject}: {self.field} changed from {_short(self.before)} to {_short(self.after)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "flag": self.flag,
            "action": self.action,
            "field": self.field,
            "before": self.before,
            "after": self.after,
            "description": self.describe(),
        }


def diff(
    old: FlagDocument | Mapping[str, Any], new: FlagDocument | Mapping[str, Any]
) -> list[Change]:
    """The changes from ``old`` to ``new``: flags added and removed, fields changed per flag.

    Args:
        old: the document before (validated when given as JSON).
        new: the document after.

    Returns:
        Changes in document order: flags of ``new`` (added or changed), then flags only
        ``old`` had, then ``$evaluators`` and flag-set metadata. Empty when equal.

    Example:
        >>> old = {"flags": {"a": {"state": "ENABLED", "variants": {"on": True, "off": False},
        ...                        "defaultVariant": "off"}}}
        >>> new = copy.deepcopy(old)
        >>> new["flags"]["a"]["defaultVariant"] = "on"
        >>> [change.describe() for change in diff(old, new)]
        ['flag \\'a\\': defaultVariant changed from "off" to "on"']
    """
    before, after = _as_document(old), _as_document(new)
    changes: list[Change] = []
    for key, flag in after.flags.items():
        previous = before.flags.get(key)
        if previous is None:
            changes.append(Change(key, "added", None, None, flag.to_json()))
            continue
        changes.extend(_field_changes(key, "state", previous.state, flag.state))
        changes.extend(_mapping_changes(key, "variants", previous.variants, flag.variants))
        changes.extend(
            _field_changes(key, "defaultVariant", previous.default_variant, flag.default_variant)
        )
        changes.extend(_field_changes(key, "targeting", previous.targeting, flag.targeting))
        changes.extend(_mapping_changes(key, "metadata", previous.metadata, flag.metadata))
    for key, flag in before.flags.items():
        if key not in after.flags:
            changes.append(Change(key, "removed", None, flag.to_json(), None))
    changes.extend(_mapping_changes(None, "$evaluators", before.evaluators, after.evaluators))
    changes.extend(_mapping_changes(None, "metadata", before.metadata, after.metadata))
    return changes


def _field_changes(flag: str | None, name: str, before: Any, after: Any) -> list[Change]:
    if _same(before, after):
        return []
    if before is None:
        return [Change(flag, "added", name, None, copy.deepcopy(after))]
    if after is None:
        return [Change(flag, "removed", name, copy.deepcopy(before), None)]
    return [Change(flag, "changed", name, copy.deepcopy(before), copy.deepcopy(after))]


def _mapping_changes(
    flag: str | None, name: str, before: Mapping[str, Any], after: Mapping[str, Any]
) -> list[Change]:
    changes = []
    for key, value in after.items():
        if key not in before:
            changes.append(Change(flag, "added", f"{name}.{key}", None, copy.deepcopy(value)))
        elif not _same(before[key], value):
            changes.extend(_field_changes(flag, f"{name}.{key}", before[key], value))
    for key, value in before.items():
        if key not in after:
            changes.append(Change(flag, "removed", f"{name}.{key}", copy.deepcopy(value), None))
    return changes


def _same(a: Any, b: Any) -> bool:
    # JSON equality: True == 1 in Python, but a boolean variant turned into 1 is a change.
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- evaluation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """The answer for one flag and one evaluation context.

    Attributes:
        key: the flag key.
        value: the variant's value; the caller's ``default`` when no variant applies
            (disabled flag, null ``defaultVariant``, an error); ``None`` then if no default
            was given.
        variant: the variant served, ``None`` when the default in code applies.
        reason: ``STATIC`` (no targeting), ``TARGETING_MATCH``, ``DEFAULT`` (targeting
            returned null), ``DISABLED`` or ``ERROR``.
        error_code: OpenFeature error code when ``reason`` is ``ERROR``: ``FLAG_NOT_FOUND``,
            ``TYPE_MISMATCH``, ``PARSE_ERROR``, ``INVALID_CONTEXT`` or ``GENERAL``.
        error_message: what went wrong, for logs.
        metadata: flag-set metadata overlaid with the flag's own.
    """

    key: str
    value: Any
    variant: str | None
    reason: Reason
    error_code: str | None = None
    error_message: str | None = None
    metadata: dict[str, Scalar] = field(default_factory=dict)

    @property
    def uses_code_default(self) -> bool:
        """True when no variant applied: the caller's own default is the answer."""
        return self.variant is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "variant": self.variant,
            "reason": self.reason,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "metadata": dict(self.metadata),
        }


def evaluate(
    document: FlagDocument | Mapping[str, Any],
    flag_key: str,
    context: Mapping[str, Any] | None = None,
    default: Any = None,
) -> Evaluation:
    """Evaluate one flag for one context with flagd-core's evaluator, in process.

    Never raises for a problem of the flag or the context: like an OpenFeature provider it
    answers ``reason="ERROR"`` with an error code and the caller's default.

    Args:
        document: a validated document, or flagd JSON (an invalid one answers
            ``PARSE_ERROR``).
        flag_key: the flag to evaluate.
        context: the evaluation context as in OFREP: ``targetingKey`` (the unit that
            ``fractional`` buckets by) and any attributes the targeting reads.
        default: the caller's default; its type is the type asked for (``bool``,
            ``str``, ``int``/``float`` for number, ``dict`` for object; a flag of another
            type answers ``TYPE_MISMATCH``). ``None``: any type, as OFREP asks.

    Returns:
        The value, variant, reason, error code and metadata.

    Example:
        >>> flags = {"flags": {"color": {"state": "ENABLED", "variants": {"r": "red"},
        ...                              "defaultVariant": "r"}}}
        >>> result = evaluate(flags, "color", {"targetingKey": "u1"}, "blue")
        >>> (result.value, result.variant, result.reason)
        ('red', 'r', 'STATIC')
        >>> evaluate(flags, "color", None, True).error_code
        'TYPE_MISMATCH'
    """
    try:
        flags = _as_document(document)
    except ValidationError as exc:
        return _error(flag_key, default, ErrorCode.PARSE_ERROR, str(exc))
    flag = flags.flags.get(flag_key)
    if flag is None:
        return _error(flag_key, default, ErrorCode.FLAG_NOT_FOUND, f"no flag '{flag_key}'")
    try:
        evaluation_context = to_evaluation_context(context)
    except ValidationError as exc:
        return _error(flag_key, default, ErrorCode.INVALID_CONTEXT, str(exc))
    asked = value_kind(default) if default is not None else flag.kind
    if asked != flag.kind:
        return _error(
            flag_key,
            default,
            ErrorCode.TYPE_MISMATCH,
            f"flag '{flag_key}' is {flag.kind}, asked for {asked or type(default).__name__}",
        )
    core = flags._core
    placeholder = flag.variants[next(iter(flag.variants))]
    resolve = {
        "boolean": core.resolve_boolean_value,
        "string": core.resolve_string_value,
        "number": core.resolve_float_value,  # flagd numbers: int or float, both accepted
        "object": core.resolve_object_value,
    }[flag.kind]
    try:
        details = resolve(flag_key, placeholder, evaluation_context)
    except OpenFeatureError as exc:
        return _error(flag_key, default, exc.error_code, exc.error_message or str(exc))
    variant = details.variant
    value = copy.deepcopy(flag.variants[variant]) if variant is not None else default
    return Evaluation(
        key=flag_key,
        value=value,
        variant=variant,
        reason=details.reason.value if details.reason else "STATIC",  # type: ignore[arg-type]
        metadata=dict(details.flag_metadata),
    )


def to_evaluation_context(context: Mapping[str, Any] | None) -> EvaluationContext | None:
    """An OpenFeature context from an OFREP-style one (``targetingKey`` + attributes).

    Raises:
        ValidationError: the context is not an object, or ``targetingKey`` not a string.

    Example:
        >>> to_evaluation_context({"targetingKey": "u1", "plan": "pro"}).attributes
        {'plan': 'pro'}
    """
    if context is None:
        return None
    if not isinstance(context, Mapping):
        raise ValidationError("evaluation context must be a JSON object")
    attributes = {name: value for name, value in context.items() if name != "targetingKey"}
    targeting_key = context.get("targetingKey")
    if targeting_key is not None and not isinstance(targeting_key, str):
        raise ValidationError("evaluation context: targetingKey must be a string")
    return EvaluationContext(targeting_key=targeting_key, attributes=attributes)


def _error(key: str, default: Any, code: ErrorCode | str, message: str) -> Evaluation:
    return Evaluation(
        key=key,
        value=default,
        variant=None,
        reason="ERROR",
        error_code=code.value if isinstance(code, ErrorCode) else str(code),
        error_message=message,
    )


# --- progressive rollouts ------------------------------------------------------------------


def set_rollout_percentage(
    document: FlagDocument | Mapping[str, Any],
    flag_key: str,
    percentage: float,
    on_variant: str,
    off_variant: str,
) -> FlagDocument:
    """Serve ``on_variant`` to ``percentage`` % of targeting keys, ``off_variant`` to the rest.

    Writes ``{"fractional": [[on, w], [off, total - w]]}`` in the flag's fall-through slot:
    the whole targeting when it is empty or an earlier rollout, else the final ``else`` of
    an if-chain (so ``{"if": [internal_user, "on", null]}`` keeps serving ``on`` to internal
    users and rolls out to everybody else). flagd hashes ``[flagKey, targetingKey]`` into
    ``[0, 1)`` and serves ``on`` below ``percentage / 100``, so a key that is in at 10 % stays
    in at 20 %. Contexts without a targetingKey get the ``defaultVariant``.

    Args:
        document: the document (not modified).
        flag_key: the flag to roll out.
        percentage: 0 to 100, at most two decimals (0.25 % is fine).
        on_variant: the variant rolled out.
        off_variant: the variant everybody else gets.

    Returns:
        A new validated document.

    Raises:
        ValidationError: unknown flag or variant, percentage out of range, or targeting
            whose fall-through is neither empty, null, ``off_variant`` nor an earlier
            rollout between the same two variants (replacing it would change who gets what
            beyond the rollout).

    Example:
        >>> flags = {"flags": {"f": {"state": "ENABLED", "variants": {"on": True, "off": False},
        ...     "defaultVariant": "off", "targeting": {"if": [{"ends_with": [{"var": "email"},
        ...     "@acme.com"]}, "on", None]}}}}
        >>> set_rollout_percentage(flags, "f", 12.5, "on", "off").flags["f"].targeting["if"][2]
        {'fractional': [['on', 125], ['off', 875]]}
    """
    current = _as_document(document)
    flag = current.flags.get(flag_key)
    if flag is None:
        raise ValidationError(f"no flag '{flag_key}' to roll out")
    where = f"flag '{flag_key}'"
    for name in (on_variant, off_variant):
        if name not in flag.variants:
            raise ValidationError(
                f"{where}: rollout variant '{name}' is not a variant ({', '.join(flag.variants)})"
            )
    if on_variant == off_variant:
        raise ValidationError(f"{where}: the rollout's on and off variants must differ")
    on_weight, total = _rollout_weights(percentage, where)
    rule = {"fractional": [[on_variant, on_weight], [off_variant, total - on_weight]]}
    targeting = copy.deepcopy(flag.targeting) if flag.targeting else None
    if targeting is None or _is_rollout(targeting, on_variant, off_variant):
        targeting = rule
    elif len(targeting) == 1 and "fractional" in targeting:
        raise ValidationError(
            f"{where}: targeting already splits traffic ({_short(targeting)}); "
            "a rollout would replace it"
        )
    else:
        parent = _fall_through_parent(targeting)
        if parent is None:
            raise ValidationError(
                f"{where}: targeting is neither an if-chain nor a rollout; "
                "add the rollout to it by hand"
            )
        slot = parent["if"][2]
        if not (slot is None or slot == off_variant or _is_rollout(slot, on_variant, off_variant)):
            raise ValidationError(
                f"{where}: targeting already sends everybody else to {_short(slot)}; "
                "a rollout would replace it"
            )
        parent["if"][2] = rule
    data = current.to_json()
    data["flags"][flag_key]["targeting"] = targeting
    return validate_document(data)


def rollout_percentage(
    document: FlagDocument | Mapping[str, Any], flag_key: str, on_variant: str
) -> float | None:
    """The percentage a rollout written by :func:`set_rollout_percentage` serves, if any.

    Example:
        >>> flags = {"flags": {"f": {"state": "ENABLED", "variants": {"on": 1, "off": 0},
        ...     "defaultVariant": "off", "targeting": {"fractional": [["on", 5], ["off", 95]]}}}}
        >>> rollout_percentage(flags, "f", "on")
        5.0
    """
    flag = _as_document(document).flags.get(flag_key)
    if flag is None or not flag.targeting:
        return None
    rule: Any = flag.targeting
    parent = _fall_through_parent(rule)
    if not (isinstance(rule, Mapping) and "fractional" in rule) and parent is not None:
        rule = parent["if"][2]
    if not (isinstance(rule, Mapping) and "fractional" in rule):
        return None
    buckets = [bucket for bucket in rule["fractional"] if isinstance(bucket, list)]
    weights = {bucket[0]: (bucket[1] if len(bucket) == 2 else 1) for bucket in buckets}
    total = sum(weights.values())
    return float(Decimal(weights.get(on_variant, 0)) * 100 / Decimal(total)) if total else None


def _rollout_weights(percentage: float, where: str) -> tuple[int, int]:
    if isinstance(percentage, bool) or not isinstance(percentage, int | float):
        raise ValidationError(f"{where}: rollout percentage must be a number")
    if not 0 <= percentage <= 100:
        raise ValidationError(f"{where}: rollout percentage must be in [0, 100], got {percentage}")
    exact = Decimal(str(percentage))
    for total in _ROLLOUT_SCALES:
        weight = exact * total / 100
        if weight == weight.to_integral_value():
            return int(weight), total
    raise ValidationError(
        f"{where}: rollout percentage takes at most two decimals, got {percentage}"
    )


def _is_rollout(rule: Any, on_variant: str, off_variant: str) -> bool:
    """A shorthand ``fractional`` (bucketing by targetingKey) over just the two variants."""
    if not (isinstance(rule, Mapping) and len(rule) == 1 and "fractional" in rule):
        return False
    buckets = rule["fractional"]
    return (
        isinstance(buckets, list)
        and all(isinstance(bucket, list) and bucket for bucket in buckets)
        and {bucket[0] for bucket in buckets} <= {on_variant, off_variant}
    )


def _fall_through_parent(rule: Any) -> dict[str, Any] | None:
    """The innermost ``if`` of an if-else chain, whose ``else`` is what everybody else gets."""
    parent = None
    while isinstance(rule, dict) and len(rule) == 1 and isinstance(rule.get("if"), list):
        if len(rule["if"]) != 3:
            return None
        parent, rule = rule, rule["if"][2]
    return parent
