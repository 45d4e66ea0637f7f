"""Specification of SyntheticDataset: determinism, streaming and the files it writes."""

from __future__ import annotations

import hashlib
import inspect
import os
import subprocess
import sys
import tracemalloc
from collections import Counter
from pathlib import Path

import orjson
import pytest

from productpilot.synthetic import EVENT_NAMES, SyntheticConfig, SyntheticDataset, generate

FILES = ("events.jsonl", "backlog.json", "anomalies.json")


def _bytes(directory: Path) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in (*FILES, "manifest.json")}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[SyntheticDataset, Path]:
    dataset = generate(SyntheticConfig.preset("tiny", seed=7))
    directory = tmp_path_factory.mktemp("tiny")
    dataset.write(directory)
    return dataset, directory


def test_generate_returns_a_dataset_for_the_config() -> None:
    config = SyntheticConfig.preset("tiny")
    dataset = generate(config)
    assert isinstance(dataset, SyntheticDataset)
    assert dataset.config is config
    assert generate().config == SyntheticConfig()


def test_same_config_writes_byte_identical_files(
    written: tuple[SyntheticDataset, Path], tmp_path: Path
) -> None:
    _, first = written
    generate(SyntheticConfig.preset("tiny", seed=7)).write(tmp_path)
    assert _bytes(tmp_path) == _bytes(first)


def test_another_process_with_another_hash_seed_writes_the_same_bytes(
    written: tuple[SyntheticDataset, Path], tmp_path: Path
) -> None:
    # Guards against set/dict ordering or hash() leaking into the output.
    script = (
        "import sys; from productpilot.synthetic import SyntheticConfig, generate; "
        "generate(SyntheticConfig.preset('tiny', seed=7)).write(sys.argv[1])"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, env=env)
    assert _bytes(tmp_path) == _bytes(written[1])


def test_a_different_seed_gives_different_data(
    written: tuple[SyntheticDataset, Path], tmp_path: Path
) -> None:
    _, first = written
    generate(SyntheticConfig.preset("tiny", seed=8)).write(tmp_path)
    other = _bytes(tmp_path)
    for name in FILES:
        assert other[name] != _bytes(first)[name], name
    # Not just shifted: the user ids and event ids are new too.
    ids = {line["distinct_id"] for line in map(orjson.loads, other["events.jsonl"].splitlines())}
    old = {
        line["distinct_id"]
        for line in map(orjson.loads, _bytes(first)["events.jsonl"].splitlines())
    }
    assert not ids & old


def test_iterating_twice_yields_identical_events() -> None:
    dataset = generate(SyntheticConfig.preset("tiny", seed=3))
    assert list(dataset.events()) == list(dataset.events())


def test_write_returns_the_paths_of_all_files(
    written: tuple[SyntheticDataset, Path], tmp_path: Path
) -> None:
    paths = generate(SyntheticConfig.preset("tiny")).write(tmp_path / "nested" / "out")
    assert set(paths) == {"events", "backlog", "anomalies", "manifest"}
    assert {path.name for path in paths.values()} == {*FILES, "manifest.json"}
    assert all(path.is_file() for path in paths.values())


def test_events_file_has_one_event_per_line_matching_events(
    written: tuple[SyntheticDataset, Path],
) -> None:
    dataset, directory = written
    lines = (directory / "events.jsonl").read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines] == list(dataset.events())


def test_json_files_round_trip_backlog_and_anomalies(
    written: tuple[SyntheticDataset, Path],
) -> None:
    dataset, directory = written
    assert orjson.loads((directory / "backlog.json").read_bytes()) == dataset.backlog()
    assert orjson.loads((directory / "anomalies.json").read_bytes()) == dataset.anomalies()


def test_manifest_counts_events_per_name_and_fingerprints_files(
    written: tuple[SyntheticDataset, Path],
) -> None:
    dataset, directory = written
    manifest = orjson.loads((directory / "manifest.json").read_bytes())
    lines = (directory / "events.jsonl").read_bytes().splitlines()
    counted = Counter(orjson.loads(line)["event"] for line in lines)
    assert manifest["config"] == dataset.config.to_dict()
    assert manifest["event_counts"] == {name: counted[name] for name in EVENT_NAMES}
    assert manifest["event_counts"] == dataset.event_counts()
    assert manifest["events"] == len(lines)
    assert manifest["users"] == dataset.user_count == counted["signup"]
    assert manifest["anomalies"] == len(dataset.anomalies())
    assert [f["name"] for f in manifest["features"]] == list(dataset.config.features)
    for name in FILES:
        data = (directory / name).read_bytes()
        assert manifest["files"][name] == {
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }


def test_events_is_a_lazy_generator() -> None:
    # A ten-year config: materialising it would take minutes, the first event milliseconds.
    dataset = generate(SyntheticConfig(users=200_000, days=3650, anomalies=0))
    events = dataset.events()
    assert inspect.isgenerator(events)
    first = next(events)
    assert first["timestamp"].startswith("2026-08-01T")


def test_streaming_memory_stays_flat_as_the_dataset_grows() -> None:
    def peak_while_streaming(days: int) -> int:
        dataset = generate(SyntheticConfig(seed=1, users=20 * days, days=days, anomalies=0))
        tracemalloc.start()
        try:
            total = sum(1 for _ in dataset.events())
            return tracemalloc.get_traced_memory()[1] // max(total, 1)
        finally:
            tracemalloc.stop()

    # Peak bytes per event falls as the period grows: memory tracks one day, not the total.
    assert peak_while_streaming(120) < 0.6 * peak_while_streaming(30)


def test_event_streams_do_not_depend_on_the_backlog_size() -> None:
    # Each part has its own random stream, so changing the backlog leaves events unchanged.
    small = generate(SyntheticConfig.preset("tiny", backlog_items=5))
    large = generate(SyntheticConfig.preset("tiny", backlog_items=50))
    assert list(small.events()) == list(large.events())
    assert len(small.backlog()) == 5
    assert len(large.backlog()) == 50
