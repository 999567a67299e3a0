"""Who has reported, and the reminder pack (催报名单) for who has not."""

from __future__ import annotations

from datetime import date
from typing import Any

from reporting.collate import summary as S
from reporting.collate.facts import STATE_LABELS, Month, UnitMonth
from reporting.xlsx import Book

CHASED = ("missing", "rejected")


def status_json(month: Month) -> dict[str, Any]:
    total = S.overall(month)
    return {
        "period": str(month.period),
        "deadline": month.deadline.isoformat(),
        "units": [
            {
                "code": u.unit.code,
                "name": u.unit.name,
                "region": u.unit.region,
                "category": u.unit.category,
                "state": u.state,
                "received_at": u.first_received.isoformat(timespec="seconds")
                if u.first_received
                else None,
                "days_late": u.days_late if u.reported else None,
            }
            for u in month.units
        ],
        "totals": {
            "units": total.units,
            "on-time": total.on_time,
            "late": total.late,
            "rejected": total.rejected,
            "missing": total.missing,
            "reported": total.reported,
            "reporting_rate": total.reporting_rate,
            "on_time_rate": total.on_time_rate,
        },
    }


def chased(month: Month) -> list[UnitMonth]:
    """Units to chase, grouped by region (roster order within a region)."""
    order = {r: i for i, r in enumerate(month.plan.regions)}
    units = [u for u in month.units if u.state in CHASED]
    return sorted(units, key=lambda u: (order.get(u.unit.region, 0), u.state != "missing"))


def reminder_line(month: Month, u: UnitMonth, today: date) -> str:
    late = (today - month.deadline).days
    when = (
        f"已超过截止日期（{month.deadline.month}月{month.deadline.day}日）{late} 天"
        if late > 0
        else f"截止日期为 {month.deadline.month}月{month.deadline.day}日"
    )
    who = f"{u.unit.name}（{u.unit.contact} {u.unit.phone}）"
    if u.state == "missing":
        return f"【催报】{who}：{month.period.label}报表尚未收到，{when}，请尽快报送。"
    first = "；".join(f"{f.where()} {f.message}" for f in u.problems[:2])
    more = f"等 {len(u.problems)} 处" if len(u.problems) > 2 else ""
    return (
        f"【退回待改】{who}：{month.period.label}报表审核未通过（{first}{more}），"
        f"{when}，请按退回修改表改正后重新报送。"
    )


def reminder_text(month: Month, today: date) -> str:
    units = chased(month)
    if not units:
        return f"{month.period.label}各单位均已报送，无需催报。\n"
    lines = [f"{month.plan.settings.name} {month.period.label}催报名单（{today:%Y-%m-%d}）"]
    region = None
    for u in units:
        if u.unit.region != region:
            region = u.unit.region
            lines.append(f"\n{region}：")
        lines.append(reminder_line(month, u, today))
    return "\n".join(lines) + "\n"


def reminder_workbook(month: Month, today: date) -> bytes:
    book = Book()
    ws = book.sheet("催报名单")
    s = month.plan.settings
    ws.write_string(0, 0, f"{s.name}　{month.period.label}　催报名单", book.title)
    ws.write_string(
        1,
        0,
        f"截止日期 {month.deadline:%Y-%m-%d}，统计时间 {today:%Y-%m-%d}；"
        f"未报送 {sum(u.state == 'missing' for u in month.units)} 个，"
        f"退回待改 {sum(u.state == 'rejected' for u in month.units)} 个",
        book.note,
    )
    headers = [
        "所属地区",
        "单位编码",
        "单位名称",
        "单位类别",
        "状态",
        "联系人",
        "联系电话",
        "需要改正的问题（前3项）",
        "可发送的催报文字",
    ]
    book.header(ws, 3, 0, headers, [10, 9, 26, 14, 10, 10, 15, 50, 60])
    r = 4
    for u in chased(month):
        problems = "\n".join(f"{f.where()} {f.message}" for f in u.problems[:3])
        values = (
            u.unit.region,
            u.unit.code,
            u.unit.name,
            u.unit.category,
            STATE_LABELS[u.state],
            u.unit.contact,
            u.unit.phone,
            problems or None,
            reminder_line(month, u, today),
        )
        for c, v in enumerate(values):
            book.put(ws, r, c, v, book.wrap if c >= 7 else book.cell)
        r += 1
    ws.freeze_panes(4, 3)
    ws.repeat_rows(3)
    if r > 4:
        ws.autofilter(3, 0, r - 1, len(headers) - 1)
    return book.close()
