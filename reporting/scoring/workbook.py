"""The ranking workbook (排名表): 总排名, 分类排名, 分地区排名, 得分明细, 待评单位 and 考评细则.

Written with :class:`reporting.xlsx.Book` (strings never become formulas, links or numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reporting.plan.model import Method, Unit
from reporting.scoring.items import num
from reporting.scoring.rank import PENDING_LABEL, Ranking
from reporting.xlsx import Book

RULES_NOTE = (
    "说明：同分同名次（如 1、2、2、4）；同分单位按自动评分项得分高低、再按单位名单顺序排列。"
    "尚有现场评分项未评的单位为“待评”，不参加排名，列在最后。"
)


def ranking_workbook(ranking: Ranking) -> bytes:
    book = Book()
    _overall(book, ranking)
    _grouped(book, ranking, "分类排名", "单位类别", lambda u: u.category, "rank_in_category")
    _grouped(book, ranking, "分地区排名", "所属地区", lambda u: u.region, "rank_in_region")
    _breakdown(book, ranking)
    if ranking.pending:
        _pending(book, ranking)
    _rubric(book, ranking)
    return book.close()


def _title(book: Book, ws: Any, ranking: Ranking, text: str, ncols: int) -> None:
    ws.merge_range(
        0,
        0,
        0,
        ncols - 1,
        f"{ranking.plan.settings.name}　{ranking.period.label}{text}",
        book.title,
    )
    ws.set_row(0, 24)
    ws.merge_range(1, 0, 1, ncols - 1, RULES_NOTE, book.note)


def _rank_text(value: int | None) -> str | int:
    return PENDING_LABEL if value is None else value


def _overall(book: Book, ranking: Ranking) -> None:
    ws = book.sheet("总排名")
    items = ranking.plan.rubric
    heads = [
        "名次",
        "单位编码",
        "单位名称",
        "单位类别",
        "所属地区",
        "总分",
        "等级",
        "类别内名次",
        "地区内名次",
        *(f"{i.code} {i.item}（{i.points:g}分）" for i in items),
        "备注",
    ]
    widths = [6, 9, 28, 16, 10, 8, 8, 8, 8, *(10 for _ in items), 36]
    _title(book, ws, ranking, "考评排名", len(heads))
    book.header(ws, 3, 0, heads, widths)
    ws.set_row(3, 42)
    formats = [book.center if c in (0, 6, 7, 8) else None for c in range(len(heads))]
    r = 3
    for s in ranking.units:
        r += 1
        note = ""
        if s.pending:
            note = "待评：" + "、".join(f"{i.code} {i.name}" for i in s.pending_items) + " 尚未评分"
        values: list[Any] = [
            _rank_text(s.rank),
            s.unit.code,
            s.unit.name,
            s.unit.category,
            s.unit.region,
            s.total,
            s.grade or PENDING_LABEL,
            _rank_text(s.rank_in_category),
            _rank_text(s.rank_in_region),
            *(PENDING_LABEL if i.points is None else i.points for i in s.items),
            note,
        ]
        book.row(ws, r, values, formats)
    ws.freeze_panes(4, 3)
    ws.autofilter(3, 0, max(r, 4), len(heads) - 1)
    if r > 3:
        ws.conditional_format(
            4, 0, r, 0, {"type": "cell", "criteria": "==", "value": 1, "format": book.good}
        )
    ws.repeat_rows(3, 3)


def _grouped(
    book: Book,
    ranking: Ranking,
    name: str,
    label: str,
    key: Callable[[Unit], str],
    rank_attr: str,
) -> None:
    ws = book.sheet(name)
    heads = [
        f"{label}内名次",
        "单位编码",
        "单位名称",
        "单位类别" if label != "单位类别" else "所属地区",
        "总分",
        "等级",
        "总名次",
    ]
    _title(book, ws, ranking, f"考评排名（按{label}）", len(heads))
    for c, width in enumerate([9, 9, 28, 16, 8, 8, 8]):
        ws.set_column(c, c, width)
    formats = [book.center if c in (0, 5, 6) else None for c in range(len(heads))]
    r = 2
    for group, members in ranking.groups(key):
        if not members:
            continue
        r += 2
        ranked = sum(1 for m in members if not m.pending)
        ws.merge_range(
            r,
            0,
            r,
            len(heads) - 1,
            f"{group}（{len(members)} 个单位，已评 {ranked} 个）",
            book.bold,
        )
        r += 1
        book.header(ws, r, 0, heads)
        for s in members:
            r += 1
            other = s.unit.category if label != "单位类别" else s.unit.region
            values = [
                _rank_text(getattr(s, rank_attr)),
                s.unit.code,
                s.unit.name,
                other,
                s.total,
                s.grade or PENDING_LABEL,
                _rank_text(s.rank),
            ]
            book.row(ws, r, values, formats)


def _breakdown(book: Book, ranking: Ranking) -> None:
    """Every unit's points item by item with the reason, and a 合计 row per unit. What is the
    same for every unit (method, rule) is on 考评细则 once: at 10,000 units this sheet is the
    largest part of the workbook (about 80,000 rows)."""
    ws = book.sheet("得分明细")
    heads = ["单位编码", "单位名称", "考评项目编号", "考评项目", "分值", "得分", "依据"]
    _title(book, ws, ranking, "得分明细（评分方式和规则见“考评细则”）", len(heads))
    book.header(ws, 3, 0, heads, [9, 26, 8, 12, 6, 8, 70])
    row = book.row
    plain = (None, None, None, None, None, None, book.wrap)
    bold = (book.bold,) * 7
    r = 3
    for s in ranking.units:
        code, name = s.unit.code, s.unit.name
        for i in s.items:
            r += 1
            points = PENDING_LABEL if i.points is None else i.points
            row(ws, r, (code, name, i.code, i.name, i.max, points, i.why), plain)
        r += 1
        total = f"合计 {num(s.total)} 分" + (
            f"（待评，已评项目满分 {num(s.known_max)} 分）" if s.pending else f"，{s.grade}"
        )
        row(ws, r, (code, name, "", "合计", "", s.total, total), bold)
    ws.freeze_panes(4, 2)
    ws.autofilter(3, 0, max(r, 4), len(heads) - 1)
    ws.repeat_rows(3, 3)


def _rubric(book: Book, ranking: Ranking) -> None:
    ws = book.sheet("考评细则")
    heads = ["考评项目编号", "考评项目", "考评内容", "分值", "方式", "评分规则"]
    _title(book, ws, ranking, "考评细则", len(heads))
    book.header(ws, 3, 0, heads, [10, 14, 40, 6, 8, 50])
    for r, item in enumerate(ranking.plan.rubric, start=4):
        values = [item.code, item.item, item.content, item.points, item.method.value]
        for c, value in enumerate(values):
            book.put(ws, r, c, value, book.wrap if c == 2 else None)
        rule = item.rule_text if item.method is Method.AUTO else "现场评分（督导组填写考评表）"
        book.put(ws, r, 5, rule, book.wrap)


def _pending(book: Book, ranking: Ranking) -> None:
    ws = book.sheet("待评单位")
    heads = ["单位编码", "单位名称", "单位类别", "所属地区", "已评得分", "已评项目满分", "待评项目"]
    _title(book, ws, ranking, "待评单位", len(heads))
    book.header(ws, 3, 0, heads, [9, 28, 16, 10, 9, 11, 50])
    formats = (None, None, None, None, None, None, book.wrap)
    r = 3
    for s in ranking.pending:
        r += 1
        waiting = "、".join(f"{i.code} {i.name}（{i.max:g}分）" for i in s.pending_items)
        values: list[Any] = [
            s.unit.code,
            s.unit.name,
            s.unit.category,
            s.unit.region,
            s.total,
            s.known_max,
            waiting + "：尚未收到已接收的督导考评表",
        ]
        book.row(ws, r, values, formats)
