"""Fill generated forms fast, by editing their sheet XML — for benchmarks only.

openpyxl takes ~50 ms to open, fill and save a form; a provincial benchmark needs thousands.
This writes the same values straight into the XML XlsxWriter produced (blank input cells
``<c r="G3" s="12"/>`` become inline strings or numbers; ledger rows are appended), which is
what a unit's office suite would store, minus its styling details.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime
from typing import Any
from xml.sax.saxutils import escape

from reporting.forms.layout import ACTIVITY_COLUMNS, build_layout, col_letter, col_of
from reporting.periods import Period
from reporting.plan.model import Plan, Unit
from reporting.simulate import Filling

_EPOCH = date(1899, 12, 30)


def _cell(ref: str, value: Any, style: str | None) -> str:
    s = f' s="{style}"' if style else ""
    if isinstance(value, bool):
        value = "是" if value else "否"
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return f'<c r="{ref}"{s}><v>{(value - _EPOCH).days}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"{s}><v>{value}</v></c>'
    return f'<c r="{ref}"{s} t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'


def _put(xml: str, ref: str, value: Any) -> str:
    pattern = re.compile(rf'<c r="{ref}"(?: s="(\d+)")?/>')
    m = pattern.search(xml)
    if m is None:
        raise KeyError(ref)
    return xml[: m.start()] + _cell(ref, value, m.group(1)) + xml[m.end() :]


def fast_fill(data: bytes, plan: Plan, unit: Unit, period: Period, filling: Filling) -> bytes:
    layout = build_layout(plan, unit, period)
    src = zipfile.ZipFile(io.BytesIO(data))
    parts = {info.filename: src.read(info.filename) for info in src.infolist()}
    sheets = [f"xl/worksheets/sheet{i}.xml" for i in range(1, len(layout.sheet_names) + 2)]
    acts = parts[sheets[1]].decode()
    for slot in layout.activities:
        for key, value in filling.activities.get(slot.activity.code, {}).items():
            if value is not None:
                acts = _put(acts, f"{col_letter(col_of(ACTIVITY_COLUMNS, key))}{slot.row}", value)
    parts[sheets[1]] = acts.encode()
    inds = parts[sheets[2]].decode()
    for slot in layout.indicators:
        value = filling.indicators.get(slot.indicator.code)
        if value is not None:
            inds = _put(inds, slot.cell, value)
    parts[sheets[2]] = inds.encode()
    for n, slot in enumerate(layout.ledgers):
        rows = filling.ledgers.get(slot.sheet, [])
        if not rows:
            continue
        xml_rows = []
        for i, row in enumerate(rows):
            r = slot.first_row + i
            cells = "".join(
                _cell(f"{col_letter(slot.column(c))}{r}", row[column.name], None)
                for c, column in enumerate(slot.ledger.columns)
                if row.get(column.name) is not None
            )
            xml_rows.append(f'<row r="{r}">{cells}</row>')
        name = sheets[3 + n]
        parts[name] = parts[name].replace(
            b"</sheetData>", "".join(xml_rows).encode() + b"</sheetData>", 1
        )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for info in src.infolist():
            zf.writestr(info.filename, parts[info.filename])
    return out.getvalue()
