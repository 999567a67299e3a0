"""Property tests: what a unit types comes back exactly, or as the right finding; a damaged
return never crashes intake and never yields accepted values that are not in the file.

Pure path (no store): ``read_workbook`` + ``check_workbook``, as ``Office.check`` does. A form
is filled once with openpyxl; each example then writes its values into the saved XML as Excel
writes them (text as string cells with ``_xHHHH_`` escapes, numbers with 17 significant
digits, dates as serial numbers), which is faster than re-saving with openpyxl and reaches what
openpyxl cannot write (control characters, NaN).

Examples are derandomised so CI is stable; ``HYPOTHESIS_PROFILE=explore`` runs many more,
randomly.
"""

from __future__ import annotations

import contextlib
import html
import io
import math
import os
import random
import re
import unicodedata
import warnings
import zipfile
import zlib
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import Office
from tests.fixtures.hostile.returns import FORMULA_LIKE, Raw, rewrite, write_cells

# On a failure, hypothesis's pytest plugin imports its patch writer (and libcst, when
# installed), whose import warns (DeprecationWarning from mypy_extensions); with warnings as
# errors that turns the failure report into an INTERNALERROR. Import it now, quietly.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    with contextlib.suppress(ImportError):
        import hypothesis.extra._patching  # noqa: F401

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("explore", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

UNIT = "SX01"  # headcount 126
PERIOD = "2014-05"
ACT = ("规定动作", "G3")  # first activity: 完成情况 G, 完成次数 H, 完成日期 I
B01, B02, B03, B06, B08, B09 = (("月报数据", f"F{r}") for r in (3, 4, 5, 8, 10, 11))
LEDGER_TEXT = ("整改台账", "A3")  # 问题描述, required, at most 200 characters


class Base:
    """SX01's valid return (``data``), every cell the properties write holding a placeholder,
    and the values typed into it. Not a dataclass: hypothesis would print the bytes."""

    def __init__(self, office: Office, data: bytes, typed: dict[str, Any]) -> None:
        self.office, self.data, self.typed = office, data, typed

    def __repr__(self) -> str:
        return f"Base({len(self.data)} bytes)"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    office = Office(tmp_path_factory.mktemp("props") / "ws")
    filling = office.filling(UNIT, seed=3)
    first = office.plan.activities_for(office.plan.unit(UNIT))[0]
    filling.activities[first.code] = {"status": "已完成", "count": 1, "done_date": date(2014, 5, 6)}
    filling.indicators.update(
        {"B01": 100, "B02": 50, "B03": 7, "B06": 99.5, "B08": date(2014, 5, 9)}
    )
    filling.indicators["B09"] = "好做法"
    filling.ledgers["整改台账"] = [
        {
            "问题描述": "学习不深入",
            "整改措施": "集中学习",
            "整改时限": date(2014, 9, 30),
            "责任领导": "王",
            "责任人": "李",
            "整改状态": "整改中",
        }
    ]
    data = office.filled(UNIT, filling)
    check = office.check(data)
    assert check.accepted and check.findings == (), check.findings
    return Base(office, data, dict(filling.indicators))


def found(check: Any) -> set[tuple[str, str]]:
    return {(f.code, f.cell) for f in check.findings}


def values(check: Any) -> dict[str, Any]:
    return {v.indicator_code: v.value for v in check.extracted.values}


# --------------------------------------------------------------------------- text

UNICODE = st.characters(exclude_categories=("Cs",), exclude_characters="\ufffe\uffff")
TEXT = st.one_of(
    st.text(UNICODE, max_size=60),
    st.text(st.characters(max_codepoint=0x3000), max_size=30),  # controls, space-like
    st.builds(
        lambda p, t: p + t,
        st.sampled_from(["=", "+", "-", "@", "\t", " ", "'"]),
        st.text(UNICODE, max_size=20),
    ),
    st.sampled_from(list(FORMULA_LIKE.values())),
    st.builds(lambda ch, n: ch * n, UNICODE, st.integers(150, 700)),
)


@given(text=TEXT)
def test_text_comes_back_exactly_or_too_long(base: Base, text: str) -> None:
    check = base.office.check(write_cells(base.data, {B09: text, LEDGER_TEXT: text}))
    shown = text.strip()
    got = values(check)["B09"]
    rows = [r.data for r in check.extracted.ledger_rows if r.ledger == "整改台账"]
    assert len(rows) == 1
    if not shown:
        assert got is None and ("required-missing", "A3") in found(check)
        assert rows[0]["问题描述"] is None
        return
    assert got == shown and rows[0]["问题描述"] == shown
    assert (("too-long", "F11") in found(check)) == (len(shown) > 500)
    assert (("too-long", "A3") in found(check)) == (len(shown) > 200)
    assert check.accepted == (len(shown) <= 200)


# --------------------------------------------------------------------------- numbers

FINITE = st.floats(allow_nan=False, allow_infinity=False)
NUMBER = st.one_of(
    FINITE,
    st.integers(-(10**20), 10**20),
    st.sampled_from([0, -0.0, 100, 100.00000000000001, 99.99999999999999, 500, 501, 126, 127]),
    st.floats(-1, 600),
    st.integers(-2, 700),
)
NON_FINITE = st.sampled_from(["NaN", "nan", "inf", "-inf", "Infinity", "1e400", "-1e999"])
FULL_WIDTH = str.maketrans("0123456789,-", "０１２３４５６７８９，－")


@st.composite
def typed_number(draw: st.DrawFn) -> tuple[object, float | None]:
    """(what is in the cell, the number it means or None if it is no number)."""
    kind = draw(st.sampled_from(["number", "number", "number", "text", "non-finite"]))
    if kind == "non-finite":
        return Raw(draw(NON_FINITE)), None
    if kind == "text":  # an integer typed as text, the ways units do
        n = draw(st.integers(-(10**9), 10**9))
        text = draw(st.sampled_from([f"{n}", f"{n:,}", f" {n} ", f"{n:,}".translate(FULL_WIDTH)]))
        return text, float(n)
    x = draw(NUMBER)
    return x, float(x)


@given(b06=typed_number(), b03=typed_number(), b01=typed_number())
def test_numbers_at_and_beyond_bounds(base: Base, b06: Any, b03: Any, b01: Any) -> None:
    check = base.office.check(write_cells(base.data, {B06: b06[0], B03: b03[0], B01: b01[0]}))
    got, cells = values(check), found(check)
    expected: set[tuple[str, str]] = set()

    def expect(code: str, cell: str, number: float | None, ok: bool, name: str) -> None:
        if number is None:
            expected.add(("type-error", cell))
            assert got[name] is None
        elif code and not ok:
            expected.add((code, cell))
        else:
            assert got[name] == number and math.isfinite(got[name])

    n06, n03, n01 = b06[1], b03[1], b01[1]
    expect("out-of-range", "F8", n06, n06 is not None and 0 <= n06 <= 100, "B06")
    if n03 is not None and not n03.is_integer():
        expected.add(("type-error", "F5"))
    else:
        expect("out-of-range", "F5", n03, n03 is not None and 0 <= n03 <= 500, "B03")
    if n01 is not None and not n01.is_integer():
        expected.add(("type-error", "F3"))
    elif n01 is not None and n01 < 0:
        expected.add(("out-of-range", "F3"))
    else:
        expect("", "F3", n01, True, "B01")
        if n01 is not None:
            if n01 > 126:  # participants <= headcount
                expected.add(("rule-violation", "F3"))
            if base.typed["B02"] > n01 * 2:  # essays <= participants * 2
                expected.add(("rule-violation", "F4"))
    assert cells == expected, (b06, b03, b01, check.findings)
    assert check.accepted == (not expected)


# --------------------------------------------------------------------------- dates

DATES = st.one_of(
    st.dates(date(1900, 3, 1), date(9999, 12, 31)),
    st.dates(date(2013, 12, 1), date(2015, 1, 31)),
)


@st.composite
def typed_date(draw: st.DrawFn) -> tuple[object, date]:
    day = draw(DATES)
    kind = draw(st.sampled_from(["date", "date", "datetime", "text"]))
    if kind == "datetime":
        return datetime.combine(day, datetime.min.time()) + timedelta(
            seconds=draw(st.integers(0, 86_399))
        ), day
    if kind == "text":
        pattern = draw(
            st.sampled_from(["{:%Y-%m-%d}", "{0.year}年{0.month}月{0.day}日", "{:%Y/%m/%d}"])
        )
        return pattern.format(day), day
    return day, day


@given(b08=typed_date(), done=typed_date())
def test_dates_come_back_exactly_or_out_of_window(base: Base, b08: Any, done: Any) -> None:
    from reporting.forms.layout import build_layout
    from reporting.periods import Period

    plan, unit = base.office.plan, base.office.plan.unit(UNIT)
    layout = build_layout(plan, unit, Period.parse(PERIOD), None)
    check = base.office.check(write_cells(base.data, {B08: b08[0], ("规定动作", "I3"): done[0]}))
    cells = found(check)
    year_lo, year_hi = layout.year_window
    if year_lo <= b08[1] <= year_hi:
        assert values(check)["B08"] == b08[1] and ("date-out-of-window", "F10") not in cells
    else:
        assert values(check)["B08"] is None and ("date-out-of-window", "F10") in cells
    lo, hi = layout.date_window
    first = check.extracted.activities[0]
    if lo <= done[1] <= hi:
        assert first.done_date == done[1] and ("date-out-of-window", "I3") not in cells
    else:
        assert first.done_date is None and ("date-out-of-window", "I3") in cells
    assert check.accepted == (not cells)


# --------------------------------------------------------------------------- damage

BROKEN = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError)
_TOKENS = [b"NaN", b"inf", b"-inf", b"1e400", b"", b"-0", b"1E+2", b"0x1F", b" 5 ", b"9" * 400]
_TYPES = [b"s", b"n", b"e", b"b", b"str", b"inlineStr", b"d", b"x"]


