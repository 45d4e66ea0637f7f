"""Specification of flag documents: flagd validation, audit diffs, evaluation, rollouts."""

from __future__ import annotations

import copy
import doctest
import json
from typing import Any

import pytest
from openfeature.contrib.tools.flagd.core import FlagdCore
from openfeature.evaluation_context import EvaluationContext

from productpilot.errors import ValidationError
from productpilot.launch import flags as module
from productpilot.launch.flags import (
    FlagDocument,
    diff,
    evaluate,
    rollout_percentage,
    set_rollout_percentage,
    validate_document,
)

USERS = [f"user-{i}" for i in range(1000)]


def boolean_flag(**fields: Any) -> dict[str, Any]:
    flag = {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "off"}
    return {**flag, **fields}


def catalog() -> dict[str, Any]:
    """One flag of each type, with flagd's own operators in the targeting."""
    return {
        "$schema": "https://flagd.dev/schema/v0/flags.json",
        "flags": {
            "new-checkout": boolean_flag(metadata={"owner": "payments"}),
            "banner-color": {
                "state": "ENABLED",
                "variants": {"red": "#f00", "blue": "#00f"},
                "defaultVariant": "red",
                "targeting": {"if": [{"ends_with": [{"var": "email"}, "@acme.com"]}, "blue", None]},
            },
            "max-items": {
                "state": "ENABLED",
                "variants": {"small": 10, "large": 2.5e1},
                "defaultVariant": "small",
                "targeting": {
                    "if": [{"sem_ver": [{"var": "app_version"}, ">=", "2.1.0"]}, "large", None]
                },
            },
            "theme": {
                "state": "ENABLED",
                "variants": {"light": {"bg": "white"}, "dark": {"bg": "black"}},
                "defaultVariant": "light",
                "targeting": {"$ref": "beta-users"},
            },
            "legacy-export": boolean_flag(state="DISABLED"),
        },
        "$evaluators": {
            "beta-users": {"if": [{"starts_with": [{"var": "plan"}, "beta"]}, "dark", None]}
        },
        "metadata": {"flagSetId": "acme-web", "version": "7"},
    }


# --- validation ----------------------------------------------------------------------------


def test_a_flagd_document_with_every_kind_of_flag_validates_and_round_trips() -> None:
    document = validate_document(catalog())
    assert list(document.flags) == [
        "new-checkout",
        "banner-color",
        "max-items",
        "theme",
        "legacy-export",
    ]
    assert [flag.kind for flag in document.flags.values()] == [
        "boolean",
        "string",
        "number",
        "object",
        "boolean",
    ]
    assert validate_document(json.dumps(document.to_json())) == document
    assert document.to_json()["$evaluators"] == catalog()["$evaluators"]


def test_validation_copies_the_input_so_later_edits_do_not_leak_in() -> None:
    data = catalog()
    document = validate_document(data)
    data["flags"]["new-checkout"]["variants"]["on"] = "changed"
    assert document.flags["new-checkout"].variants["on"] is True


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        (boolean_flag(defaultVariant="maybe"), "flag 'f': defaultVariant 'maybe' is not a variant"),
        (
            boolean_flag(variants={"on": True, "off": "no"}),
            "flag 'f': variant types are mixed ('on' is boolean, 'off' is string)",
        ),
        (
            boolean_flag(variants={"on": 1, "off": True}),
            "flag 'f': variant types are mixed ('on' is number, 'off' is boolean)",
        ),
        (boolean_flag(state="ON"), "flag 'f': unknown state 'ON' (use ENABLED or DISABLED)"),
        (boolean_flag(variants={}), "flag 'f': variants must be a non-empty object"),
        (boolean_flag(variants={"a": [1, 2]}), "flag 'f': variant 'a' is list"),
        (boolean_flag(variants={"a": None}), "flag 'f': variant 'a' is NoneType"),
        (boolean_flag(description="x"), "flag 'f': unknown field 'description'"),
        (boolean_flag(targeting=[1]), "flag 'f': targeting must be a JSON Logic object"),
        (boolean_flag(targeting={"regex": ["a", "b"]}), "unknown JSON Logic operator 'regex'"),
        (
            boolean_flag(targeting={"if": [True, "on", None], "==": [1, 1]}),
            "exactly one operator, got if, ==",
        ),
        (boolean_flag(targeting={"if": [True, "on"]}), "'if' takes [condition, then, else]"),
        (
            boolean_flag(targeting={"if": [True, "on", "blue"]}),
            "flag 'f': targeting can return 'blue', which is not a variant (on, off)",
        ),
        (
            boolean_flag(targeting={"fractional": [["on", 50], ["maybe", 50]]}),
            "targeting can return 'maybe', which is not a variant",
        ),
        (
            boolean_flag(targeting={"fractional": [["on", 0.5], ["off", 50]]}),
            "'fractional' buckets are [variant, weight] with a whole weight >= 0",
        ),
        (
            boolean_flag(targeting={"fractional": [["on", 0], ["off", 0]]}),
            "'fractional' weights add up to 0",
        ),
        (
            boolean_flag(
                targeting={"if": [{"sem_ver": [{"var": "v"}, "=>", "1.0.0"]}, "on", None]}
            ),
            "'sem_ver' takes [version, operator, version]",
        ),
        (
            boolean_flag(targeting={"if": [{"starts_with": [{"var": "e"}]}, "on", None]}),
            "'starts_with' takes [attribute, text]",
        ),
        (boolean_flag(targeting={"$ref": "nobody"}), "$ref 'nobody' names no entry of $evaluators"),
        (boolean_flag(metadata={"owner": ["a"]}), "metadata 'owner' must be a string, number"),
    ],
)
def test_an_invalid_flag_is_refused_with_one_line_naming_the_flag(
    flag: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        validate_document({"flags": {"f": flag}})
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "must be a JSON object"),
        ("{not json", "not valid JSON"),
        ({"flag": {}}, "unknown field 'flag'"),
        ({"flags": []}, "'flags' must be an object"),
        ({"flags": {}, "metadata": {"version": 7}}, "metadata version must be a string"),
        ({"flags": {}, "$evaluators": {"x": 1}}, "$evaluators must map names"),
        ({"flags": {"": boolean_flag()}}, "a flag key must be a non-empty string"),
        (
            {"flags": {}, "$evaluators": {"a": {"if": [True, {"$ref": "a"}, None]}}},
            "$evaluators 'a': a shared rule may not use $ref",
        ),
    ],
)
def test_an_invalid_document_is_refused(document: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("$", r"\$")):
        validate_document(document)


