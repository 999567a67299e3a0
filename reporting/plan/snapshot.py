"""A plan version as JSON, kept in the store so a form made from an older plan can still be read.

The snapshot is the plan's rows; loading re-parses them, so the version (a content hash of the
parsed plan) is reproduced exactly.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from reporting.errors import PlanError
from reporting.plan.load import PlanResult, parse_plan


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "$date" in value:
            return date.fromisoformat(value["$date"])
        if "$datetime" in value:
            return datetime.fromisoformat(value["$datetime"])
    return value


def dump(result: PlanResult) -> str:
    sheets = {
        name: [[_encode(v) for v in row] for row in rows] for name, rows in result.sheets.items()
    }
    return json.dumps(sheets, ensure_ascii=False, sort_keys=True)


def load(snapshot: str) -> PlanResult:
    try:
        raw = json.loads(snapshot)
    except json.JSONDecodeError as exc:
        raise PlanError("存储中的方案快照已损坏") from exc
    sheets = {name: [[_decode(v) for v in row] for row in rows] for name, rows in raw.items()}
    return parse_plan(sheets)
