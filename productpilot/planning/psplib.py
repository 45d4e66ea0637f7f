"""PSPLIB single-mode RCPSP files (``.sm``) as scheduling problems, and known optima.

A ``.sm`` file lists jobs (with a dummy source and sink of duration 0), each job's
successors, its duration and demand per renewable resource, and the resources' capacities.
Jobs become :class:`~productpilot.planning.scheduling.WorkItem` objects named by their job
number, resources ``R1``, ``R2``, ..., and the objective is the makespan.

Example:
    >>> bound = parse_bound("82..87")
    >>> bound.lower, bound.upper, bound.is_optimal
    (82, 87, False)
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from productpilot.errors import ValidationError
from productpilot.planning.scheduling import Problem, Resource, WorkItem

_COUNT = re.compile(
    r"^\s*(jobs \(incl\. supersource/sink \)|- renewable|- nonrenewable|"
    r"- doubly constrained)\s*:\s*(\d+)"
)


@dataclass(frozen=True, slots=True)
class KnownBound:
    """A published result for an instance: the optimum (``lower == upper``), or the
    best-known makespan ``upper`` with a proven ``lower`` bound (``None`` if not given)."""

    lower: int | None
    upper: int

    @property
    def is_optimal(self) -> bool:
        return self.lower == self.upper


def parse_sm(text: str, name: str = "") -> Problem:
    """The RCPSP instance of a PSPLIB single-mode ``.sm`` text.

    Args:
        text: the file's content.
        name: the problem's name (e.g. the file name), also used in error messages.

    Returns:
        A makespan problem with one item per job and one resource per renewable resource.

    Raises:
        ValidationError: a section or count is missing, a row is malformed (the message
            gives the line number), a job has more than one mode, or the file uses
            nonrenewable resources.

    Example:
        >>> problem = parse_sm(EXAMPLE_SM, "tiny.sm")
        >>> [(i.id, i.duration, i.predecessors) for i in problem.items][:3]
        [('1', 0, ()), ('2', 3, ('1',)), ('3', 2, ('1',))]
        >>> [(r.name, r.capacity) for r in problem.resources]
        [('R1', 4)]
    """
    where = name or "the .sm text"
    lines = text.splitlines()
    counts: dict[str, int] = {}
    for line in lines:
        match = _COUNT.match(line)
        if match:
            counts[match.group(1)] = int(match.group(2))
    if "jobs (incl. supersource/sink )" not in counts or "- renewable" not in counts:
        raise ValidationError(f"{where}: the job or renewable resource count is missing")
    jobs, renewable = counts["jobs (incl. supersource/sink )"], counts["- renewable"]
    if counts.get("- nonrenewable", 0) or counts.get("- doubly constrained", 0):
        raise ValidationError(f"{where}: only renewable resources are supported")

    successors: dict[int, list[int]] = {}
    for number, fields in _rows(lines, "PRECEDENCE RELATIONS:", where):
        if len(fields) < 3 or len(fields) != 3 + fields[2]:
            raise ValidationError(f"{where} line {number}: a malformed precedence row")
        if fields[1] != 1:
            raise ValidationError(f"{where} line {number}: job {fields[0]} has several modes")
        successors[fields[0]] = fields[3:]

    requests: dict[int, tuple[int, list[int]]] = {}
    for number, fields in _rows(lines, "REQUESTS/DURATIONS:", where):
        if len(fields) != 3 + renewable:
            raise ValidationError(
                f"{where} line {number}: expected job, mode, duration and {renewable} demands"
            )
        requests[fields[0]] = (fields[2], fields[3:])

    capacities = _capacities(lines, renewable, where)
    expected = set(range(1, jobs + 1))
    for table, found in (("PRECEDENCE RELATIONS", successors), ("REQUESTS/DURATIONS", requests)):
        if set(found) != expected:
            raise ValidationError(f"{where}: {table} does not list jobs 1..{jobs} exactly once")
    predecessors: dict[int, list[int]] = {job: [] for job in expected}
    for job, after in successors.items():
        for successor in after:
            if successor not in expected:
                raise ValidationError(f"{where}: job {job} has an unknown successor {successor}")
            predecessors[successor].append(job)

    resources = tuple(Resource(f"R{k + 1}", units) for k, units in enumerate(capacities))
    items = tuple(
        WorkItem(
            str(job),
            requests[job][0],
            {f"R{k + 1}": q for k, q in enumerate(requests[job][1]) if q},
            predecessors=tuple(str(p) for p in sorted(predecessors[job])),
        )
        for job in sorted(expected)
    )
    return Problem(items, resources, "makespan", name)


def load_sm(path: Path) -> Problem:
    """:func:`parse_sm` of a file, named after it.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = Path(folder) / "tiny.sm"
        ...     _ = path.write_text(EXAMPLE_SM)
        ...     load_sm(path).name
        'tiny.sm'
    """
    return parse_sm(Path(path).read_text(), Path(path).name)


def _rows(lines: list[str], title: str, where: str) -> list[tuple[int, list[int]]]:
    """Integer rows of a section: from the line after its header row up to the next rule
    of stars; each with its 1-based line number."""
    try:
        begin = next(k for k, line in enumerate(lines) if line.strip() == title)
    except StopIteration:
        raise ValidationError(f"{where}: the section {title} is missing") from None
    rows = []
    for k in range(begin + 2, len(lines)):  # skip the column-header row
        line = lines[k].strip()
        if line.startswith("*"):
            break
        if not line or line.startswith("-"):
            continue
        try:
            rows.append((k + 1, [int(v) for v in line.split()]))
        except ValueError:
            raise ValidationError(f"{where} line {k + 1}: not a row of integers: {line}") from None
    return rows


def _capacities(lines: list[str], renewable: int, where: str) -> list[int]:
    title = "RESOURCEAVAILABILITIES:"
    begin = next((k for k, line in enumerate(lines) if line.strip() == title), None)
    if begin is None or begin + 2 >= len(lines):
        raise ValidationError(f"{where}: the section {title} is missing")
    row = lines[begin + 2]
    try:
        values = [int(v) for v in row.split()]
    except ValueError:
        raise ValidationError(f"{where} line {begin + 3}: not a row of integers: {row}") from None
    if len(values) != renewable:
        raise ValidationError(
            f"{where} line {begin + 3}: expected {renewable} capacities, got {len(values)}"
        )
    return values


def parse_bound(value: str) -> KnownBound:
    """A value of ``optimum.csv``: ``43``, ``lb..ub`` or ``..ub``.

    Example:
        >>> parse_bound("43"), parse_bound("..87").lower
        (KnownBound(lower=43, upper=43), None)
    """
    text = value.strip()
    match = re.fullmatch(r"(\d*)\.\.(\d+)", text)
    if match:
        lower = int(match.group(1)) if match.group(1) else None
        upper = int(match.group(2))
    elif text.isdigit():
        lower = upper = int(text)
    else:
        raise ValidationError(f"not an optimum, lb..ub or ..ub value: {value!r}")
    if lower is not None and lower > upper:
        raise ValidationError(f"the lower bound exceeds the upper bound in {value!r}")
    return KnownBound(lower, upper)


def read_optimum(path: Path) -> dict[str, KnownBound]:
    """The ``problem,optimum`` CSV of known results, by file name.

    Raises:
        ValidationError: a header or row is malformed (the message gives the line).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = Path(folder) / "optimum.csv"
        ...     _ = path.write_text("problem,optimum\\nj301_1.sm,43\\nj609_1.sm,82..87\\n")
        ...     read_optimum(path)["j609_1.sm"].upper
        87
    """
    with Path(path).open(newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows or [c.strip() for c in rows[0]] != ["problem", "optimum"]:
        raise ValidationError(f"{path} line 1: expected the header problem,optimum")
    known: dict[str, KnownBound] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 2:
            raise ValidationError(f"{path} line {number}: expected problem,optimum")
        try:
            known[row[0].strip()] = parse_bound(row[1])
        except ValidationError as error:
            raise ValidationError(f"{path} line {number}: {error}") from None
    return known


EXAMPLE_SM = """\
************************************************************************
projects                      :  1
jobs (incl. supersource/sink ):  5
horizon                       :  12
RESOURCES
  - renewable                 :  1   R
  - nonrenewable              :  0   N
  - doubly constrained        :  0   D
************************************************************************
PRECEDENCE RELATIONS:
jobnr.    #modes  #successors   successors
   1        1          3           2   3   4
   2        1          1           5
   3        1          1           5
   4        1          1           5
   5        1          0
************************************************************************
REQUESTS/DURATIONS:
jobnr. mode duration  R 1
------------------------------------------------------------------------
  1      1     0       0
  2      1     3       2
  3      1     2       3
  4      1     2       2
  5      1     0       0
************************************************************************
RESOURCEAVAILABILITIES:
  R 1
    4
************************************************************************
"""
"""A five-job instance for the examples: jobs 2 and 3 (demand 2 + 3 > 4) cannot overlap,
so the optimum is 5 (job 2 with job 4, then job 3)."""