def test_a_null_default_variant_means_the_default_in_code() -> None:
    document = validate_document({"flags": {"f": boolean_flag(defaultVariant=None)}})
    assert document.flags["f"].default_variant is None
    result = evaluate(document, "f", {"targetingKey": "u"}, True)
    assert (result.value, result.variant, result.reason) == (True, None, "DEFAULT")
    assert result.uses_code_default


# --- diff ----------------------------------------------------------------------------------


def test_diff_lists_each_changed_field_per_flag_for_the_audit_trail() -> None:
    old = catalog()
    new = copy.deepcopy(old)
    new["flags"]["new-checkout"]["state"] = "DISABLED"
    new["flags"]["new-checkout"]["metadata"] = {"owner": "growth", "ticket": "PP-9"}
    new["flags"]["banner-color"]["variants"]["green"] = "#0f0"
    del new["flags"]["banner-color"]["variants"]["blue"]
    new["flags"]["banner-color"]["targeting"] = {"if": [True, "green", None]}
    new["flags"]["max-items"]["variants"]["small"] = 5
    del new["flags"]["legacy-export"]
    new["flags"]["dark-mode"] = boolean_flag()
    new["metadata"]["version"] = "8"
    lines = [change.describe() for change in diff(old, new)]
    assert lines == [
        'flag \'new-checkout\': state changed from "ENABLED" to "DISABLED"',
        'flag \'new-checkout\': metadata.owner changed from "payments" to "growth"',
        "flag 'new-checkout': metadata.ticket added: \"PP-9\"",
        "flag 'banner-color': variants.green added: \"#0f0\"",
        "flag 'banner-color': variants.blue removed (was \"#00f\")",
        "flag 'banner-color': targeting changed from "
        '{"if": [{"ends_with": [{"var": "email"}, "@acme.com"]}, "blue", null]} '
        'to {"if": [true, "green", null]}',
        "flag 'max-items': variants.small changed from 10 to 5",
        "flag 'dark-mode' added",
        "flag 'legacy-export' removed",
        'document: metadata.version changed from "7" to "8"',
    ]
    added = next(change for change in diff(old, new) if change.flag == "dark-mode")
    assert added.after == boolean_flag()
    assert json.loads(json.dumps([change.to_dict() for change in diff(old, new)]))


def test_diff_of_equal_documents_is_empty_and_a_type_change_is_a_change() -> None:
    assert diff(catalog(), validate_document(catalog())) == []
    old = {"flags": {"f": {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "a"}}}
    new = {"flags": {"f": {"state": "ENABLED", "variants": {"a": 1.5}, "defaultVariant": "a"}}}
    (change,) = diff(old, new)
    assert (change.flag, change.action, change.field) == ("f", "changed", "variants.a")


