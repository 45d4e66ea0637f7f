"""Event resources: a product's resource id, and back."""

from __future__ import annotations

import pytest

from productpilot.errors import ValidationError
from productpilot.eventbus import product_id_of, product_resource_id


def test_a_product_resource_id_names_the_product() -> None:
    assert product_resource_id(7) == "productpilot.product.7"
    assert product_id_of(product_resource_id(7)) == 7


def test_a_plain_id_is_accepted_too() -> None:
    assert product_id_of(7) == 7
    assert product_id_of("7") == 7


@pytest.mark.parametrize("bad", ["productpilot.product.", "prefect.flow-run.7", "seven", "-1"])
def test_anything_else_is_a_clear_error(bad: str) -> None:
    with pytest.raises(ValidationError, match="not a product id"):
        product_id_of(bad)
