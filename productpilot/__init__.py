"""ProductPilot: product management automation for technical teams, built on Prefect 3.

This package is the pure core: settings, the store, and the domain logic that flows,
the API and the CLI share. It imports no Prefect (see docs/architecture.md).
"""

__version__ = "0.1.0"
