"""What an inspector sheet shows and where every cell of it is.

An :class:`InspectionSheet` is a snapshot, taken when the sheet is generated, of everything the
sheet shows: the unit, its self-reported activities, figures and ledger items, and each rubric
item with the automatic score computed then. The snapshot is stored as JSON in the very hidden
metadata sheet and its hash is the signed fingerprint, so intake can rebuild the exact cell
layout of a returned sheet (and its feedback copy) without the store, and notices any change to
the snapshot or to a locked cell. Automatic scores on the sheet are for the inspectors'
information: the ranking recomputes them from the store.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from datetime import date, timedelta
from functools import cached_property
from typing import Any

from reporting.collate.facts import STATE_LABELS, Month, UnitMonth
from reporting.errors import UsageError
from reporting.forms.layout import TOOL_NAME, FormMeta, a1, sign
from reporting.periods import Period
from reporting.plan.model import LedgerRole, Method, Plan
from reporting.scoring.items import auto_item

FORM_KIND_INSPECTION = "inspection"
LAYOUT_VERSION = "1"
MAIN = "督导考评表"
FACTS = "单位报送情况"
SHEETS = (MAIN, FACTS)
SNAPSHOT_KEY = "snapshot"
SNAPSHOT_CHUNK = 16_000  # characters per metadata cell: at most 32,000 UTF-16 units (limit 32,767)

REASON_LIMIT = 300
NAMES_LIMIT = 100
COMMENT_LIMIT = 500
TEXT_CUT = 200  # unit text shown on the sheet is cut to this many characters
MAX_LEDGER_ROWS = 30  # ledger items listed per ledger

INFO_LABELS = ("被考评单位", "单位编码", "单位类别", "所属地区", "职工人数", "考评期", "本期报送")
INFO_ROW = 4
ITEM_HEADER_ROW = INFO_ROW + len(INFO_LABELS) + 1
FIRST_ITEM_ROW = ITEM_HEADER_ROW + 1
ITEM_HEADERS = (
    "编号",
    "考评项目",
    "考评内容和评分标准",
    "分值",
    "方式",
    "得分",
    "评分依据／扣分理由",
)
ITEM_WIDTHS = (6, 11, 34, 6, 6, 8, 40)
SCORE_COL, REASON_COL, POINTS_COL = 6, 7, 4  # 1-based columns F, G, D
NAMES_LABEL = "督导组成员（签名）"
DATE_LABEL = "督导日期"
COMMENT_LABEL = "总体评价"

ACTIVITY_HEADERS = (
    "编号",
    "规定动作",
    "完成时限",
    "最少次数",
    "完成情况",
    "完成次数",
    "完成日期",
    "参加人数",
    "开展形式",
    "佐证材料说明",
)
FACT_WIDTHS = (8, 28, 11, 12, 10, 8, 11, 8, 10, 26)


@dataclass(frozen=True)
class RubricRow:
    """One rubric item on the sheet; ``score``/``why`` are filled for automatic items only."""

    code: str
    item: str
    content: str
    points: float
    auto: bool
    rule: str
    score: float | None = None
    why: str = ""


@dataclass(frozen=True)
class InspectionSheet:
    plan_name: str
    issuer: str
    year: int
    plan_version: str
    unit_code: str
    unit_name: str
    category: str
    region: str
    headcount: int
    period: str
    state: str  # the unit's reporting state this period, in words
    rows: tuple[RubricRow, ...]
    activities: tuple[tuple[str, ...], ...]  # ACTIVITY_HEADERS, as text
    indicators: tuple[tuple[str, ...], ...]  # code, name, measure, value
    ledger_summary: tuple[str, ...]
    ledgers: tuple[tuple[str, ...], ...]  # ledger, item, status, deadline, note
    history: tuple[tuple[str, str], ...]  # period label, state label

    # ---- identity
    def to_json(self) -> str:
        return self._json

    @cached_property
    def _json(self) -> str:
        """Made once: the snapshot is written and fingerprinted. The same text as
        ``json.dumps(dataclasses.asdict(self), …)`` (the fingerprint of every sheet already
        handed out depends on it), without ``asdict``'s deep copy."""
        data = {name: getattr(self, name) for name in _SHEET_FIELDS}
        data["rows"] = [{name: getattr(r, name) for name in _ROW_FIELDS} for r in self.rows]
        return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> InspectionSheet:
        """Raises ValueError, KeyError or TypeError when ``text`` is not a snapshot."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("snapshot")
        rows = tuple(RubricRow(**r) for r in data.pop("rows"))

        def table(key: str) -> tuple[tuple[str, ...], ...]:
            return tuple(tuple(str(v) for v in line) for line in data.pop(key))

        sheet = cls(
            rows=rows,
            activities=table("activities"),
            indicators=table("indicators"),
            ledgers=table("ledgers"),
            ledger_summary=tuple(str(x) for x in data.pop("ledger_summary")),
            history=tuple((str(a), str(b)) for a, b in data.pop("history")),
            **data,
        )
        try:
            Period.parse(sheet.period)
        except UsageError as exc:
            raise ValueError("period") from exc
        if not all(isinstance(r.points, int | float) for r in sheet.rows):
            raise TypeError("points")
        return sheet

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:24]

    @property
    def period_label(self) -> str:
        return Period.parse(self.period).label

    @property
    def onsite(self) -> tuple[RubricRow, ...]:
        return tuple(r for r in self.rows if not r.auto)

    @property
    def auto_total(self) -> float:
        return round(sum(r.score or 0 for r in self.rows if r.auto), 2)

    @property
    def date_window(self) -> tuple[date, date]:
        """Dates an inspection of this period may carry."""
        period = Period.parse(self.period)
        return period.first_day, max(date(self.year, 12, 31), period.last_day + timedelta(62))

    # ---- cell positions (1-based rows, A1 references)
    def item_row(self, code: str) -> int:
        return FIRST_ITEM_ROW + next(i for i, r in enumerate(self.rows) if r.code == code)

    @property
    def total_row(self) -> int:
        return FIRST_ITEM_ROW + len(self.rows)

    @property
    def names_row(self) -> int:
        return self.total_row + 3

    @property
    def date_row(self) -> int:
        return self.names_row + 1

    @property
    def comment_row(self) -> int:
        return self.names_row + 2

    @property
    def check_row(self) -> int:
        return self.comment_row + 2

    def score_ref(self, code: str) -> str:
        return a1(self.item_row(code), SCORE_COL)

    def reason_ref(self, code: str) -> str:
        return a1(self.item_row(code), REASON_COL)

    @property
    def names_ref(self) -> str:
        return a1(self.names_row, 3)

    @property
    def date_ref(self) -> str:
        return a1(self.date_row, 3)

    @property
    def comment_ref(self) -> str:
        return a1(self.comment_row, 3)

    def input_refs(self) -> list[str]:
        refs = [
            ref for r in self.onsite for ref in (self.score_ref(r.code), self.reason_ref(r.code))
        ]
        return [*refs, self.names_ref, self.date_ref, self.comment_ref]

    def info_values(self) -> tuple[str, ...]:
        return (
            self.unit_name,
            self.unit_code,
            self.category,
            self.region,
            str(self.headcount),
            self.period_label,
            self.state,
        )


_SHEET_FIELDS = tuple(f.name for f in fields(InspectionSheet))
_ROW_FIELDS = tuple(f.name for f in fields(RubricRow))


# --------------------------------------------------------------------------- cells


@dataclass(frozen=True)
class Cell:
    """A locked cell the writer writes and intake checks. ``span``: columns merged rightwards."""

    sheet: str
    row: int
    col: int
    value: str | float
    style: str
    span: int = 1

    @property
    def ref(self) -> str:
        return a1(self.row, self.col)


def title_text(sheet: InspectionSheet) -> str:
    return f"{sheet.period_label}督导考评表"


def locked_cells(sheet: InspectionSheet) -> list[Cell]:
    """Every locked cell with content, on both visible sheets."""
    return main_cells(sheet) + facts_cells(sheet)


def main_cells(s: InspectionSheet) -> list[Cell]:
    m = MAIN
    ncols = len(ITEM_HEADERS)
    cells = [
        Cell(m, 1, 1, s.plan_name, "title", ncols),
        Cell(m, 2, 1, f"{title_text(s)}　（{s.issuer}）", "subtitle", ncols),
    ]
    for i, (label, value) in enumerate(zip(INFO_LABELS, s.info_values(), strict=True)):
        row = INFO_ROW + i
        cells.append(Cell(m, row, 1, label, "label", 2))
        cells.append(Cell(m, row, 3, value, "locked", ncols - 2))
    for c, head in enumerate(ITEM_HEADERS, start=1):
        cells.append(Cell(m, ITEM_HEADER_ROW, c, head, "header"))
    for r in s.rows:
        row = s.item_row(r.code)
        cells += [
            Cell(m, row, 1, r.code, "center"),
            Cell(m, row, 2, r.item, "locked"),
            Cell(m, row, 3, r.content, "locked"),
            Cell(m, row, 4, r.points, "number"),
            Cell(m, row, 5, "自动" if r.auto else "现场", "center"),
        ]
        if r.auto:
            cells.append(Cell(m, row, 6, r.score if r.score is not None else 0.0, "number"))
            cells.append(Cell(m, row, 7, f"{r.rule}：{r.why}", "locked"))
    total = s.total_row
    cells.append(Cell(m, total, 1, "合计", "label", 3))
    cells.append(Cell(m, total, 4, round(sum(r.points for r in s.rows), 2), "number"))
    cells.append(
        Cell(m, total, 7, f"自动评分项合计 {s.auto_total:g} 分，现场评分项由督导组填写", "locked")
    )
    cells.append(Cell(m, s.names_row - 1, 1, "督导组填写", "section", ncols))
    for row, label in (
        (s.names_row, NAMES_LABEL),
        (s.date_row, DATE_LABEL),
        (s.comment_row, COMMENT_LABEL),
    ):
        cells.append(Cell(m, row, 1, label, "label", 2))
    cells.append(Cell(m, s.check_row, 1, "填写检查", "label", 2))
    return cells


def facts_cells(s: InspectionSheet) -> list[Cell]:
    f = FACTS
    ncols = len(ACTIVITY_HEADERS)
    cells = [Cell(f, 1, 1, f"{s.unit_name}　报送情况（截至{s.period_label}）", "title", ncols)]
    row = 3
    cells.append(Cell(f, row, 1, "一、规定动作完成情况（按已采用的报送累计）", "section", ncols))
    row += 1
    cells += [Cell(f, row, c, h, "header") for c, h in enumerate(ACTIVITY_HEADERS, start=1)]
    for line in s.activities:
        row += 1
        cells += [Cell(f, row, c, v, "locked") for c, v in enumerate(line, start=1)]
    if not s.activities:
        row += 1
        cells.append(Cell(f, row, 1, "本单位类别没有规定动作", "locked", ncols))
    row += 2
    cells.append(Cell(f, row, 1, f"二、{s.period_label}月报数据", "section", ncols))
    row += 1
    heads = ("编号", "指标名称", "计量单位", "本期数值")
    cells += [Cell(f, row, c, h, "header") for c, h in enumerate(heads, start=1)]
    for line in s.indicators:
        row += 1
        cells += [Cell(f, row, c, v, "locked") for c, v in enumerate(line, start=1)]
    row += 2
    cells.append(Cell(f, row, 1, "三、清单", "section", ncols))
    for line in s.ledger_summary:
        row += 1
        cells.append(Cell(f, row, 1, line, "locked", ncols))
    if s.ledgers:
        row += 1
        heads = ("清单", "条目", "状态", "时限", "情况")
        cells += [Cell(f, row, c, h, "header") for c, h in enumerate(heads, start=1)]
        for line in s.ledgers:
            row += 1
            cells += [Cell(f, row, c, v, "locked") for c, v in enumerate(line, start=1)]
    row += 2
    cells.append(Cell(f, row, 1, "四、报送记录", "section", ncols))
    row += 1
    cells += [Cell(f, row, c, h, "header") for c, h in enumerate(("报送期", "报送情况"), start=1)]
    for label, state in s.history:
        row += 1
        cells += [Cell(f, row, 1, label, "locked"), Cell(f, row, 2, state, "locked")]
    return cells


# --------------------------------------------------------------------------- building


def _cut(text: Any) -> str:
    value = "" if text is None else str(text).strip()
    return value if len(value) <= TEXT_CUT else value[: TEXT_CUT - 1] + "…"


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:g}"
    if isinstance(value, date):
        return value.isoformat()
    return _cut(value)


def build_sheet(month: Month, um: UnitMonth, as_of: date | None = None) -> InspectionSheet:
    """The snapshot for ``um``'s unit: facts of the month and automatic scores as of now."""
    plan = month.plan
    rows = []
    for item in plan.rubric:
        if item.method is Method.AUTO:
            scored = auto_item(item, um, month, as_of)
            rows.append(
                RubricRow(
                    item.code,
                    item.item,
                    item.content,
                    item.points,
                    True,
                    item.rule_text,
                    scored.points,
                    scored.why,
                )
            )
        else:
            rows.append(RubricRow(item.code, item.item, item.content, item.points, False, ""))
    activities = tuple(
        (
            a.activity.code,
            a.activity.name,
            a.activity.deadline.isoformat(),
            str(a.activity.min_count),
            a.label,
            str(a.count) if a.count else "",
            _show(a.done_date),
            _show(a.participants),
            _show(a.form),
            _show(a.evidence),
        )
        for a in um.activities
    )
    indicators = tuple(
        (ind.code, ind.name, ind.measure, _show(um.values.get(ind.code))) for ind in plan.indicators
    )
    summary, ledger_rows = _ledgers(plan, um)
    history = tuple(
        (Period.parse(p).label, STATE_LABELS.get(states.get(um.unit.code, "missing"), ""))
        for p, states in sorted(month.history.items())
        if Period.parse(p) <= month.period
    )
    state = STATE_LABELS.get(um.state, um.state)
    if um.days_late:
        state += f"（逾期 {um.days_late} 天）"
    u = um.unit
    return InspectionSheet(
        plan_name=plan.settings.name,
        issuer=plan.settings.issuer,
        year=plan.settings.year,
        plan_version=plan.version,
        unit_code=u.code,
        unit_name=u.name,
        category=u.category,
        region=u.region,
        headcount=u.headcount,
        period=str(month.period),
        state=state,
        rows=tuple(rows),
        activities=activities,
        indicators=indicators,
        ledger_summary=summary,
        ledgers=ledger_rows,
        history=history,
    )


