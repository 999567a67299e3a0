"""Generate the month's forms for every unit (or some) into ``outbox/forms/<period>/``.

Forms of the same shape (category, ledger row counts, whether there is a pre-fill note) are made
from one template render (:mod:`reporting.forms.template`): about a tenth of the cost of
rendering each with XlsxWriter. A template is used only after its first form has been compared
with a direct render; shapes with few forms, and the odd form a template cannot reproduce, are
rendered directly.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from reporting.errors import UsageError
from reporting.forms.layout import LEDGER_SPARE_ROWS, FormLayout, build_layout, make_meta
from reporting.forms.template import FormTemplate, Shape, same_form, shape_of
from reporting.forms.writer import EMPTY_PREFILL, Prefill, render_form
from reporting.fsutil import atomic_write_bytes, replacing
from reporting.parallel import run_jobs
from reporting.periods import Period
from reporting.plan.model import Plan, Unit
from reporting.text import safe_name
from reporting.workspace import Workspace

Progress = Callable[[int, int], None]


class PrefillSource(Protocol):
    """Where next month's pre-fill comes from (the store, or a test fixture)."""

    def prefill(self, plan: Plan, unit: Unit, period: Period) -> Prefill: ...


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
    templates: dict[Shape, FormTemplate]


@dataclass(frozen=True)
class _Job:
    unit: Unit
    prefill: Prefill
    target: Path


_RUN: _Run | None = None  # set by generate_forms around run_jobs


# A template costs about three direct renders to build and check: worth it from this many forms.
TEMPLATE_MIN_FORMS = 4
_CHECK_TRIES = 3  # forms tried for the check before a shape is left to the direct renderer


def _layout(plan: Plan, unit: Unit, period: Period, prefill: Prefill) -> FormLayout:
    rows = {name: len(r) + LEDGER_SPARE_ROWS for name, r in prefill.ledger_rows.items()}
    return build_layout(plan, unit, period, rows)


def _render(run: _Run, unit: Unit, prefill: Prefill) -> bytes:
    layout = _layout(run.plan, unit, run.period, prefill)
    template = run.templates.get(shape_of(layout, prefill))
    data = template.render(unit, prefill) if template is not None else None
    if data is None:
        data = render_form(layout, make_meta(layout, run.key, run.generated_at), prefill)
    return data


def _templates(run: _Run, jobs: Sequence[_Job]) -> dict[Shape, FormTemplate]:
    """A checked template for every shape with enough forms."""
    groups: dict[Shape, list[_Job]] = {}
    for job in jobs:
        layout = _layout(run.plan, job.unit, run.period, job.prefill)
        groups.setdefault(shape_of(layout, job.prefill), []).append(job)
    out: dict[Shape, FormTemplate] = {}
    for shape, members in groups.items():
        if len(members) < TEMPLATE_MIN_FORMS:
            continue
        try:
            template = FormTemplate.build(run.plan, run.period, shape, run.key, run.generated_at)
        except Exception:  # TemplateUnsupported, or a surprise: templates only save time
            continue
        for job in members[:_CHECK_TRIES]:
            fast = template.render(job.unit, job.prefill)
            if fast is not None:
                layout = _layout(run.plan, job.unit, run.period, job.prefill)
                meta = make_meta(layout, run.key, run.generated_at)
                if same_form(fast, render_form(layout, meta, job.prefill)):
                    out[shape] = template
                break
    return out


def _run_job(job: _Job) -> FormFile:
    run = _RUN
    assert run is not None, "generate_forms sets the run before the jobs start"
    data = _render(run, job.unit, job.prefill)
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
    run = _Run(plan, period, key, stamp, {})
    run.templates.update(_templates(run, jobs))
    _RUN = run
    try:
        files = run_jobs(_run_job, jobs, progress=progress, workers=workers)
    finally:
        _RUN = None
    archive = folder.parent / f"全部表单_{period}.zip"
    _write_zip(archive, files)
    return FormsResult(period, folder, tuple(files), archive, plan.version)


def _write_zip(path: Path, files: list[FormFile]) -> None:
    """All forms in one archive for mailing; written beside and swapped in atomically."""
    # .xlsx is already deflated: storing is as small and much faster.
    with replacing(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for f in files:
            zf.write(f.path, arcname=f.path.name)
