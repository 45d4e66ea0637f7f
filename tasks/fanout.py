"""Fan-out over products: one task run per shard of products, on the flow's task runner.

Tasks are coarse (a stage over a batch), so fan-out is over products, never over rows. A
shard is a batch big enough that its task run's cost (a few milliseconds) is nothing next to
its work, and small enough that the shards keep every worker of the task runner busy. With
Prefect's default thread pool, shards overlap their database waits; on a Dask cluster
(``prefect-dask``, see ``flows/fanout.py``) they run in parallel processes or machines.
"""

from __future__ import annotations

from collections.abc import Sequence

from prefect import task

from tasks.store import products_in_scope, task_store


def shards(product_ids: Sequence[int], size: int) -> list[list[int]]:
    """``product_ids`` in consecutive shards of at most ``size``.

    Example:
        >>> shards([1, 2, 3, 4, 5], 2)
        [[1, 2], [3, 4], [5]]

    Raises:
        ValueError: ``size`` below 1.
    """
    if size < 1:
        raise ValueError(f"a shard holds at least one product, not {size}")
    return [list(product_ids[i : i + size]) for i in range(0, len(product_ids), size)]


@task(name="list-products")
def product_ids_in_scope(product_ids: list[int] | None) -> list[int]:
    """The products a run works on, as ids: the given ones, or every product."""
    return [product.id for product in products_in_scope(task_store(), product_ids)]
