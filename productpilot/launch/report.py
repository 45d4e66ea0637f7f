"""The launch report of a progressive rollout, in Markdown.

One document per rollout: the outcome, the stages (percentage, when each started and
ended, its exposure and how it ended), each stage's guardrails with the effect size, its
confidence interval and both p-values (the fixed-horizon test and the always-valid one the
rollout decided on), the sample-ratio check, the success goal, the decision trail, the
operators' controls and the flag's versions written by the rollout.

Example:
    >>> text = rollout_report(rollout, history)  # doctest: +SKIP
    >>> text.splitlines()[0]  # doctest: +SKIP
    "# Launch report: New checkout (flag new-checkout)"
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from productpilot.launch.rollouts import Rollout
from productpilot.launch.stats import format_p_value
from productpilot.launch.store import FlagHistoryEntry

_OUTCOMES = {
    "running": "running",
    "held": "held by an operator",
    "rolled_back": "rolled back",
    "completed": "completed",
}


def rollout_report(rollout: Rollout, history: Sequence[FlagHistoryEntry] = ()) -> str:
    """The rollout's launch report as Markdown.

    Args:
        rollout: the rollout (its stored stages, decisions and controls).
        history: the flag's audit trail (newest first, as the store returns it); the
            versions the rollout wrote are listed.

    Returns:
        The report's text.
    """
    record = rollout.to_dict()
    lines = [
        f"# Launch report: {rollout.name} (flag {rollout.flag_key})",
        "",
        f"- **Status:** {_OUTCOMES.get(rollout.status, rollout.status)}"
        + (f": {rollout.state.note}" if rollout.state.note else ""),
        f"- **Serving** `{rollout.on_variant}` to {rollout.percentage:g}% of users "
        f"(stage {record['stage']} of {record['stage_count']})",
        f"- **Started:** {_when(record['started_at'])}"
        + (f"; **finished:** {_when(record['finished_at'])}" if record["finished_at"] else ""),
        f"- **Rollback target:** {rollout.plan.rollback_to.replace('_', ' ')}; "
        f"sample-ratio mismatch below p = {rollout.plan.srm_alpha:g}",
    ]
    goal = rollout.plan.success_goal
    if goal is not None:
        reached = [
            stage
            for stage in record["stages"]
            if (stage.get("measurement") or {}).get("success_value") is not None
            and goal.reached(stage["measurement"]["success_value"])
        ]
        verdict = f"reached at stage {reached[0]['stage']}" if reached else "not reached"
        symbol = ">=" if goal.direction == "at_least" else "<="
        lines.append(f"- **Success goal:** {goal.metric} {symbol} {goal.target:g}: {verdict}")
    lines += ["", "## Stages", ""]
    lines += [
        "| stage | percentage | started | ended | exposed (treatment / control) | SRM | outcome |",
        "|---|---|---|---|---|---|---|",
    ]
    for stage in record["stages"]:
        measured = stage.get("measurement") or {}
        srm = measured.get("srm")
        srm_text = (
            ("mismatch, " if srm["mismatch"] else "ok, ") + format_p_value(srm["p_value"])
            if srm
            else "-"
        )
        exposed = (
            f"{measured.get('treatment_users', 0):,} / {measured.get('control_users', 0):,}"
            if measured
            else "-"
        )
        lines.append(
            f"| {stage['stage']} | {stage['percentage']:g}% | {_when(stage['started_at'])} | "
            f"{_when(stage.get('ended_at'))} | {exposed} | {srm_text} | "
            f"{stage.get('outcome') or 'in progress'} |"
        )
    lines += ["", "## Guardrails and success metric", ""]
    for stage in record["stages"]:
        measured = stage.get("measurement")
        if not measured:
            continue
        lines.append(f"### Stage {stage['stage']} ({stage['percentage']:g}%)")
        lines.append("")
        for guardrail in measured["guardrails"]:
            lines.append(f"- {_guardrail_line(guardrail)}")
        if measured.get("srm"):
            lines.append(f"- {measured['srm']['summary']}")
        if measured.get("success_value") is not None and goal is not None:
            lines.append(f"- Success metric {goal.metric}: {measured['success_value']:.4g}")
        lines.append("")
    lines += [
        "## Decisions",
        "",
        "| when | action | stage | percentage | flag version | by | why |",
    ]
    lines.append("|---|---|---|---|---|---|---|")
    for decision in record["decisions"]:
        lines.append(
            f"| {_when(decision['at'])} | {decision['action']} | "
            f"{_stage_move(decision)} | {decision['percentage']:g}% | "
            f"{decision['flag_version'] or '-'} | {decision['actor']} | "
            f"{_cell(decision['reason'])} |"
        )
    if record["controls"]:
        lines += ["", "## Controls", "", "| when | command | stage | by | why |"]
        lines.append("|---|---|---|---|---|")
        for control in record["controls"]:
            lines.append(
                f"| {_when(control['at'])} | {control['command']} | {control['stage']} | "
                f"{control['actor']} | {_cell(control['reason']) or '-'} |"
            )
    written = [entry for entry in history if entry.actor == f"rollout:{rollout.id}"]
    if written:
        lines += ["", "## Flag versions written by the rollout", "", "| version | when | why |"]
        lines.append("|---|---|---|")
        for entry in sorted(written, key=lambda item: item.version):
            lines.append(
                f"| {entry.version} | {_when(entry.changed_at.isoformat())} | "
                f"{_cell(entry.reason)} |"
            )
    lines.append("")
    return "\n".join(lines)


def report_summary(rollout: Rollout) -> dict[str, Any]:
    """A few numbers for the ``reports`` record and the flow's return value."""
    return {
        "rollout_id": rollout.id,
        "name": rollout.name,
        "flag": rollout.flag_key,
        "status": rollout.status,
        "percentage": rollout.percentage,
        "stages_run": len(rollout.result.get("stages", [])),
        "note": rollout.state.note,
    }


def _guardrail_line(guardrail: dict[str, Any]) -> str:
    effect = guardrail.get("effect")
    if effect is None:
        return f"{guardrail['metric']}: no test yet ({guardrail.get('note') or 'no data'})"
    text = effect["summary"]
    sequential = guardrail.get("sequential_p_value")
    if sequential is not None:
        text += f"; always-valid {format_p_value(sequential)} (mSPRT)"
    value = guardrail.get("treatment_value")
    if value is not None and guardrail["measure"] == "mean":
        text += f"; treatment {value:.4g}"
    return text + (f" — **breach:** {guardrail['breach']}" if guardrail.get("breach") else "")


def _stage_move(decision: dict[str, Any]) -> str:
    to_stage = decision["to_stage"]
    target = "off" if to_stage == 0 else str(to_stage)
    if decision["from_stage"] is None or decision["from_stage"] == to_stage:
        return target
    return f"{decision['from_stage']} → {target}"


def _when(instant: str | None) -> str:
    if not instant:
        return "-"
    return instant.replace("T", " ")[:16] + " UTC"


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")
