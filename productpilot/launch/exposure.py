"""What a rollout stage observed, read from the product's events with bounded SQL aggregates.

**The event shapes.** A product's code reports each flag evaluation it acted on as a
``flag_exposure`` event of the user (``distinct_id``) with the flag and the variant served::

    {"event": "flag_exposure", "distinct_id": "u-17",
     "properties": {"flag": "new-checkout", "variant": "on"}}

Guardrails and the success goal name metrics of the product's configuration
(:class:`~productpilot.products.configuration.MetricDefinition`), so a rollout measures what
the dashboards measure, e.g. ``api_request`` events with ``latency_ms`` and ``error``
properties, or ``convert`` events. Users are split into arms by the variant they were
exposed to *in this stage*: treatment is the rolled-out variant (``on``), control the other
(``off``). A user exposed to both (the instant the percentage moved) belongs to neither.

**How a metric is measured, per arm, since the stage started.**

* a rate test (``two_proportion``) over a metric with a ``property`` (an error rate): the
  share of the arm's events whose property is true (requests as trials);
* a rate test over a metric without a property (a conversion): the share of the arm's users
  who sent the metric's event;
* a mean test (``welch``): the mean of the property per event; a ``threshold`` on a
  ``percentile`` metric reads the treatment arm's percentile (nearest rank).

Each guardrail gets the fixed-horizon estimate with its confidence interval
(:mod:`productpilot.launch.stats`, for the report) and the always-valid mSPRT p-value
(:func:`productpilot.launch.sequential.msprt_latest`), which is what the rollout decides on:
the flow looks every few minutes, and a fixed-horizon p-value read that often would cry
wolf. The arms' sizes are checked against the stage's split with the chi-square
sample-ratio test.

Every query is an aggregate over ``events`` bounded by product, event name and the stage's
time range (the ``(product_id, timestamp)`` index), so its cost follows the stage's traffic,
never the product's history, and nothing is loaded row by row except one percentile value.

Example:
    >>> measurement = measure_stage(session, product_id, flag_key="new-checkout",
    ...     plan=plan, percentage=10, since=start, until=now, metrics=metrics)
    ... # doctest: +SKIP
    >>> measurement.observations().exposure  # doctest: +SKIP
    1873
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select

from productpilot.analytics.activity import json_float
from productpilot.db.models import Event
from productpilot.db.tenancy import StoreSession
from productpilot.errors import ValidationError
from productpilot.launch.rollout import (
    Guardrail,
    GuardrailResult,
    Observations,
    RolloutPlan,
    guardrail_breach,
)
from productpilot.launch.sequential import ArmTotals, msprt_latest
from productpilot.launch.stats import (
    EffectEstimate,
    SampleRatioCheck,
    sample_ratio_mismatch,
    two_proportion_test,
    welch_test_from_stats,
)
from productpilot.products.configuration import MetricDefinition

#: The event a product sends when a user is served a flag's variant.
EXPOSURE_EVENT = "flag_exposure"
TREATMENT = "treatment"
CONTROL = "control"


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArmTotal:
    """One arm's aggregate of a metric: ``n`` trials (events or users), their ``total``
    and ``total_squares`` (for a 0/1 metric both are the successes)."""

    n: int
    total: float
    total_squares: float

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def sd(self) -> float | None:
        if self.n < 2:
            return None
        variance = (self.total_squares - self.total**2 / self.n) / (self.n - 1)
        return math.sqrt(max(variance, 0.0))  # rounding can dip a zero variance below 0


@dataclass(frozen=True)
class GuardrailMeasurement:
    """A guardrail measured in one stage.

    Attributes:
        metric: the guardrail's metric.
        measure: ``event_rate``, ``user_rate`` or ``mean``.
        control: control's aggregate.
        treatment: treatment's aggregate.
        treatment_value: what a ``threshold`` is compared with (a rate, mean or percentile).
        effect: the fixed-horizon test with its confidence interval, when both arms have
            enough data.
        sequential_p_value: the always-valid mSPRT p-value the rollout decides on.
        breach: why it breaches, if it does.
        note: why there is no test yet.
    """

    metric: str
    measure: str
    control: ArmTotal
    treatment: ArmTotal
    treatment_value: float | None
    effect: EffectEstimate | None
    sequential_p_value: float | None
    breach: str | None = None
    note: str = ""

    def result(self) -> GuardrailResult:
        """The input :func:`~productpilot.launch.rollout.next_action` reads."""
        return GuardrailResult(
            metric=self.metric,
            p_value=self.sequential_p_value,
            relative_change=self.effect.relative_lift if self.effect else None,
            treatment_value=self.treatment_value,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "measure": self.measure,
            "control": {"n": self.control.n, "mean": json_float(self.control.mean)},
            "treatment": {"n": self.treatment.n, "mean": json_float(self.treatment.mean)},
            "treatment_value": json_float(self.treatment_value),
            "effect": self.effect.to_dict() if self.effect else None,
            "sequential_p_value": json_float(self.sequential_p_value),
            "breach": self.breach,
            "note": self.note,
        }


@dataclass(frozen=True)
class StageMeasurement:
    """Everything a stage observed.

    Attributes:
        since: the stage's start.
        until: the end of the window read.
        percentage: the stage's planned treatment share.
        treatment_users: users exposed to the rolled-out variant only.
        control_users: users exposed to the other variant only.
        mixed_users: users exposed to both (left out of both arms).
        srm: the sample-ratio test of the arms against the stage's split (``None`` at 100 %
            or with nobody exposed).
        guardrails: one measurement per guardrail of the plan.
        success_value: the success goal's metric in the treatment arm.
    """

    since: datetime
    until: datetime
    percentage: float
    treatment_users: int
    control_users: int
    mixed_users: int
    srm: SampleRatioCheck | None
    guardrails: tuple[GuardrailMeasurement, ...] = ()
    success_value: float | None = None

    @property
    def exposure(self) -> int:
        """Users exposed in the stage, either arm."""
        return self.treatment_users + self.control_users

    def observations(self, command: str | None = None) -> Observations:
        """The rollout state machine's input, with an operator's ``command`` if any."""
        return Observations(
            exposure=self.exposure,
            srm_p_value=self.srm.p_value if self.srm else None,
            guardrails=tuple(g.result() for g in self.guardrails),
            success_value=self.success_value,
            command=command,  # type: ignore[arg-type]
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "percentage": self.percentage,
            "exposure": self.exposure,
            "treatment_users": self.treatment_users,
            "control_users": self.control_users,
            "mixed_users": self.mixed_users,
            "srm": self.srm.to_dict() if self.srm else None,
            "guardrails": [g.to_dict() for g in self.guardrails],
            "success_value": json_float(self.success_value),
        }


# --- measuring -----------------------------------------------------------------------------


def measure_stage(
    session: StoreSession,
    product_id: int,
    *,
    flag_key: str,
    plan: RolloutPlan,
    percentage: float,
    since: datetime,
    until: datetime,
    metrics: Mapping[str, MetricDefinition],
    on_variant: str = "on",
    off_variant: str = "off",
) -> StageMeasurement:
    """Read a stage's exposure, sample ratio, guardrails and success metric from the events.

    Args:
        session: a tenant session of the product's tenant.
        product_id: the product.
        flag_key: the flag rolled out.
        plan: the rollout plan (guardrails, success goal, SRM threshold).
        percentage: the stage's treatment share, 0 to 100.
        since: the stage's start (inclusive).
        until: the end of the window (inclusive), usually now.
        metrics: the product's configured metrics by name.
        on_variant: the variant rolled out (treatment).
        off_variant: everybody else's variant (control).

    Returns:
        The measurement; ``.observations()`` is the state machine's input.

    Raises:
        ValidationError: a guardrail or the success goal names no configured metric, or a
            metric cannot be measured the way its guardrail tests it.
    """
    arms = _arms(product_id, flag_key, on_variant, off_variant, since, until)
    by_arm = select(arms.c.arm, func.count()).where(arms.c.single).group_by(arms.c.arm)
    counts = {arm: int(users) for arm, users in session.execute(by_arm).all()}
    mixed = session.scalar(select(func.count()).select_from(arms).where(~arms.c.single)) or 0
    treatment_users, control_users = counts.get(TREATMENT, 0), counts.get(CONTROL, 0)
    srm = None
    if 0 < percentage < 100 and treatment_users + control_users > 0:
        srm = sample_ratio_mismatch(
            [treatment_users, control_users],
            [percentage, 100 - percentage],
            threshold=plan.srm_alpha,
        )
    users = {TREATMENT: treatment_users, CONTROL: control_users}
    measured = []
    for guardrail in plan.guardrails:
        definition = _metric(metrics, guardrail.metric, "guardrail")
        measured.append(
            _guardrail(session, product_id, guardrail, definition, arms, users, since, until)
        )
    success_value = None
    if plan.success_goal is not None:
        definition = _metric(metrics, plan.success_goal.metric, "success goal")
        success_value = _success(session, product_id, definition, arms, users, since, until)
    return StageMeasurement(
        since=since,
        until=until,
        percentage=percentage,
        treatment_users=treatment_users,
        control_users=control_users,
        mixed_users=int(mixed),
        srm=srm,
        guardrails=tuple(measured),
        success_value=success_value,
    )


def check_metrics(plan: RolloutPlan, metrics: Mapping[str, MetricDefinition]) -> None:
    """Refuse a plan whose guardrails or success goal name metrics the product lacks, or
    that a guardrail's test cannot measure (a mean test needs a numeric property).

    Example:
        >>> check_metrics(plan, {})  # doctest: +SKIP
        Traceback (most recent call last):
        ...
        productpilot.errors.ValidationError: guardrail 'error_rate' names no configured metric
    """
    for guardrail in plan.guardrails:
        definition = _metric(metrics, guardrail.metric, "guardrail")
        if guardrail.test == "welch" and not definition.property:
            raise ValidationError(
                f"guardrail '{guardrail.metric}' runs a Welch test of means, but metric "
                f"'{definition.name}' has no property to average"
            )
    if plan.success_goal is not None:
        _metric(metrics, plan.success_goal.metric, "success goal")


def _metric(metrics: Mapping[str, MetricDefinition], name: str, what: str) -> MetricDefinition:
    definition = metrics.get(name)
    if definition is None:
        known = ", ".join(sorted(metrics)) or "none"
        raise ValidationError(
            f"{what} '{name}' names no configured metric (the product has: {known})"
        )
    return definition


def _arms(
    product_id: int,
    flag_key: str,
    on_variant: str,
    off_variant: str,
    since: datetime,
    until: datetime,
) -> Any:
    """One row per user exposed in the window: ``distinct_id``, ``arm``, ``single`` (only
    one variant seen)."""
    variant = Event.properties["variant"].as_string()
    arm = case((variant == on_variant, TREATMENT), else_=CONTROL)
    return (
        select(
            Event.distinct_id.label("distinct_id"),
            func.min(arm).label("arm"),
            (func.count(func.distinct(variant)) == 1).label("single"),
        )
        .where(
            Event.product_id == product_id,
            Event.event == EXPOSURE_EVENT,
            Event.timestamp.between(since, until),
            Event.properties["flag"].as_string() == flag_key,
            variant.in_([on_variant, off_variant]),
        )
        .group_by(Event.distinct_id)
        .subquery("arms")
    )


def _metric_filter(
    product_id: int, definition: MetricDefinition, since: datetime, until: datetime
) -> list[ColumnElement[bool]]:
    conditions = [
        Event.product_id == product_id,
        Event.event == definition.event,
        Event.timestamp.between(since, until),
    ]
    for name, wanted in definition.filters.items():
        value = Event.properties[name]
        if isinstance(wanted, bool):
            conditions.append(value.as_boolean() == wanted)
        elif isinstance(wanted, int | float):
            conditions.append(value.as_float() == float(wanted))
        else:
            conditions.append(value.as_string() == wanted)
    return conditions


def _event_totals(
    session: StoreSession,
    product_id: int,
    definition: MetricDefinition,
    arms: Any,
    since: datetime,
    until: datetime,
    *,
    binary: bool,
) -> dict[str, ArmTotal]:
    """Per arm: events with the property, and the sum and sum of squares of its value."""
    assert definition.property is not None
    raw = Event.properties[definition.property]
    typed: Any = raw.as_boolean() if binary else raw.as_float()
    value: Any = case((typed, 1.0), else_=0.0) if binary else typed
    present = typed.is_not(None)  # an event without the property is no trial
    rows = session.execute(
        select(arms.c.arm, func.count(), func.sum(value), func.sum(value * value))
        .select_from(Event)
        .join(arms, and_(arms.c.distinct_id == Event.distinct_id, arms.c.single))
        .where(*_metric_filter(product_id, definition, since, until), present)
        .group_by(arms.c.arm)
    ).all()
    totals = {arm: ArmTotal(int(n), float(s or 0), float(s2 or 0)) for arm, n, s, s2 in rows}
    return {arm: totals.get(arm, ArmTotal(0, 0.0, 0.0)) for arm in (TREATMENT, CONTROL)}


def _user_totals(
    session: StoreSession,
    product_id: int,
    definition: MetricDefinition,
    arms: Any,
    users: Mapping[str, int],
    since: datetime,
    until: datetime,
) -> dict[str, ArmTotal]:
    """Per arm: users who sent the metric's event, out of the arm's users."""
    rows = session.execute(
        select(arms.c.arm, func.count(func.distinct(Event.distinct_id)))
        .select_from(Event)
        .join(arms, and_(arms.c.distinct_id == Event.distinct_id, arms.c.single))
        .where(*_metric_filter(product_id, definition, since, until))
        .group_by(arms.c.arm)
    ).all()
    converted = {arm: int(count) for arm, count in rows}
    return {
        arm: ArmTotal(users[arm], float(converted.get(arm, 0)), float(converted.get(arm, 0)))
        for arm in (TREATMENT, CONTROL)
    }


def _percentile(
    session: StoreSession,
    product_id: int,
    definition: MetricDefinition,
    arms: Any,
    since: datetime,
    until: datetime,
    n: int,
) -> float | None:
    """The treatment arm's percentile of the property (nearest rank), one row read."""
    if n == 0 or definition.property is None:
        return None
    rank = max(math.ceil((definition.percentile or 95) / 100 * n), 1)
    value = Event.properties[definition.property].as_float()
    found = session.scalar(
        select(value)
        .where(
            *_metric_filter(product_id, definition, since, until),
            # IN, not a join: SQLite then builds the users' set once before sorting.
            Event.distinct_id.in_(
                select(arms.c.distinct_id).where(arms.c.single, arms.c.arm == TREATMENT)
            ),
            value.is_not(None),
        )
        .order_by(value)
        .offset(rank - 1)
        .limit(1)
    )
    return None if found is None else float(found)


