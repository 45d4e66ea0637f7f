"""The planner's CP-SAT model on PSPLIB RCPSP instances (single mode, makespan).

Parses each ``.sm`` file with ``productpilot.planning.psplib``, solves it with
``productpilot.planning.scheduling.solve`` (the same model the planner uses for backlogs)
and compares the makespan with ``optimum/optimum.csv``: the optimum, or for open
instances ``lb..ub`` / ``..ub`` the best-known makespan ``ub``. One JSON line per set:
instances, solved, proven optimal, at the known optimum (or best-known ``ub``), mean/max
seconds, mean gap to the reference and to the solver's own bound. ``--verbose`` adds one
line per instance. j30's target: all 480 at the optimum within 10 s each.

Usage:
    python benchmarks/scheduling.py [--data ../shared/data/psplib] [--sets j30,j60]
        [--sample 60] [--only j3013_2,j6013_1] [--time-limit 10] [--workers 2] [--verbose]

``--only`` runs just the named instances (with or without ``.sm``) of the chosen sets,
for quick checks on the hard ones; the set totals then cover those instances only.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from productpilot.planning.psplib import KnownBound, load_sm, read_optimum  # noqa: E402
from productpilot.planning.scheduling import solve  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "psplib"
TARGET_AT_OPTIMUM = {"j30": 480}


def instance_files(folder: Path) -> list[Path]:
    """``.sm`` files in PSPLIB order (parameter set, then instance number)."""

    def key(path: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path.stem))

    return sorted(folder.glob("*.sm"), key=key)


def evenly_spaced(files: list[Path], sample: int | None) -> list[Path]:
    """``sample`` files at even steps through the list (all of them without a sample)."""
    if not sample or sample >= len(files):
        return files
    return [files[k * len(files) // sample] for k in range(sample)]


def run_instance(
    path: Path, known: KnownBound | None, time_limit: float, workers: int
) -> dict[str, Any]:
    schedule = solve(load_sm(path), time_limit=time_limit, num_workers=workers)
    reference = known.upper if known else None
    return {
        "instance": path.name,
        "makespan": schedule.makespan,
        "status": schedule.status,
        "bound": schedule.best_bound,
        "reference": reference,
        "reference_is_optimum": known.is_optimal if known else None,
        "at_reference": reference is not None and schedule.makespan <= reference,
        "gap_to_reference": ((schedule.makespan - reference) / reference if reference else None),
        "gap_to_bound": (schedule.makespan - schedule.best_bound) / schedule.makespan,
        "heuristic_makespan": schedule.heuristic_makespan,
        "lower_bound": schedule.lower_bound,
        "seconds": round(schedule.solve_seconds, 3),
    }


def chosen(files: list[Path], only: set[str] | None) -> list[Path]:
    """The files named in ``only`` (stems), all of them without it."""
    return files if only is None else [path for path in files if path.stem in only]


def run_set(
    folder: Path,
    name: str,
    sample: int | None,
    time_limit: float,
    workers: int,
    verbose: bool,
    only: set[str] | None = None,
) -> dict[str, Any]:
    known = read_optimum(folder / "optimum" / "optimum.csv")
    rows = []
    files = instance_files(folder)
    for path in chosen(files, only) if only else evenly_spaced(files, sample):
        row = run_instance(path, known.get(path.name), time_limit, workers)
        rows.append(row)
        if verbose:
            print(json.dumps({"benchmark": "psplib", "set": name, **row}), flush=True)
    seconds = [row["seconds"] for row in rows]
    to_reference = [row["gap_to_reference"] for row in rows if row["gap_to_reference"] is not None]
    result: dict[str, Any] = {
        "benchmark": "psplib",
        "set": name,
        "instances": len(rows),
        "time_limit": time_limit,
        "workers": workers,
        "solved": len(rows),
        "optimal": sum(row["status"] == "OPTIMAL" for row in rows),
        "at_known_optimum": sum(row["at_reference"] for row in rows),
        "mean_seconds": round(statistics.fmean(seconds), 3) if rows else None,
        "max_seconds": round(max(seconds), 3) if rows else None,
        "mean_gap_to_known_pct": (
            round(100 * statistics.fmean(to_reference), 3) if to_reference else None
        ),
        "mean_gap_to_bound_pct": (
            round(100 * statistics.fmean(row["gap_to_bound"] for row in rows), 3) if rows else None
        ),
        "missed": [row["instance"] for row in rows if not row["at_reference"]],
    }
    if name in TARGET_AT_OPTIMUM and not sample and not only:
        result["target_at_known_optimum"] = TARGET_AT_OPTIMUM[name]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="PSPLIB folder")
    parser.add_argument("--sets", default="j30,j60", help="instance sets, comma-separated")
    parser.add_argument(
        "--sample",
        type=int,
        default=None,
        help="evenly spaced instances per set (default: all of j30, 60 of the larger sets)",
    )
    parser.add_argument(
        "--only",
        default=None,
        help="only these instances, comma-separated (e.g. j3013_2,j6013_1); ignores --sample",
    )
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per instance")
    parser.add_argument("--workers", type=int, default=2, help="CP-SAT workers")
    parser.add_argument("--verbose", action="store_true", help="one line per instance too")
    args = parser.parse_args()
    only = {n.strip().removesuffix(".sm") for n in args.only.split(",")} if args.only else None
    for name in args.sets.split(","):
        folder = args.data / f"{name}.sm"
        if not folder.is_dir():
            print(json.dumps({"benchmark": "psplib", "set": name, "skipped": f"no {folder}"}))
            continue
        sample = args.sample if args.sample is not None else (None if name == "j30" else 60)
        if only is not None and not chosen(instance_files(folder), only):
            continue  # none of the named instances is in this set
        result = run_set(folder, name, sample, args.time_limit, args.workers, args.verbose, only)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
