"""The ``rank`` command's library call: store → Month + accepted inspector sheets → ranking →
``outbox/<period>/排名表_<period>.xlsx``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from reporting import factcache, outputs
from reporting.gcpause import paused_gc
from reporting.periods import Period
from reporting.scoring.items import OnSite
from reporting.scoring.rank import Ranking, rank_units
from reporting.store import Store
from reporting.workspace import Workspace

if TYPE_CHECKING:
    from reporting.collate.facts import Month


@dataclass(frozen=True)
class RankResult:
    ranking: Ranking
    path: Path


def load_onsite(store: Store, period: Period) -> dict[str, OnSite]:
    """The current accepted inspector sheet of each unit for ``period``."""
    subs = store.submissions(period=period, kind="inspection", states=["accepted"])
    latest = {}
    for sub in subs:
        if sub.unit_code is None:
            continue
        prev = latest.get(sub.unit_code)
        if prev is None or (sub.received_at, sub.id) > (prev.received_at, prev.id):
            latest[sub.unit_code] = sub
    records = store.inspections_for([s.id for s in latest.values()])
    out: dict[str, OnSite] = {}
    for code, sub in latest.items():
        rec = records.get(sub.id)
        if rec is None:
            continue
        out[code] = OnSite(
            code,
            rec.inspectors or "",
            rec.inspected_on,
            {s.item_code: (s.points, s.reason) for s in rec.scores},
            rec.comment,
            sub.original_name,
        )
    return out


@paused_gc()
def rank(root: Path, period: str, *, as_of: date | None = None) -> RankResult:
    """Score and rank every unit for ``period`` and write the ranking workbook.

    ``as_of`` decides which periods' deadlines have passed for timeliness (default: today)."""
    from reporting.collate.service import month_facts, open_period

    ws, plan, when = open_period(root, period)
    with Store.open(ws.store_path) as store:
        month = month_facts(ws, store, plan, when)
        return rank_month(ws, store, month, as_of=as_of)


def rank_month(
    ws: Workspace, store: Store, month: Month, *, as_of: date | None = None, reuse: bool = False
) -> RankResult:
    """Rank ``month`` (read from ``store``) and write the ranking workbook; with ``reuse``, one
    already written from the same store, plan, day and code is kept as it is."""
    from reporting.scoring.workbook import ranking_workbook

    day = as_of or date.today()
    revision = store.revision()
    ranking = factcache.kept(
        ws,
        f"ranking-{month.period}",
        (month.plan.version, revision, str(month.period), day.isoformat()),
        lambda: rank_units(month, load_onsite(store, month.period), day),
    )
    path = ws.outbox / str(month.period) / f"排名表_{month.period}.xlsx"
    made_from = outputs.fingerprint("ranking", month.plan.version, revision, as_of=day)
    if not (reuse and outputs.is_current(ws, path, made_from)):
        outputs.write(ws, path, ranking_workbook(ranking), made_from)
    return RankResult(ranking, path)
