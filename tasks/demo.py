"""Tasks that set up the embedded demo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from prefect import task

from productpilot.demo import ensure_demo_product
from productpilot.planning.backlog import upsert_backlog
from productpilot.products import locate_product
from productpilot.synthetic import SyntheticConfig, generate
from tasks.store import task_store


@task(name="prepare-demo-product")
def prepare_demo_product() -> dict[str, Any]:
    """The demo tenant and product, created on first run."""
    demo = ensure_demo_product(task_store())
    return {"tenant_id": demo.tenant_id, "product_id": demo.product_id, "api_key": demo.api_key}


@task(name="generate-synthetic-data")
def generate_synthetic_data(preset: str, seed: int, directory: str) -> dict[str, str]:
    """Write the synthetic dataset (deterministic for a seed); returns file paths by name."""
    config = SyntheticConfig.preset(preset, seed=seed)
    paths = generate(config).write(Path(directory))
    return {name: str(path) for name, path in paths.items()}


@task(name="load-backlog")
def load_backlog(product_id: int, backlog_path: str) -> dict[str, int]:
    """Mirror the generated backlog (items and dependencies) into the store."""
    store = task_store()
    product = locate_product(store, product_id)
    items = orjson.loads(Path(backlog_path).read_bytes())
    with store.tenant_session(product.tenant_id) as session:
        sync = upsert_backlog(session, product, items, source="demo")
    return {"created": sync.created, "updated": sync.updated, "dependencies": sync.dependencies}
