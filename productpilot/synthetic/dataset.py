"""The public entry point: a lazily generated dataset and its files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import orjson

from productpilot.synthetic.anomalies import Anomaly, plan_anomalies
from productpilot.synthetic.backlog import generate_backlog
from productpilot.synthetic.catalogue import EVENT_NAMES
from productpilot.synthetic.config import SyntheticConfig
from productpilot.synthetic.events import EventModel, simulate_day
from productpilot.synthetic.features import FeatureSpec, feature_specs
from productpilot.synthetic.population import build_population
from productpilot.synthetic.render import event_batches

FORMAT_VERSION: Final = 1
EVENTS_FILE: Final = "events.jsonl"
BACKLOG_FILE: Final = "backlog.json"
ANOMALIES_FILE: Final = "anomalies.json"
MANIFEST_FILE: Final = "manifest.json"
_JSON_OPTIONS: Final = orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
_LINE: Final = orjson.OPT_APPEND_NEWLINE


class SyntheticDataset:
    """A deterministic synthetic SaaS dataset: product events, backlog and anomaly labels.

    Building one draws the user population and the anomaly plan (O(users) memory); events are
    simulated only while you iterate, one day at a time, so memory stays flat however large
    the dataset. Use ``generate(config)`` to create one.

    Example:
        >>> dataset = generate(SyntheticConfig.preset("tiny"))
        >>> first = next(dataset.events())
        >>> sorted(first)
        ['distinct_id', 'event', 'properties', 'timestamp', 'uuid']
    """

    def __init__(self, config: SyntheticConfig) -> None:
        """Prepare the population and anomaly plan for ``config`` (no events yet)."""
        self._config = config
        self._features = feature_specs(config)
        self._planned = plan_anomalies(config, self._features)
        population = build_population(config, self._features, self._planned)
        self._model = EventModel.build(config, self._features, population, self._planned)

    @property
    def config(self) -> SyntheticConfig:
        """The config this dataset was generated from."""
        return self._config

    @property
    def features(self) -> tuple[FeatureSpec, ...]:
        """The features with their release moments and adoption-curve parameters."""
        return self._features

    @property
    def user_count(self) -> int:
        """Number of users who sign up during the period (including campaign spikes)."""
        return self._model.population.size

    @property
    def planned_anomalies(self) -> tuple[Anomaly, ...]:
        """The anomaly plan in generator units (the labels are ``anomalies()``)."""
        return self._planned

    def events(self) -> Iterator[dict[str, Any]]:
        """Yield every event in timestamp order, simulating one day at a time.

        Each event is ``{"uuid", "event", "distinct_id", "timestamp", "properties"}`` with a
        ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` timestamp. Iterating twice gives identical events.

        Example:
            >>> dataset = generate(SyntheticConfig.preset("tiny"))
            >>> sum(1 for e in dataset.events() if e["event"] == "signup") > 0
            True
        """
        for day in range(self._config.days):
            for batch in event_batches(self._model, day, simulate_day(self._model, day)):
                yield from batch

    def event_counts(self) -> dict[str, int]:
        """Events per event name, computed without building event dicts (fast)."""
        totals = [0] * len(EVENT_NAMES)
        for day in range(self._config.days):
            for kind, count in enumerate(simulate_day(self._model, day).counts().tolist()):
                totals[kind] += count
        return dict(zip(EVENT_NAMES, totals, strict=True))

    def backlog(self) -> list[dict[str, Any]]:
        """The backlog items, ordered by key (a fresh list on every call)."""
        return generate_backlog(self._config, self._features)

    def anomalies(self) -> list[dict[str, Any]]:
        """Labels of the injected anomalies, ordered by start (a fresh list on every call)."""
        return [anomaly.to_label(self._config.start) for anomaly in self._planned]

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Write the dataset's files into ``directory`` (created if missing).

        Files: ``events.jsonl`` (one JSON event per line), ``backlog.json``,
        ``anomalies.json`` and ``manifest.json`` (config, counts per event name, features,
        file sizes and SHA-256 digests). Events are streamed to disk day by day.

        Args:
            directory: Target directory; existing files of the same names are replaced.

        Returns:
            ``{"events": path, "backlog": path, "anomalies": path, "manifest": path}``.

        Example:
            >>> paths = generate(SyntheticConfig.preset("tiny")).write("/tmp/pp-synthetic")
            >>> paths["events"].name
            'events.jsonl'
        """
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        paths = {
            "events": target / EVENTS_FILE,
            "backlog": target / BACKLOG_FILE,
            "anomalies": target / ANOMALIES_FILE,
        }
        files: dict[str, dict[str, Any]] = {}
        totals = [0] * len(EVENT_NAMES)
        digest = hashlib.sha256()
        size = 0
        with paths["events"].open("wb") as handle:
            for day in range(self._config.days):
                frame = simulate_day(self._model, day)
                for kind, count in enumerate(frame.counts().tolist()):
                    totals[kind] += count
                for batch in event_batches(self._model, day, frame):
                    chunk = b"".join([orjson.dumps(event, option=_LINE) for event in batch])
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        files[EVENTS_FILE] = {"bytes": size, "sha256": digest.hexdigest()}
        for name, payload in (("backlog", self.backlog()), ("anomalies", self.anomalies())):
            data = orjson.dumps(payload, option=_JSON_OPTIONS)
            paths[name].write_bytes(data)
            files[paths[name].name] = {"bytes": len(data), "sha256": _sha256(data)}
        manifest = self._manifest(dict(zip(EVENT_NAMES, totals, strict=True)), files)
        paths["manifest"] = target / MANIFEST_FILE
        paths["manifest"].write_bytes(orjson.dumps(manifest, option=_JSON_OPTIONS))
        return paths

    def _manifest(self, counts: dict[str, int], files: dict[str, dict[str, Any]]) -> dict[str, Any]:
        config = self._config
        return {
            "generator": "productpilot.synthetic",
            "format_version": FORMAT_VERSION,
            "config": config.to_dict(),
            "period": {"start": config.start.isoformat(), "end": config.end.isoformat()},
            "users": self.user_count,
            "events": sum(counts.values()),
            "event_counts": counts,
            "backlog_items": config.backlog_size,
            "anomalies": len(self._planned),
            "features": [spec.to_dict(config.start) for spec in self._features],
            "files": files,
        }


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def generate(config: SyntheticConfig | None = None) -> SyntheticDataset:
    """Generate the dataset for ``config`` (default: ``SyntheticConfig()``).

    Cheap: it draws the population and the anomaly plan; events are simulated lazily by
    ``events()`` / ``write()``.

    Example:
        >>> dataset = generate(SyntheticConfig(seed=7, users=500, days=30, anomalies=0))
        >>> dataset.config.seed
        7
    """
    return SyntheticDataset(config if config is not None else SyntheticConfig())
