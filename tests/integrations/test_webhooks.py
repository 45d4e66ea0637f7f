"""The vendor-neutral webhook helpers: signatures, safe parsing, delivery ids, event names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.webhooks import (
    MAX_DELIVERY_ID_LENGTH,
    MAX_KIND_LENGTH,
    MAX_PAYLOAD_DEPTH,
    VENDORS,
    PayloadError,
    SignatureError,
    WebhookRequest,
    delivery_key,
    event_name,
    hmac_sha256_hex,
    normalise_delivery,
    parse_json_object,
    receiver_for,
    require_hmac_sha256,
    stored_kind,
)

NOW = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)


def test_hmac_matches_githubs_documented_test_vector() -> None:
    # https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
    assert (
        hmac_sha256_hex("It's a Secret to Everybody", b"Hello, World!")
        == "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_a_matching_signature_passes_in_either_hex_case() -> None:
    signature = hmac_sha256_hex("s3cret", b"{}")
    require_hmac_sha256("s3cret", b"{}", f"sha256={signature}", prefix="sha256=")
    require_hmac_sha256("s3cret", b"{}", f"sha256={signature.upper()}", prefix="sha256=")


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=",
        "sha1=" + hmac_sha256_hex("s3cret", b"{}"),
        "sha256=" + hmac_sha256_hex("other", b"{}"),
        "sha256=" + hmac_sha256_hex("s3cret", b"{ }"),
        "sha256=zz\u00e9\u2603",
    ],
    ids=["missing", "empty", "no-digest", "wrong-scheme", "other-secret", "other-body", "junk"],
)
def test_any_other_signature_is_refused(signature: str | None) -> None:
    with pytest.raises(SignatureError):
        require_hmac_sha256("s3cret", b"{}", signature, prefix="sha256=")


def test_request_header_names_are_case_insensitive() -> None:
    request = WebhookRequest.build([("X-GitHub-Event", "push")], b"{}", NOW)
    assert request.header("x-github-event") == request.header("X-GITHUB-EVENT") == "push"
    assert request.header("x-missing") is None


def test_a_body_must_be_a_json_object() -> None:
    assert parse_json_object(b'{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}
    for body in (b"", b"[1]", b'"x"', b"payload=%7B%7D", b'{"a": NaN}', b"\xff\xfe", b"{"):
        with pytest.raises(PayloadError):
            parse_json_object(body)


def test_a_body_nested_too_deeply_is_refused_but_a_deep_one_is_read() -> None:
    def nested(depth: int) -> bytes:
        return b'{"a":' * depth + b"1" + b"}" * depth

    assert parse_json_object(nested(MAX_PAYLOAD_DEPTH))
    with pytest.raises(PayloadError, match="nested"):
        parse_json_object(nested(MAX_PAYLOAD_DEPTH + 1))


def test_nul_characters_are_replaced_so_any_database_can_store_the_payload() -> None:
    payload = parse_json_object(b'{"k\\u0000": ["a\\u0000b", {"c": "\\u0000"}]}')
    assert payload == {"k\ufffd": ["a\ufffdb", {"c": "\ufffd"}]}


def test_the_vendors_delivery_id_is_kept_and_a_missing_one_is_the_body_digest() -> None:
    assert delivery_key("72d3162e", b"{}") == "72d3162e"
    assert delivery_key(None, b"{}") == delivery_key("  ", b"{}")
    assert delivery_key(None, b"{}").startswith("sha256:")
    assert delivery_key(None, b"{}") != delivery_key(None, b"{ }")


def test_an_overlong_delivery_id_is_hashed_to_fit_its_column_stably() -> None:
    long_id = "x" * 500
    assert len(delivery_key(long_id, b"{}")) <= MAX_DELIVERY_ID_LENGTH
    assert delivery_key(long_id, b"{}") == delivery_key(long_id, b"other body")


def test_a_kind_is_a_string_that_fits_its_column() -> None:
    assert stored_kind("pull_request") == "pull_request"
    assert stored_kind(None) == stored_kind(3) == stored_kind(" ") == "unknown"
    assert len(stored_kind("k" * 500)) == MAX_KIND_LENGTH


@pytest.mark.parametrize(
    ("parts", "name"),
    [
        (("github", "pull_request", "opened"), "productpilot.github.pull_request.opened"),
        (("github", "push", None), "productpilot.github.push"),
        (("linear", "IssueLabel", "create"), "productpilot.linear.issue_label.create"),
        (("figma", "FILE_VERSION_UPDATE"), "productpilot.figma.file_version_update"),
        (("github", "issues", "a.b c/*"), "productpilot.github.issues.a_b_c"),
        (("github", "issues", "!!!"), "productpilot.github.issues"),
    ],
)
def test_event_names_are_dotted_snake_case(parts: tuple, name: str) -> None:
    assert event_name(*parts) == name


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_vendor_has_a_receiver(vendor: str) -> None:
    assert receiver_for(vendor).vendor == vendor


def test_an_unknown_vendor_has_no_receiver() -> None:
    with pytest.raises(KeyError):
        receiver_for("gitlab")


def test_normalise_delivery_dispatches_to_the_vendor() -> None:
    event = normalise_delivery("jira", "jira:issue_created", {"issue": {"key": "AB-1"}})
    assert event is not None
    assert (event.name, event.payload["issue_key"]) == ("productpilot.jira.issue.created", "AB-1")
