"""Benchmark: collate a month of N units from a filled store.

    python bench/collate.py [--units 10000] [--json]

Target (issue #5): at most 10 s for 10,000 units, and linear (10,000 within 12x of 1,000).
The store is filled directly with accepted returns (as intake would record them), 2% missing.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

from common import bench_workspace, peak_rss_mb

from reporting.collate.service import collate, status
from reporting.periods import Period
from reporting.plan.load import require_plan
from reporting.simulate import typical_filling
from reporting.store import ActivityRow, LedgerRow, Store, SubmissionRecord, ValueRow

PERIOD = Period(2014, 5)


def fill_store(root: Path, n: int) -> None:
    plan = require_plan(root / "plan.xlsx")
    rng = random.Random(5)
    with Store.open(root / "store.sqlite") as store:
        store.save_plan_version(plan.version, plan.plan_id, plan.settings.name, "{}")
        for i, unit in enumerate(plan.units):
            if rng.random() < 0.02:
                continue
            f = typical_filling(plan, unit, PERIOD, rng)
            received = datetime(2014, 6, rng.choice([3, 4, 5, 5, 6, 8]), 10)
            acts = tuple(
                ActivityRow(
                    code,
                    d.get("status"),
                    d.get("count"),
                    d.get("done_date"),
                    d.get("participants"),
                    d.get("form"),
                    d.get("evidence"),
                    None,
                )
                for code, d in f.activities.items()
            )
            ledgers = tuple(
                LedgerRow(name, k + 1, row)
                for name, rows in f.ledgers.items()
                for k, row in enumerate(rows)
            )
            values = tuple(
                ValueRow(k, v if not isinstance(v, int) or isinstance(v, bool) else float(v))
                for k, v in f.indicators.items()
            )
            store.record_submission(
                SubmissionRecord(
                    sha256=f"{i:064d}",
                    original_name=f"{unit.code}.xlsx",
                    original_path=None,
                    archive_path=None,
                    size=1,
                    format="xlsx",
                    kind="unit",
                    unit_code=unit.code,
                    period=str(PERIOD),
                    plan_version=plan.version,
                    received_at=received,
                    state="accepted",
                    late=received.date() > date(2014, 6, 5),
                    values=values,
                    activities=acts,
                    ledger_rows=ledgers,
                ),
                "bench",
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=10000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = bench_workspace(Path(tmp) / "ws", args.units)
        t0 = time.perf_counter()
        fill_store(ws.root, args.units)
        fill_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        status(ws.root, str(PERIOD), date(2014, 6, 9))
        status_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = collate(ws.root, str(PERIOD))
        collate_s = time.perf_counter() - t0
        figures = {
            "units": args.units,
            "fill_store_s": round(fill_s, 2),
            "status_s": round(status_s, 2),
            "collate_s": round(collate_s, 2),
            "summary_kb": result.path.stat().st_size // 1024,
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }
        print(
            f"{args.units} 个单位：准备数据库 {fill_s:.1f} 秒；status {status_s:.2f} 秒；"
            f"collate {collate_s:.2f} 秒（汇总表 {figures['summary_kb']} KB）；"
            f"峰值内存 {figures['peak_rss_mb']} MB"
        )
        if args.json:
            print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
