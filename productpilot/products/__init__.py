"""Products and their configuration."""

from productpilot.products.configuration import ProductConfiguration
from productpilot.products.service import (
    create_product,
    current_configuration,
    get_product,
    list_products,
    locate_product,
    update_configuration,
)

__all__ = [
    "ProductConfiguration",
    "create_product",
    "current_configuration",
    "get_product",
    "list_products",
    "locate_product",
    "update_configuration",
]
