"""Findings: every problem in user input is a record, never an exception.

A :class:`Finding` carries a fixed ``code`` from :data:`CATALOGUE`, a severity, where it is
(sheet plus either row/column for the plan, or an A1 ``cell`` for returned forms) and a Chinese
message saying what is wrong and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Code:
    """One entry of the finding catalogue."""

    code: str
    severity: Severity
    title: str  # short Chinese title, shown in tables and docs
    stage: str  # "plan" or "intake"


_E, _W = Severity.ERROR, Severity.WARNING

_CODES = [
    # --- plan workbook ---
    Code("plan-unreadable", _E, "方案文件无法打开", "plan"),
    Code("missing-sheet", _E, "缺少工作表", "plan"),
    Code("missing-column", _E, "缺少列", "plan"),
    Code("missing-value", _E, "必填项为空", "plan"),
    Code("duplicate-code", _E, "编码重复", "plan"),
    Code("bad-date", _E, "日期无法识别", "plan"),
    Code("bad-number", _E, "数值无法识别", "plan"),
    Code("bad-choice", _E, "取值不在允许范围内", "plan"),
    Code("bad-setting", _E, "方案设置有误", "plan"),
    Code("bad-grade-bands", _E, "等级划分有误", "plan"),
    Code("phase-order", _E, "阶段结束早于开始", "plan"),
    Code("phase-overlap", _E, "阶段时间重叠", "plan"),
    Code("phase-outside-year", _E, "阶段超出年度", "plan"),
    Code("date-outside-year", _E, "日期超出年度", "plan"),
    Code("unknown-phase", _E, "引用了不存在的阶段", "plan"),
    Code("unknown-category", _E, "引用了不存在的单位类别", "plan"),
    Code("unknown-ledger", _E, "引用了不存在的清单", "plan"),
    Code("min-over-max", _E, "最小值大于最大值", "plan"),
    Code("bad-rule", _E, "规则无法解析", "plan"),
    Code("unknown-reference", _E, "规则引用了不存在的指标或动作", "plan"),
    Code("rubric-total", _E, "考评分值合计不等于100", "plan"),
    Code("bad-headcount", _E, "职工人数不是正整数", "plan"),
    Code("empty-roster", _E, "单位名单为空", "plan"),
    Code("empty-sheet", _E, "工作表没有数据", "plan"),
    Code("phase-mismatch", _W, "完成时限不在所属阶段内", "plan"),
    # --- returned forms ---
    Code("unreadable", _E, "文件无法读取", "intake"),
    Code("encrypted", _E, "文件设置了打开密码", "intake"),
    Code("not-a-form", _E, "不是本活动的报送表单", "intake"),
    Code("metadata-missing", _W, "识别信息缺失，按填报说明中的单位识别", "intake"),
    Code("metadata-tampered", _E, "识别信息被改动", "intake"),
    Code("unknown-unit", _E, "单位不在名单中", "intake"),
    Code("wrong-period", _E, "报送期不符", "intake"),
    Code("plan-changed", _E, "表单按旧版方案生成", "intake"),
    Code("structure-changed", _E, "表格结构被改动", "intake"),
    Code("macro-present", _W, "文件含宏（不会运行）", "intake"),
    Code("empty-return", _E, "表单未填写", "intake"),
    Code("required-missing", _E, "必填项未填", "intake"),
    Code("type-error", _E, "填写内容类型不对", "intake"),
    Code("out-of-range", _E, "数值超出范围", "intake"),
    Code("not-in-list", _E, "不是下拉列表中的选项", "intake"),
    Code("date-out-of-window", _E, "日期不在允许范围内", "intake"),
    Code("rule-violation", _E, "不符合校验规则", "intake"),
    Code("too-long", _E, "文字超过长度限制", "intake"),
    Code("duplicate-row", _E, "清单中有重复行", "intake"),
    Code("activity-inconsistent", _E, "规定动作填写前后矛盾", "intake"),
    Code("formula-uncalculated", _E, "公式没有计算结果", "intake"),
    # --- returned inspector sheets (督导考评表) ---
    Code("score-out-of-range", _E, "考评得分超出该项分值范围", "intake"),
    Code("reason-missing", _E, "扣分未写明理由", "intake"),
    Code("inspector-missing", _E, "未填写督导组成员或督导日期", "intake"),
]

CATALOGUE: dict[str, Code] = {c.code: c for c in _CODES}


@dataclass(frozen=True)
class Finding:
    """One problem found in user input.

    For the plan workbook ``row`` is the 1-based Excel row and ``column`` the header name; for
    returned forms ``cell`` is the A1 reference and ``label`` names the row (an activity, an
    indicator, a ledger row) so the message can be read without the file open.
    """

    code: str
    severity: Severity
    message: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    cell: str | None = None
    label: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def where(self) -> str:
        """Human location, e.g. ``单位 第7行 职工人数`` or ``月报数据 D5``."""
        parts = [p for p in (self.sheet,) if p]
        if self.cell:
            parts.append(self.cell)
        else:
            if self.row:
                parts.append(f"第{self.row}行")
            if self.column:
                parts.append(self.column)
        return " ".join(parts)

    def plan_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": str(self.severity),
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "message": self.message,
        }


def make(
    code: str,
    message: str,
    *,
    sheet: str | None = None,
    row: int | None = None,
    column: str | None = None,
    cell: str | None = None,
    label: str | None = None,
    severity: Severity | None = None,
) -> Finding:
    """Build a finding whose severity defaults to the catalogue's. Unknown codes are a bug."""
    entry = CATALOGUE[code]
    return Finding(
        code=code,
        severity=severity or entry.severity,
        message=message,
        sheet=sheet,
        row=row,
        column=column,
        cell=cell,
        label=label,
    )


def has_errors(findings: list[Finding] | tuple[Finding, ...]) -> bool:
    return any(f.is_error for f in findings)