def mutate(data: bytes, ops: list[tuple[str, int]]) -> bytes:
    """Apply damage to a workbook: ``ops`` are (operation, seed)."""
    for op, seed in ops:
        rnd = random.Random(seed)
        if op == "flip-file":  # bits flipped in the compressed file
            buf = bytearray(data)
            for _ in range(rnd.randint(1, 4)):
                buf[rnd.randrange(len(buf))] ^= 1 << rnd.randrange(8)
            data = bytes(buf)
        elif op == "truncate":
            data = data[: rnd.randrange(len(data))]
        else:
            data = _mutate_members(data, op, rnd)
    return data


def _mutate_members(data: bytes, op: str, rnd: random.Random) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [n for n in zf.namelist() if n.endswith((".xml", ".rels"))]
    except BROKEN:
        return data
    if not names:
        return data
    target = rnd.choice(sorted(names))
    if op == "drop-member":
        buf = io.BytesIO()
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as dst:
                for info in src.infolist():
                    if info.filename != target:
                        dst.writestr(info, src.read(info))
        except BROKEN:
            return data
        return buf.getvalue()

    def change(name: str, body: bytes) -> bytes:
        if name != target or not body:
            return body
        if op == "flip-xml":
            buf = bytearray(body)
            for _ in range(rnd.randint(1, 3)):
                buf[rnd.randrange(len(buf))] = rnd.randrange(256)
            return bytes(buf)
        if op == "cut-xml":
            start = rnd.randrange(len(body))
            return body[:start] + body[start + rnd.randint(1, 64) :]
        if op == "copy-xml":
            start = rnd.randrange(len(body))
            span = body[start : start + rnd.randint(1, 200)]
            at = rnd.randrange(len(body))
            return body[:at] + span + body[at:]
        values = list(re.finditer(rb"<v>([^<]*)</v>", body))
        if op == "value" and values:
            m = rnd.choice(values)
            return body[: m.start(1)] + rnd.choice(_TOKENS) + body[m.end(1) :]
        types = list(re.finditer(rb' t="(\w+)"', body))
        if op == "type" and types:
            m = rnd.choice(types)
            return body[: m.start(1)] + rnd.choice(_TYPES) + body[m.end(1) :]
        refs = list(re.finditer(rb'<c r="([A-Z]+)([0-9]+)"', body))
        if op == "ref" and len(refs) > 1:
            a, b = rnd.sample(refs, 2)
            first, second = (a, b) if a.start() < b.start() else (b, a)
            return (
                body[: first.start()]
                + second.group(0)
                + body[first.end() : second.start()]
                + first.group(0)
                + body[second.end() :]
            )
        return body

    try:
        return rewrite(data, change)
    except BROKEN:
        return data  # the file was already too broken to re-pack: keep it as it is


