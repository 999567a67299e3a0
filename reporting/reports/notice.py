"""The supervisory notice (督导检查情况通报): data from the month and the ranking, wording from
``templates/notice.txt.j2``, layout from :mod:`reporting.reports.gbt9704`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from reporting.collate import summary as S
from reporting.collate.facts import Month
from reporting.plan.model import ValueType
from reporting.reports.gbt9704 import OfficialDocument, bracket_number, chinese_date
from reporting.reports.templates import TemplateError, render

TEMPLATE = "notice.txt.j2"
MAX_GOOD_PRACTICE = 5
MAX_NAMED = 8
PRAISED = 3
TABLE_ALL_UP_TO = 60  # a longer ranking shows its head and tail; the annex has all of it
TABLE_HEAD, TABLE_TAIL = 30, 10

_CN = "零一二三四五六七八九十"


def cn(n: int) -> str:
    """1 → 一, 12 → 十二, 20 → 二十 (headings and ordinal lead-ins)."""
    if n <= 10:
        return _CN[n]
    tens, ones = divmod(n, 10)
    return (_CN[tens] if tens > 1 else "") + "十" + (_CN[ones] if ones else "")


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return "无可比数据"
    diff = (now - before) * 100
    if abs(diff) < 0.05:
        return "持平"
    return f"{'提高' if diff > 0 else '下降'} {abs(diff):.1f} 个百分点"


@dataclass(frozen=True)
class NoticeInfo:
    number: str  # 发文字号
    day: date  # 成文日期
    annexes: tuple[str, ...]


def notice_data(month: Month, ranking: Any, info: NoticeInfo) -> dict[str, Any]:
    """Everything the template may use (documented in docs/reports.md)."""
    plan = month.plan
    total = S.overall(month)
    acts = [S.unit_activities(u) for u in month.units]
    ledgers = S.unit_ledgers(month)
    trend = month.trend
    previous = None
    if len(trend) >= 2 and trend[-2].reported:  # no comparison with a month nobody reported
        p = trend[-2]
        previous = {
            "period_label": _label(p.period),
            "reporting_rate": p.reporting_rate,
            "activity_rate": p.activity_rate,
            "ledger_rate": p.ledger_rate,
        }
    overview = {
        "units": total.units,
        "reported": total.reported,
        "on_time": total.on_time,
        "late": total.late,
        "rejected": total.rejected,
        "missing": total.missing,
        "reporting_rate": total.reporting_rate,
        "on_time_rate": total.on_time_rate,
        "activities_due": sum(a.due for a in acts),
        "activities_done": sum(a.done_due for a in acts),
        "activity_rate": S.rate(sum(a.done_due for a in acts), sum(a.due for a in acts)),
        "ledger_items": sum(x.total for x in ledgers),
        "ledger_done": sum(x.done for x in ledgers),
        "ledger_overdue": sum(x.overdue for x in ledgers),
        "ledger_rate": S.rate(sum(x.done for x in ledgers), sum(x.total for x in ledgers)),
        "previous": previous,
    }
    order = {u.unit.code: i for i, u in enumerate(ranking.units)} if ranking else {}
    by_rank = sorted(month.units, key=lambda u: order.get(u.unit.code, len(order)))
    text_codes = [i.code for i in plan.indicators if i.type is ValueType.TEXT]
    good = []
    for u in by_rank:
        for code in text_codes:
            text = u.values.get(code)
            if u.reported and isinstance(text, str) and text.strip():
                good.append({"unit": u.unit.name, "text": _sentence(text.strip())})
                break
        if len(good) >= MAX_GOOD_PRACTICE:
            break
    overdue = [(u, a) for u, a in zip(month.units, acts, strict=True) if a.overdue]
    ledger_overdue: dict[str, int] = {}
    for x in ledgers:
        if x.overdue:
            ledger_overdue[x.unit.unit.name] = ledger_overdue.get(x.unit.unit.name, 0) + x.overdue
    problems = {
        "missing": [u.unit.name for u in month.units if u.state == "missing"],
        "rejected": [u.unit.name for u in month.units if u.state == "rejected"],
        "late": [u.unit.name for u in month.units if u.state == "late"],
        "activities": [
            {"unit": u.unit.name, "names": list(a.overdue)} for u, a in overdue[:MAX_NAMED]
        ],
        "activities_more": max(0, len(overdue) - MAX_NAMED),
        "ledger": [{"unit": k, "count": v} for k, v in list(ledger_overdue.items())[:MAX_NAMED]],
    }
    ranked = list(ranking.ranked) if ranking else []
    praise = [
        s.unit.name
        for s in ranked
        if s.rank is not None and s.rank <= PRAISED and s.grade != _lowest(plan)
    ]
    criticism = [s.unit.name for s in ranked if s.grade == _lowest(plan)]
    criticism += [n for n in problems["missing"] if n not in criticism]
    s = plan.settings
    return {
        "period": month.period,
        "campaign": s.name,
        "issuer": s.issuer,
        "issuer_short": s.issuer,
        "recipients": "各" + "，".join(plan.categories) + "：",
        "o": overview,
        "good_practice": good,
        "problems": problems,
        "ranked": bool(ranked),
        "ranking_rows": _table_rows(ranked),
        "ranking_truncated": len(ranked) > TABLE_ALL_UP_TO,
        "table_head": TABLE_HEAD,
        "table_tail": TABLE_TAIL,
        "n_ranked": len(ranked),
        "pending": [x.unit.name for x in (ranking.pending if ranking else ())],
        "praise": praise,
        "criticism": criticism,
        "annexes": list(info.annexes),
        "deadline_day": s.deadline_day,
        "number": bracket_number(info.number),
        "date": chinese_date(info.day),
        "pct": pct,
        "change": change,
        "cn": cn,
    }


def _table_rows(ranked: list[Any]) -> list[list[str]]:
    rows = [
        [str(x.rank), x.unit.name, x.unit.category, f"{x.total:g}", x.grade or ""] for x in ranked
    ]
    if len(rows) <= TABLE_ALL_UP_TO:
        return rows
    return [*rows[:TABLE_HEAD], ["……", "……", "……", "……", "……"], *rows[-TABLE_TAIL:]]


def _label(period: str) -> str:
    year, month = period.split("-")
    return f"{int(year)}年{int(month)}月"


def _lowest(plan: Any) -> str | None:
    bands = plan.settings.grade_bands
    return bands[-1].name if bands else None


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text[-1] in "。！？；…" else text + "。"


def notice_docx(month: Month, ranking: Any, info: NoticeInfo, workspace: Path | None) -> bytes:
    data = notice_data(month, ranking, info)
    text = render(TEMPLATE, workspace, **data)
    doc = OfficialDocument()
    doc.masthead(month.plan.settings.issuer, data["number"])
    body_started = False
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("标题："):
            doc.title(line[3:].replace("\\n", "\n"))
        elif line.startswith("主送："):
            doc.recipients(line[3:])
        elif line.startswith("## "):
            doc.heading2(line[3:])
        elif line.startswith("# "):
            doc.heading1(line[2:])
        elif line == "[排名表]":
            rows = data["ranking_rows"]
            doc.table(["名次", "单位名称", "单位类别", "得分", "等级"], rows, [16, 66, 38, 18, 18])
        elif line.startswith("附件："):
            names = [x for x in line[3:].split("|") if x]
            if names:
                doc.blank()
                doc.annexes(names)
        elif line.startswith("落款："):
            doc.signature(line[3:], data["date"])
        else:
            if line.startswith(("标题", "主送", "附件", "落款")) and "：" not in line[:4]:
                raise TemplateError(f"模板 {TEMPLATE} 生成的第 {n} 行标记不完整：{line[:20]}")
            doc.paragraph(line)
            body_started = True
    if not body_started:
        raise TemplateError(f"模板 {TEMPLATE} 没有生成任何正文")
    doc.imprint(month.plan.settings.issuer + "办公室", data["date"])
    return doc.save()
