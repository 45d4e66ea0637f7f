"""What the httpx-based hooks (Figma, Linear, Teams) share: one request, with httpx's
transport failures turned into the vendor-neutral error every retry policy understands.

What a vendor *answers* differs (GraphQL errors in a 200, Teams' errors inside a 200, Figma's
JSON), so each hook reads the response itself; only not getting one is the same everywhere.

Example:
    >>> import httpx
    >>> def refused() -> httpx.Response:
    ...     raise httpx.ConnectError("connection refused")
    >>> send("figma", "GET /v1/me", 5, refused)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    productpilot.vendors.TransientVendorError: figma: GET /v1/me: could not reach figma: ...
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from productpilot.vendors import TransientVendorError


def send(
    vendor: str,
    what: str,
    timeout: float,
    request: Callable[[], httpx.Response],
    *,
    target: str | None = None,
) -> httpx.Response:
    """``request()``'s response; a timeout or a connection failure as a
    :class:`~productpilot.vendors.TransientVendorError`.

    Args:
        vendor: The vendor, for the error.
        what: The call, for the error (``"GET /v1/files/abc"``, a GraphQL operation name).
        timeout: The client's timeout, quoted when it ran out.
        request: Makes the request.
        target: What could not be reached (default: the vendor).
    """
    try:
        return request()
    except httpx.TimeoutException:
        raise TransientVendorError(vendor, f"{what}: no answer within {timeout:g}s") from None
    except httpx.TransportError as error:
        raise TransientVendorError(
            vendor, f"{what}: could not reach {target or vendor}: {type(error).__name__}: {error}"
        ) from None
