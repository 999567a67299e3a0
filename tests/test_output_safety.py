"""Outputs never carry a live formula, link or number made from what a unit typed.

A unit's text goes back out in the feedback copy (退回修改), next month's pre-filled form and
whatever collation, ranking and reports quote. Each workbook the tool writes is opened at the
XML level here: no ``<f>`` element holds unit text, no hyperlink or external relationship is
derived from it, unit text sits in string cells (``t="s"``/``inlineStr``) and is never coerced
into a number ("+1", "0012"), and no macro, external-link, connection or embedded part exists.

The generic test runs the whole demo with hostile text typed into every free-text input and
scans *every* ``.xlsx`` under ``outbox/`` (also inside zips), so writers that join the demo
later are covered without changing this file; ``.docx`` and ``.html`` outputs, when there are
some, are checked for unescaped text and field codes.
"""

from __future__ import annotations

import io
import random
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests.conftest import Office
from tests.fixtures.hostile.returns import CONTROL_TEXT, FORMULA_LIKE, with_texts

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NS = {"m": MAIN}

# Fragments that only hostile unit input contains (the tool's own formulas never do).
MARKERS = ("evil.example", "cmd|", "HYPERLINK", "@SUM", "<script", "calc'!")
# Numeric-looking text typed into text inputs, with values no output would hold by chance.
NUMERIC_TEXT = {"+31415926": 31415926.0, "00271828": 271828.0, "-2.7e-7": -2.7e-7}
FORBIDDEN_PARTS = re.compile(
    r"(vbaProject|externalLinks/|connections\.xml|embeddings/|activeX/|oleObject)", re.I
)


@dataclass(frozen=True)
class Cell:
    sheet: str
    ref: str
    type: str | None  # the t attribute
    text: str | None  # string cells: the text; other cells: the raw <v>
    formula: str | None


_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _unescape(text: str) -> str:
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def _text(item: Any) -> str:
    parts = [
        t.text or "" for t in item.iter(f"{{{MAIN}}}t") if t.getparent().tag != f"{{{MAIN}}}rPh"
    ]
    return _unescape("".join(parts))


def _parse(data: bytes) -> Any:
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))


@dataclass
class Package:
    """One .xlsx opened at the XML level."""

    name: str
    parts: dict[str, bytes]

    @classmethod
    def open(cls, name: str, data: bytes) -> Package:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return cls(name, {n: zf.read(n) for n in zf.namelist()})

    def sheets(self) -> dict[str, str]:
        """Sheet name → worksheet part."""
        book = _parse(self.parts["xl/workbook.xml"])
        rels = _parse(self.parts["xl/_rels/workbook.xml.rels"])
        targets = {r.get("Id"): r.get("Target") for r in rels.iter(f"{{{PKG}}}Relationship")}
        out = {}
        for sheet in book.iter(f"{{{MAIN}}}sheet"):
            target = targets[sheet.get(f"{{{REL}}}id")]
            out[sheet.get("name")] = (
                target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            )
        return out

    def cells(self) -> list[Cell]:
        shared = []
        if "xl/sharedStrings.xml" in self.parts:
            sst = _parse(self.parts["xl/sharedStrings.xml"])
            shared = [_text(si) for si in sst.iter(f"{{{MAIN}}}si")]
        found = []
        for sheet, part in self.sheets().items():
            root = _parse(self.parts[part])
            for c in root.iter(f"{{{MAIN}}}c"):
                t = c.get("t")
                f = c.find("m:f", NS)
                v = c.find("m:v", NS)
                if t == "s" and v is not None:
                    text = shared[int(v.text)]
                elif t == "inlineStr":
                    inline = c.find("m:is", NS)
                    text = _text(inline) if inline is not None else ""
                else:
                    text = v.text if v is not None else None
                formula = None if f is None else (f.text or "")
                found.append(Cell(sheet, c.get("r"), t, text, formula))
        return found

    def relationships(self) -> list[tuple[str, str, str, str]]:
        """(part, type, target, mode) of every relationship in the package."""
        out = []
        for name, data in self.parts.items():
            if name.endswith(".rels"):
                for r in _parse(data).iter(f"{{{PKG}}}Relationship"):
                    out.append((name, r.get("Type"), r.get("Target"), r.get("TargetMode", "")))
        return out

    def hyperlinks(self) -> list[tuple[str, dict[str, str]]]:
        out = []
        for sheet, part in self.sheets().items():
            for h in _parse(self.parts[part]).iter(f"{{{MAIN}}}hyperlink"):
                out.append((sheet, dict(h.attrib)))
        return out


