"""A safe arithmetic evaluator for scoring formulas written in a product's configuration.

Nothing is ever passed to ``eval`` or ``exec``: the text is parsed with
``ast.parse(mode="eval")`` and every node is checked against a whitelist once, when the
configuration is validated; evaluation then walks the checked tree. Allowed:

* numbers (``int``/``float`` literals, not ``True``/``False``), the names of declared inputs
  and constants;
* ``+ - * /``, unary ``-``/``+``, parentheses and ``**`` with a literal exponent of absolute
  value at most :data:`MAX_EXPONENT` (so ``2 ** 10 ** 10`` cannot exhaust the machine);
* the functions ``min(a, b, ...)``, ``max(a, b, ...)``, ``log(x)`` (natural),
  ``log(x, base)``, ``sqrt(x)``, ``abs(x)`` and ``clamp(x, lo, hi)``.

Anything else (attributes, subscripts, calls of other names, lambdas, comprehensions,
comparisons, strings, keyword arguments) is refused with a
:class:`~productpilot.errors.ValidationError` naming the offending part and its column.

Evaluation errors are errors, never silent values: a division by zero, ``log`` of a
non-positive number, ``sqrt`` of a negative one or a non-finite result raise
:class:`FormulaEvaluationError` (a ``ValidationError``) naming the sub-expression.

Contributions (why an item scored what it did) are measured against a *baseline*: the
formula evaluated with every input at its neutral value. They always add up exactly to
``score - baseline``:

* for a purely multiplicative formula (``c * x1**e1 * x2**e2 / x3 ...`` with ``c > 0``) and
  positive values, the log-space share (the logarithmic mean Divisia index):
  ``contribution_i = L(score, baseline) * e_i * ln(x_i / neutral_i)`` with the logarithmic
  mean ``L(a, b) = (a - b) / (ln a - ln b)``. Doubling reach and halving effort then get
  equal shares, which a one-at-a-time change would not give for products;
* otherwise the exact Shapley value of each input, the inputs outside a coalition held at
  their neutral values (``2**n`` evaluations, ``n <= MAX_INPUTS``).

Example:
    >>> rice = compile_formula("reach * impact * confidence / effort",
    ...                        ["reach", "impact", "confidence", "effort"])
    >>> rice.evaluate({"reach": 400, "impact": 2, "confidence": 0.5, "effort": 4})
    100.0
    >>> rice.multiplicative
    True
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from productpilot.errors import ValidationError

MAX_LENGTH = 500
MAX_NODES = 200
MAX_EXPONENT = 8
MAX_INPUTS = 12
FUNCTIONS: dict[str, tuple[int, int | None]] = {  # name -> (fewest, most) arguments
    "min": (2, None),
    "max": (2, None),
    "log": (1, 2),
    "sqrt": (1, 1),
    "abs": (1, 1),
    "clamp": (3, 3),
}
_DISALLOWED_OPERATORS = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.Invert: "~",
    ast.Not: "not",
}

ContributionMethod = Literal["log-share", "shapley"]
_Evaluator = Callable[[Mapping[str, float]], float]


class FormulaEvaluationError(ValidationError):
    """A checked formula could not be evaluated for these values (e.g. a division by zero)."""


@dataclass(frozen=True, slots=True)
class Contributions:
    """How each input moved the score away from the baseline.

    Attributes:
        method: ``"log-share"`` (multiplicative formula) or ``"shapley"``.
        baseline: the formula's value with every input at its neutral value.
        score: the formula's value for the item.
        by_input: input name -> contribution; the values sum to ``score - baseline``.
    """

    method: ContributionMethod
    baseline: float
    score: float
    by_input: dict[str, float]


@dataclass(frozen=True, slots=True)
class Formula:
    """A checked formula, ready to evaluate many times.

    Attributes:
        text: the formula as written.
        inputs: the declared input names the formula uses, in order of first use.
        constants: named constants (e.g. weights) bound at compile time.
        multiplicative: ``True`` when the formula is ``c * prod(input ** exponent)`` with
            ``c > 0``; the exponents are in ``exponents``.
        exponents: input -> its total exponent, for multiplicative formulas (else empty).
    """

    text: str
    inputs: tuple[str, ...]
    constants: dict[str, float]
    multiplicative: bool
    exponents: dict[str, float]
    _evaluate: _Evaluator = field(repr=False, compare=False)

    def evaluate(self, values: Mapping[str, float]) -> float:
        """The formula's value; ``values`` must hold every input the formula uses.

        Example:
            >>> compile_formula("clamp(a / b, 0, 1)", ["a", "b"]).evaluate({"a": 3, "b": 2})
            1.0
        """
        missing = [name for name in self.inputs if name not in values]
        if missing:
            raise ValidationError(f"formula {self.text!r} is missing input(s) {missing}")
        result = self._evaluate(values)
        if not math.isfinite(result):
            raise FormulaEvaluationError(f"formula {self.text!r} gave a non-finite result")
        return result

    def contributions(
        self, values: Mapping[str, float], neutral: Mapping[str, float]
    ) -> Contributions:
        """Each input's share of ``score - baseline`` (see the module docstring).

        Args:
            values: the item's input values.
            neutral: every input's neutral value (the baseline item).

        Raises:
            FormulaEvaluationError: the formula cannot be evaluated at the baseline or, for
                Shapley values, at a mix of item and neutral values.

        Example:
            >>> f = compile_formula("a * b", ["a", "b"])
            >>> parts = f.contributions({"a": 4, "b": 2}, {"a": 1, "b": 1})
            >>> (parts.method, parts.baseline, round(parts.by_input["a"], 6))
            ('log-share', 1.0, 4.666667)
        """
        score = self.evaluate(values)
        baseline = self.evaluate({**values, **{n: neutral[n] for n in self.inputs}})
        positive = all(values[n] > 0 and neutral[n] > 0 for n in self.inputs)
        if self.multiplicative and positive:
            return Contributions("log-share", baseline, score, self._log_share(values, neutral))
        return Contributions("shapley", baseline, score, self._shapley(values, neutral))

    def _log_share(
        self, values: Mapping[str, float], neutral: Mapping[str, float]
    ) -> dict[str, float]:
        score, baseline = self.evaluate(values), self.evaluate({**values, **neutral})
        # The logarithmic mean makes the shares add up exactly; it tends to the value itself
        # when both ends meet.
        if math.isclose(score, baseline, rel_tol=1e-12):
            log_mean = score
        else:
            log_mean = (score - baseline) / (math.log(score) - math.log(baseline))
        return {
            name: log_mean * self.exponents[name] * math.log(values[name] / neutral[name])
            for name in self.inputs
        }

    def _shapley(
        self, values: Mapping[str, float], neutral: Mapping[str, float]
    ) -> dict[str, float]:
        names = self.inputs
        n = len(names)
        coalition_value = []
        for mask in range(1 << n):
            mixed = dict(values)
            for bit, name in enumerate(names):
                if not mask >> bit & 1:
                    mixed[name] = neutral[name]
            coalition_value.append(self.evaluate(mixed))
        weight = [
            math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n) for k in range(n)
        ]
        shares = {}
        for bit, name in enumerate(names):
            total = 0.0
            for mask in range(1 << n):
                if not mask >> bit & 1:
                    gain = coalition_value[mask | 1 << bit] - coalition_value[mask]
                    total += weight[mask.bit_count()] * gain
            shares[name] = total
        return shares


def compile_formula(
    text: str,
    inputs: Iterable[str],
    *,
    constants: Mapping[str, float] | None = None,
    max_length: int = MAX_LENGTH,
) -> Formula:
    """Parse and check ``text`` once; the result evaluates without any further checks.

    Args:
        text: the formula, e.g. ``"(value + criticality) / size"``.
        inputs: the names an item provides values for.
        constants: names bound to fixed numbers (weights); they must not clash with inputs.
        max_length: the longest text accepted.

    Raises:
        ValidationError: the text is empty, too long, not an expression, uses a name that is
            neither an input nor a constant, or any syntax outside the whitelist; the message
            names the part and its (1-based) column.

    Example:
        >>> compile_formula("reach * cost", ["reach"])
        Traceback (most recent call last):
        ...
        productpilot.errors.ValidationError: formula: unknown name 'cost' at column 9 (known: reach)
    """
    inputs = tuple(dict.fromkeys(inputs))
    constants = {name: float(value) for name, value in (constants or {}).items()}
    clash = sorted(set(inputs) & set(constants))
    if clash:
        raise ValidationError(f"formula: {clash} are both inputs and constants")
    if reserved := sorted((set(inputs) | set(constants)) & set(FUNCTIONS)):
        raise ValidationError(f"formula: {reserved} are function names, not input names")
    if not text.strip():
        raise ValidationError("formula: the formula is empty")
    if len(text) > max_length:
        raise ValidationError(f"formula: {len(text)} characters, the limit is {max_length}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ValidationError(
            f"formula: invalid syntax at column {max(error.offset or 1, 1)}: {error.msg}"
        ) from None
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > MAX_NODES:
        raise ValidationError(f"formula: {nodes} syntax nodes, the limit is {MAX_NODES}")
    checker = _Checker(text.strip(), inputs, constants)
    evaluator = checker.build(tree.body)
    used = tuple(name for name in checker.used if name in inputs)
    if len(used) > MAX_INPUTS:
        raise ValidationError(f"formula: uses {len(used)} inputs, the limit is {MAX_INPUTS}")
    monomial = _monomial(tree.body, constants)
    multiplicative = monomial is not None and monomial[0] > 0
    exponents = {name: monomial[1].get(name, 0.0) for name in used} if multiplicative else {}
    return Formula(text.strip(), used, constants, multiplicative, exponents, evaluator)


class _Checker:
    """Checks each node against the whitelist and builds a closure evaluating it."""

    def __init__(self, text: str, inputs: tuple[str, ...], constants: dict[str, float]) -> None:
        self.text = text
        self.inputs = inputs
        self.constants = constants
        self.used: list[str] = []

    def fail(self, node: ast.AST, problem: str) -> ValidationError:
        column = getattr(node, "col_offset", 0) + 1
        return ValidationError(f"formula: {problem} at column {column}")

    def source(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or ast.unparse(node)

    def build(self, node: ast.AST) -> _Evaluator:
        match node:
            case ast.Constant(value=bool() | None) | ast.Constant(value=str() | bytes()):
                raise self.fail(node, f"literal {node.value!r} is not a number")
            case ast.Constant(value=int() | float() as number):
                number = float(number)
                return lambda values: number
            case ast.Constant():
                raise self.fail(node, f"literal {node.value!r} is not a real number")
            case ast.Name(id=name):
                return self.name(node, name)
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                inner = self.build(operand)
                return lambda values: -inner(values)
            case ast.UnaryOp(op=ast.UAdd(), operand=operand):
                return self.build(operand)
            case ast.BinOp(op=ast.Pow()):
                return self.power(node)
            case ast.BinOp(op=ast.Div()):
                return self.division(node)
            case ast.BinOp(op=ast.Add() | ast.Sub() | ast.Mult() as op):
                left, right = self.build(node.left), self.build(node.right)
                if isinstance(op, ast.Add):
                    return lambda values: left(values) + right(values)
                if isinstance(op, ast.Sub):
                    return lambda values: left(values) - right(values)
                return lambda values: left(values) * right(values)
            case ast.Call():
                return self.call(node)
            case ast.BinOp() | ast.UnaryOp():
                symbol = _DISALLOWED_OPERATORS.get(type(node.op), type(node.op).__name__)
                raise self.fail(
                    node, f"operator {symbol!r} in {self.source(node)!r} is not allowed"
                )
            case ast.Attribute():
                raise self.fail(node, f"attribute access {self.source(node)!r} is not allowed")
            case ast.Lambda():
                raise self.fail(node, "lambda is not allowed")
            case ast.ListComp() | ast.SetComp() | ast.DictComp() | ast.GeneratorExp():
                raise self.fail(node, "comprehension is not allowed")
            case _:
                kind = type(node).__name__
                raise self.fail(node, f"{kind} {self.source(node)!r} is not allowed")

    def name(self, node: ast.Name, name: str) -> _Evaluator:
        if name in self.constants:
            constant = self.constants[name]
            return lambda values: constant
        if name not in self.inputs:
            known = ", ".join(sorted([*self.inputs, *self.constants])) or "none"
            raise ValidationError(
                f"formula: unknown name {name!r} at column {node.col_offset + 1} (known: {known})"
            )
        if name not in self.used:
            self.used.append(name)
        return lambda values: float(values[name])

    def power(self, node: ast.BinOp) -> _Evaluator:
        exponent = _literal(node.right)
        if exponent is None:
            raise self.fail(node.right, f"exponent {self.source(node.right)!r} must be a number")
        if abs(exponent) > MAX_EXPONENT:
            raise self.fail(
                node.right, f"exponent {exponent:g} is beyond the limit of {MAX_EXPONENT}"
            )
        base = self.build(node.left)
        text = self.source(node)

        def evaluate(values: Mapping[str, float]) -> float:
            value = base(values)
            if value < 0 and not exponent.is_integer():
                raise FormulaEvaluationError(f"{text!r}: negative base {value:g}, exponent")
            if value == 0 and exponent < 0:
                raise FormulaEvaluationError(f"division by zero in {text!r}")
            try:
                return value**exponent
            except OverflowError:
                raise FormulaEvaluationError(f"{text!r} overflows for {value:g}") from None

        return evaluate

    def division(self, node: ast.BinOp) -> _Evaluator:
        left, right = self.build(node.left), self.build(node.right)
        divisor = self.source(node.right)

        def evaluate(values: Mapping[str, float]) -> float:
            denominator = right(values)
            if denominator == 0:
                raise FormulaEvaluationError(f"division by zero: {divisor!r} is 0")
            return left(values) / denominator

        return evaluate

    def call(self, node: ast.Call) -> _Evaluator:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            allowed = ", ".join(FUNCTIONS)
            raise self.fail(
                node, f"call of {self.source(node.func)!r} is not allowed (functions: {allowed})"
            )
        name = node.func.id
        if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
            raise self.fail(node, f"{name}() takes plain positional arguments only")
        fewest, most = FUNCTIONS[name]
        count = len(node.args)
        if count < fewest or (most is not None and count > most):
            if fewest == most:
                wanted = f"{fewest}"
            elif most is None:
                wanted = f"at least {fewest}"
            else:
                wanted = f"{fewest} to {most}"
            raise self.fail(node, f"{name}() takes {wanted} arguments, got {count}")
        args = [self.build(arg) for arg in node.args]
        text = self.source(node)
        return _FUNCTION_BUILDERS[name](args, text)


def _build_min(args: list[_Evaluator], text: str) -> _Evaluator:
    return lambda values: min(arg(values) for arg in args)


def _build_max(args: list[_Evaluator], text: str) -> _Evaluator:
    return lambda values: max(arg(values) for arg in args)


def _build_log(args: list[_Evaluator], text: str) -> _Evaluator:
    def evaluate(values: Mapping[str, float]) -> float:
        x = args[0](values)
        if x <= 0:
            raise FormulaEvaluationError(f"{text!r}: log of {x:g} (must be positive)")
        if len(args) == 1:
            return math.log(x)
        base = args[1](values)
        if base <= 0 or base == 1:
            raise FormulaEvaluationError(f"{text!r}: log base {base:g} (positive, not 1)")
        return math.log(x, base)

    return evaluate


def _build_sqrt(args: list[_Evaluator], text: str) -> _Evaluator:
    def evaluate(values: Mapping[str, float]) -> float:
        x = args[0](values)
        if x < 0:
            raise FormulaEvaluationError(f"{text!r}: sqrt of {x:g} (must not be negative)")
        return math.sqrt(x)

    return evaluate


def _build_abs(args: list[_Evaluator], text: str) -> _Evaluator:
    return lambda values: abs(args[0](values))


def _build_clamp(args: list[_Evaluator], text: str) -> _Evaluator:
    def evaluate(values: Mapping[str, float]) -> float:
        x, low, high = (arg(values) for arg in args)
        if low > high:
            raise FormulaEvaluationError(f"{text!r}: lower bound {low:g} above upper {high:g}")
        return min(max(x, low), high)

    return evaluate


_FUNCTION_BUILDERS: dict[str, Callable[[list[_Evaluator], str], _Evaluator]] = {
    "min": _build_min,
    "max": _build_max,
    "log": _build_log,
    "sqrt": _build_sqrt,
    "abs": _build_abs,
    "clamp": _build_clamp,
}


def _literal(node: ast.AST) -> float | None:
    """The value of a numeric literal, optionally signed; ``None`` for anything else."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _literal(node.operand)
        if inner is None:
            return None
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    return None


def _monomial(
    node: ast.AST, constants: Mapping[str, float]
) -> tuple[float, dict[str, float]] | None:
    """``(coefficient, exponents)`` when ``node`` is ``c * prod(name ** e)``, else ``None``."""
    literal = _literal(node)
    if literal is not None:
        return literal, {}
    if isinstance(node, ast.Name):
        if node.id in constants:
            return constants[node.id], {}
        return 1.0, {node.id: 1.0}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Div):
        left, right = _monomial(node.left, constants), _monomial(node.right, constants)
        if left is None or right is None or (isinstance(node.op, ast.Div) and right[0] == 0):
            return None
        sign = 1.0 if isinstance(node.op, ast.Mult) else -1.0
        exponents = dict(left[1])
        for name, exponent in right[1].items():
            exponents[name] = exponents.get(name, 0.0) + sign * exponent
        coefficient = left[0] * right[0] if sign > 0 else left[0] / right[0]
        return coefficient, exponents
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        base, exponent = _monomial(node.left, constants), _literal(node.right)
        if base is None or exponent is None or base[0] <= 0:
            return None
        return base[0] ** exponent, {name: e * exponent for name, e in base[1].items()}
    return None
