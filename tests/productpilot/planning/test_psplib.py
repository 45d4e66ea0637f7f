"""Specification of the PSPLIB ``.sm`` parser and the optimum.csv reader."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest
from ortools.sat.python import cp_model

from productpilot.errors import ValidationError
from productpilot.planning import psplib as module
from productpilot.planning import scheduling as module_scheduling
from productpilot.planning.psplib import (
    EXAMPLE_SM,
    KnownBound,
    load_sm,
    parse_bound,
    parse_sm,
    read_optimum,
)
from productpilot.planning.scheduling import solve
from tests.integrations.shared_data import shared_dir


def test_parses_jobs_durations_successors_demands_and_capacities() -> None:
    problem = parse_sm(EXAMPLE_SM, "tiny.sm")
    assert problem.name == "tiny.sm"
    assert problem.objective == "makespan"
    assert [(r.name, r.capacity) for r in problem.resources] == [("R1", 4)]
    by_id = {item.id: item for item in problem.items}
    assert list(by_id) == ["1", "2", "3", "4", "5"]
    assert (by_id["1"].duration, by_id["1"].demands, by_id["1"].predecessors) == (0, {}, ())
    assert (by_id["3"].duration, by_id["3"].demands) == (2, {"R1": 3})
    assert by_id["5"].predecessors == ("2", "3", "4")


def test_the_example_solves_to_its_hand_computed_optimum() -> None:
    # Job 3 (demand 3 of 4) overlaps neither job 2 nor job 4: 2 days + max(3, 2) days.
    plan = solve(parse_sm(EXAMPLE_SM))
    assert (plan.makespan, plan.status) == (5, "OPTIMAL")
    assert plan.end("3") <= plan.start("2") or plan.end("2") <= plan.start("3")


def replace_line(old: str, new: str) -> str:
    assert old in EXAMPLE_SM
    return EXAMPLE_SM.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            replace_line("  3      1     2       3", "  3      1     2       x"),
            r"line 23: not a row",
        ),
        (replace_line("  3      1     2       3", "  3      1     2"), r"line 23: expected job"),
        (
            replace_line("   2        1          1           5", "   2        2          1   5"),
            r"line 13: job 2 has several modes",
        ),
        (
            replace_line("   2        1          1           5", "   2   1   2   5"),
            r"line 13: a malformed precedence row",
        ),
        (
            replace_line(
                "  - nonrenewable              :  0", "  - nonrenewable              :  1"
            ),
            "only renewable",
        ),
        (replace_line("RESOURCEAVAILABILITIES:", "AVAILABILITY:"), "RESOURCEAVAILABILITIES"),
        (replace_line("    4\n", "    4   5\n"), r"line 29: expected 1 capacities, got 2"),
        (
            replace_line(
                "jobs (incl. supersource/sink ):  5", "jobs (incl. supersource/sink ):  6"
            ),
            "jobs 1..6",
        ),
        (
            replace_line(
                "   4        1          1           5", "   4        1          1           9"
            ),
            "unknown successor 9",
        ),
        ("nothing here", "count is missing"),
    ],
)
def test_malformed_files_are_validation_errors_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_sm(text, "bad.sm")


def test_bounds_of_optimum_csv() -> None:
    assert parse_bound("43") == KnownBound(43, 43)
    assert parse_bound(" 82..87 ") == KnownBound(82, 87)
    assert parse_bound("..87") == KnownBound(None, 87)
    assert parse_bound("43").is_optimal
    assert not parse_bound("82..87").is_optimal
    for bad in ("", "abc", "87..82", "1..", "4.5"):
        with pytest.raises(ValidationError):
            parse_bound(bad)


def test_read_optimum_names_a_bad_line(tmp_path: Path) -> None:
    good = tmp_path / "optimum.csv"
    good.write_text("problem,optimum\nj301_1.sm,43\nj6013_1.sm,104..112\nj6042_1.sm,..88\n")
    assert read_optimum(good) == {
        "j301_1.sm": KnownBound(43, 43),
        "j6013_1.sm": KnownBound(104, 112),
        "j6042_1.sm": KnownBound(None, 88),
    }
    bad = tmp_path / "bad.csv"
    bad.write_text("problem,optimum\nj301_1.sm,43\nj301_2.sm,forty\n")
    with pytest.raises(ValidationError, match="line 3"):
        read_optimum(bad)
    headless = tmp_path / "headless.csv"
    headless.write_text("j301_1.sm,43\n")
    with pytest.raises(ValidationError, match="line 1"):
        read_optimum(headless)


def test_three_real_j30_instances_solve_to_their_known_optimum() -> None:
    folder = shared_dir("psplib") / "j30.sm"
    known = read_optimum(folder / "optimum" / "optimum.csv")
    for name in ("j301_1.sm", "j3016_7.sm", "j3047_9.sm"):  # each well under a second
        problem = load_sm(folder / name)
        assert len(problem.items) == 32
        assert len(problem.resources) == 4
        plan = solve(problem, time_limit=10)
        assert plan.makespan == known[name].upper, name
        assert plan.status == "OPTIMAL"


def test_docstring_examples() -> None:
    assert doctest.testmod(module).failed == 0


def test_an_unproven_makespan_gets_its_long_solve_without_the_lp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # j3029_8 is not proven in the quick solve: the long solve follows, and its full search
    # is CP-SAT's ``no_lp`` (with the LP, the default, it stayed at 81 against the optimum 80).
    problem = load_sm(shared_dir("psplib") / "j30.sm" / "j3029_8.sm")
    used = []
    original = module_scheduling._solver

    def recording_solver(time_limit: float, num_workers: int, seed: int) -> cp_model.CpSolver:
        solver = original(time_limit, num_workers, seed)
        used.append(solver)
        return solver

    monkeypatch.setattr(module_scheduling, "_solver", recording_solver)
    solve(problem, time_limit=1)
    assert [list(solver.parameters.subsolvers) for solver in used] == [[], ["no_lp"]]
