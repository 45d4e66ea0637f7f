"""Specification of the DORA metrics: a recorded history worked out by hand, and webhooks."""

from __future__ import annotations

import copy
import doctest
import json
from datetime import UTC, datetime, timedelta

import pytest

from productpilot.errors import ValidationError
from productpilot.quality import dora as module
from productpilot.quality.dora import (
    Change,
    Deployment,
    Incident,
    change_from_pull_request,
    changes_from_push,
    deployment_from_webhook,
    dora_metrics,
    frequency_band,
)
from tests.integrations.shared_data import GITHUB_WEBHOOKS, load, shared_dir

H = timedelta(hours=1)
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
END = START + timedelta(days=14)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """March ``day`` 2026, UTC."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def prod(
    id: str, sha: str, status: str, finished: datetime, shas: frozenset[str] = frozenset()
) -> Deployment:
    return Deployment(id, "production", sha, status, finished, shas)  # type: ignore[arg-type]


# The recorded history: two weeks, 2026-03-02 00:00 to 2026-03-16 00:00 UTC.
DEPLOYMENTS = [
    Deployment("D0", "production", "a0", "success", datetime(2026, 2, 27, 9, tzinfo=UTC)),
    prod("D1", "a1", "success", at(2, 10)),
    prod("D2", "a2", "success", at(3, 12)),
    prod("D3", "a3", "failure", at(4, 9)),
    prod("D4", "a3", "success", at(4, 11)),  # the retry that restored D3
    prod("D5", "a5", "success", at(6, 15)),
    prod("D6", "a6", "failure", at(9, 10)),
    prod("D7", "a7", "failure", at(9, 10, 30)),  # a second failed attempt: the same outage
    prod("D8", "a8", "success", at(9, 13), frozenset({"a6", "a7", "c5"})),
    prod("D9", "a9", "success", at(11, 9)),  # caused incident I1
    prod("D10", "a10", "success", at(13, 16)),
    Deployment("S1", "staging", "a10", "success", at(13, 12)),  # not production
    Deployment("P1", "production", "a11", "pending", None),  # not finished
]
CHANGES = [
    Change("C1", "a1", at(1, 10)),  # started before the window, shipped in it by D1
    Change("C2", "a2", at(3, 6)),
    Change("C3", "a3", at(2, 9)),  # D3 failed to ship it; D4 did
    Change("C4", "x4", at(5, 8), merged_at=at(5, 10)),  # listed nowhere: first deploy after
    Change("C5", "c5", at(5, 9), merged_at=at(5, 11)),  # listed by D8 (not by D5)
    Change("C6", "a9", at(10, 9)),
    Change("C7", "a10", at(13, 14)),
    Change("C8", "zz", at(15, 8), merged_at=at(15, 10)),  # not deployed yet
    Change("C9", "a0", datetime(2026, 2, 26, 9, tzinfo=UTC)),  # shipped before the window
]
INCIDENTS = [
    Incident("I0", datetime(2026, 2, 28, 8, tzinfo=UTC), datetime(2026, 2, 28, 9, tzinfo=UTC)),
    Incident("I1", at(11, 12), at(11, 13, 30), deployment_id="D9"),
    Incident("I2", at(14, 8), at(14, 8, 30)),
    Incident("I3", at(15, 9)),  # still open
]


def test_the_recorded_history_worked_by_hand() -> None:
    metrics = dora_metrics(DEPLOYMENTS, CHANGES, INCIDENTS, start=START, end=END)

    # Deployment frequency: successful production deployments in the window are D1, D2, D4,
    # D5, D8, D9, D10 = 7 (D0 is before it, S1 is staging, P1 unfinished). 7 / 14 days =
    # 0.5 a day = 3.5 a week: at least weekly, not daily -> high.
    assert (metrics.deployments, metrics.failed_deployments) == (7, 3)
    assert metrics.deployments_per_day == 0.5
    assert metrics.deployments_per_week == 3.5
    assert metrics.deployment_frequency_band == "high"

    # Lead time: C1 2nd 10:00 - 1st 10:00 = 24 h; C2 12:00 - 06:00 = 6 h; C3 by D4 4th 11:00
    # - 2nd 09:00 = 50 h; C4 by D5 (the first deployment after its merge) 6th 15:00 - 5th
    # 08:00 = 31 h; C5 by D8 (which lists it) 9th 13:00 - 5th 09:00 = 100 h; C6 11th 09:00 -
    # 10th 09:00 = 24 h; C7 16:00 - 14:00 = 2 h. C8 is not deployed, C9 shipped before.
    # Sorted: 2, 6, 24, 24, 31, 50, 100. Median: the 4th = 24 h (not under a day -> high).
    # P85: rank 6 * 0.85 = 5.1, so 50 + 0.1 * (100 - 50) = 55 h.
    assert metrics.changes_measured == 7
    assert metrics.lead_time_median == 24 * H
    assert metrics.lead_time_p85 == 55 * H
    assert metrics.lead_time_band == "high"

    # Change failure rate: 10 production deployments finished in the window (7 + D3, D6,
    # D7); failed ones D3, D6, D7 plus D9, which caused I1: 4 / 10 = 0.4 -> low.
    assert metrics.change_failure_rate == 0.4
    assert metrics.change_failure_band == "low"

    # Time to restore: I1 12:00-13:30 = 1.5 h; I2 = 0.5 h (I0 is before the window, I3 open);
    # D3 9:00 -> D4 11:00 = 2 h; D6 10:00 (D7 failing too) -> D8 13:00 = 3 h, one outage.
    # Sorted 0.5, 1.5, 2, 3: median (1.5 + 2) / 2 = 1.75 h -> under a day: high.
    assert metrics.restores_measured == 4
    assert metrics.time_to_restore_median == 1.75 * H
    assert metrics.time_to_restore_band == "high"

    document = json.loads(json.dumps(metrics.to_dict()))
    assert document["lead_time_p85_hours"] == 55.0
    assert document["time_to_restore_median_hours"] == 1.75


def test_the_first_week_alone_worked_by_hand() -> None:
    metrics = dora_metrics(DEPLOYMENTS, CHANGES, INCIDENTS, start=START, end=START + 7 * 24 * H)
    # D1, D2, D4, D5 succeeded and D3 failed: 4 / 7 a day, CFR 1 / 5 = 0.2. Lead times C1 24,
    # C2 6, C3 50, C4 31 -> sorted 6, 24, 31, 50: median 27.5 h, P85 rank 3 * 0.85 = 2.55:
    # 31 + 0.55 * 19 = 41.45 h. One restore: D3 -> D4, 2 h.
    assert metrics.deployments == 4
    assert metrics.deployments_per_week == pytest.approx(4.0)
    assert metrics.change_failure_rate == 0.2
    assert metrics.lead_time_median == 27.5 * H
    assert metrics.lead_time_p85 == timedelta(hours=41.45)
    assert (metrics.restores_measured, metrics.time_to_restore_median) == (1, 2 * H)


def test_a_run_of_failed_deployments_is_one_outage_from_its_first_failure() -> None:
    # D6 fails at 10:00, D7 at 10:30, D8 restores at 13:00: one restore of 3 h, not two,
    # and not 2.5 h from the last failure. Both failures count against the failure rate.
    outage = [d for d in DEPLOYMENTS if d.id in ("D6", "D7", "D8")]
    metrics = dora_metrics(outage, [], [], start=START, end=END)
    assert (metrics.restores_measured, metrics.time_to_restore_median) == (1, 3 * H)
    assert metrics.change_failure_rate == pytest.approx(2 / 3)


def test_a_window_without_anything_has_no_rates() -> None:
    quiet = dora_metrics([], [], [], start=START, end=END)
    assert (quiet.deployments, quiet.deployment_frequency_band) == (0, "low")
    assert (quiet.lead_time_median, quiet.change_failure_rate, quiet.time_to_restore_median) == (
        None,
        None,
        None,
    )
    assert quiet.lead_time_band is None
    with pytest.raises(ValidationError, match="must end after it starts"):
        dora_metrics([], [], [], start=END, end=START)


def test_bands_at_their_edges() -> None:
    assert [frequency_band(x) for x in (1.0, 0.99, 1 / 7, 1 / 7.01, 1 / 30, 1 / 31)] == [
        "elite", "high", "high", "medium", "medium", "low",
    ]  # fmt: skip
    bands = module._at_most_band
    assert [bands("lead_time", v) for v in (23 * H, 24 * H, 7 * 24 * H, 31 * 24 * H)] == [
        "elite", "high", "medium", "low",
    ]  # fmt: skip
    assert [bands("change_failure_rate", v) for v in (0.05, 0.06, 0.15, 0.16)] == [
        "elite", "high", "medium", "low",
    ]  # fmt: skip


def test_naive_and_aware_times_mix_as_utc() -> None:
    naive = Deployment("1", "production", "s", "success", datetime(2026, 3, 2, 12))
    change = Change("c", "s", datetime(2026, 3, 2, 10, tzinfo=UTC))
    metrics = dora_metrics([naive], [change], [], start=START, end=END)
    assert metrics.lead_time_median == 2 * H


# --- webhooks ---------------------------------------------------------------------------


def webhook(path: str) -> dict:
    return load(shared_dir(GITHUB_WEBHOOKS) / path)


def test_deployment_and_deployment_status_webhooks() -> None:
    started = deployment_from_webhook("deployment", webhook("deployment/payload.json"))
    assert started == Deployment(
        "145988746",
        "production",
        "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
        "pending",
        None,
        started_at=datetime(2019, 5, 15, 15, 20, 53, tzinfo=UTC),
    )
    succeeded = deployment_from_webhook(
        "deployment_status", webhook("deployment_status/payload.json")
    )
    assert (succeeded.status, succeeded.finished_at) == (
        "success",
        datetime(2019, 5, 15, 15, 20, 55, tzinfo=UTC),
    )
    pages = deployment_from_webhook(
        "deployment_status", webhook("deployment_status/gh-pages.payload.json")
    )
    assert (pages.environment, pages.status, pages.finished_at) == ("github-pages", "pending", None)
    failed = copy.deepcopy(webhook("deployment_status/payload.json"))
    failed["deployment_status"]["state"] = "error"
    assert deployment_from_webhook("deployment_status", failed).status == "failure"
    assert deployment_from_webhook("push", {}) is None


def test_a_merged_pull_request_is_a_change_from_its_creation() -> None:
    closed = webhook("pull_request/closed.payload.json")
    assert change_from_pull_request(closed) is None  # closed without merging
    merged = copy.deepcopy(closed)
    merged["pull_request"].update(merged=True, merged_at="2019-05-15T15:21:18Z")
    assert change_from_pull_request(merged) == Change(
        "Codertocat/Hello-World#2",
        "c4295bd74fb0f4fda03689c3df3f2803b658fd85",
        datetime(2019, 5, 15, 15, 20, 33, tzinfo=UTC),
        datetime(2019, 5, 15, 15, 21, 18, tzinfo=UTC),
    )
    # With the deployment webhook above shipping the merge commit, the lead time is
    # 15:20:33 -> 15:20:55 = 22 s.
    deployment = Deployment(
        "1", "production", "c4295bd74fb0f4fda03689c3df3f2803b658fd85", "success",
        datetime(2019, 5, 15, 15, 20, 55, tzinfo=UTC),
    )  # fmt: skip
    change = change_from_pull_request(merged)
    metrics = dora_metrics(
        [deployment],
        [change],
        [],
        start=datetime(2019, 5, 15, tzinfo=UTC),
        end=datetime(2019, 5, 16, tzinfo=UTC),
    )
    assert metrics.lead_time_median == timedelta(seconds=22)


def test_push_commits_to_the_default_branch_are_changes() -> None:
    pushed = webhook("push/with-new-branch.payload.json")
    changes = changes_from_push(pushed)
    assert changes == [
        Change(
            "Codertocat/Hello-World@6113728f27ae",
            "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
            datetime(2019, 5, 15, 15, 19, 25, tzinfo=UTC),
            datetime.fromtimestamp(1557933657, UTC),  # repository.pushed_at
        )
    ]
    assert changes_from_push(pushed, branch="release") == []
    assert changes_from_push(webhook("push/payload.json")) == []  # a deleted tag


def test_docstring_examples() -> None:
    results = doctest.testmod(module)
    assert results.attempted > 0
    assert results.failed == 0
