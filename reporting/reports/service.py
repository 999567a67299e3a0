"""The ``report`` command's library call: the month's notice, dashboard and annexes."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from reporting.fsutil import atomic_write_bytes, atomic_write_text
from reporting.gcpause import paused_gc
from reporting.reports.dashboard import dashboard_html
from reporting.reports.notice import NoticeInfo, notice_docx

Progress = Callable[[int, int], None]
PDF_TIMEOUT_S = 180


@dataclass(frozen=True)
class ReportResult:
    notice: Path
    pdf: Path | None
    pdf_note: str  # why there is no PDF, if there is none
    dashboard: Path
    summary: Path
    ranking_workbook: Path
    month: Any
    ranking: Any


def default_number(plan_number: str, year: int, month: int) -> str:
    """The plan's 发文字号 prefix with this year and the period's month as serial number,
    e.g. 浙卫党发〔2014〕12号 → 浙卫党发〔2014〕5号. ``--number`` overrides it."""
    m = re.match(r"^(.*?)\s*[〔\[【(（［]", plan_number)
    prefix = m.group(1) if m else plan_number.rstrip("号0123456789")
    return f"{prefix}〔{year}〕{month}号"


@paused_gc()
def report(
    root: Path,
    period: str,
    *,
    as_of: date | None = None,
    number: str | None = None,
    day: date | None = None,
    progress: Progress | None = None,
    pdf: bool = True,
) -> ReportResult:
    """Summary and ranking workbooks, the notice (and its PDF when ``pdf`` and LibreOffice is
    installed) and the dashboard for ``period``."""
    from reporting.collate.service import month_facts, open_period, write_summary
    from reporting.scoring.service import rank_month
    from reporting.store import Store

    steps = 5
    tick = progress or (lambda done, total: None)
    ws, plan, when = open_period(root, period)
    # The annexes are what `collate` and `rank` wrote when nothing has changed since (the
    # usual order of a month); otherwise they are written again from this same reading.
    with Store.open(ws.store_path) as store:
        revision = store.revision()
        month = month_facts(ws, store, plan, when, revision)
        summary_path = write_summary(ws, month, revision, reuse=True)
        tick(1, steps)
        ranked = rank_month(ws, store, month, as_of=as_of, reuse=True)
    tick(2, steps)
    ranking = ranked.ranking
    folder = summary_path.parent
    today = day or as_of or date.today()
    info = NoticeInfo(
        number or default_number(month.plan.settings.doc_number, today.year, month.period.month),
        today,
        (ranked.path.name, summary_path.name),
    )
    notice = folder / f"督导检查情况通报_{month.period}.docx"
    atomic_write_bytes(notice, notice_docx(month, ranking, info, root), durable=False)
    tick(3, steps)
    made, note = to_pdf(notice) if pdf else (None, "按要求未生成 PDF")
    tick(4, steps)
    dashboard = folder / "dashboard.html"
    atomic_write_text(dashboard, dashboard_html(month, ranking, root))
    tick(5, steps)
    return ReportResult(notice, made, note, dashboard, summary_path, ranked.path, month, ranking)


def to_pdf(docx: Path) -> tuple[Path | None, str]:
    """A PDF beside ``docx`` when LibreOffice is installed; (None, reason) otherwise."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        return None, "未安装 LibreOffice，未生成 PDF（可用 Word 或 WPS 打开 .docx 另存为 PDF）"
    with tempfile.TemporaryDirectory(prefix="pdf-") as tmp:
        profile = Path(tmp) / "profile"
        try:
            subprocess.run(
                [
                    soffice,
                    f"-env:UserInstallation=file://{profile}",
                    "--headless",
                    "--norestore",
                    "--convert-to",
                    "pdf",
                    "--outdir",
                    tmp,
                    str(docx),
                ],
                check=True,
                capture_output=True,
                timeout=PDF_TIMEOUT_S,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            return None, f"LibreOffice 转换 PDF 失败（{type(exc).__name__}），已生成 .docx"
        made = Path(tmp) / f"{docx.stem}.pdf"
        if not made.is_file():
            return None, "LibreOffice 没有生成 PDF，已生成 .docx"
        target = docx.with_suffix(".pdf")
        atomic_write_bytes(target, made.read_bytes(), durable=False)
    return target, ""
