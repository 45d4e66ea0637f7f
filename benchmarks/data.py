"""Benchmark input files, generated once and reused."""

from __future__ import annotations

from pathlib import Path

import orjson

from productpilot.synthetic import SyntheticConfig, generate


def synthetic_jsonl(path: Path, count: int, config: SyntheticConfig) -> Path:
    """Exactly ``count`` events of ``config`` as JSON Lines at ``path`` (reused if present).

    Written to a ``.partial`` file first, so an interrupted run never leaves a short file
    behind under the final name.
    """
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    written = 0
    with partial.open("wb") as out:
        for event in generate(config).events():
            out.write(orjson.dumps(event) + b"\n")
            written += 1
            if written == count:
                break
    if written < count:
        raise SystemExit(f"the generator made only {written} events, fewer than {count}")
    partial.rename(path)
    return path