def test_diff_reports_shared_evaluators() -> None:
    old = catalog()
    new = copy.deepcopy(old)
    new["$evaluators"]["beta-users"] = {"if": [False, "dark", None]}
    (change,) = diff(old, new)
    assert (change.flag, change.field, change.action) == (None, "$evaluators.beta-users", "changed")


# --- evaluation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "context", "default", "expected"),
    [
        ("new-checkout", {"targetingKey": "u1"}, True, (False, "off", "STATIC")),
        ("banner-color", {"email": "ann@acme.com"}, "x", ("#00f", "blue", "TARGETING_MATCH")),
        ("banner-color", {"email": "bob@mail.com"}, "x", ("#f00", "red", "DEFAULT")),
        ("max-items", {"app_version": "2.3.1"}, 0, (25.0, "large", "TARGETING_MATCH")),
        ("max-items", {"app_version": "2.0.9"}, 0.0, (10, "small", "DEFAULT")),
        ("theme", {"plan": "beta-2026"}, {}, ({"bg": "black"}, "dark", "TARGETING_MATCH")),
        ("theme", {"plan": "pro"}, {}, ({"bg": "white"}, "light", "DEFAULT")),
        ("legacy-export", {}, True, (True, None, "DISABLED")),
    ],
)
def test_evaluate_answers_value_variant_and_reason(
    key: str, context: dict[str, Any], default: Any, expected: tuple[Any, str | None, str]
) -> None:
    result = evaluate(catalog(), key, context, default)
    assert (result.value, result.variant, result.reason) == expected
    assert result.error_code is None
    assert type(result.value) is type(expected[0])  # 10 stays an int, 25.0 a float


def test_evaluate_reports_flag_set_metadata_overlaid_with_the_flags() -> None:
    result = evaluate(catalog(), "new-checkout", None, False)
    assert result.metadata == {"flagSetId": "acme-web", "version": "7", "owner": "payments"}


@pytest.mark.parametrize(
    ("document", "key", "context", "default", "code"),
    [
        (catalog(), "missing", {}, False, "FLAG_NOT_FOUND"),
        (catalog(), "new-checkout", {}, "on", "TYPE_MISMATCH"),
        (catalog(), "max-items", {}, True, "TYPE_MISMATCH"),  # bool is not a number
        (catalog(), "theme", {}, 1, "TYPE_MISMATCH"),
        (catalog(), "new-checkout", {"targetingKey": 42}, False, "INVALID_CONTEXT"),
        ({"flags": {"f": boolean_flag(state="ON")}}, "f", {}, False, "PARSE_ERROR"),
    ],
)
def test_evaluate_answers_errors_with_the_callers_default(
    document: dict[str, Any], key: str, context: dict[str, Any], default: Any, code: str
) -> None:
    result = evaluate(document, key, context, default)
    assert (result.value, result.variant, result.reason, result.error_code) == (
        default,
        None,
        "ERROR",
        code,
    )
    assert result.error_message


def test_evaluate_without_a_default_answers_the_flags_own_type() -> None:
    result = evaluate(catalog(), "banner-color", {"email": "a@acme.com"})
    assert (result.value, result.variant) == ("#00f", "blue")
    assert evaluate(catalog(), "legacy-export").value is None


def test_evaluate_agrees_with_flagd_core_loaded_directly() -> None:
    core = FlagdCore()
    core.set_flags(catalog())
    for email in ("a@acme.com", "b@example.org"):
        direct = core.resolve_string_value(
            "banner-color", "x", EvaluationContext("u", {"email": email})
        )
        ours = evaluate(catalog(), "banner-color", {"targetingKey": "u", "email": email}, "x")
        assert (ours.value, ours.variant, ours.reason) == (
            direct.value,
            direct.variant,
            direct.reason.value,
        )


# --- progressive rollouts ------------------------------------------------------------------


def served_on(document: FlagDocument, key: str = "new-checkout") -> set[str]:
    return {user for user in USERS if evaluate(document, key, {"targetingKey": user}, False).value}


def test_a_rollout_serves_about_its_percentage_of_targeting_keys() -> None:
    document = set_rollout_percentage(catalog(), "new-checkout", 20, "on", "off")
    assert document.flags["new-checkout"].targeting == {"fractional": [["on", 20], ["off", 80]]}
    share = len(served_on(document)) / len(USERS)
    assert share == pytest.approx(0.20, abs=0.04)  # 1000 keys: sd of the share is 0.013
    result = evaluate(document, "new-checkout", {"targetingKey": "user-1"}, False)
    assert result.reason == "TARGETING_MATCH"


