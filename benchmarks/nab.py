"""The anomaly detector on the Numenta Anomaly Benchmark and on the generator's labels.

NAB: runs ``productpilot.analytics.anomalies.detect`` (the daily flow's detector, default
configuration, seasons found from the timestamps) over all 58 series, tunes one threshold
per profile across the corpus (NAB's rule) and prints one JSON object per profile with the
score and the published scoreboard's neighbours.

Generator: daily metrics built from ``generate(config).events()`` (error rate, p95 latency,
sessions, signups, feature uses, DAU), the detector with a weekly season and its default
threshold, scored against the injected anomalies: precision over flagged days, recall over
anomalies, and the delay from an anomaly's first day to its first flag. One JSON line.

Usage:
    python benchmarks/nab.py [--data ../shared/data/nab] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from productpilot.analytics import nab  # noqa: E402
from productpilot.analytics.anomalies import detect  # noqa: E402
from productpilot.synthetic import SyntheticConfig, generate  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "nab"
TARGET_STANDARD = 60.0
PRESET = "large"  # ~1M events over 180 days: daily rates are not drowned in count noise

# Which daily metrics can show each kind of injected anomaly.
METRICS_BY_KIND = {
    "error_rate_spike": ("error_rate",),
    "latency_regression": ("latency_p95_ms",),
    "traffic_drop": ("sessions", "dau"),
    "signup_spike": ("signups",),
    "feature_adoption_drop": ("feature_uses",),
}


def nab_results(data: Path) -> list[dict[str, Any]]:
    """Detect on every NAB series, then the best corpus-wide threshold per profile."""
    windows = nab.load_windows(data / "labels" / "combined_windows.json")
    profiles = nab.load_profiles(data / "config" / "profiles.json")
    board = json.loads((data / "results" / "final_results.json").read_text())
    started = time.perf_counter()
    files = []
    for name, limits in sorted(windows.items()):
        frame = pd.read_csv(data / "data" / name)
        stamps = pd.to_datetime(frame["timestamp"])
        result = detect(stamps, frame["value"].to_numpy(dtype=float))
        files.append((nab.file_layout(stamps, limits), result.score))
    seconds = time.perf_counter() - started
    results = []
    for profile in profiles.values():
        threshold, score = nab.sweep(files, profile).best()
        results.append(
            {
                "benchmark": "nab",
                "profile": profile.name,
                "threshold": round(threshold, 6),
                "score": round(score, 2),
                **neighbours(board, profile.name, score),
                "files": len(files),
                "detect_seconds": round(seconds, 2),
            }
        )
    return results


def neighbours(board: dict[str, dict[str, float]], profile: str, score: float) -> dict[str, Any]:
    """Where ``score`` sits on the published board: rank, and the detectors just above/below."""
    ranked = sorted(((scores[profile], name) for name, scores in board.items()), reverse=True)
    above = [(s, name) for s, name in ranked if s > score]
    below = [(s, name) for s, name in ranked if s <= score]
    return {
        "rank": f"{len(above) + 1} of {len(ranked) + 1}",
        "above": {"detector": above[-1][1], "score": round(above[-1][0], 2)} if above else None,
        "below": {"detector": below[0][1], "score": round(below[0][0], 2)} if below else None,
    }


def daily_metrics(events: pd.DataFrame) -> pd.DataFrame:
    """One row per UTC day: error rate, p95 latency, sessions, signups, feature uses, DAU."""
    day = events["timestamp"].dt.floor("D")
    api = events[events["event"] == "api_request"]
    api_day = day[api.index]
    metrics = pd.DataFrame(
        {
            "error_rate": api["error"].astype(float).groupby(api_day).mean(),
            "latency_p95_ms": api["latency_ms"].groupby(api_day).quantile(0.95),
            "sessions": (events["event"] == "session_start").groupby(day).sum(),
            "signups": (events["event"] == "signup").groupby(day).sum(),
            "feature_uses": (events["event"] == "feature_used").groupby(day).sum(),
            "dau": events["distinct_id"].groupby(day).nunique(),
        }
    )
    return metrics.astype(float)


def events_frame(config: SyntheticConfig) -> pd.DataFrame:
    """The generator's events as columns (only what the daily metrics need)."""
    rows = [
        (
            event["timestamp"],
            event["event"],
            event["distinct_id"],
            event["properties"].get("latency_ms", np.nan),
            event["properties"].get("error", False),
        )
        for event in generate(config).events()
    ]
    frame = pd.DataFrame(rows, columns=["timestamp", "event", "distinct_id", "latency_ms", "error"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def label_days(label: dict[str, Any]) -> pd.DatetimeIndex:
    """The UTC days an anomaly touches (``end`` is exclusive)."""
    start = pd.Timestamp(label["start"]).floor("D")
    last = (pd.Timestamp(label["end"]) - pd.Timedelta(microseconds=1)).floor("D")
    return pd.date_range(start, last, freq="D")


def generator_result(seeds: list[int]) -> dict[str, Any]:
    """Precision, recall and detection delay on the generator's labelled anomalies."""
    flagged = hits = detected = total = 0
    delays: list[float] = []
    by_kind: dict[str, list[int]] = {kind: [0, 0] for kind in METRICS_BY_KIND}
    for seed in seeds:
        config = SyntheticConfig.preset(PRESET, seed=seed)
        metrics = daily_metrics(events_frame(config))
        flags = {
            name: set(metrics.index[detect(metrics.index, series.to_numpy(), season=7).is_anomaly])
            for name, series in metrics.items()
        }
        labels = generate(config).anomalies()
        explained: set[tuple[str, pd.Timestamp]] = set()
        for label in labels:
            days = set(label_days(label))
            found = sorted(
                day for name in METRICS_BY_KIND[label["kind"]] for day in flags[name] & days
            )
            explained |= {(name, day) for name in METRICS_BY_KIND[label["kind"]] for day in found}
            by_kind[label["kind"]][1] += 1
            if found:
                by_kind[label["kind"]][0] += 1
                detected += 1
                delays.append((found[0] - min(days)).days)
        total += len(labels)
        flagged += sum(len(days) for days in flags.values())
        hits += sum(1 for name, days in flags.items() for day in days if (name, day) in explained)
    return {
        "benchmark": "generator",
        "seeds": seeds,
        "preset": PRESET,
        "anomalies": total,
        "flagged_days": flagged,
        "precision": round(hits / flagged, 3) if flagged else None,
        "recall": round(detected / total, 3) if total else None,
        "mean_delay_days": round(float(np.mean(delays)), 2) if delays else None,
        "recall_by_kind": {kind: f"{found}/{count}" for kind, (found, count) in by_kind.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="NAB folder")
    parser.add_argument("--seeds", default="0,1,2", help="generator seeds, comma-separated")
    args = parser.parse_args()
    if args.data.is_dir():
        for result in nab_results(args.data):
            if result["profile"] == "standard":
                result["target"] = TARGET_STANDARD
            print(json.dumps(result))
    else:
        print(json.dumps({"benchmark": "nab", "skipped": f"no NAB data at {args.data}"}))
    print(json.dumps(generator_result([int(seed) for seed in args.seeds.split(",")])))


if __name__ == "__main__":
    main()