def check_task(task: tuple[bytes, Any]) -> dict[str, Any]:
    """In a sandbox worker: read and check one mutant; a small, picklable summary."""
    from reporting.intake.reader import read_workbook
    from reporting.intake.validate import check_workbook

    data, ctx = task
    read = read_workbook(data, "mutant.xlsx")
    if not read.ok:
        assert read.code in ("unreadable", "encrypted") and read.message, read
        return {"read": False, "message": read.message}
    assert read.book is not None
    check = check_workbook(read.book, ctx)
    return {
        "read": True,
        "accepted": check.accepted,
        "codes": [f.code for f in check.findings],
        "messages": [f.message for f in check.findings],
        "values": {v.indicator_code: v.value for v in check.extracted.values},
        "activities": [a.__dict__ for a in check.extracted.activities],
        "ledger_rows": [(r.ledger, r.data) for r in check.extracted.ledger_rows],
    }


def evidence(data: bytes) -> tuple[set[float], set[str]]:
    """The numbers and texts literally present in the file's XML (best effort)."""
    numbers: set[float] = set()
    texts: set[str] = set()
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except BROKEN:
        return numbers, texts
    with zf:
        for info in zf.infolist():
            try:
                body = zf.read(info).decode("utf-8", "replace")
            except BROKEN:  # this member offers no evidence
                continue
            for v in re.findall(r"<v>([^<]*)</v>", body):
                try:
                    number = float(v)
                except ValueError:
                    texts.add(v)
                else:
                    if math.isfinite(number):
                        numbers.add(number)
            for t in re.findall(r"<t[^>]*>([^<]*)</t>", body):
                text = html.unescape(t)  # openpyxl writes &#22909; for 好
                texts.add(re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), text))
    return numbers, texts


