"""The ``status`` and ``collate`` commands' library calls: store → Month → files in outbox/."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from reporting import factcache, outputs
from reporting.collate.facts import Month, load_month
from reporting.collate.status import reminder_text, reminder_workbook
from reporting.collate.workbook import summary_workbook
from reporting.forms.generate import check_period
from reporting.fsutil import atomic_write_bytes, atomic_write_text
from reporting.gcpause import paused_gc
from reporting.periods import Period
from reporting.plan.load import require_plan
from reporting.plan.model import Plan
from reporting.store import Store
from reporting.workspace import Workspace

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class StatusResult:
    month: Month
    reminder_workbook: Path
    reminder_text: Path


@dataclass(frozen=True)
class CollateResult:
    month: Month
    path: Path


def read_month(root: Path, period: str) -> tuple[Workspace, Month]:
    ws, month, _ = read_month_revision(root, period)
    return ws, month


def open_period(root: Path, period: str) -> tuple[Workspace, Plan, Period]:
    """The workspace at ``root``, its plan, and ``period`` checked against the plan."""
    ws = Workspace(root)
    ws.require()
    when = Period.parse(period)
    plan = require_plan(ws.plan_path)
    check_period(plan, when)
    return ws, plan, when


def read_month_revision(root: Path, period: str) -> tuple[Workspace, Month, str]:
    """The workspace, the month, and the store revision it was read at."""
    ws, plan, when = open_period(root, period)
    with Store.open(ws.store_path) as store:
        revision = store.revision()
        return ws, month_facts(ws, store, plan, when, revision), revision


def month_facts(
    ws: Workspace, store: Store, plan: Plan, period: Period, revision: str | None = None
) -> Month:
    """:func:`load_month`, kept between commands while the store, plan and tool are
    unchanged (:mod:`reporting.factcache`)."""
    made_from = (plan.version, revision or store.revision(), str(period))
    return factcache.kept(ws, f"month-{period}", made_from, lambda: load_month(store, plan, period))


def period_folder(ws: Workspace, month: Month) -> Path:
    return ws.outbox / str(month.period)


@paused_gc()
def status(root: Path, period: str, today: date | None = None) -> StatusResult:
    """Every unit's state for ``period`` and the reminder pack (催报名单), worded as of
    ``today`` (how many days past the deadline)."""
    ws, month = read_month(root, period)
    today = today or date.today()
    folder = period_folder(ws, month)
    book = folder / f"催报名单_{month.period}.xlsx"
    text = folder / f"催报通知_{month.period}.txt"
    atomic_write_bytes(book, reminder_workbook(month, today), durable=False)
    atomic_write_text(text, reminder_text(month, today))
    return StatusResult(month, book, text)


@paused_gc()
def collate(root: Path, period: str, progress: Progress | None = None) -> CollateResult:
    """Write ``outbox/<period>/汇总表_<period>.xlsx`` from the store alone."""
    ws, month, revision = read_month_revision(root, period)
    return CollateResult(month, write_summary(ws, month, revision, progress=progress))


def write_summary(
    ws: Workspace,
    month: Month,
    revision: str,
    *,
    progress: Progress | None = None,
    reuse: bool = False,
) -> Path:
    """The summary workbook of ``month`` (read at store ``revision``); with ``reuse``, one
    already written from the same store, plan and code is kept as it is."""
    path = period_folder(ws, month) / f"汇总表_{month.period}.xlsx"
    made_from = outputs.fingerprint("summary", month.plan.version, revision)
    if not (reuse and outputs.is_current(ws, path, made_from)):
        outputs.write(ws, path, summary_workbook(month, progress), made_from)
    return path
