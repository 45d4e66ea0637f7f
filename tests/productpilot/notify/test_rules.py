"""The router's pure rules: route matching, quiet hours in the recipient's zone, hourly limits."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from productpilot.notify.message import Finding
from productpilot.notify.rules import matches, matching_routes, next_slot, quiet_until, route_key
from productpilot.products.configuration import NotificationRoute, QuietHours


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def finding(kind: str = "productpilot.anomaly.detected", severity: str = "warning") -> Finding:
    return Finding(kind=kind, severity=severity, product_id=1, subject="s")  # type: ignore[arg-type]


class TestMatching:
    def test_an_empty_route_matches_everything(self) -> None:
        assert matches(NotificationRoute(channel="outbox", recipients=["x"]), finding())

    def test_kinds_are_patterns_and_severities_a_set(self) -> None:
        route = NotificationRoute(
            kinds=["productpilot.anomaly.*"],
            severities=["critical"],
            channel="slack",
            recipients=["#alerts"],
        )
        assert matches(route, finding(severity="critical"))
        assert not matches(route, finding(severity="warning"))
        assert not matches(route, finding("productpilot.gate.failed", "critical"))

    def test_ticket_routes_take_only_findings_that_ask_for_a_ticket(self) -> None:
        jira = NotificationRoute(channel="jira", recipients=["OPS"])
        report = Finding(
            kind="productpilot.report.daily", severity="info", product_id=1, subject="s"
        )
        assert not matches(jira, report)
        assert matches(
            jira, Finding(kind="k", severity="info", product_id=1, subject="s", ticket=True)
        )

    def test_route_keys_change_when_the_route_changes(self) -> None:
        one = NotificationRoute(channel="slack", recipients=["#a"])
        two = NotificationRoute(channel="slack", recipients=["#a"], dedupe_minutes=5)
        assert route_key(0, one) == route_key(0, one)
        assert route_key(0, one) != route_key(0, two)
        assert route_key(0, one) != route_key(1, one)

    def test_matching_keeps_configuration_order(self) -> None:
        routes = [
            NotificationRoute(channel="slack", recipients=["#a"], severities=["info"]),
            NotificationRoute(channel="email", recipients=["a@b.c"]),
            NotificationRoute(channel="teams", recipients=["ops"]),
        ]
        assert [r.channel for _, r in matching_routes(routes, finding())] == ["email", "teams"]


class TestQuietHours:
    BERLIN = QuietHours(start=time(22), end=time(7), timezone="Europe/Berlin")

    def test_outside_quiet_hours_nothing_waits(self) -> None:
        moment = at("2026-12-01T12:00:00+01:00")
        assert quiet_until(moment, self.BERLIN) == moment

    def test_in_the_evening_it_waits_for_the_next_morning(self) -> None:
        assert quiet_until(at("2026-12-01T23:30:00+01:00"), self.BERLIN) == at(
            "2026-12-02T07:00:00+01:00"
        )

    def test_after_midnight_it_waits_for_the_same_morning(self) -> None:
        assert quiet_until(at("2026-12-02T03:00:00+01:00"), self.BERLIN) == at(
            "2026-12-02T07:00:00+01:00"
        )

    def test_the_same_instant_is_quiet_in_one_zone_and_not_in_another(self) -> None:
        tokyo = QuietHours(start=time(22), end=time(7), timezone="Asia/Tokyo")
        moment = at("2026-12-01T14:00:00+00:00")  # 15:00 in Berlin, 23:00 in Tokyo
        assert quiet_until(moment, self.BERLIN) == moment
        assert quiet_until(moment, tokyo) == at("2026-12-02T07:00:00+09:00")

    def test_the_end_follows_daylight_saving_time(self) -> None:
        # 07:00 in Berlin is 06:00 UTC in winter, 05:00 UTC in summer.
        assert quiet_until(at("2026-01-10T23:00:00+00:00"), self.BERLIN) == at(
            "2026-01-11T06:00:00+00:00"
        )
        assert quiet_until(at("2026-07-10T23:00:00+00:00"), self.BERLIN) == at(
            "2026-07-11T05:00:00+00:00"
        )

    def test_a_night_across_the_spring_change_ends_at_local_seven(self) -> None:
        # Clocks jump from 02:00 to 03:00 on 2026-03-29 in Berlin.
        assert quiet_until(at("2026-03-28T23:00:00+01:00"), self.BERLIN) == at(
            "2026-03-29T07:00:00+02:00"
        )

    def test_an_end_inside_the_skipped_hour_resolves_after_it(self) -> None:
        short = QuietHours(start=time(1), end=time(2, 30), timezone="Europe/Berlin")
        until = quiet_until(at("2026-03-29T01:30:00+01:00"), short)
        assert until.astimezone(UTC) == at("2026-03-29T03:30:00+02:00")

    def test_daytime_quiet_hours_do_not_span_midnight(self) -> None:
        lunch = QuietHours(start=time(12), end=time(13), timezone="UTC")
        assert quiet_until(at("2026-12-01T12:15:00+00:00"), lunch) == at(
            "2026-12-01T13:00:00+00:00"
        )
        assert quiet_until(at("2026-12-01T13:00:00+00:00"), lunch) == at(
            "2026-12-01T13:00:00+00:00"
        )

    def test_an_unknown_zone_is_refused_when_configured(self) -> None:
        with pytest.raises(ValueError, match="unknown time zone"):
            QuietHours(start=time(22), end=time(7), timezone="Mars/Olympus")


class TestHourlyLimit:
    NOW = at("2026-12-01T12:00:00+00:00")

    def test_without_a_limit_anything_goes(self) -> None:
        assert next_slot(self.NOW, [self.NOW] * 100, None) == self.NOW

    def test_under_the_limit_the_planned_time_stands(self) -> None:
        booked = [self.NOW - timedelta(minutes=m) for m in (10, 20)]
        assert next_slot(self.NOW, booked, 3) == self.NOW

    def test_at_the_limit_it_waits_until_the_oldest_send_leaves_the_hour(self) -> None:
        booked = [self.NOW - timedelta(minutes=m) for m in (50, 30, 10)]
        assert next_slot(self.NOW, booked, 3) == self.NOW + timedelta(minutes=10)

    def test_sends_already_booked_later_count_too(self) -> None:
        booked = [self.NOW + timedelta(minutes=m) for m in (10, 20)]
        slot = next_slot(self.NOW, booked, 2)
        assert slot == self.NOW + timedelta(minutes=70)
        every = sorted([*booked, slot])
        for end in every:
            assert sum(1 for t in every if end - timedelta(hours=1) < t <= end) <= 2
