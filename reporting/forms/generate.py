"""Generate the month's forms for every unit (or some) into ``outbox/forms/<period>/``."""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from reporting.errors import UsageError
from reporting.forms.layout import LEDGER_SPARE_ROWS, build_layout, make_meta
from reporting.forms.writer import EMPTY_PREFILL, Prefill, render_form
from reporting.fsutil import atomic_write_bytes
from reporting.parallel import run_jobs
from reporting.periods import Period
from reporting.plan.model import Plan, Unit
from reporting.workspace import Workspace

Progress = Callable[[int, int], None]

_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


class PrefillSource(Protocol):
    """Where next month's pre-fill comes from (the store, or a test fixture)."""

    def prefill(self, plan: Plan, unit: Unit, period: Period) -> Prefill: ...


def safe_name(text: str) -> str:
    """A file-name-safe version of a unit name (Windows forbids \\ / : * ? " < > |)."""
    return _UNSAFE.sub("_", text).strip(" .") or "_"


def form_filename(unit: Unit, period: Period) -> str:
    return f"{safe_name(unit.code)}_{safe_name(unit.name)}_{period}.xlsx"


@dataclass(frozen=True)
class FormFile:
    unit_code: str
    path: Path
    size: int
    prefilled: bool


@dataclass(frozen=True)
class FormsResult:
    period: Period
    folder: Path
    files: tuple[FormFile, ...]
    archive: Path
    plan_version: str


@dataclass(frozen=True)
class _Run:
    """What every job of one run shares. Forked workers inherit it: a provincial plan pickles
    to over a megabyte, too much to send with every job."""

    plan: Plan
    period: Period
    key: bytes
    generated_at: str


@dataclass(frozen=True)
class _Job:
    unit: Unit
    prefill: Prefill
    target: Path


_RUN: _Run | None = None  # set by generate_forms around run_jobs


def _run_job(job: _Job) -> FormFile:
    run = _RUN
    assert run is not None, "generate_forms sets the run before the jobs start"
    rows = {name: len(r) + LEDGER_SPARE_ROWS for name, r in job.prefill.ledger_rows.items()}
    layout = build_layout(run.plan, job.unit, run.period, rows)
    meta = make_meta(layout, run.key, run.generated_at)
    data = render_form(layout, meta, job.prefill)
    atomic_write_bytes(job.target, data, durable=False)  # regenerable output
    prefilled = bool(job.prefill.activities or job.prefill.ledger_rows)
    return FormFile(job.unit.code, job.target, len(data), prefilled)


def select_units(plan: Plan, codes: Sequence[str] | None) -> list[Unit]:
    if not codes:
        return list(plan.units)
    unknown = [c for c in codes if plan.unit(c) is None]
    if unknown:
        raise UsageError(f"单位编码 {'、'.join(unknown)} 不在方案的单位名单中")
    return [u for c in dict.fromkeys(codes) if (u := plan.unit(c))]


def check_period(plan: Plan, period: Period) -> None:
    periods = plan.periods()
    if periods and period not in periods:
        raise UsageError(
            f"报送期 {period} 不在活动期内（{periods[0]} 至 {periods[-1]}），请检查 --period"
        )


def generate_forms(
    ws: Workspace,
    plan: Plan,
    period: Period,
    *,
    unit_codes: Sequence[str] | None = None,
    prefill: PrefillSource | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    now: datetime | None = None,
) -> FormsResult:
    """Write one form per unit and a zip of them all; returns where everything is."""
    check_period(plan, period)
    units = select_units(plan, unit_codes)
    folder = ws.forms_dir / str(period)
    folder.mkdir(parents=True, exist_ok=True)
    key = ws.form_key()
    stamp = (now or datetime.now()).isoformat(timespec="seconds")
    jobs = [
        _Job(
            u,
            prefill.prefill(plan, u, period) if prefill else EMPTY_PREFILL,
            folder / form_filename(u, period),
        )
        for u in units
    ]
    global _RUN
    _RUN = _Run(plan, period, key, stamp)
    try:
        files = run_jobs(_run_job, jobs, progress=progress, workers=workers)
    finally:
        _RUN = None
    archive = folder.parent / f"全部表单_{period}.zip"
    _write_zip(archive, files)
    return FormsResult(period, folder, tuple(files), archive, plan.version)


def _write_zip(path: Path, files: list[FormFile]) -> None:
    """All forms in one archive for mailing; written beside and swapped in atomically."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        # .xlsx is already deflated: storing is as small and much faster.
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
            for f in files:
                zf.write(f.path, arcname=f.path.name)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