def assert_inert(pkg: Package) -> list[Cell]:
    """The package holds no live content made from unit input; returns its cells."""
    assert not [n for n in pkg.parts if FORBIDDEN_PARTS.search(n)], pkg.name
    cells = pkg.cells()
    for cell in cells:
        if cell.formula is not None:
            hits = [m for m in MARKERS if m.lower() in cell.formula.lower()]
            assert not hits, (pkg.name, cell)
        if cell.type in (None, "n") and cell.text is not None:
            assert float(cell.text) not in NUMERIC_TEXT.values(), (pkg.name, cell)
    for part, kind, target, _mode in pkg.relationships():
        assert not any(m in (target or "") for m in MARKERS), (pkg.name, part, kind, target)
    for sheet, attrs in pkg.hyperlinks():
        assert not any(m in " ".join(attrs.values()) for m in MARKERS), (pkg.name, sheet, attrs)
    return cells


def outputs(outbox: Path) -> list[tuple[str, bytes]]:
    """Every workbook under ``outbox`` (and inside its zips)."""
    found = []
    for path in sorted(outbox.rglob("*")):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            found.append((str(path), path.read_bytes()))
        elif path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as zf:
                for n in zf.namelist():
                    if n.lower().endswith((".xlsx", ".xlsm")):
                        found.append((f"{path}!{n}", zf.read(n)))
    return found


def string_cells(cells: list[Cell]) -> set[str]:
    return {c.text for c in cells if c.type in ("s", "inlineStr", "str") and c.text}


# --------------------------------------------------------------------------- the demo


DEMO_TEXT = {
    "B09": '=HYPERLINK("http://evil.example/steal","点击查看详情")',
    "evidence": "=cmd|' /C calc'!A0",
    "note": "+31415926",
    "问题描述": "@SUM(1+1)*cmd|' /C calc'!A0",
    "整改措施": "http://evil.example/整改",
    "责任领导": "00271828",
    "责任人": "-2.7e-7",
    "名称": '=HYPERLINK("http://evil.example")',
    "所在科室": "+31415926",
    "主要事迹": "<script>alert('evil.example')</script>好做法",
    "联系电话": "00271828",
}


def hostile_filling(real: Any) -> Any:
    """``typical_filling`` with hostile text in every free-text input it fills, plus one open
    rectification item and one nomination written entirely in hostile text."""

    def filling(plan: Any, unit: Any, period: Any, rng: random.Random) -> Any:
        f = real(plan, unit, period, rng)
        f.indicators["B09"] = DEMO_TEXT["B09"]
        for fields in f.activities.values():
            if fields.get("status") == "已完成":
                fields["evidence"] = DEMO_TEXT["evidence"]
                fields["note"] = DEMO_TEXT["note"]
        f.ledgers.setdefault("整改台账", []).append(
            {
                "问题描述": DEMO_TEXT["问题描述"],
                "整改措施": DEMO_TEXT["整改措施"],
                "整改时限": date(2014, 9, period.month),  # unlike last month's open item
                "责任领导": DEMO_TEXT["责任领导"],
                "责任人": DEMO_TEXT["责任人"],
                "整改状态": "整改中",
            }
        )
        f.ledgers.setdefault("典型推荐", []).append(
            {"推荐类型": "先进集体"}
            | {k: DEMO_TEXT[k] for k in ("名称", "所在科室", "主要事迹", "联系电话")}
        )
        return f

    return filling


def _typed_as_text(data: bytes) -> bytes:
    """openpyxl reads hostile text typed into a form back as text, but writes text starting
    with ``=`` as a formula: keep it a string, as Excel does for text typed with a quote."""
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f" and any(m in str(cell.value) for m in MARKERS):
                    cell.data_type = "s"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from reporting import demo as demo_mod
    from reporting import simulate

    real_fill = simulate.fill_form

    def fill_form(source: Any, filling: Any) -> bytes:
        return _typed_as_text(real_fill(source, filling))

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(demo_mod, "typical_filling", hostile_filling(demo_mod.typical_filling))
        mp.setattr(demo_mod, "fill_form", fill_form)
        return demo_mod.run_demo(tmp_path_factory.mktemp("demo") / "demo")


def test_every_workbook_the_demo_writes_keeps_unit_text_inert(demo: Any) -> None:
    outbox = demo.workspace.outbox
    books = outputs(outbox)
    assert len(books) >= 2 * 34  # the month's forms (and their zip), feedback, summary…
    seen: set[str] = set()
    for name, data in books:
        seen |= string_cells(assert_inert(Package.open(name, data)))
    # the hostile text did go out (fed back, pre-filled), every piece of it as a string
    missing = [k for k, text in DEMO_TEXT.items() if text not in seen]
    assert not missing, missing
    assert list((outbox / "feedback").rglob("*.xlsx"))


