"""Read the plan workbook into domain objects, collecting *every* mistake as a finding."""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from reporting import rules
from reporting.errors import PlanError, WorkspaceError
from reporting.findings import Finding, has_errors, make
from reporting.plan import schema
from reporting.plan.model import (
    Activity,
    Aggregation,
    GradeBand,
    Indicator,
    Ledger,
    LedgerColumn,
    LedgerRole,
    Method,
    Phase,
    Plan,
    RubricItem,
    Settings,
    Unit,
    ValueType,
)
from reporting.text import safe_name, xml_text

Row = dict[str, Any]


@dataclass(frozen=True)
class PlanResult:
    """A loaded plan with every finding. ``plan`` is built from whatever rows were usable, so
    counts can be shown even for an invalid plan; only a ``valid`` plan may be used."""

    plan: Plan
    findings: tuple[Finding, ...]
    sheets: dict[str, list[list[Any]]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def valid(self) -> bool:
        return not has_errors(self.findings)


def load_plan(path: Path, *, keep: bool = True) -> PlanResult:
    """Load ``path``. Raises :class:`WorkspaceError` only when the file does not exist.
    ``keep=False`` writes nothing (a dry run): a kept parse is still used."""
    if not path.is_file():
        raise WorkspaceError(f"找不到方案文件 {path}，请先运行 init 创建工作区")
    # The intake reader: calamine (a 10,000-unit roster in ~0.1 s, openpyxl took 3 s) behind
    # the same zip and XML checks as returned files.
    from reporting.intake.reader import read_workbook

    try:
        data = path.read_bytes()
    except OSError as exc:
        return PlanResult(_empty_plan(), (make("plan-unreadable", f"无法读取 {path.name}：{exc}"),))
    cache = _PlanCache(path, data, keep)
    kept = cache.load()
    if kept is not None:
        return kept
    read = read_workbook(data, path.name)
    if not read.ok or read.book is None:
        message = read.message or "文件无法读取"
        finding = make("plan-unreadable", f"无法打开 {path.name}：{message}")
        return PlanResult(_empty_plan(), (finding,))
    sheets = {
        name.strip(): [list(r) for r in sheet.rows] for name, sheet in read.book.sheets.items()
    }
    result = parse_plan(sheets)
    cache.save(result)
    return result


class _PlanCache:
    """The parsed plan kept between commands in the workspace's signed fact cache
    (:mod:`reporting.factcache`), known by the SHA-256 of the plan file's bytes: every command
    reads the plan, and parsing a 10,000-unit roster and hashing its version takes ~0.26 s,
    reading it back ~0.04 s. Only in a folder that already has its ``.form-key`` (a workspace):
    loading a plan never creates a key."""

    def __init__(self, path: Path, data: bytes, keep: bool = True) -> None:
        from reporting.workspace import KEY_FILE, Workspace

        self.ws = Workspace(path.parent) if (path.parent / KEY_FILE).is_file() else None
        self.made_from = (hashlib.sha256(data).hexdigest(),)
        self.keep = keep

    def load(self) -> PlanResult | None:
        if self.ws is None:
            return None
        from reporting import factcache

        kept = factcache.load(self.ws, "plan", self.made_from)
        return kept if isinstance(kept, PlanResult) else None

    def save(self, result: PlanResult) -> None:
        if self.ws is None or not self.keep:
            return
        from reporting import factcache

        if result.valid:
            _ = result.plan.version  # kept with the plan (a cached property)
        factcache.save(self.ws, "plan", self.made_from, result)


def require_plan(path: Path) -> Plan:
    """The valid plan at ``path``, or :class:`PlanError` listing every error."""
    return require_plan_result(path).plan


def require_plan_result(path: Path, *, keep: bool = True) -> PlanResult:
    """Like :func:`require_plan`, keeping the rows (for a snapshot of this plan version)."""
    result = load_plan(path, keep=keep)
    if not result.valid:
        errors = [f for f in result.findings if f.is_error]
        raise PlanError(
            f"方案 {path.name} 有 {len(errors)} 处错误，请先修改（运行 plan 查看）", errors
        )
    return result


def parse_plan(sheets: dict[str, list[list[Any]]]) -> PlanResult:
    """Pure core of :func:`load_plan`: sheet name → rows of cell values (row 1 is the header)."""
    ctx = _Context(sheets)
    settings = ctx.settings()
    phases = ctx.phases(settings.year)
    units = ctx.units()
    categories = {u.category for u in units}
    activities = ctx.activities(phases, categories, settings.year)
    indicators = ctx.indicators()
    ledgers = ctx.ledgers()
    rubric = ctx.rubric(indicators, ledgers, activities)
    plan = Plan(settings, phases, units, activities, indicators, ledgers, rubric)
    return PlanResult(plan, tuple(ctx.findings), sheets)


def _empty_plan() -> Plan:
    return Plan(Settings("", "", "", 0, 1, 1, "", "", ()), (), (), (), (), (), ())


# --------------------------------------------------------------------------- cell parsing

_HEADER_NOISE = re.compile(r"[\s*＊]|[（(].*?[）)]")
_DATE_TEXT = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$")
_YES = {"是", "y", "yes", "true", "1", "√", "✓", "必填"}
_NO = {"否", "n", "no", "false", "0", "×", "", "选填"}


def header_key(value: Any) -> str:
    """Header without spaces, asterisks and notes: ``报送周期（月）`` → ``报送周期``."""
    return _HEADER_NOISE.sub("", str(value or ""))


def _file_stem(code: str, name: str) -> str:
    """How a unit's files are named (forms, feedback copies, inspector sheets:
    ``<code>_<name>_…``, see :func:`reporting.text.safe_name`), compared as Windows compares
    file names (without regard to case)."""
    return f"{safe_name(code)}_{safe_name(name)}".casefold()


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    # Without the control characters XML cannot hold: a Word line break pasted into a cell is
    # \x0b, and such a name stopped `report` (python-docx refuses it) long after `plan` passed.
    return xml_text(str(value)).strip()


def as_date(value: Any) -> date | None:
    """A date from a date cell, an Excel serial number or text like 2014-04-10 / 2014年4月10日."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 <= value < 2958466:
        return date(1899, 12, 30) + timedelta(days=int(value))
    if isinstance(value, str) and (m := _DATE_TEXT.match(value)):
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
    return None


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", "").replace("，", ""))
        except ValueError:
            return None
    return None


def as_bool(value: Any) -> bool | None:
    key = text(value).lower()
    if key in _YES:
        return True
    if key in _NO:
        return False
    return None


def split_list(value: Any) -> tuple[str, ...]:
    return tuple(p.strip() for p in re.split(r"[、,，;；/\n]+", text(value)) if p.strip())


# --------------------------------------------------------------------------- context


@dataclass
class _Context:
    sheets: dict[str, list[list[Any]]]
    findings: list[Finding] = field(default_factory=list)
    # Keys declared on a row, even a row with mistakes: a reference to them is not "unknown"
    # (that row's own finding already says what is wrong), so mistakes do not cascade.
    declared: dict[str, set[str]] = field(default_factory=dict)

    def declare(self, kind: str, *keys: str | None) -> None:
        self.declared.setdefault(kind, set()).update(k for k in keys if k)

    def is_declared(self, kind: str, key: str) -> bool:
        return key in self.declared.get(kind, set())

    def add(self, code: str, message: str, **where: Any) -> None:
        self.findings.append(make(code, message, **where))

    # ---- generic table reading
    def table(self, spec: schema.SheetSpec) -> Iterator[tuple[int, Row]]:
        rows = self.sheets.get(spec.name)
        if rows is None:
            names = "、".join(self.sheets) or "无"
            self.add(
                "missing-sheet",
                f"缺少工作表“{spec.name}”（{spec.help}）。现有工作表：{names}",
                sheet=spec.name,
            )
            return
        if not rows:
            self.add(
                "empty-sheet", f"工作表“{spec.name}”是空的，第1行应为表头", sheet=spec.name, row=1
            )
            return
        header = {header_key(v): i for i, v in enumerate(rows[0]) if header_key(v)}
        missing = [c for c in spec.columns if c.required and c.name not in header]
        for col in missing:
            self.add(
                "missing-column",
                f"第1行缺少列“{col.name}”（{col.help}）",
                sheet=spec.name,
                row=1,
                column=col.name,
            )
        if missing:
            return
        for offset, raw in enumerate(rows[1:], start=2):
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in raw):
                continue
            yield offset, {name: (raw[i] if i < len(raw) else None) for name, i in header.items()}

    def need_text(self, sheet: str, row: int, data: Row, column: str) -> str | None:
        value = text(data.get(column))
        if not value:
            self.add("missing-value", f"“{column}”不能为空", sheet=sheet, row=row, column=column)
            return None
        return value

    def need_date(self, sheet: str, row: int, data: Row, column: str) -> date | None:
        raw = data.get(column)
        if raw is None or text(raw) == "":
            self.add("missing-value", f"“{column}”不能为空", sheet=sheet, row=row, column=column)
            return None
        day = as_date(raw)
        if day is None:
            self.add(
                "bad-date",
                f"“{text(raw)}”不是日期，请写成 2014-04-10 或设置为日期格式",
                sheet=sheet,
                row=row,
                column=column,
            )
        return day

    def opt_number(self, sheet: str, row: int, data: Row, column: str) -> tuple[bool, float | None]:
        """(ok, value): blank is ok with None; text that is not a number is a finding."""
        raw = data.get(column)
        if raw is None or text(raw) == "":
            return True, None
        value = as_number(raw)
        if value is None:
            self.add("bad-number", f"“{text(raw)}”不是数值", sheet=sheet, row=row, column=column)
            return False, None
        return True, value

    def flag(self, sheet: str, row: int, data: Row, column: str, default: bool) -> bool:
        raw = data.get(column)
        if raw is None or text(raw) == "":
            return default
        value = as_bool(raw)
        if value is None:
            self.add(
                "bad-choice", f"“{text(raw)}”应为“是”或“否”", sheet=sheet, row=row, column=column
            )
            return default
        return value

    def choice(
        self,
        sheet: str,
        row: int,
        data: Row,
        column: str,
        enum: Any,
        allowed: tuple[Any, ...] | None = None,
    ) -> Any:
        raw = text(data.get(column))
        options = allowed or tuple(enum)
        if not raw:
            self.add("missing-value", f"“{column}”不能为空", sheet=sheet, row=row, column=column)
            return None
        for member in options:
            if raw == member.value:
                return member
        listed = "、".join(m.value for m in options)
        self.add(
            "bad-choice", f"“{raw}”不可用，应为 {listed} 之一", sheet=sheet, row=row, column=column
        )
        return None

    def unique(self, sheet: str, column: str, seen: dict[str, int], key: str, row: int) -> bool:
        if key in seen:
            self.add(
                "duplicate-code",
                f"“{key}”与第{seen[key]}行重复，{column}必须唯一",
                sheet=sheet,
                row=row,
                column=column,
            )
            return False
        seen[key] = row
        return True

    # ---- sheets
    def settings(self) -> Settings:
        spec = schema.SETTINGS
        values: dict[str, tuple[int, Any]] = {}
        for row, data in self.table(spec):
            key = header_key(data.get("项目"))
            if key:
                values[key] = (row, data.get("内容"))

        def get(name: str, required: bool = True) -> tuple[int | None, Any]:
            row, value = values.get(name, (None, None))
            if required and (value is None or text(value) == "") and spec.name in self.sheets:
                where = f"第{row}行" if row else "（没有这一行）"
                self.add(
                    "missing-value",
                    f"设置项“{name}”{where}没有填写",
                    sheet=spec.name,
                    row=row,
                    column="内容",
                )
            return row, value

        def number(name: str, low: int, high: int, default: int) -> int:
            row, raw = get(name)
            if raw is None or text(raw) == "":
                return default
            value = as_number(raw)
            if value is None or not value.is_integer() or not low <= value <= high:
                self.add(
                    "bad-setting",
                    f"“{name}”应为 {low}–{high} 的整数，现为“{text(raw)}”",
                    sheet=spec.name,
                    row=row,
                    column="内容",
                )
                return default
            return int(value)

        year = number("年度", 2000, 2100, 0)
        cycle = number("报送周期", 1, 12, 1)
        if cycle != 1:
            row, _ = values.get("报送周期", (None, None))
            self.add(
                "bad-setting",
                "“报送周期”目前只支持 1（按月报送）",
                sheet=spec.name,
                row=row,
                column="内容",
            )
        deadline_day = number("报送截止日", 1, 31, 10)
        bands_row, bands_raw = get("等级划分")
        bands = self.grade_bands(text(bands_raw), bands_row) if text(bands_raw) else ()
        password = text(get("保护密码", required=False)[1]) or None
        return Settings(
            name=text(get("方案名称")[1]),
            issuer=text(get("发文机关")[1]),
            doc_number=text(get("发文字号")[1]),
            year=year,
            cycle_months=1,
            deadline_day=deadline_day,
            contact=text(get("联系人")[1]),
            phone=text(get("联系电话")[1]),
            grade_bands=bands,
            password=password,
        )

    def grade_bands(self, raw: str, row: int | None) -> tuple[GradeBand, ...]:
        bands: list[GradeBand] = []
        where = {"sheet": schema.SETTINGS.name, "row": row, "column": "内容"}
        for part in [p for p in re.split(r"[;；\n]+", rules.normalise(raw)) if p.strip()]:
            m = re.match(r"^\s*([^<>=\d\s]+)\s*(>=|>|<=|<)\s*(\d+(?:\.\d+)?)\s*分?\s*$", part)
            if not m:
                self.add(
                    "bad-grade-bands",
                    f"等级“{part.strip()}”应写成 名称>=分数，例如 优秀>=90",
                    **where,
                )
                return ()
            bands.append(GradeBand(m.group(1), m.group(2), float(m.group(3))))
        if not bands:
            return ()
        gaps = [s / 2 for s in range(0, 201) if not any(b.matches(s / 2) for b in bands)]
        if gaps:
            hi = gaps[0]
            while hi + 0.5 in gaps:
                hi += 0.5
            span = f"{gaps[0]:g}" if hi == gaps[0] else f"{gaps[0]:g}–{hi:g}"
            self.add(
                "bad-grade-bands",
                f"等级划分没有覆盖 {span} 分，请确保 0–100 分都有对应等级",
                **where,
            )
        return tuple(bands)

    def phases(self, year: int) -> tuple[Phase, ...]:
        spec = schema.PHASES
        out: list[tuple[int, Phase]] = []
        seen: dict[str, int] = {}
        for row, data in self.table(spec):
            code = self.need_text(spec.name, row, data, "编号")
            name = self.need_text(spec.name, row, data, "名称")
            start = self.need_date(spec.name, row, data, "开始日期")
            end = self.need_date(spec.name, row, data, "结束日期")
            self.declare("phase", code, name)
            if code and not self.unique(spec.name, "编号", seen, code, row):
                continue
            if not (code and name and start and end):
                continue
            if end < start:
                self.add(
                    "phase-order",
                    f"阶段“{name}”结束日期 {end} 早于开始日期 {start}",
                    sheet=spec.name,
                    row=row,
                    column="结束日期",
                )
                continue
            if year and (start.year != year or end.year != year):
                self.add(
                    "phase-outside-year",
                    f"阶段“{name}”（{start}至{end}）超出方案年度 {year} 年",
                    sheet=spec.name,
                    row=row,
                    column="开始日期" if start.year != year else "结束日期",
                )
            out.append((row, Phase(code, name, start, end)))
        ordered = sorted(out, key=lambda rp: rp[1].start)
        for (_, a), (row_b, b) in itertools.pairwise(ordered):
            if b.start <= a.end:
                self.add(
                    "phase-overlap",
                    f"阶段“{b.name}”从 {b.start} 开始，与阶段“{a.name}”（至 {a.end}）重叠",
                    sheet=spec.name,
                    row=row_b,
                    column="开始日期",
                )
        return tuple(p for _, p in out)

    def units(self) -> tuple[Unit, ...]:
        spec = schema.UNITS
        out: list[Unit] = []
        codes: dict[str, int] = {}
        names: dict[str, int] = {}
        files: dict[str, int] = {}  # what names each unit's files: see _file_stem
        present = spec.name in self.sheets
        for row, data in self.table(spec):
            values = [
                self.need_text(spec.name, row, data, c)
                for c in ("单位编码", "单位名称", "单位类别", "所属地区")
            ]
            code, name, category, region = values
            self.declare("category", category)
            ok = all(values)
            if code and not self.unique(spec.name, "单位编码", codes, code, row):
                ok = False
            if name and not self.unique(spec.name, "单位名称", names, name, row):
                ok = False
            if ok and code and name:
                stem = _file_stem(code, name)
                if stem in files:
                    self.add(
                        "duplicate-code",
                        f"单位编码“{code}”和名称“{name}”与第{files[stem]}行的单位生成同一个文件名"
                        f"（{stem}），两个单位的表单和退回修改表会互相覆盖；请修改其中一个单位的"
                        "编码或名称（编码最好只用字母、数字和“-”）",
                        sheet=spec.name,
                        row=row,
                        column="单位编码",
                    )
                    ok = False
                else:
                    files[stem] = row
            raw = data.get("职工人数")
            headcount = as_number(raw)
            if headcount is None or not headcount.is_integer() or headcount <= 0:
                self.add(
                    "bad-headcount",
                    f"职工人数“{text(raw)}”应为正整数（人均指标要除以它）",
                    sheet=spec.name,
                    row=row,
                    column="职工人数",
                )
                ok = False
            if ok and code and name and category and region and headcount:
                out.append(
                    Unit(
                        code,
                        name,
                        category,
                        region,
                        int(headcount),
                        text(data.get("联系人")),
                        text(data.get("联系电话")),
                    )
                )
        if present and not out and not any(f.sheet == spec.name for f in self.findings):
            self.add("empty-roster", "单位名单为空，请至少填写一个单位", sheet=spec.name, row=2)
        return tuple(out)

    def activities(
        self, phases: tuple[Phase, ...], categories: set[str], year: int
    ) -> tuple[Activity, ...]:
        spec = schema.ACTIVITIES
        out: list[Activity] = []
        seen: dict[str, int] = {}
        by_key = {p.code: p for p in phases} | {p.name: p for p in phases}
        for row, data in self.table(spec):
            s = spec.name
            code = self.need_text(s, row, data, "编号")
            name = self.need_text(s, row, data, "名称")
            phase_ref = self.need_text(s, row, data, "阶段")
            deadline = self.need_date(s, row, data, "完成时限")
            ok = bool(code and name and phase_ref and deadline)
            self.declare("activity", code)
            if code and not self.unique(s, "编号", seen, code, row):
                ok = False
            phase = by_key.get(phase_ref or "")
            if phase_ref and phase is None and self.is_declared("phase", phase_ref):
                ok = False
            elif phase_ref and phase is None:
                known = "、".join(p.code for p in phases) or "无"
                self.add(
                    "unknown-phase",
                    f"阶段“{phase_ref}”不存在（现有：{known}）",
                    sheet=s,
                    row=row,
                    column="阶段",
                )
                ok = False
            cats = split_list(data.get("适用类别"))
            for cat in cats:
                if categories and cat not in categories and not self.is_declared("category", cat):
                    known = "、".join(sorted(categories))
                    self.add(
                        "unknown-category",
                        f"单位类别“{cat}”在单位名单中不存在（现有：{known}）",
                        sheet=s,
                        row=row,
                        column="适用类别",
                    )
                    ok = False
            good, min_count = self.opt_number(s, row, data, "最少次数")
            if good and min_count is not None and (not min_count.is_integer() or min_count < 1):
                self.add(
                    "bad-number",
                    f"最少次数“{text(data.get('最少次数'))}”应为正整数",
                    sheet=s,
                    row=row,
                    column="最少次数",
                )
                good = False
            good_pts, points = self.opt_number(s, row, data, "分值")
            if good_pts and points is not None and points < 0:
                self.add("bad-number", "分值不能为负数", sheet=s, row=row, column="分值")
                good_pts = False
            if deadline and year and deadline.year != year:
                self.add(
                    "date-outside-year",
                    f"完成时限 {deadline} 不在方案年度 {year} 年内",
                    sheet=s,
                    row=row,
                    column="完成时限",
                )
                ok = False
            if deadline and phase and not (phase.start <= deadline <= phase.end):
                self.add(
                    "phase-mismatch",
                    f"完成时限 {deadline} 不在阶段“{phase.name}”（{phase.start}至{phase.end}）内",
                    sheet=s,
                    row=row,
                    column="完成时限",
                )
            if ok and good and good_pts and code and name and phase and deadline:
                out.append(
                    Activity(
                        code,
                        name,
                        phase.code,
                        cats,
                        int(min_count or 1),
                        deadline,
                        text(data.get("佐证材料")),
                        1.0 if points is None else points,
                    )
                )
        return tuple(out)

    def indicators(self) -> tuple[Indicator, ...]:
        spec = schema.INDICATORS
        s = spec.name
        parsed: list[tuple[int, Row, Indicator]] = []
        seen: dict[str, int] = {}
        for row, data in self.table(spec):
            code = self.need_text(s, row, data, "编号")
            name = self.need_text(s, row, data, "名称")
            vtype = self.choice(
                s,
                row,
                data,
                "类型",
                ValueType,
                allowed=tuple(t for t in ValueType if t is not ValueType.CHOICE),
            )
            agg = self.choice(s, row, data, "汇总方式", Aggregation)
            required = self.flag(s, row, data, "必填", default=False)
            ok_min, minimum = self.opt_number(s, row, data, "最小值")
            ok_max, maximum = self.opt_number(s, row, data, "最大值")
            ok = bool(code and name and vtype and agg and ok_min and ok_max)
            self.declare("indicator", code)
            if code and not self.unique(s, "编号", seen, code, row):
                ok = False
            if minimum is not None and maximum is not None and minimum > maximum:
                self.add(
                    "min-over-max",
                    f"最小值 {minimum:g} 大于最大值 {maximum:g}",
                    sheet=s,
                    row=row,
                    column="最小值",
                )
                ok = False
            if (
                vtype
                and agg
                and vtype not in (ValueType.INTEGER, ValueType.DECIMAL)
                and agg is not Aggregation.COUNT
            ):
                self.add(
                    "bad-choice",
                    f"{vtype.value}型指标只能“计数”汇总，不能“{agg.value}”",
                    sheet=s,
                    row=row,
                    column="汇总方式",
                )
                ok = False
            if vtype in (ValueType.DATE, ValueType.YESNO) and (
                minimum is not None or maximum is not None
            ):
                self.add(
                    "bad-number",
                    f"{vtype.value}型指标不设最小值、最大值",
                    sheet=s,
                    row=row,
                    column="最小值",
                )
                ok = False
            if ok and code and name and vtype and agg:
                parsed.append(
                    (
                        row,
                        data,
                        Indicator(
                            code,
                            name,
                            text(data.get("计量单位")),
                            vtype,
                            minimum,
                            maximum,
                            required,
                            agg,
                            "",
                        ),
                    )
                )
        codes = {ind.code: ind for _, _, ind in parsed}
        out: list[Indicator] = []
        for row, data, ind in parsed:
            rule_text = text(data.get("校验规则"))
            comparisons: tuple[rules.Comparison, ...] = ()
            if rule_text:
                try:
                    comparisons = rules.parse_indicator_rule(rule_text)
                except rules.RuleSyntaxError as exc:
                    self.add(
                        "bad-rule",
                        f"校验规则“{rule_text}”无法解析：{exc}",
                        sheet=s,
                        row=row,
                        column="校验规则",
                    )
                else:
                    for ref in sorted(set().union(*(c.references() for c in comparisons))):
                        target = codes.get(ref)
                        if target is None and self.is_declared("indicator", ref):
                            continue
                        if target is None or not target.numeric:
                            what = "不存在" if target is None else "不是数值型"
                            self.add(
                                "unknown-reference",
                                f"校验规则引用的指标 [{ref}] {what}",
                                sheet=s,
                                row=row,
                                column="校验规则",
                            )
                    if not ind.numeric:
                        self.add(
                            "bad-rule",
                            f"{ind.type.value}型指标不能设置校验规则",
                            sheet=s,
                            row=row,
                            column="校验规则",
                        )
            out.append(
                Indicator(
                    ind.code,
                    ind.name,
                    ind.measure,
                    ind.type,
                    ind.minimum,
                    ind.maximum,
                    ind.required,
                    ind.aggregation,
                    rule_text,
                    comparisons,
                )
            )
        return tuple(out)

    def ledgers(self) -> tuple[Ledger, ...]:
        spec = schema.LEDGERS
        s = spec.name
        columns: dict[str, list[LedgerColumn]] = {}
        seen: dict[str, dict[str, int]] = {}
        for row, data in self.table(spec):
            ledger = self.need_text(s, row, data, "清单名称")
            name = self.need_text(s, row, data, "列名")
            vtype = self.choice(
                s,
                row,
                data,
                "类型",
                ValueType,
                allowed=(
                    ValueType.TEXT,
                    ValueType.INTEGER,
                    ValueType.DECIMAL,
                    ValueType.DATE,
                    ValueType.CHOICE,
                ),
            )
            required = self.flag(s, row, data, "必填", default=False)
            options = split_list(data.get("选项"))
            ok_len, max_len = self.opt_number(s, row, data, "最大长度")
            ok = bool(ledger and name and vtype and ok_len)
            self.declare("ledger", ledger)
            if (
                ledger
                and name
                and not self.unique(s, "列名", seen.setdefault(ledger, {}), name, row)
            ):
                ok = False
            if vtype is ValueType.CHOICE and not options:
                self.add(
                    "missing-value",
                    "类型为“选项”时必须填写选项，用“、”分隔",
                    sheet=s,
                    row=row,
                    column="选项",
                )
                ok = False
            if max_len is not None and (not max_len.is_integer() or max_len < 1):
                self.add("bad-number", "最大长度应为正整数", sheet=s, row=row, column="最大长度")
                ok = False
            role = None
            role_text = text(data.get("用途"))
            if role_text:
                role = next((r for r in LedgerRole if r.value == role_text), None)
                if role is None:
                    listed = "、".join(r.value for r in LedgerRole)
                    self.add(
                        "bad-choice",
                        f"用途“{role_text}”应为 {listed} 之一或留空",
                        sheet=s,
                        row=row,
                        column="用途",
                    )
                    ok = False
            done_value = text(data.get("完成值")) or None
            if role is LedgerRole.STATUS and (not done_value or done_value not in options):
                self.add(
                    "bad-choice",
                    "用途为“状态”的列须在“完成值”中写明表示完成的选项，且该值在选项中",
                    sheet=s,
                    row=row,
                    column="完成值",
                )
                ok = False
            if role in (LedgerRole.DEADLINE, LedgerRole.DONE_DATE) and vtype is not ValueType.DATE:
                self.add(
                    "bad-choice",
                    f"用途为“{role_text}”的列类型须为日期",
                    sheet=s,
                    row=row,
                    column="类型",
                )
                ok = False
            if ok and ledger and name and vtype:
                columns.setdefault(ledger, []).append(
                    LedgerColumn(
                        name,
                        vtype,
                        required,
                        options,
                        int(max_len) if max_len else None,
                        role,
                        done_value,
                    )
                )
        return tuple(Ledger(name, tuple(cols)) for name, cols in columns.items())

    def rubric(
        self,
        indicators: tuple[Indicator, ...],
        ledgers: tuple[Ledger, ...],
        activities: tuple[Activity, ...],
    ) -> tuple[RubricItem, ...]:
        spec = schema.RUBRIC
        s = spec.name
        out: list[RubricItem] = []
        seen: dict[str, int] = {}
        total = 0.0
        counted = True
        ind_codes = {i.code: i for i in indicators}
        act_codes = {a.code for a in activities}
        for row, data in self.table(spec):
            code = self.need_text(s, row, data, "编号")
            item = self.need_text(s, row, data, "项目")
            ok_pts, points = self.opt_number(s, row, data, "分值")
            method = self.choice(s, row, data, "方式", Method)
            ok = bool(code and item and method and ok_pts)
            if points is None or points <= 0:
                if ok_pts:
                    self.add("bad-number", "分值应为正数", sheet=s, row=row, column="分值")
                ok, counted = False, False
            else:
                total += points
            if code and not self.unique(s, "编号", seen, code, row):
                ok = False
            rule_text = text(data.get("规则"))
            rule = None
            if method is Method.AUTO:
                if not rule_text:
                    self.add(
                        "missing-value", "自动评分项必须写规则", sheet=s, row=row, column="规则"
                    )
                    ok = False
                else:
                    try:
                        rule = rules.parse_rubric_rule(rule_text)
                    except rules.RuleSyntaxError as exc:
                        self.add(
                            "bad-rule",
                            f"规则“{rule_text}”无法解析：{exc}",
                            sheet=s,
                            row=row,
                            column="规则",
                        )
                        ok = False
                    else:
                        ok = (
                            self._check_rubric_refs(rule, row, ind_codes, ledgers, act_codes) and ok
                        )
            if ok and code and item and method and points:
                out.append(
                    RubricItem(code, item, text(data.get("内容")), points, method, rule_text, rule)
                )
        if counted and seen and abs(total - 100) > 1e-9:
            self.add(
                "rubric-total",
                f"考评细则各项分值合计 {total:g} 分，应为 100 分",
                sheet=s,
                column="分值",
            )
        return tuple(out)

    def _check_rubric_refs(
        self,
        rule: rules.RubricRule,
        row: int,
        indicators: dict[str, Indicator],
        ledgers: tuple[Ledger, ...],
        activities: set[str],
    ) -> bool:
        s = schema.RUBRIC.name
        ok = True
        for code in rule.activities:
            if code not in activities and self.is_declared("activity", code):
                ok = False
            elif code not in activities:
                self.add(
                    "unknown-reference",
                    f"规则引用的规定动作“{code}”不存在",
                    sheet=s,
                    row=row,
                    column="规则",
                )
                ok = False
        if rule.ledger is not None:
            ledger = next((x for x in ledgers if x.name == rule.ledger), None)
            if ledger is None and self.is_declared("ledger", rule.ledger):
                ok = False
            elif ledger is None:
                known = "、".join(x.name for x in ledgers) or "无"
                self.add(
                    "unknown-ledger",
                    f"规则引用的清单“{rule.ledger}”不存在（现有：{known}）",
                    sheet=s,
                    row=row,
                    column="规则",
                )
                ok = False
            elif ledger.column(LedgerRole.STATUS) is None:
                self.add(
                    "unknown-ledger",
                    f"清单“{rule.ledger}”没有用途为“状态”的列，无法计算完成率",
                    sheet=s,
                    row=row,
                    column="规则",
                )
                ok = False
        if rule.target is not None:
            for ref in sorted(rule.target.references()):
                ind = indicators.get(ref)
                if ind is None and self.is_declared("indicator", ref):
                    ok = False
                elif ind is None or not ind.numeric:
                    what = "不存在" if ind is None else "不是数值型"
                    self.add(
                        "unknown-reference",
                        f"规则引用的指标 [{ref}] {what}",
                        sheet=s,
                        row=row,
                        column="规则",
                    )
                    ok = False
        return ok
