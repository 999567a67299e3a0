"""The month's summary workbook (汇总表) with native Excel charts."""

from __future__ import annotations

from collections.abc import Callable

from reporting.collate import summary as S
from reporting.collate.facts import STATE_LABELS, Month
from reporting.xlsx import Book

Progress = Callable[[int, int], None]

SHEETS = ("报送情况", "规定动作完成情况", "月报数据汇总", "台账汇总", "趋势")
ACTIVITY_LABELS = ("已完成", "逾期未完成", "未到期", "不适用")


def summary_workbook(month: Month, progress: Progress | None = None) -> bytes:
    book = Book()
    steps = (_reporting, _activities, _indicators, _ledgers, _trend)
    for n, step in enumerate(steps, start=1):
        step(book, month)
        if progress:
            progress(n, len(steps))
    return book.close()


def _title(book: Book, ws: object, month: Month, text: str) -> None:
    s = month.plan.settings
    ws.write_string(0, 0, f"{s.name}　{month.period.label}　{text}", book.title)  # type: ignore[attr-defined]
    ws.write_string(
        1,
        0,
        f"报送截止 {month.deadline:%Y-%m-%d}；数据来自已采用的报送，"  # type: ignore[attr-defined]
        "被取代或退回的报送不计入。",
        book.note,
    )


def _group_table(
    book: Book,
    ws: object,
    row: int,
    col: int,
    title: str,
    rows: list[S.GroupCount],
    total: S.GroupCount,
) -> int:
    """Counts and rates by group; returns the row after the table."""
    w = ws  # type: ignore[assignment]
    w.write_string(row, col, title, book.title)  # type: ignore[attr-defined]
    book.header(
        w,
        row + 1,
        col,
        ["名称", "单位数", "已报送", "按时", "逾期", "退回待改", "未报送", "报送率", "按时率"],
    )
    r = row + 2
    for g in [*rows, total]:
        bold = g is total
        book.put(w, r, col, g.name, book.bold if bold else book.cell)
        for i, v in enumerate((g.units, g.reported, g.on_time, g.late, g.rejected, g.missing)):
            book.put(w, r, col + 1 + i, v, book.bold if bold else book.num)
        book.put(w, r, col + 7, g.reporting_rate, book.bold_pct if bold else book.pct)
        book.put(w, r, col + 8, g.on_time_rate, book.bold_pct if bold else book.pct)
        r += 1
    return r


def _reporting(book: Book, month: Month) -> None:
    """Counts and rates by region and category (with a chart) on top, every unit below."""
    ws = book.sheet("报送情况")
    _title(book, ws, month, "报送情况")
    regions = S.by_region(month)
    end = _group_table(book, ws, 3, 0, "按地区", regions, S.overall(month))
    chart = book.wb.add_chart({"type": "column"})
    for name, col in (("报送率", 7), ("按时率", 8)):
        chart.add_series(
            {
                "name": name,
                "categories": ["报送情况", 5, 0, 4 + len(regions), 0],
                "values": ["报送情况", 5, col, 4 + len(regions), col],
                "data_labels": {"value": True, "num_format": "0%"} if col == 7 else {},
            }
        )
    chart.set_title({"name": "各地区报送率"})
    chart.set_y_axis({"num_format": "0%", "max": 1, "min": 0})
    chart.set_size({"width": 620, "height": 300})
    ws.insert_chart(3, 10, chart)
    end = _group_table(book, ws, end + 1, 0, "按单位类别", S.by_category(month), S.overall(month))

    top = max(end + 1, 20)
    ws.write_string(top, 0, "各单位报送情况", book.title)
    headers = [
        "单位编码",
        "单位名称",
        "单位类别",
        "所属地区",
        "报送状态",
        "首次收到时间",
        "逾期天数",
        "采用的文件",
        "文件摘要（SHA-256 前12位）",
        "问题（退回待改的前3项）",
    ]
    book.header(ws, top + 1, 0, headers, [16, 26, 14, 9, 10, 16, 8, 34, 16, 50])
    formats = [book.wrap if c == 9 else book.cell for c in range(len(headers))]
    r = top + 2
    for u in month.units:
        sub = u.submission if u.reported else None
        values = [
            u.unit.code,
            u.unit.name,
            u.unit.category,
            u.unit.region,
            STATE_LABELS[u.state],
            u.first_received,
            u.days_late if u.reported else None,
            sub.original_name if sub else None,
            sub.sha256[:12] if sub else None,
            "；".join(f"{f.where()} {f.message}" for f in u.problems[:3]) or None,
        ]
        book.row(ws, r, values, formats)
        r += 1
    for label, fmt in (
        ("按时报送", book.good),
        ("逾期报送", book.warn),
        ("退回待改", book.bad),
        ("未报送", book.bad),
    ):
        ws.conditional_format(
            top + 2,
            4,
            r - 1,
            4,
            {"type": "cell", "criteria": "==", "value": f'"{label}"', "format": fmt},
        )
    ws.autofilter(top + 1, 0, r - 1, len(headers) - 1)
    ws.repeat_rows(top + 1)