def test_word_and_html_outputs_escape_unit_text(demo: Any) -> None:
    """Vacuous until a writer of .docx/.html joins the demo; then it bites."""
    outbox = demo.workspace.outbox
    for path in outbox.rglob("*.htm*"):
        text = path.read_text("utf-8", "replace")
        assert "<script>alert('evil.example')" not in text, path
        assert 'href="http://evil.example' not in text, path
    for path in outbox.rglob("*.docx"):
        pkg = Package.open(str(path), path.read_bytes())
        for part, data in pkg.parts.items():
            if part.endswith(".xml"):
                root = _parse(data)
                for el in root.iter():
                    instr = el.get(f"{{{W}}}instr") if isinstance(el.tag, str) else None
                    if el.tag == f"{{{W}}}instrText" or instr:
                        code = (el.text or "") + (instr or "")
                        assert not any(m in code for m in MARKERS), (path, part, code)
        for _part, _kind, target, _mode in pkg.relationships():
            assert not any(m in (target or "") for m in MARKERS), (path, target)


# --------------------------------------------------------------------------- targeted


HOSTILE_NAME = "=HYPERLINK(＂http：evil.example＂) 杭州.xlsx"


def _column(cells: dict[tuple[str, str], Cell], sheet: str, header: str) -> str:
    """Letters of the column whose row-2 header starts with ``header``."""
    for (s, ref), cell in cells.items():
        if s == sheet and re.fullmatch(r"[A-Z]+2", ref) and (cell.text or "").startswith(header):
            return ref[:-1]
    raise AssertionError(f"no column {header} in {sheet}")


def test_feedback_and_prefill_write_formula_like_text_as_plain_strings(tmp_path: Path) -> None:
    from reporting.forms.service import make_forms
    from reporting.intake.reader import read_workbook

    office = Office(tmp_path / "ws")
    place = dict(FORMULA_LIKE)
    place["主要事迹"] = CONTROL_TEXT  # control characters survive the trip, escaped
    # a number out of range: rejected, so the feedback copy writes every input back
    office.drop(HOSTILE_NAME, with_texts(office, "SX01", place, indicators={"B03": 9999}))
    office.drop("SX02.xlsx", with_texts(office, "SX02", FORMULA_LIKE))  # accepted
    result = office.collect(received_at=datetime(2014, 6, 3, 10))
    states = {f.unit: f.state for f in result.files}
    assert states == {"SX01": "rejected", "SX02": "accepted"}, result.as_json()

    feedback = result.files[[f.unit for f in result.files].index("SX01")].feedback
    pkg = Package.open(str(feedback), feedback.read_bytes())
    cells = {(c.sheet, c.ref): c for c in assert_inert(pkg)}

    def expect(sheet: str, ref: str, text: str) -> None:
        cell = cells[(sheet, ref)]
        assert cell.type in ("s", "inlineStr") and cell.formula is None, cell
        assert cell.text == text, cell

    expect("月报数据", "F11", place["B09"])
    for column in ("问题描述", "整改措施", "责任领导", "责任人"):
        expect("整改台账", _column(cells, "整改台账", column) + "3", place[column])
    for column in ("名称", "所在科室", "主要事迹", "联系电话"):
        expect("典型推荐", _column(cells, "典型推荐", column) + "3", place[column])
    expect("规定动作", _column(cells, "规定动作", "佐证材料说明") + "3", place["evidence"])
    expect("规定动作", _column(cells, "规定动作", "备注") + "3", place["note"])
    # the file name the unit chose is quoted as text in the 问题清单 summary
    assert any(HOSTILE_NAME in (c.text or "") and c.formula is None for c in cells.values())
    # read back as a unit's Excel would: exactly what was sent, control characters included
    book = read_workbook(feedback.read_bytes()).book
    assert book is not None
    assert (
        book.sheets["典型推荐"].cell(_column(cells, "典型推荐", "主要事迹") + "3") == CONTROL_TEXT
    )
    assert book.sheets["整改台账"].cell(_column(cells, "整改台账", "责任人") + "3") == "0012"

    forms = make_forms(office.ws.root, "2014-06", unit_codes=["SX02"], workers=1)
    pkg = Package.open(str(forms.files[0].path), forms.files[0].path.read_bytes())
    cells = {(c.sheet, c.ref): c for c in assert_inert(pkg)}
    expect("规定动作", _column(cells, "规定动作", "佐证材料说明") + "3", FORMULA_LIKE["evidence"])
    expect("规定动作", _column(cells, "规定动作", "备注") + "3", FORMULA_LIKE["note"])
    for column in ("问题描述", "整改措施", "责任领导", "责任人"):
        expect("整改台账", _column(cells, "整改台账", column) + "3", FORMULA_LIKE[column])