def _ledgers(plan: Plan, um: UnitMonth) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    summary: list[str] = []
    rows: list[tuple[str, ...]] = []
    for ledger in plan.ledgers:
        items = [i for i in um.ledger_items if i.ledger == ledger.name]
        status = ledger.column(LedgerRole.STATUS)
        names = [c.name for c in ledger.columns[:2]]
        if status is None:
            summary.append(f"{ledger.name}：共 {len(items)} 条")
        else:
            done = sum(1 for i in items if i.done)
            overdue = sum(1 for i in items if i.overdue)
            line = (
                f"{ledger.name}：共 {len(items)} 项，已完成 {done} 项，"
                f"未完成 {len(items) - done} 项"
            )
            summary.append(line + (f"（其中逾期 {overdue} 项）" if overdue else ""))
        ordered = sorted(items, key=lambda i: (i.done, not i.overdue))
        for i in ordered[:MAX_LEDGER_ROWS]:
            if status is None:
                text = "：".join(_show(i.data.get(n)) for n in names if i.data.get(n))
                rows.append((ledger.name, _cut(text), "", "", ""))
                continue
            note = "逾期" if i.overdue else ("已完成" if i.done else "")
            rows.append(
                (
                    ledger.name,
                    _show(i.data.get(ledger.columns[0].name)),
                    _show(i.data.get(status.name)),
                    _show(i.deadline),
                    note,
                )
            )
        if len(items) > MAX_LEDGER_ROWS:
            summary.append(f"（{ledger.name}只列出前 {MAX_LEDGER_ROWS} 项，未完成的在前）")
    return tuple(summary), tuple(rows)