def _activities(book: Book, month: Month) -> None:
    ws = book.sheet("规定动作完成情况")
    _title(book, ws, month, "规定动作完成情况")
    acts = month.plan.activities
    headers = [
        "单位编码",
        "单位名称",
        "所属地区",
        "单位类别",
        *[f"{a.code} {a.name}（{a.deadline:%m-%d}前）" for a in acts],
        "到期动作数",
        "已完成（到期）",
        "完成率",
        "逾期未完成的动作",
    ]
    book.header(ws, 3, 0, headers, [9, 24, 9, 14, *[11] * len(acts), 9, 9, 8, 40])
    ws.set_row(3, 60)
    formats = [None] * 4 + [book.center] * len(acts) + [None, None, book.pct, book.wrap]
    r = 4
    for u in month.units:
        stats = S.unit_activities(u)
        statuses = {s.activity.code: s.label for s in u.activities}
        values = [
            u.unit.code,
            u.unit.name,
            u.unit.region,
            u.unit.category,
            *(statuses.get(a.code, "不适用") for a in acts),
            stats.due,
            stats.done_due,
            stats.rate,
            "、".join(stats.overdue) or None,
        ]
        book.row(ws, r, values, formats)
        r += 1
    first, last = 5, r
    rng = f"E{first}:{chr(ord('E') + len(acts) - 1)}{last}"
    for label, fmt in zip(
        ACTIVITY_LABELS, (book.good, book.bad, book.grey, book.grey), strict=True
    ):
        ws.conditional_format(
            rng, {"type": "cell", "criteria": "==", "value": f'"{label}"', "format": fmt}
        )
    ws.freeze_panes(4, 2)

    r += 1
    ws.write_string(r, 0, "各项动作覆盖情况", book.title)
    book.header(
        ws,
        r + 1,
        0,
        ["编号", "规定动作", "完成时限", "适用单位数", "已完成", "逾期未完成", "覆盖率"],
    )
    r += 2
    for cov in S.activity_coverage(month):
        for c, v in enumerate(
            (cov.code, cov.name, cov.deadline, cov.applicable, cov.done, cov.overdue)
        ):
            book.put(ws, r, c, v)
        book.put(ws, r, 6, cov.rate, book.pct)
        r += 1

    r += 1
    ws.write_string(r, 0, "各地区动作完成率（到期动作）", book.title)
    book.header(ws, r + 1, 0, ["地区", "完成率"])
    start = r + 2
    rates = S.activity_rate_by(month, lambda u: u.unit.region)
    for i, (name, value) in enumerate(rates):
        book.put(ws, start + i, 0, name)
        book.put(ws, start + i, 1, value, book.pct)
    chart = book.wb.add_chart({"type": "column"})
    chart.add_series(
        {
            "name": "动作完成率",
            "categories": ["规定动作完成情况", start, 0, start + len(rates) - 1, 0],
            "values": ["规定动作完成情况", start, 1, start + len(rates) - 1, 1],
            "data_labels": {"value": True, "num_format": "0%"},
        }
    )
    chart.set_title({"name": "各地区规定动作完成率"})
    chart.set_y_axis({"num_format": "0%", "max": 1, "min": 0})
    chart.set_legend({"none": True})
    ws.insert_chart(r, 3, chart)


def _indicators(book: Book, month: Month) -> None:
    ws = book.sheet("月报数据汇总")
    _title(book, ws, month, "月报数据汇总")
    inds = month.plan.indicators
    per_capita = S.per_capita_indicators(month.plan)
    headers = [
        "单位编码",
        "单位名称",
        "所属地区",
        "单位类别",
        "职工人数",
        *[f"{i.code} {i.name}" + (f"（{i.measure}）" if i.measure else "") for i in inds],
        *[
            f"人均{p.indicator.name}" + (f"（目标≥{p.target:g}）" if p.target is not None else "")
            for p in per_capita
        ],
        "采用的文件",
    ]
    book.header(
        ws, 3, 0, headers, [9, 24, 9, 14, 8, *[12] * len(inds), *[12] * len(per_capita), 30]
    )
    ws.set_row(3, 48)
    flagged = {(o.unit.unit.code, o.indicator.code): o for o in S.outliers(month)}
    r = 4
    for u in month.units:
        if not u.reported:
            continue
        values: list[object] = [
            u.unit.code,
            u.unit.name,
            u.unit.region,
            u.unit.category,
            u.unit.headcount,
        ]
        formats: list[object] = [None] * 5
        for ind in inds:
            values.append(u.values.get(ind.code))
            formats.append(book.bad_num if (u.unit.code, ind.code) in flagged else None)
        for p in per_capita:
            v = S.number(u.values.get(p.indicator.code))
            pc = v / u.unit.headcount if v is not None else None
            below = p.target is not None and pc is not None and pc < p.target
            values.append(round(pc, 2) if pc is not None else None)
            formats.append(book.bad_num if below else None)
        values.append(u.submission.original_name if u.submission else None)
        formats.append(None)
        book.row(ws, r, values, formats)
        r += 1
    ws.freeze_panes(4, 2)

    for title, key in (
        ("按地区汇总", lambda u: u.unit.region),
        ("按单位类别汇总", lambda u: u.unit.category),
    ):
        r += 1
        ws.write_string(r, 0, title + "（各指标按方案规定的汇总方式）", book.title)
        book.header(
            ws,
            r + 1,
            0,
            ["名称", "已报送单位", *[f"{i.code} {S.aggregation_label(i)}" for i in inds]],
        )
        r += 2
        for name, n, aggs in S.indicator_groups(month, key):
            book.put(ws, r, 0, name)
            book.put(ws, r, 1, n)
            for i, v in enumerate(aggs):
                book.put(ws, r, 2 + i, v)
            r += 1

    r += 1
    ws.write_string(
        r, 0, "异常值提示（超过本地区中位数3倍，或比上月增长3倍以上；表中标红）", book.title
    )
    book.header(ws, r + 1, 0, ["单位名称", "指标", "数值", "说明"])
    r += 2
    for o in flagged.values():
        book.put(ws, r, 0, o.unit.unit.name)
        book.put(ws, r, 1, f"{o.indicator.code} {o.indicator.name}")
        book.put(ws, r, 2, o.value)
        book.put(ws, r, 3, o.reason)
        r += 1
    if not flagged:
        ws.write_string(r, 0, "未发现异常值", book.note)


