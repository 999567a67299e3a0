"""Excel formulas for the live self-check of a form, generated from the layout.

Cell-level feedback is conditional formatting (yellow: required and empty; red: filled but
wrong); the instructions sheet counts both per sheet with array formulas. All formulas are built
here from fixed templates and plan data the bureau wrote — never from unit input.
"""

from __future__ import annotations

from datetime import date

from reporting.forms.layout import (
    ACTIVITIES,
    ACTIVITY_COLUMNS,
    INDICATOR_COLUMNS,
    INDICATORS,
    STATUS_DONE,
    TEXT_LIMIT,
    FormLayout,
    IndicatorSlot,
    LedgerSlot,
    a1,
    col_letter,
    col_of,
)
from reporting.plan.model import LedgerColumn, ValueType
from reporting.rules import Attr, BinOp, Comparison, Expr, Neg, Num, Ref, SelfRef


def excel_serial(day: date) -> int:
    return (day - date(1899, 12, 30)).days


def quote_sheet(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def excel_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


# --------------------------------------------------------------------------- rules → Excel


def rule_expr(expr: Expr, own: str, cells: dict[str, str], headcount: int) -> tuple[str, list[str]]:
    """(Excel expression, referenced cells that must be filled for the rule to apply)."""
    if isinstance(expr, Num):
        return repr(expr.value), []
    if isinstance(expr, SelfRef):
        return own, [own]
    if isinstance(expr, Ref):
        cell = cells[expr.code]
        return cell, [cell]
    if isinstance(expr, Attr):
        return str(headcount), []
    if isinstance(expr, Neg):
        inner, refs = rule_expr(expr.operand, own, cells, headcount)
        return f"(-{inner})", refs
    assert isinstance(expr, BinOp)
    left, lrefs = rule_expr(expr.left, own, cells, headcount)
    right, rrefs = rule_expr(expr.right, own, cells, headcount)
    return f"({left}{expr.op}{right})", lrefs + rrefs


_OPS = {"<=": "<=", ">=": ">=", "<": "<", ">": ">", "==": "=", "!=": "<>"}


def rule_broken(cmp: Comparison, own: str, cells: dict[str, str], headcount: int) -> str:
    """TRUE when the rule is decidable and violated."""
    left, lrefs = rule_expr(cmp.left, own, cells, headcount)
    right, rrefs = rule_expr(cmp.right, own, cells, headcount)
    refs = list(dict.fromkeys(lrefs + rrefs))
    blank = ",".join(f'{r}=""' for r in refs)
    test = f"IFERROR(NOT({left}{_OPS[cmp.op]}{right}),FALSE)"
    return f"IF(OR({blank}),FALSE,{test})" if refs else test


# --------------------------------------------------------------------------- indicators


def indicator_invalid(layout: FormLayout, slot: IndicatorSlot, prefix: str = "") -> str:
    """Excel boolean: the indicator's value cell is filled and wrong."""
    ind = slot.indicator
    cell = prefix + slot.cell
    cells = {s.indicator.code: prefix + s.cell for s in layout.indicators}
    if ind.type is ValueType.YESNO:
        return f'AND({cell}<>"",{cell}<>"是",{cell}<>"否")'
    if ind.type is ValueType.TEXT:
        limit = int(ind.maximum or TEXT_LIMIT)
        return f"LEN({cell})>{limit}"
    if ind.type is ValueType.DATE:
        lo, hi = layout.year_window
        return (
            f'IF({cell}="",FALSE,IF(NOT(ISNUMBER({cell})),TRUE,'
            f"OR({cell}<{excel_serial(lo)},{cell}>{excel_serial(hi) + 1})))"
        )
    checks: list[str] = []
    if ind.type is ValueType.INTEGER:
        checks.append(f"{cell}<>INT({cell})")
    if ind.minimum is not None:
        checks.append(f"{cell}<{ind.minimum!r}")
    if ind.maximum is not None:
        checks.append(f"{cell}>{ind.maximum!r}")
    checks += [rule_broken(r, cell, cells, layout.unit.headcount) for r in ind.rules]
    inner = f"OR({','.join(checks)})" if checks else "FALSE"
    return f'IF({cell}="",FALSE,IF(NOT(ISNUMBER({cell})),TRUE,{inner}))'


def indicators_missing_count(layout: FormLayout) -> str:
    sheet = quote_sheet(INDICATORS) + "!"
    terms = [f'({sheet}{s.cell}="")' for s in layout.indicators if s.indicator.required]
    return "=" + ("+".join(f"{t}*1" for t in terms) if terms else "0")


def indicators_invalid_terms(layout: FormLayout) -> list[str]:
    sheet = quote_sheet(INDICATORS) + "!"
    return [f"IF({indicator_invalid(layout, s, sheet)},1,0)" for s in layout.indicators]


# --------------------------------------------------------------------------- activities


def activity_ranges(layout: FormLayout, prefix: str = "") -> dict[str, str]:
    first = layout.activities[0].row
    last = layout.activities[-1].row
    return {
        c.key: f"{prefix}{col_letter(i)}{first}:{col_letter(i)}{last}"
        for i, c in enumerate(ACTIVITY_COLUMNS, start=1)
    }


def activities_missing_count(layout: FormLayout) -> str:
    if not layout.activities:
        return "=0"
    r = activity_ranges(layout, quote_sheet(ACTIVITIES) + "!")
    done = excel_string(STATUS_DONE)
    return (
        f'=COUNTBLANK({r["status"]})+COUNTIFS({r["status"]},{done},{r["done_date"]},"")'
        f'+COUNTIFS({r["status"]},{done},{r["count"]},"")'
    )


def activities_invalid_count(layout: FormLayout) -> str:
    """Array formula: dates without 已完成, counts below the minimum, non-numbers, bad dates."""
    if not layout.activities:
        return "=0"
    r = activity_ranges(layout, quote_sheet(ACTIVITIES) + "!")
    done = excel_string(STATUS_DONE)
    lo, hi = layout.date_window
    return (
        f'=SUM(({r["status"]}<>{done})*({r["done_date"]}<>""))'
        f"+SUM(({r['status']}={done})*ISNUMBER({r['count']})*({r['count']}<{r['min_count']}))"
        f'+SUM(({r["count"]}<>"")*NOT(ISNUMBER({r["count"]})))'
        f'+SUM(({r["participants"]}<>"")*NOT(ISNUMBER({r["participants"]})))'
        f'+SUM(({r["done_date"]}<>"")*NOT(ISNUMBER({r["done_date"]})))'
        f"+SUM(ISNUMBER({r['done_date']})*(({r['done_date']}<{excel_serial(lo)})"
        f"+({r['done_date']}>{excel_serial(hi) + 1})>0))"
    )


def activity_cf(layout: FormLayout) -> list[tuple[str, str, str]]:
    """(range, formula, 'missing'|'invalid') conditional formats for the activity sheet."""
    if not layout.activities:
        return []
    first, last = layout.activities[0].row, layout.activities[-1].row

    def col(key: str) -> str:
        return col_letter(col_of(ACTIVITY_COLUMNS, key))

    s, n, d, m = col("status"), col("count"), col("done_date"), col("min_count")
    p = col("participants")
    lo, hi = layout.date_window
    done = excel_string(STATUS_DONE)
    f = first
    return [
        (f"{s}{f}:{s}{last}", f'=${s}{f}=""', "missing"),
        (f"{d}{f}:{d}{last}", f'=AND(${s}{f}={done},${d}{f}="")', "missing"),
        (f"{n}{f}:{n}{last}", f'=AND(${s}{f}={done},${n}{f}="")', "missing"),
        (
            f"{d}{f}:{d}{last}",
            f'=AND(${d}{f}<>"",OR(${s}{f}<>{done},NOT(ISNUMBER(${d}{f})),'
            f"${d}{f}<{excel_serial(lo)},${d}{f}>{excel_serial(hi) + 1}))",
            "invalid",
        ),
        (
            f"{n}{f}:{n}{last}",
            f'=AND(${n}{f}<>"",IF(ISNUMBER(${n}{f}),AND(${s}{f}={done},${n}{f}<${m}{f}),TRUE))',
            "invalid",
        ),
        (
            f"{p}{f}:{p}{last}",
            f'=AND(${p}{f}<>"",IF(ISNUMBER(${p}{f}),${p}{f}>{layout.unit.headcount},TRUE))',
            "invalid",
        ),
    ]


# --------------------------------------------------------------------------- ledgers


def ledger_range(slot: LedgerSlot, i: int, prefix: str = "") -> str:
    c = col_letter(slot.column(i))
    return f"{prefix}{c}{slot.first_row}:{c}{slot.last_row}"


def ledger_row_filled(slot: LedgerSlot, prefix: str = "") -> str:
    """Array expression: 1 for rows with any content."""
    parts = "&".join(ledger_range(slot, i, prefix) for i in range(len(slot.ledger.columns)))
    return f"(LEN({parts})>0)"


def ledger_missing_count(slot: LedgerSlot) -> str:
    prefix = quote_sheet(slot.sheet) + "!"
    filled = ledger_row_filled(slot, prefix)
    terms = [
        f'SUM({filled}*({ledger_range(slot, i, prefix)}=""))'
        for i, c in enumerate(slot.ledger.columns)
        if c.required
    ]
    return "=" + ("+".join(terms) if terms else "0")


def _column_invalid_array(
    slot: LedgerSlot, i: int, column: LedgerColumn, layout: FormLayout, prefix: str
) -> str | None:
    rng = ledger_range(slot, i, prefix)
    if column.type in (ValueType.INTEGER, ValueType.DECIMAL, ValueType.DATE):
        expr = f'SUM(({rng}<>"")*NOT(ISNUMBER({rng})))'
        if column.type is ValueType.DATE:
            lo, hi = layout.year_window
            expr += (
                f"+SUM(ISNUMBER({rng})*(({rng}<{excel_serial(lo)})"
                f"+({rng}>{excel_serial(hi) + 1})>0))"
            )
        return expr
    if column.type is ValueType.CHOICE:
        options = ",".join(excel_string(o) for o in column.options)
        return f'SUM(({rng}<>"")*ISNA(MATCH({rng},{{{options}}},0)))'
    limit = column.max_length or TEXT_LIMIT
    return f"SUM((LEN({rng})>{limit})*1)"


def ledger_invalid_count(slot: LedgerSlot, layout: FormLayout) -> str:
    prefix = quote_sheet(slot.sheet) + "!"
    terms = [
        t
        for i, c in enumerate(slot.ledger.columns)
        if (t := _column_invalid_array(slot, i, c, layout, prefix))
    ]
    return "=" + ("+".join(terms) if terms else "0")


def ledger_cf(slot: LedgerSlot, layout: FormLayout) -> list[tuple[str, str, str]]:
    first = slot.first_row
    cols = [col_letter(slot.column(i)) for i in range(len(slot.ledger.columns))]
    any_filled = f"LEN({'&'.join(f'${c}{first}' for c in cols)})>0"
    out: list[tuple[str, str, str]] = []
    for i, column in enumerate(slot.ledger.columns):
        c = cols[i]
        rng = f"{c}{first}:{c}{slot.last_row}"
        cell = f"${c}{first}"
        if column.required:
            out.append((rng, f'=AND({any_filled},{cell}="")', "missing"))
        if column.type in (ValueType.INTEGER, ValueType.DECIMAL):
            out.append((rng, f'=AND({cell}<>"",NOT(ISNUMBER({cell})))', "invalid"))
        elif column.type is ValueType.DATE:
            lo, hi = layout.year_window
            out.append(
                (
                    rng,
                    f'=AND({cell}<>"",OR(NOT(ISNUMBER({cell})),{cell}<{excel_serial(lo)},'
                    f"{cell}>{excel_serial(hi) + 1}))",
                    "invalid",
                )
            )
        elif column.type is ValueType.CHOICE:
            # Conditional formats may not hold array constants: spell the options out.
            allowed = ",".join(f"{cell}={excel_string(o)}" for o in column.options)
            out.append((rng, f'=AND({cell}<>"",NOT(OR({allowed})))', "invalid"))
        else:
            out.append((rng, f"=LEN({cell})>{column.max_length or TEXT_LIMIT}", "invalid"))
    return out


def indicator_value_column() -> str:
    return col_letter(col_of(INDICATOR_COLUMNS, "value"))


__all__ = [
    "a1",
    "activities_invalid_count",
    "activities_missing_count",
    "activity_cf",
    "indicator_invalid",
    "indicators_invalid_terms",
    "indicators_missing_count",
    "ledger_cf",
    "ledger_invalid_count",
    "ledger_missing_count",
]