def test_bucketing_is_deterministic_so_a_user_in_at_10_stays_in_at_20_and_50() -> None:
    served = {
        percentage: served_on(
            set_rollout_percentage(catalog(), "new-checkout", percentage, "on", "off")
        )
        for percentage in (0, 10, 12.5, 20, 50, 100)
    }
    assert served[0] == set()
    assert served[10] <= served[12.5] <= served[20] <= served[50] <= served[100] == set(USERS)
    assert 0 < len(served[10]) < len(served[20]) < len(served[50])
    # the same document evaluated again answers the same users
    again = set_rollout_percentage(catalog(), "new-checkout", 10, "on", "off")
    assert served_on(again) == served[10]


def test_raising_a_rollout_rewrites_the_rule_in_place() -> None:
    first = set_rollout_percentage(catalog(), "new-checkout", 10, "on", "off")
    second = set_rollout_percentage(first, "new-checkout", 0.25, "on", "off")
    assert second.flags["new-checkout"].targeting == {"fractional": [["on", 25], ["off", 9975]]}
    assert rollout_percentage(second, "new-checkout", "on") == 0.25
    assert rollout_percentage(catalog(), "new-checkout", "on") is None
    (change,) = diff(first, second)
    assert change.field == "targeting"


def test_a_rollout_keeps_the_other_targeting_conditions_and_fills_the_fall_through() -> None:
    internal = {"ends_with": [{"var": "email"}, "@acme.com"]}
    data = {"flags": {"f": boolean_flag(targeting={"if": [internal, "on", None]})}}
    document = set_rollout_percentage(data, "f", 10, "on", "off")
    assert document.flags["f"].targeting == {
        "if": [internal, "on", {"fractional": [["on", 10], ["off", 90]]}]
    }
    employee = evaluate(document, "f", {"targetingKey": "user-3", "email": "x@acme.com"}, False)
    assert employee.value is True
    outsiders = served_on(document, "f")
    assert 0 < len(outsiders) < 200
    assert rollout_percentage(document, "f", "on") == 10.0


def test_a_rollout_from_a_nested_if_chain_replaces_an_off_fall_through() -> None:
    data = {
        "flags": {
            "f": boolean_flag(
                targeting={
                    "if": [
                        {"==": [{"var": "plan"}, "free"]},
                        "off",
                        {"if": [{"==": [{"var": "beta"}, True]}, "on", "off"]},
                    ]
                }
            )
        }
    }
    document = set_rollout_percentage(data, "f", 30, "on", "off")
    inner = document.flags["f"].targeting["if"][2]
    assert inner["if"][2] == {"fractional": [["on", 30], ["off", 70]]}
    assert evaluate(document, "f", {"targetingKey": "u", "plan": "free"}, True).value is False


@pytest.mark.parametrize(
    ("targeting", "message"),
    [
        ({"fractional": [["on", 50], ["off", 25], ["other", 25]]}, "already splits traffic"),
        ({"if": [True, "on", "other"]}, 'already sends everybody else to "other"'),
        ({"if": [True, "on", {"var": "plan"}]}, 'already sends everybody else to {"var": "plan"}'),
    ],
)
def test_a_rollout_does_not_overwrite_targeting_it_does_not_own(
    targeting: dict[str, Any], message: str
) -> None:
    flag = boolean_flag(variants={"on": True, "off": False, "other": False}, targeting=targeting)
    with pytest.raises(ValidationError, match=message):
        set_rollout_percentage({"flags": {"f": flag}}, "f", 10, "on", "off")


def test_a_rollout_does_not_guess_where_to_go_in_other_expressions() -> None:
    flag = boolean_flag(
        variants={"true": True, "false": False},
        defaultVariant="false",
        targeting={"!": [{"var": "beta"}]},
    )
    with pytest.raises(ValidationError, match="neither an if-chain nor a rollout"):
        set_rollout_percentage({"flags": {"f": flag}}, "f", 10, "true", "false")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("missing", 10, "on", "off"), "no flag 'missing'"),
        (("new-checkout", 10, "on", "maybe"), "rollout variant 'maybe' is not a variant"),
        (("new-checkout", 10, "on", "on"), "must differ"),
        (("new-checkout", 101, "on", "off"), r"must be in \[0, 100\]"),
        (("new-checkout", -1, "on", "off"), r"must be in \[0, 100\]"),
        (("new-checkout", 12.345, "on", "off"), "at most two decimals"),
        (("new-checkout", True, "on", "off"), "must be a number"),
    ],
)
def test_a_bad_rollout_request_is_refused(arguments: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        set_rollout_percentage(catalog(), *arguments)


def test_a_rollout_leaves_the_input_document_unchanged() -> None:
    document = validate_document(catalog())
    set_rollout_percentage(document, "new-checkout", 40, "on", "off")
    assert document.flags["new-checkout"].targeting is None


def test_module_examples_run() -> None:
    assert doctest.testmod(module).failed == 0
