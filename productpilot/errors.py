"""Errors a user can cause and fix. Interfaces turn them into one-line messages (CLI) or
problem+json (API); anything else is a bug and keeps its traceback."""


class ProductPilotError(Exception):
    """Base for errors caused by input or state the user controls."""


class NotFoundError(ProductPilotError):
    """The thing asked for does not exist, or belongs to another tenant."""


class ConflictError(ProductPilotError):
    """The request clashes with existing state (a duplicate name, a stale version)."""


class ValidationError(ProductPilotError):
    """The input is malformed."""


class TenantScopeError(ProductPilotError):
    """Tenant-owned data was touched outside a tenant scope, or across tenants."""


class ConfigurationError(ProductPilotError):
    """A setting (environment variable or .env entry) is invalid."""


class UnavailableError(ProductPilotError):
    """A service ProductPilot depends on (Prefect, a vendor) cannot be reached right now."""

    retry_after_seconds = 30
