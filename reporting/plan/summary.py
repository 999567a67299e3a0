"""Plain-data summaries of a plan for the CLI and ``--json`` (no printing here)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from reporting.plan.load import PlanResult


def plan_json(result: PlanResult) -> dict[str, Any]:
    plan = result.plan
    return {
        "valid": result.valid,
        "plan_version": plan.version,
        "counts": {
            "units": len(plan.units),
            "phases": len(plan.phases),
            "activities": len(plan.activities),
            "indicators": len(plan.indicators),
            "ledgers": len(plan.ledgers),
            "rubric_items": len(plan.rubric),
        },
        "findings": [f.plan_dict() for f in result.findings],
    }


def units_by(result: PlanResult, attr: str) -> list[tuple[str, int, int]]:
    """(value, unit count, total headcount) per category or region, in roster order."""
    counts: Counter[str] = Counter()
    heads: Counter[str] = Counter()
    for unit in result.plan.units:
        key = getattr(unit, attr)
        counts[key] += 1
        heads[key] += unit.headcount
    return [(k, counts[k], heads[k]) for k in counts]
