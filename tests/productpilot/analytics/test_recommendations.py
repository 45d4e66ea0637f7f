"""Tests of the recommendation rules and their ranking."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
import pytest

from productpilot.analytics.adoption import AdoptionChange, adoption_change
from productpilot.analytics.recommendations import recommend
from productpilot.analytics.trends import trend
from productpilot.synthetic import SyntheticConfig, generate


@dataclass
class KPI:
    name: str
    metric: str
    target: float | None
    direction: str = "increase"


DAYS = [date(2026, 8, 1) + timedelta(days=i) for i in range(28)]
FALLING = trend(DAYS, [0.5 - 0.005 * i for i in range(28)]).to_dict()  # 0.5 -> 0.365
RISING = trend(DAYS, [100 + 2.0 * i for i in range(28)]).to_dict()
FLAT = trend(DAYS, [10.0, 11.0] * 14).to_dict()


def change(value: str, before: tuple[int, int], now: tuple[int, int], p: float) -> AdoptionChange:
    b, n = before[0] / before[1], now[0] / now[1]
    return AdoptionChange(
        feature="alerts",
        segment="platform",
        segment_value=value,
        previous_users=before[0],
        previous_active=before[1],
        previous_rate=b,
        current_users=now[0],
        current_active=now[1],
        current_rate=n,
        absolute_change=n - b,
        relative_change=(n - b) / b,
        z=None,
        p_value=p,
        significant=p < 0.05,
    )


CHANGES = [
    change("android", (50, 200), (10, 200), 1e-6),  # 25% -> 5%
    change("ios", (50, 200), (48, 200), 0.8),
    change("web", (100, 400), (104, 400), 0.7),
]
KPIS = [
    KPI("Activation", "activation_rate", 0.45),
    KPI("Signups", "signups", 120.0),
    KPI("Error rate", "error_rate", 0.01, "decrease"),
    KPI("Sessions", "sessions", None),
]
ANOMALIES = [
    {
        "metric": "error_rate",
        "at": "2026-08-27T00:00:00Z",
        "value": 0.05,
        "expected": 0.008,
        "lower": 0.004,
        "upper": 0.012,
        "score": 0.8,
    },
    {
        "metric": "error_rate",
        "at": "2026-08-25T00:00:00Z",
        "value": 0.03,
        "expected": 0.008,
        "lower": 0.004,
        "upper": 0.012,
        "score": 0.6,
    },
    {
        "metric": "error_rate",
        "at": "2026-08-01T00:00:00Z",
        "value": 0.09,
        "expected": 0.008,
        "lower": 0.004,
        "upper": 0.012,
        "score": 0.9,
    },  # older than 7 days: ignored
    {
        "metric": "latency_ms",
        "at": "2026-08-27T00:00:00Z",
        "value": 900.0,
        "expected": 200.0,
        "lower": 100.0,
        "upper": 300.0,
        "score": 0.9,
    },  # not a KPI metric: ignored
]


def run(**overrides):
    arguments = {
        "trends": {"activation_rate": FALLING, "signups": RISING, "error_rate": FLAT},
        "anomalies": ANOMALIES,
        "adoption_changes": CHANGES,
        "kpis": KPIS,
        "latest": {"activation_rate": 0.365, "signups": 154.0, "error_rate": 0.02},
    }
    return recommend(**(arguments | overrides))


def test_every_rule_fires_once() -> None:
    result = run()
    by_kind = {r.kind: r for r in result}
    assert sorted(by_kind) == ["explain_anomaly", "fix_adoption", "investigate", "raise_target"]
    assert len(result) == 4

    # (a) activation 0.365 vs 0.45, falling: gap 0.085, relative size 0.085 / 0.45.
    investigate = by_kind["investigate"]
    assert investigate.expected_impact.value == pytest.approx(0.085)
    assert investigate.expected_impact.unit == "activation_rate"
    assert investigate.related_metric == "activation_rate"
    p = FALLING["p_value"]
    assert investigate.priority == pytest.approx(100 * 3 * (0.085 / 0.45) * (1 - p), abs=1e-5)

    # (b) android alerts fell 25% -> 5% while ios and web held: 0.20 x 200 = 40 users.
    fix = by_kind["fix_adoption"]
    assert fix.title == "Fix alerts adoption in platform = android"
    assert fix.expected_impact.value == pytest.approx(40.0)
    assert fix.expected_impact.unit == "users"
    assert fix.segment == {"platform": "android"}
    assert fix.priority == pytest.approx(100 * 2.5 * 0.8 * (1 - 1e-6), abs=1e-5)
    assert any("Holding elsewhere" in fact for fact in fix.evidence)

    # (c) error-rate anomalies of the last 7 days (as of the latest, 08-27): the largest
    # deviation is 0.05 vs 0.008 -> impact 0.042; the band is in the evidence.
    explain = by_kind["explain_anomaly"]
    assert explain.related_metric == "error_rate"
    assert explain.expected_impact.value == pytest.approx(0.042)
    assert len(explain.evidence) == 2
    assert "band 0.004 to 0.012" in explain.evidence[-1]
    assert explain.priority == pytest.approx(100 * 2 * 1.0 * 0.8)

    # (d) signups 154 vs 120, rising: surplus 34 -> low priority.
    raise_ = by_kind["raise_target"]
    assert raise_.expected_impact.value == pytest.approx(34.0)
    assert raise_.priority < min(r.priority for r in result if r.kind != "raise_target")
    json.dumps([r.to_dict() for r in result])


def test_ranked_with_evidence_and_deterministic() -> None:
    result = run()
    priorities = [r.priority for r in result]
    assert priorities == sorted(priorities, reverse=True)
    assert all(r.evidence and all(isinstance(f, str) for f in r.evidence) for r in result)
    assert all(any(ch.isdigit() for ch in " ".join(r.evidence)) for r in result)
    assert all(r.expected_impact.value >= 0 and r.expected_impact.basis for r in result)
    shuffled = run(kpis=KPIS[::-1], anomalies=ANOMALIES[::-1], adoption_changes=CHANGES[::-1])
    assert [r.to_dict() for r in shuffled] == [r.to_dict() for r in result]


def test_rules_that_do_not_fire() -> None:
    # On target and falling: no "investigate"; off target but no significant trend: none.
    assert not [r for r in run(latest={"activation_rate": 0.5}) if r.kind == "investigate"]
    assert not run(
        trends={"activation_rate": FLAT}, anomalies=[], adoption_changes=[], kpis=KPIS[:1]
    )
    # Lower is better: an error rate rising significantly above target is investigated.
    rising_errors = run(
        trends={"error_rate": trend(DAYS, [0.01 + 0.001 * i for i in range(28)]).to_dict()},
        anomalies=[],
        adoption_changes=[],
    )
    assert [r.title for r in rising_errors] == ["Investigate the rising Error rate (error_rate)"]
    # A drop in every segment is not "in one segment": one per segment, differently titled.
    everywhere = [change(v, (50, 200), (10, 200), 1e-6) for v in ("android", "ios")]
    titles = [r.title for r in run(adoption_changes=everywhere, kpis=[], anomalies=[])]
    assert titles == [
        "Fix falling alerts adoption (platform = android)",
        "Fix falling alerts adoption (platform = ios)",
    ]
    # A noisy change (p >= 0.05) never fires.
    noisy = [change("android", (5, 20), (1, 20), 0.08), CHANGES[1]]
    assert run(adoption_changes=noisy, kpis=[], anomalies=[]) == []
    with pytest.raises(ValueError, match="alpha"):
        run(alpha=0)


def test_synthetic_adoption_drop_becomes_a_recommendation() -> None:
    # Same scenario as test_adoption's synthetic test (seed 2, alerts broken on android for
    # 46 h): the recommendation names the segment and the users lost.
    dataset = generate(SyntheticConfig(seed=2, users=6000, days=42, anomalies=5))
    (label,) = [a for a in dataset.anomalies() if a["kind"] == "feature_adoption_drop"]
    start = pd.Timestamp(label["start"])
    end = pd.Timestamp(label["end"]) - pd.Timedelta(microseconds=1)
    week = timedelta(days=7)
    since = (start - week).strftime("%Y-%m-%dT%H")
    until = pd.Timestamp(label["end"]).strftime("%Y-%m-%dT%H")
    rows = [e for e in dataset.events() if since <= e["timestamp"][:13] < until]
    events = pd.DataFrame(rows, columns=["distinct_id", "event", "timestamp", "properties"])
    events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True)
    changes = adoption_change(
        events, current=(start, end), previous=(start - week, end - week), segment="platform"
    )
    result = recommend(trends={}, anomalies=[], adoption_changes=changes, kpis=[], latest={})
    assert [r.title for r in result] == ["Fix alerts adoption in platform = android"]
    assert result[0].expected_impact.value > 5