def traceable(value: Any, numbers: set[float], texts: set[str]) -> bool:
    """Whether an accepted value can be found in the file: a number or text it holds."""
    from reporting.intake.values import to_date, to_number

    if value is None:
        return True
    if isinstance(value, bool):
        return {"是", "否"} & texts != set() or value in (numbers & {0.0, 1.0})
    if isinstance(value, int | float):
        return float(value) in numbers or any(to_number(t) == float(value) for t in texts)
    if isinstance(value, date):
        serial = float((value - date(1899, 12, 30)).days)
        return any(math.floor(n) == serial for n in numbers) or any(
            to_date(t) == value for t in texts
        )
    stripped = {t.strip() for t in texts}
    return str(value) in stripped or any(
        str(value) in unicodedata.normalize("NFC", t) for t in texts
    )


OPS = st.sampled_from(
    [
        "flip-file",
        "truncate",
        "drop-member",
        "flip-xml",
        "cut-xml",
        "copy-xml",
        "value",
        "value",
        "type",
        "ref",
    ]
)
MUTANTS = st.lists(
    st.lists(st.tuples(OPS, st.integers(0, 2**32)), min_size=1, max_size=3),
    min_size=10,
    max_size=10,
)


# Each example is a batch of 10 damaged files checked in sandbox workers (a damaged file may
# legitimately kill its parser process). No shrinking: a failure names its operations.
@settings(max_examples=10, phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(batch=MUTANTS)
def test_damaged_returns_never_crash_and_never_invent_values(base: Base, batch: list[Any]) -> None:
    from reporting.intake.sandbox import run_isolated
    from reporting.intake.validate import IntakeContext

    plan = base.office.plan
    ctx = IntakeContext(plan, {plan.version: plan}, base.office.ws.form_key(), None)
    mutants = [mutate(base.data, ops) for ops in batch]
    outcomes = run_isolated(check_task, [(m, ctx) for m in mutants], workers=2, timeout_s=10)
    for data, ops, outcome in zip(mutants, batch, outcomes, strict=True):
        # a crash of the parser is isolated (and recorded as unreadable by collect); an
        # exception is a bug: bad input must come back as data
        assert outcome.failure in (None, "crashed", "memory"), (ops, outcome.detail)
        summary = outcome.result
        if summary is None or not summary["read"] or not summary["accepted"]:
            continue
        numbers, texts = evidence(data)
        invented = {
            code: value
            for code, value in summary["values"].items()
            if not traceable(value, numbers, texts)
        }
        for row in summary["activities"]:
            invented |= {
                f"{row['activity_code']}.{k}": v
                for k, v in row.items()
                if k != "activity_code" and not traceable(v, numbers, texts)
            }
        for ledger, row in summary["ledger_rows"]:
            invented |= {
                f"{ledger}.{k}": v for k, v in row.items() if not traceable(v, numbers, texts)
            }
        assert not invented, (ops, invented)
        assert all(
            not (isinstance(v, float) and not math.isfinite(v)) for v in summary["values"].values()
        )


def test_the_base_return_itself_round_trips(base: Base) -> None:
    check = base.office.check(base.data)
    got = values(check)
    assert got["B06"] == 99.5 and got["B03"] == 7 and got["B08"] == date(2014, 5, 9)