def _guardrail(
    session: StoreSession,
    product_id: int,
    guardrail: Guardrail,
    definition: MetricDefinition,
    arms: Any,
    users: Mapping[str, int],
    since: datetime,
    until: datetime,
) -> GuardrailMeasurement:
    name = guardrail.metric
    if guardrail.test == "two_proportion":
        if definition.property:
            measure = "event_rate"
            totals = _event_totals(session, product_id, definition, arms, since, until, binary=True)
        else:
            measure = "user_rate"
            totals = _user_totals(session, product_id, definition, arms, users, since, until)
    else:
        if not definition.property:
            raise ValidationError(
                f"guardrail '{name}' runs a Welch test of means, but metric "
                f"'{definition.name}' has no property to average"
            )
        measure = "mean"
        totals = _event_totals(session, product_id, definition, arms, since, until, binary=False)
    control, treatment = totals[CONTROL], totals[TREATMENT]
    treatment_value = treatment.mean
    if guardrail.threshold is not None and definition.kind == "percentile":
        treatment_value = _percentile(
            session, product_id, definition, arms, since, until, treatment.n
        )
    effect, sequential, note = _tests(guardrail, measure, control, treatment)
    measurement = GuardrailMeasurement(
        name, measure, control, treatment, treatment_value, effect, sequential, note=note
    )
    breach = guardrail_breach(guardrail, measurement.result())
    return GuardrailMeasurement(
        name, measure, control, treatment, treatment_value, effect, sequential, breach, note
    )


