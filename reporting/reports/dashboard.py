"""The offline dashboard: one self-contained HTML page (inline SVG, inline script)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from reporting.collate import summary as S
from reporting.collate.facts import STATE_LABELS, Month
from reporting.plan.model import LedgerRole
from reporting.reports.notice import pct
from reporting.reports.svg import bar_chart, line_chart
from reporting.reports.templates import render

TEMPLATE = "dashboard.html.j2"


def dashboard_html(
    month: Month, ranking: Any, workspace: Path | None, generated: datetime | None = None
) -> str:
    total = S.overall(month)
    acts = [S.unit_activities(u) for u in month.units]
    ledgers = S.unit_ledgers(month)
    activity_rate = S.rate(sum(a.done_due for a in acts), sum(a.due for a in acts))
    ledger_rate = S.rate(sum(x.done for x in ledgers), sum(x.total for x in ledgers))
    cards = [
        {"label": "报送率", "value": pct(total.reporting_rate)},
        {"label": "按时率", "value": pct(total.on_time_rate)},
        {"label": "规定动作完成率", "value": pct(activity_rate)},
        {"label": "整改台账完成率", "value": pct(ledger_rate)},
        {"label": "未报送 / 退回待改", "value": f"{total.missing} / {total.rejected}"},
    ]
    trend = month.trend
    charts = {
        "reporting": bar_chart(
            "各地区报送率", [(g.name, g.reporting_rate) for g in S.by_region(month)]
        ),
        "activities": bar_chart(
            "各地区规定动作完成率", S.activity_rate_by(month, lambda u: u.unit.region)
        ),
        "trend": line_chart(
            "关键指标趋势",
            [t.period for t in trend],
            [
                ("报送率", [t.reporting_rate for t in trend]),
                ("按时率", [t.on_time_rate for t in trend]),
                ("动作完成率", [t.activity_rate for t in trend]),
                ("台账完成率", [t.ledger_rate for t in trend]),
            ],
        ),
    }
    ranking_rows = [
        {
            "rank": x.rank,
            "name": x.unit.name,
            "category": x.unit.category,
            "region": x.unit.region,
            "score": f"{x.total:g}",
            "grade": x.grade or "",
            "rank_in_category": x.rank_in_category,
        }
        for x in (ranking.ranked if ranking else ())
    ]
    units = [
        {
            "code": u.unit.code,
            "name": u.unit.name,
            "region": u.unit.region,
            "state": STATE_LABELS[u.state],
            "bad": u.state in ("missing", "rejected"),
            "received": f"{u.first_received:%Y-%m-%d %H:%M}" if u.first_received else "",
            "days_late": u.days_late if u.reported and u.days_late else "",
        }
        for u in month.units
    ]
    overdue_acts = [
        {
            "unit": a.unit.unit.name,
            "region": a.unit.unit.region,
            "count": len(a.overdue),
            "names": "、".join(a.overdue),
        }
        for a in acts
        if a.overdue
    ]
    items = []
    for u in month.units:
        for item in u.ledger_items:
            if not item.overdue:
                continue
            ledger = month.plan.ledger(item.ledger)
            status = ledger.column(LedgerRole.STATUS) if ledger else None
            first = ledger.columns[0].name if ledger else ""
            items.append(
                {
                    "unit": u.unit.name,
                    "problem": item.data.get(first, ""),
                    "deadline": item.deadline.isoformat() if item.deadline else "",
                    "status": item.data.get(status.name, "") if status else "",
                }
            )
    return render(
        TEMPLATE,
        workspace,
        autoescape=True,
        campaign=month.plan.settings.name,
        period=month.period,
        deadline=month.deadline.isoformat(),
        generated=(generated or datetime.now()).strftime("%Y-%m-%d %H:%M"),
        cards=cards,
        charts=charts,
        ranking=ranking_rows,
        pending=[x.unit.name for x in (ranking.pending if ranking else ())],
        units=units,
        overdue_activities=overdue_acts,
        overdue_items=items,
    )
