"""The daily analysis fanned out over a Dask cluster (``pip install 'productpilot[dask]'``).

``daily_analysis_on_dask`` is the ``daily-analysis`` flow with its KPI stage cut into shards
of products (``shard_size``) whose task runs go to a Dask cluster: the one at
``PRODUCTPILOT_DASK_ADDRESS`` (``tcp://scheduler:8786``), else a local cluster of worker
processes started for the run. Worker processes need this package and the store's settings
(``PRODUCTPILOT_DATABASE_URL``) like any flow run; they report their task runs to the run's
Prefect API.

Deploy it next to the default one when a day's products outgrow one process, e.g.:

    prefect deploy flows/fanout.py:daily_analysis_on_dask -n daily-analysis-dask -p productpilot
"""

from __future__ import annotations

import os

from prefect_dask import DaskTaskRunner

from flows.analytics import daily_analysis_flow

#: Worker processes of the local cluster (one thread each: the KPI stage is CPU-bound).
LOCAL_WORKERS = int(os.environ.get("PRODUCTPILOT_DASK_WORKERS", "2"))


def dask_task_runner(address: str | None = None, workers: int = LOCAL_WORKERS) -> DaskTaskRunner:
    """The cluster at ``address``, else a local cluster of ``workers`` processes.

    Example:
        >>> runner = dask_task_runner(workers=2)
        >>> runner.cluster_kwargs["n_workers"]
        2
    """
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        }
    )


daily_analysis_on_dask = daily_analysis_flow.with_options(
    name="daily-analysis-dask",
    task_runner=dask_task_runner(os.environ.get("PRODUCTPILOT_DASK_ADDRESS")),
)
