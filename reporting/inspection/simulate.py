"""Fill inspector sheets the way an inspection team does — for the demo and the tests.

openpyxl plays the inspector: it opens the generated sheet, types the on-site scores, reasons,
names and date into the unlocked cells and saves.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from reporting.inspection.sheet import (
    COMMENT_LABEL,
    DATE_LABEL,
    MAIN,
    NAMES_LABEL,
    POINTS_COL,
    REASON_COL,
    SCORE_COL,
)

Progress = Callable[[int, int], None]


@dataclass
class InspectorFilling:
    """What inspectors write: item code → (points, reason); names; date; overall comment."""

    scores: dict[str, tuple[Any, str | None]] = field(default_factory=dict)
    inspectors: str | None = None
    day: Any = None
    comment: str | None = None


def onsite_rows(ws: Any) -> dict[str, int]:
    """Item code → row of every on-site item (方式 = 现场) on the main sheet."""
    rows = {}
    for r in range(1, ws.max_row + 1):
        if ws.cell(r, 5).value == "现场" and ws.cell(r, 1).value:
            rows[str(ws.cell(r, 1).value)] = r
    return rows


def _label_row(ws: Any, label: str) -> int:
    for r in range(1, ws.max_row + 1):
        if ws.cell(r, 1).value == label:
            return r
    raise KeyError(label)


def fill_inspection(source: Path | bytes, filling: InspectorFilling) -> bytes:
    """The inspector sheet at ``source`` with ``filling`` typed in, as .xlsx bytes."""
    import openpyxl

    data = source.read_bytes() if isinstance(source, Path) else source
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb[MAIN]
    rows = onsite_rows(ws)
    for code, (points, reason) in filling.scores.items():
        ws.cell(rows[code], SCORE_COL).value = points
        ws.cell(rows[code], REASON_COL).value = reason
    if filling.inspectors is not None:
        ws.cell(_label_row(ws, NAMES_LABEL), 3).value = filling.inspectors
    if filling.day is not None:
        day = filling.day
        if isinstance(day, date) and not isinstance(day, datetime):
            day = datetime.combine(day, datetime.min.time())
        ws.cell(_label_row(ws, DATE_LABEL), 3).value = day
    if filling.comment is not None:
        ws.cell(_label_row(ws, COMMENT_LABEL), 3).value = filling.comment
    buf = io.BytesIO()
    wb.save(buf)
    wb.close()
    return buf.getvalue()


DEDUCTIONS = [
    "学习园地内容更新不及时",
    "部分科室学习记录不完整",
    "领导班子带头学习的记录较少",
    "宣传报道数量偏少，形式单一",
    "服务对象对窗口服务有意见",
    "整改措施不够具体",
]
INSPECTORS = ["陈明、王芳", "李强、赵丽", "张伟、刘洋", "孙建国、周敏"]
COMMENTS = [
    "学习活动组织有序，氛围较浓。",
    "规定动作基本完成，个别环节需加强。",
    "领导重视，特色做法值得推广。",
]


def plausible_filling(source: Path | bytes, rng: random.Random, day: date) -> InspectorFilling:
    """Scores an inspection team might give: mostly full or nearly, a reason for every
    deduction."""
    import openpyxl

    data = source.read_bytes() if isinstance(source, Path) else source
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb[MAIN]
    filling = InspectorFilling(
        inspectors=rng.choice(INSPECTORS), day=day, comment=rng.choice(COMMENTS)
    )
    for code, r in onsite_rows(ws).items():
        points = float(ws.cell(r, POINTS_COL).value)
        lost = rng.choice([0, 0, 0.5, 1, 1, 2])
        lost = min(lost, points)
        given = points - lost
        filling.scores[code] = (
            int(given) if float(given).is_integer() else given,
            rng.choice(DEDUCTIONS) if lost else None,
        )
    wb.close()
    return filling


@dataclass
class InspectionDemo:
    inspect: Any  # InspectResult
    collect: Any  # CollectResult
    rank: Any  # RankResult
    outputs: list[tuple[str, Path]] = field(default_factory=list)


RETURNED_AT = datetime(2014, 6, 20, 16, 0)  # the inspection teams hand their sheets back
NO_REASON = 0  # index among returned sheets: a deduction left without a reason


def run_inspection_demo(
    root: Path,
    period: str,
    *,
    received_at: datetime = RETURNED_AT,
    seed: int = 7,
    progress: Progress | None = None,
) -> InspectionDemo:
    """Generate the period's inspector sheets, fill about two thirds of them (one with a
    deduction and no reason, which intake rejects with a feedback copy), collect them into the
    store and rank. Call after the unit returns of ``period`` have been collected."""
    from reporting.inspection.service import make_inspection_sheets
    from reporting.intake.collect import collect
    from reporting.scoring.service import rank

    rng = random.Random(seed)
    made = make_inspection_sheets(root, period, progress=progress, as_of=received_at.date())
    inbox = root / "inbox" / "督导考评表"
    inbox.mkdir(parents=True, exist_ok=True)
    returned = [f for n, f in enumerate(made.files) if n % 3 != 2]
    for n, f in enumerate(returned):
        filling = plausible_filling(f.xlsx, rng, date(received_at.year, received_at.month, 18))
        if n == NO_REASON:
            code = next(iter(filling.scores))
            points, _ = filling.scores[code]
            filling.scores[code] = (max(0, float(points) - 2), None)
        (inbox / f.xlsx.name).write_bytes(fill_inspection(f.xlsx, filling))
    collected = collect(root, period=period, received_at=received_at, progress=progress)
    ranked = rank(root, period, as_of=received_at.date())
    result = InspectionDemo(made, collected, ranked)
    result.outputs.append((f"{period} 督导考评表（{len(made.files)} 个单位）", made.folder))
    result.outputs.append(("排名表", ranked.path))
    return result
