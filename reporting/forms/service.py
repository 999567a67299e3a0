"""The ``forms`` command's one library call: plan + store + workspace → the month's forms."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reporting.forms.generate import FormsResult, Progress, generate_forms
from reporting.periods import Period
from reporting.plan import snapshot
from reporting.plan.load import require_plan_result
from reporting.workspace import Workspace


def make_forms(
    root: Path,
    period: str,
    *,
    unit_codes: Sequence[str] | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> FormsResult:
    """Generate forms for ``period``; records the plan version so intake can read them later."""
    from reporting.forms.prefill import StorePrefill
    from reporting.store import Store

    ws = Workspace(root)
    ws.require()
    when = Period.parse(period)
    result = require_plan_result(ws.plan_path)
    plan = result.plan
    with Store.open(ws.store_path) as store:
        store.record_plan(plan, lambda: snapshot.dump(result))
        return generate_forms(
            ws,
            plan,
            when,
            unit_codes=unit_codes,
            prefill=StorePrefill(store),
            progress=progress,
            workers=workers,
        )
