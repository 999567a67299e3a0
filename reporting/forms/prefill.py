"""Pre-fill next month's form from the store: activities already reported done and ledger
items still open, taken from the unit's latest accepted return of an earlier period."""

from __future__ import annotations

from typing import Any

from reporting.forms.layout import STATUS_DONE
from reporting.forms.writer import Prefill
from reporting.periods import Period
from reporting.plan.model import LedgerRole, Plan, Unit


class StorePrefill:
    """Implements ``PrefillSource`` over :class:`reporting.store.Store`."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def prefill(self, plan: Plan, unit: Unit, period: Period) -> Prefill:
        sub = self.store.latest_accepted_before(unit.code, str(period), "unit")
        if sub is None:
            return Prefill()
        acts = self.store.activities_for([sub.id]).get(sub.id, [])
        rows = self.store.ledger_rows_for([sub.id]).get(sub.id, [])
        return build_prefill(
            plan, unit, acts, rows, f"{sub.period} 已采用的报送（{sub.original_name}）"
        )


def build_prefill(
    plan: Plan, unit: Unit, activities: list[Any], ledger_rows: list[Any], source: str
) -> Prefill:
    """Pure core: keep done activities that still apply, and ledger rows not yet done."""
    applicable = {a.code for a in plan.activities_for(unit)}
    done: dict[str, dict[str, Any]] = {}
    for row in activities:
        if row.activity_code in applicable and row.status == STATUS_DONE:
            done[row.activity_code] = {
                "status": row.status,
                "count": row.count,
                "done_date": row.done_date,
                "participants": row.participants,
                "form": row.form,
                "evidence": row.evidence,
                "note": row.note,
            }
    open_rows: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(ledger_rows, key=lambda r: (r.ledger, r.row_no)):
        ledger = plan.ledger(row.ledger)
        if ledger is None:
            continue
        status = ledger.column(LedgerRole.STATUS)
        if status is None:
            continue  # lists without a status (nominations) are not carried over
        if row.data.get(status.name) == status.done_value:
            continue
        known = {c.name for c in ledger.columns}
        open_rows.setdefault(ledger.name, []).append(
            {k: v for k, v in row.data.items() if k in known}
        )
    if not done and not open_rows:
        return Prefill()
    return Prefill(done, open_rows, source)
