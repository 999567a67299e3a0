"""The ``inspect`` command's library call: plan + store → one Excel and one Word inspector sheet
per unit in ``outbox/inspection/<period>/``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from reporting.forms.generate import check_period, select_units
from reporting.fsutil import atomic_write_bytes
from reporting.parallel import PARALLEL_FROM, run_jobs
from reporting.periods import Period
from reporting.plan import snapshot
from reporting.plan.load import require_plan_result
from reporting.plan.model import Unit
from reporting.text import safe_name
from reporting.workspace import Workspace

Progress = Callable[[int, int], None]
INSPECTION_DIR = "inspection"


def sheet_filename(unit: Unit, period: Period, ext: str) -> str:
    return f"{safe_name(unit.code)}_{safe_name(unit.name)}_督导考评表_{period}.{ext}"


@dataclass(frozen=True)
class InspectionFile:
    unit_code: str
    xlsx: Path
    docx: Path
    auto_points: float  # the automatic items' points shown on the sheet


@dataclass(frozen=True)
class InspectResult:
    period: Period
    folder: Path
    files: tuple[InspectionFile, ...]
    plan_version: str


@dataclass(frozen=True)
class _Job:
    month: Any
    unit_code: str
    day: date
    plan_id: str
    key: bytes
    stamp: str
    password: str
    folder: Path
    period: Period


_MONTH: Any = None  # the month being written, set before the pool forks (not pickled per job)


def _write_one(job: _Job) -> InspectionFile:
    from reporting.inspection.sheet import build_sheet, make_meta
    from reporting.inspection.word import render_inspection_docx
    from reporting.inspection.writer import render_inspection

    month = job.month if job.month is not None else _MONTH
    um = month.unit(job.unit_code)
    sheet = build_sheet(month, um, job.day)
    meta = make_meta(sheet, job.plan_id, job.key, job.stamp)
    xlsx = job.folder / sheet_filename(um.unit, job.period, "xlsx")
    docx = job.folder / sheet_filename(um.unit, job.period, "docx")
    atomic_write_bytes(xlsx, render_inspection(sheet, meta, job.password), durable=False)
    atomic_write_bytes(docx, render_inspection_docx(sheet), durable=False)
    return InspectionFile(um.unit.code, xlsx, docx, sheet.auto_total)


def _warm_up(job: _Job) -> None:
    """Make, before workers fork, what they would each make first: the Word skeleton (with
    python-docx's import) and the Excel template of the first unit's layout."""
    from reporting.inspection.sheet import build_sheet, make_meta
    from reporting.inspection.word import warm_up
    from reporting.inspection.writer import render_inspection

    warm_up()
    sheet = build_sheet(job.month, job.month.unit(job.unit_code), job.day)
    render_inspection(sheet, make_meta(sheet, job.plan_id, job.key, job.stamp), job.password)


def _run_all(jobs: list[_Job], progress: Progress | None) -> list[InspectionFile]:
    """The month is inherited by forked workers instead of being pickled with every job."""
    global _MONTH
    if len(jobs) < PARALLEL_FROM:
        return run_jobs(_write_one, jobs, progress=progress)
    _warm_up(jobs[0])
    _MONTH = jobs[0].month
    light = [
        _Job(None, j.unit_code, j.day, j.plan_id, j.key, j.stamp, j.password, j.folder, j.period)
        for j in jobs
    ]
    try:
        return run_jobs(_write_one, light, progress=progress)
    finally:
        _MONTH = None


def make_inspection_sheets(
    root: Path,
    period: str,
    *,
    unit_codes: Sequence[str] | None = None,
    as_of: date | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> InspectResult:
    """Write the inspector sheets of ``period`` (every unit, or ``unit_codes``).

    The plan version is recorded in the store so returned sheets can be checked against it.
    ``as_of`` decides which periods' deadlines count for timeliness (default: today)."""
    from reporting.collate.service import month_facts
    from reporting.store import Store

    ws = Workspace(root)
    ws.require()
    when = Period.parse(period)
    result = require_plan_result(ws.plan_path)
    plan = result.plan
    check_period(plan, when)
    units = select_units(plan, unit_codes)
    with Store.open(ws.store_path) as store:
        store.record_plan(plan, lambda: snapshot.dump(result))
        month = month_facts(ws, store, plan, when)
    key = ws.form_key()
    stamp = (now or datetime.now()).isoformat(timespec="seconds")
    folder = ws.outbox / INSPECTION_DIR / str(when)
    day = as_of or date.today()
    jobs = []
    for unit in units:
        um = month.unit(unit.code)
        assert um is not None
        jobs.append(
            _Job(
                month,
                unit.code,
                day,
                plan.plan_id,
                key,
                stamp,
                plan.settings.password or "",
                folder,
                when,
            )
        )
    files = _run_all(jobs, progress)
    return InspectResult(when, folder, tuple(files), plan.version)