def _ledgers(book: Book, month: Month) -> None:
    ws = book.sheet("台账汇总")
    _title(book, ws, month, "台账汇总")
    headers = [
        "单位编码",
        "单位名称",
        "所属地区",
        "清单",
        "条目数",
        "已完成",
        "未完成",
        "逾期未完成",
        "完成率",
    ]
    book.header(ws, 3, 0, headers, [9, 26, 9, 12, 8, 8, 8, 10, 8])
    formats = (None,) * 8 + (book.pct,)
    r = 4
    totals: dict[str, list[int]] = {}
    for item in S.unit_ledgers(month):
        values = (
            item.unit.unit.code,
            item.unit.unit.name,
            item.unit.unit.region,
            item.ledger,
            item.total,
            item.done,
            item.open,
            item.overdue,
            item.rate,
        )
        book.row(ws, r, values, formats)
        t = totals.setdefault(item.ledger, [0, 0, 0])
        t[0] += item.total
        t[1] += item.done
        t[2] += item.overdue
        r += 1
    ws.conditional_format(
        f"H5:H{r}", {"type": "cell", "criteria": ">", "value": 0, "format": book.bad}
    )
    for name, (total, done, overdue) in totals.items():
        book.put(ws, r, 0, "合计", book.bold)
        book.put(ws, r, 3, name, book.bold)
        for c, v in ((4, total), (5, done), (6, total - done), (7, overdue)):
            book.put(ws, r, c, v, book.bold)
        book.put(ws, r, 8, S.rate(done, total), book.bold_pct)
        r += 1
    ws.freeze_panes(4, 2)

    noms = S.nominations(month)
    if noms:
        r += 1
        ws.write_string(r, 0, "推荐名单", book.title)
        columns = []
        for _, _, data in noms:
            columns += [k for k in data if k not in columns]
        book.header(ws, r + 1, 0, ["单位名称", "清单", *columns])
        r += 2
        for u, ledger, data in noms:
            book.put(ws, r, 0, u.unit.name)
            book.put(ws, r, 1, ledger)
            for c, k in enumerate(columns):
                book.put(ws, r, 2 + c, data.get(k), book.wrap)
            r += 1


def _trend(book: Book, month: Month) -> None:
    ws = book.sheet("趋势")
    _title(book, ws, month, "各期趋势")
    book.header(
        ws,
        3,
        0,
        ["报送期", "单位数", "已报送", "按时", "报送率", "按时率", "动作完成率", "台账完成率"],
        [10, 8, 8, 8, 10, 10, 12, 12],
    )
    r = 4
    for t in month.trend:
        for c, v in enumerate((t.period, t.units, t.reported, t.on_time)):
            book.put(ws, r, c, v)
        for c, v in enumerate(
            (t.reporting_rate, t.on_time_rate, t.activity_rate, t.ledger_rate), start=4
        ):
            book.put(ws, r, c, v, book.pct)
        r += 1
    last = r - 1
    chart = book.wb.add_chart({"type": "line"})
    for c, name in ((4, "报送率"), (5, "按时率"), (6, "动作完成率"), (7, "台账完成率")):
        chart.add_series(
            {
                "name": name,
                "categories": ["趋势", 4, 0, last, 0],
                "values": ["趋势", 4, c, last, c],
                "marker": {"type": "circle"},
            }
        )
    chart.set_title({"name": "关键指标趋势"})
    chart.set_y_axis({"num_format": "0%", "max": 1, "min": 0})
    chart.set_size({"width": 640, "height": 320})
    ws.insert_chart(r + 1, 0, chart)
