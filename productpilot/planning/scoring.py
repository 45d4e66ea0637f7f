"""Priority scores for backlog items: RICE, ICE, WSJF or a custom formula, each explained.

The method lives in the product configuration as a :class:`ScoringConfig`. Every score comes
with its explanation: the formula, each input's value and where it came from (the item, live
usage or the configured default) and each input's contribution relative to a baseline item
(see :mod:`productpilot.planning.formula` for how contributions are computed). An item that
lacks a required input, or whose value is out of range, is *not scored* and says why; it is
never given a silent 0.

Reach (RICE, or any formula with an input named ``reach``) prefers live usage: the number of
users who touched the item's feature in the last ``reach_window_days`` days. A feature absent
from the usage mapping falls back to the item's own reach, then to the default, because new
features have no usage yet; a feature present with 0 users does score 0 reach.

Example:
    >>> scorer = Scorer(ScoringConfig(method="rice"))
    >>> item = ScoringItem("PP-1", feature="export",
    ...                    values={"impact": 2, "confidence": 0.5, "effort": 4})
    >>> score = scorer.score(item, reach_by_feature={"export": 400})
    >>> (score.score, score.explanation.inputs[0].source)
    (100.0, 'live usage')
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from productpilot.errors import ValidationError
from productpilot.planning.formula import (
    Formula,
    FormulaEvaluationError,
    compile_formula,
)

Method = Literal["rice", "ice", "wsjf", "custom"]
Source = Literal["item", "live usage", "default", "estimate"]
REACH = "reach"
TIE_DECIMALS = 9  # scores equal to 9 decimals are ties (float noise must not pick a winner)
InputName = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


def _range_problem(spec: ScoringInput, value: float) -> str | None:
    if not math.isfinite(value):
        return f"{value} is not a finite number"
    if spec.minimum is not None and value < spec.minimum:
        return f"{value:g} is below the minimum {spec.minimum:g}"
    if spec.maximum is not None and value > spec.maximum:
        return f"{value:g} is above the maximum {spec.maximum:g}"
    return None


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScoringInput(_Section):
    """One input of a scoring formula.

    Attributes:
        name: the name used in the formula (a Python identifier).
        description: what the input means, shown in explanations.
        default: used when an item has no value; ``None`` makes the input required.
        minimum: smallest accepted value (inclusive), ``None`` for no bound.
        maximum: largest accepted value (inclusive), ``None`` for no bound.
        neutral: the baseline item's value, against which contributions are measured;
            ``None`` uses ``default``, else 1.
    """

    name: str = InputName
    description: str = ""
    default: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    neutral: float | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ScoringInput:
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"input {self.name}: minimum {self.minimum} > maximum {self.maximum}")
        for label, value in (("default", self.default), ("neutral", self.neutral)):
            if value is not None and (problem := _range_problem(self, value)):
                raise ValueError(f"input {self.name}: {label} {problem}")
        return self

    @property
    def neutral_value(self) -> float:
        if self.neutral is not None:
            return self.neutral
        return self.default if self.default is not None else 1.0


def _inputs(*specs: tuple[str, str, float | None, float | None, float]) -> tuple[ScoringInput, ...]:
    return tuple(
        ScoringInput(name=name, description=text, minimum=low, maximum=high, neutral=neutral)
        for name, text, low, high, neutral in specs
    )


@dataclass(frozen=True, slots=True)
class BuiltinMethod:
    """A standard scoring method: its formula and inputs (all required unless defaulted)."""

    name: str
    formula: str
    inputs: tuple[ScoringInput, ...]


BUILTIN_METHODS: dict[str, BuiltinMethod] = {
    "rice": BuiltinMethod(
        "RICE",
        "reach * impact * confidence / effort",
        _inputs(
            ("reach", "users affected per reach window", 0, None, 1),
            ("impact", "impact per user: 0.25 minimal .. 3 massive", 0.25, 3, 1),
            ("confidence", "confidence in the estimates, 0..1", 0, 1, 1),
            ("effort", "person-months", 0, None, 1),
        ),
    ),
    "ice": BuiltinMethod(
        "ICE",
        "impact * confidence * ease",
        _inputs(
            ("impact", "impact, 1..10", 1, 10, 5),
            ("confidence", "confidence, 1..10", 1, 10, 5),
            ("ease", "ease of doing it, 1..10", 1, 10, 5),
        ),
    ),
    "wsjf": BuiltinMethod(
        "WSJF",
        "(business_value + time_criticality + risk_reduction) / job_size",
        _inputs(
            ("business_value", "user/business value (relative, e.g. 1..20)", 0, None, 1),
            ("time_criticality", "cost of waiting (relative)", 0, None, 1),
            ("risk_reduction", "risk reduction / opportunity enablement (relative)", 0, None, 1),
            ("job_size", "job size (relative)", 0, None, 1),
        ),
    ),
}


class ScoringConfig(_Section):
    """How a product scores its backlog; embeddable in the product configuration.

    Attributes:
        method: ``rice``, ``ice``, ``wsjf`` or ``custom``.
        name: a label for a custom formula (e.g. ``"value per week"``).
        formula: the custom formula (required for, and only allowed with, ``custom``).
        inputs: for ``custom``, every input the formula uses; for a built-in method,
            replacements of its inputs (same name) to change ranges, defaults or neutrals.
        defaults: shorthand for inputs' defaults, ``{"confidence": 0.8}``.
        weights: named constants a custom formula may use, ``{"w_value": 2}``.
        reach_window_days: the live-usage window that reach is counted over.

    Example:
        >>> config = ScoringConfig(method="custom", name="value per cost",
        ...                        formula="w * value / cost", weights={"w": 2},
        ...                        inputs=[{"name": "value"}, {"name": "cost", "minimum": 1}])
        >>> Scorer(config).score(ScoringItem("A", values={"value": 6, "cost": 4})).score
        3.0
    """

    method: Method = "rice"
    name: str | None = Field(default=None, max_length=120)
    formula: str | None = Field(default=None, max_length=500)
    inputs: tuple[ScoringInput, ...] = ()
    defaults: dict[str, float] = Field(default_factory=dict)
    weights: dict[str, float] = Field(default_factory=dict)
    reach_window_days: int = Field(default=30, ge=1, le=365)

    @model_validator(mode="after")
    def _compiles(self) -> ScoringConfig:
        if self.method == "custom" and not self.formula:
            raise ValueError("a custom scoring method needs formula")
        if self.method != "custom" and (self.formula or self.weights):
            raise ValueError(f"formula and weights are only for method 'custom', not {self.method}")
        names = [spec.name for spec in self.inputs]
        if len(names) != len(set(names)):
            raise ValueError(f"scoring inputs are declared twice: {sorted(names)}")
        try:
            self.compiled_formula()
            unknown = sorted(set(self.defaults) - {spec.name for spec in self.input_definitions()})
            if unknown:
                raise ValidationError(f"defaults for unknown inputs {unknown}")
            for spec in self.input_definitions():
                _check_default(spec)
        except ValidationError as error:
            raise ValueError(str(error)) from None
        return self

    def formula_text(self) -> str:
        """The formula the method evaluates."""
        if self.method == "custom":
            assert self.formula is not None
            return self.formula
        return BUILTIN_METHODS[self.method].formula

    def label(self) -> str:
        if self.method == "custom":
            return self.name or "custom"
        return BUILTIN_METHODS[self.method].name

    def input_definitions(self) -> tuple[ScoringInput, ...]:
        """The inputs with overrides and ``defaults`` applied, in declaration order."""
        if self.method == "custom":
            declared = list(self.inputs)
        else:
            overrides = {spec.name: spec for spec in self.inputs}
            builtin = BUILTIN_METHODS[self.method].inputs
            unknown = sorted(set(overrides) - {spec.name for spec in builtin})
            if unknown:
                raise ValidationError(f"{self.method} has no inputs {unknown}")
            declared = [overrides.get(spec.name, spec) for spec in builtin]
        return tuple(
            spec.model_copy(update={"default": self.defaults[spec.name]})
            if spec.name in self.defaults
            else spec
            for spec in declared
        )

    def compiled_formula(self) -> Formula:
        """The checked formula (raises ``ValidationError`` naming the offending part)."""
        specs = self.input_definitions()
        formula = compile_formula(
            self.formula_text(), [spec.name for spec in specs], constants=self.weights
        )
        unused = [spec.name for spec in specs if spec.name not in formula.inputs]
        if unused:
            raise ValidationError(f"formula {formula.text!r} does not use inputs {unused}")
        return formula


def _check_default(spec: ScoringInput) -> None:
    # ``defaults`` are merged with model_copy, which skips the input's own validator.
    if spec.default is not None and (problem := _range_problem(spec, spec.default)):
        raise ValidationError(f"input {spec.name}: default {problem}")


@dataclass(frozen=True, slots=True)
class ScoringItem:
    """What the scorer needs from a backlog item.

    Attributes:
        key: the item's key, e.g. ``"PP-12"``; breaks ties in rankings.
        title: shown in explanations.
        feature: the product feature (or segment) the item changes; selects live reach.
        values: the item's own input values, e.g. ``{"impact": 2, "effort": 3}``.
        derived: where values not set on the item came from, as (source, detail), e.g.
            ``{"effort": ("estimate", "the effort estimate, 3 days")}``; the others are the
            item's own.
    """

    key: str
    title: str = ""
    feature: str | None = None
    values: Mapping[str, float] = field(default_factory=dict)
    derived: Mapping[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InputValue:
    """An input as used in a score.

    Attributes:
        name: the input's name.
        value: the value used.
        source: ``"item"``, ``"live usage"``, ``"default"``, or where ProductPilot derived
            it (``"estimate"``: RICE's effort from the effort estimate).
        detail: a sentence on where the value came from.
        contribution: how much it moved the score from the baseline item's score.
        neutral: the baseline item's value of this input.
    """

    name: str
    value: float
    source: Source
    detail: str
    contribution: float | None = None
    neutral: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "source": self.source,
            "detail": self.detail,
            "contribution": self.contribution,
            "neutral": self.neutral,
        }


@dataclass(frozen=True, slots=True)
class ScoreExplanation:
    """Why an item scored what it did.

    Attributes:
        method: ``"RICE"``, ``"ICE"``, ``"WSJF"`` or the custom formula's name.
        formula: the formula text.
        inputs: every input with value, source and contribution.
        contribution_method: ``"log-share"`` or ``"shapley"`` (``None`` if unavailable).
        baseline_score: the formula at every input's neutral value.
        note: why contributions are missing, when they are.
    """

    method: str
    formula: str
    inputs: tuple[InputValue, ...]
    contribution_method: str | None
    baseline_score: float | None
    note: str | None = None

    def sentence(self, score: float) -> str:
        """One line: the score, the formula and the inputs in order of contribution."""
        ranked = sorted(self.inputs, key=lambda i: -abs(i.contribution or 0.0))
        parts = ", ".join(
            f"{i.name}={i.value:g} ({i.source}"
            + (f", {i.contribution:+.3g}" if i.contribution is not None else "")
            + ")"
            for i in ranked
        )
        return f"{self.method} {score:.4g} = {self.formula}; {parts}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "formula": self.formula,
            "inputs": [value.to_dict() for value in self.inputs],
            "contribution_method": self.contribution_method,
            "baseline_score": self.baseline_score,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Score:
    """An item's score, or why it has none.

    Attributes:
        key: the item's key.
        title: the item's title.
        score: the value, ``None`` when the item could not be scored.
        explanation: inputs, sources and contributions (``None`` when not scored).
        missing: required inputs the item lacks.
        reason: why the item was not scored (``None`` when scored).
    """

    key: str
    title: str
    score: float | None
    explanation: ScoreExplanation | None = None
    missing: tuple[str, ...] = ()
    reason: str | None = None

    @property
    def scored(self) -> bool:
        return self.score is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "score": self.score,
            "explanation": self.explanation.to_dict() if self.explanation else None,
            "summary": self.explanation.sentence(self.score)
            if self.explanation and self.score is not None
            else None,
            "missing": list(self.missing),
            "reason": self.reason,
        }


class Scorer:
    """Scores items with one :class:`ScoringConfig`; the formula is compiled once.

    Example:
        >>> scorer = Scorer(ScoringConfig(method="wsjf"))
        >>> scorer.score(ScoringItem("A", values={"business_value": 8, "time_criticality": 5,
        ...                                       "risk_reduction": 2, "job_size": 5})).score
        3.0
    """

    def __init__(self, config: ScoringConfig) -> None:
        self.config = config
        self.formula = config.compiled_formula()
        self.inputs = config.input_definitions()

    def score(self, item: ScoringItem, reach_by_feature: Mapping[str, int] | None = None) -> Score:
        """Score one item, or say why it cannot be scored.

        Args:
            item: the item and its own input values.
            reach_by_feature: users per feature over the last ``reach_window_days`` days.

        Returns:
            The score with its explanation, or ``score=None`` with ``missing``/``reason``.

        Example:
            >>> Scorer(ScoringConfig(method="ice")).score(
            ...     ScoringItem("B", values={"impact": 8})).reason
            'missing required inputs: confidence, ease'
        """
        used: list[InputValue] = []
        missing: list[str] = []
        problems: list[str] = []
        for spec in self.inputs:
            resolved = self._resolve(spec, item, reach_by_feature)
            if resolved is None:
                missing.append(spec.name)
                continue
            if problem := _range_problem(spec, resolved.value):
                problems.append(f"{spec.name} {problem}")
            used.append(resolved)
        if missing or problems:
            reasons = [f"missing required inputs: {', '.join(missing)}"] if missing else []
            return Score(
                item.key,
                item.title,
                None,
                missing=tuple(missing),
                reason="; ".join(reasons + problems),
            )
        values = {value.name: value.value for value in used}
        try:
            result = self.formula.evaluate(values)
        except FormulaEvaluationError as error:
            return Score(item.key, item.title, None, reason=str(error))
        return Score(item.key, item.title, result, explanation=self._explain(used, values))

    def score_all(
        self, items: Iterable[ScoringItem], reach_by_feature: Mapping[str, int] | None = None
    ) -> list[Score]:
        """Score every item (in the given order)."""
        return [self.score(item, reach_by_feature) for item in items]

    def _resolve(
        self,
        spec: ScoringInput,
        item: ScoringItem,
        reach_by_feature: Mapping[str, int] | None,
    ) -> InputValue | None:
        window = self.config.reach_window_days
        fallback_detail = ""
        if spec.name == REACH and item.feature is not None and reach_by_feature is not None:
            if item.feature in reach_by_feature:
                users = reach_by_feature[item.feature]
                detail = f"{users} users used feature {item.feature!r} in the last {window} days"
                return InputValue(REACH, float(users), "live usage", detail)
            fallback_detail = f"no usage of feature {item.feature!r} in the last {window} days; "
        if spec.name in item.values and item.values[spec.name] is not None:
            source, detail = item.derived.get(spec.name, ("item", "the item's own value"))
            return InputValue(
                spec.name, float(item.values[spec.name]), source, fallback_detail + detail
            )
        if spec.default is not None:
            return InputValue(
                spec.name, spec.default, "default", fallback_detail + "the configured default"
            )
        return None

    def _explain(self, used: list[InputValue], values: dict[str, float]) -> ScoreExplanation:
        neutral = {spec.name: spec.neutral_value for spec in self.inputs}
        label, text = self.config.label(), self.formula.text
        try:
            parts = self.formula.contributions(values, neutral)
        except FormulaEvaluationError as error:
            return ScoreExplanation(
                label, text, tuple(used), None, None, note=f"contributions unavailable: {error}"
            )
        explained = tuple(
            InputValue(v.name, v.value, v.source, v.detail, parts.by_input[v.name], neutral[v.name])
            for v in used
        )
        return ScoreExplanation(label, text, explained, parts.method, parts.baseline)


def rank(scores: Sequence[Score]) -> list[Score]:
    """Scored items by score, highest first, then unscored ones; ties by key.

    Scores equal to :data:`TIE_DECIMALS` decimals are ties, so ``0.1 * 3`` and ``0.3`` do
    not order by float noise; ties (and unscored items) go in ascending key order.

    Example:
        >>> [s.key for s in rank([Score("b", "", 2.0), Score("c", "", None),
        ...                       Score("a", "", 2.0), Score("d", "", 5.0)])]
        ['d', 'a', 'b', 'c']
    """
    return sorted(
        scores,
        key=lambda s: (
            s.score is None,
            -round(s.score, TIE_DECIMALS) if s.score is not None else 0.0,
            s.key,
        ),
    )
