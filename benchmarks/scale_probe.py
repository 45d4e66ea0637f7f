"""The flow the scale set-up runs: it takes its tenant's slot, works a moment, and writes
when it started and ended, so the run can be checked for exactly-once and for per-tenant
concurrency afterwards (``benchmarks/scale.py``)."""

from __future__ import annotations

import json
import os
import time

from prefect import flow
from prefect.runtime import flow_run

from tasks.fairness import fair_share, tenant_of


def _append(path: str, record: dict[str, object]) -> None:
    # One write of one line with O_APPEND: lines from concurrent runs never interleave.
    line = (json.dumps(record) + "\n").encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line)
    finally:
        os.close(descriptor)


@flow(name="scale-probe")
@fair_share
def scale_probe(index: int, log: str, work_seconds: float = 1.0) -> int:
    """Record the start and end of run ``index`` in ``log`` around ``work_seconds`` of work."""
    tenant = tenant_of(list(flow_run.tags or []))
    _append(log, {"index": index, "tenant": tenant, "at": time.time(), "edge": "start"})
    time.sleep(work_seconds)
    _append(log, {"index": index, "tenant": tenant, "at": time.time(), "edge": "end"})
    return index