def _tests(
    guardrail: Guardrail, measure: str, control: ArmTotal, treatment: ArmTotal
) -> tuple[EffectEstimate | None, float | None, str]:
    """The fixed-horizon estimate and the mSPRT p-value, or why there are none yet."""
    if control.n < 2 or treatment.n < 2:
        return None, None, f"too little data: {treatment.n} treatment, {control.n} control"
    binary = measure != "mean"
    try:
        if binary:
            effect = two_proportion_test(
                int(control.total),
                control.n,
                int(treatment.total),
                treatment.n,
                alpha=guardrail.alpha,
                metric=guardrail.metric,
            )
        else:
            effect = welch_test_from_stats(
                control.mean or 0.0,
                control.sd or 0.0,
                control.n,
                treatment.mean or 0.0,
                treatment.sd or 0.0,
                treatment.n,
                alpha=guardrail.alpha,
                metric=guardrail.metric,
            )
        look = msprt_latest(
            ArmTotals(control.n, control.total, control.total_squares, binary=binary),
            ArmTotals(treatment.n, treatment.total, treatment.total_squares, binary=binary),
            alpha=guardrail.alpha,
            metric=guardrail.metric,
        )
    except ValidationError as exc:  # no variation yet: no evidence either way
        return None, None, str(exc)
    return effect, float(look.p_value), ""


def _success(
    session: StoreSession,
    product_id: int,
    definition: MetricDefinition,
    arms: Any,
    users: Mapping[str, int],
    since: datetime,
    until: datetime,
) -> float | None:
    """The success metric in the treatment arm: the mean of its property per event, or
    the share of treatment users who sent its event (adoption)."""
    if definition.property and definition.kind in ("average", "percentile"):
        totals = _event_totals(session, product_id, definition, arms, since, until, binary=False)
        return totals[TREATMENT].mean
    totals = _user_totals(session, product_id, definition, arms, users, since, until)
    return totals[TREATMENT].mean