# --------------------------------------------------------------------------- metadata


def make_meta(sheet: InspectionSheet, plan_id: str, key: bytes, generated_at: str) -> FormMeta:
    unsigned = FormMeta(
        tool=TOOL_NAME,
        kind=FORM_KIND_INSPECTION,
        layout_version=LAYOUT_VERSION,
        plan_id=plan_id,
        plan_version=sheet.plan_version,
        unit_code=sheet.unit_code,
        unit_name=sheet.unit_name,
        period=sheet.period,
        generated_at=generated_at,
        fingerprint=sheet.fingerprint,
        ledger_rows={},
        signature="",
    )
    return FormMeta(**{**unsigned.__dict__, "signature": sign(key, unsigned.payload())})


def meta_rows(meta: FormMeta, sheet: InspectionSheet) -> list[tuple[str, str]]:
    """The metadata sheet's rows: the usual fields, then the snapshot in chunks."""
    text = sheet.to_json()
    chunks = [text[i : i + SNAPSHOT_CHUNK] for i in range(0, len(text), SNAPSHOT_CHUNK)] or [""]
    extra = [
        (SNAPSHOT_KEY if n == 0 else f"{SNAPSHOT_KEY}.{n + 1}", c) for n, c in enumerate(chunks)
    ]
    return meta.as_rows() + extra


def snapshot_text(meta_sheet_rows: list[list[Any]]) -> str | None:
    """Reassemble the snapshot from the metadata sheet's rows (``None`` when absent)."""
    parts: dict[int, str] = {}
    for line in meta_sheet_rows:
        if len(line) < 2 or not isinstance(line[0], str):
            continue
        key = line[0].strip()
        if key == SNAPSHOT_KEY:
            parts[1] = "" if line[1] is None else str(line[1])
        elif key.startswith(SNAPSHOT_KEY + ".") and key[len(SNAPSHOT_KEY) + 1 :].isdigit():
            parts[int(key[len(SNAPSHOT_KEY) + 1 :])] = "" if line[1] is None else str(line[1])
    if 1 not in parts:
        return None
    return "".join(parts[n] for n in sorted(parts))
