"""Benchmark: generate unit forms for N units and print forms per second.

    python bench/forms.py [--units 1000] [--workers N] [--prefilled]

Target (issue #3): at least 100 forms/s per core, using both cores for large runs.
The single-process run also reports CPU time per form (``time.process_time``), the figure to
compare between versions: wall time on a shared machine depends on what else is running.
``--prefilled`` gives every unit a form pre-filled as from the second month on: last month's
done activities and open rectification items (1–6 a unit) carried over.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from common import bench_workspace, cpu_count, peak_rss_mb

from reporting.forms import generate_forms
from reporting.forms.prefill import build_prefill
from reporting.periods import Period
from reporting.plan.load import require_plan
from reporting.store import ActivityRow, LedgerRow

PERIOD = Period(2014, 5)


class LastMonth:
    """A ``PrefillSource``: what each unit's accepted April return would carry into May."""

    def prefill(self, plan: Any, unit: Any, period: Period) -> Any:
        n = int(unit.code[1:]) if unit.code[1:].isdigit() else len(unit.code)
        acts = [
            ActivityRow(
                a.code, "已完成", a.min_count, date(2014, 4, 1 + (n + i) % 28),
                unit.headcount // 2, "会议", f"{a.evidence}（{unit.name}）", None,
            )
            for i, a in enumerate(plan.activities_for(unit))
            if a.deadline < period.first_day
        ]  # fmt: skip
        rows = [
            LedgerRow(
                "整改台账",
                i + 1,
                {
                    "问题描述": f"第{i + 1}项问题：学习教育不够深入",
                    "整改措施": "制定学习计划，每月集中学习两次",
                    "整改时限": date(2014, 6 + i % 6, 30),
                    "责任领导": "王主任",
                    "责任人": f"李{i + 1}",
                    "整改状态": "整改中",
                },
            )
            for i in range(1 + n % 6)
        ]
        return build_prefill(plan, unit, acts, rows, "2014-04 已采用的报送（四月报表.xlsx）")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--prefilled", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = bench_workspace(Path(tmp) / "ws", args.units)
        plan = require_plan(ws.plan_path)
        figures: dict[str, Any] = {"units": args.units, "prefilled": args.prefilled}
        source = LastMonth() if args.prefilled else None
        for workers in dict.fromkeys([1, args.workers or cpu_count()] if cpu_count() > 1 else [1]):
            start = time.perf_counter()
            cpu = time.process_time()
            result = generate_forms(ws, plan, PERIOD, prefill=source, workers=workers)
            cpu = time.process_time() - cpu
            seconds = time.perf_counter() - start
            rate = len(result.files) / seconds
            figures[f"workers_{workers}_s"] = round(seconds, 2)
            figures[f"workers_{workers}_forms_per_s"] = round(rate, 1)
            line = (
                f"{workers} 个进程：{len(result.files)} 份表单 {seconds:.2f} 秒，"
                f"{rate:.0f} 份/秒（每核 {rate / workers:.0f} 份/秒）"
            )
            if workers == 1:  # only then is all the work in this process
                figures["cpu_ms_per_form"] = round(1000 * cpu / len(result.files), 2)
                line += f"，CPU {figures['cpu_ms_per_form']} ms/份"
            print(line)
        figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
        print(f"峰值内存 {figures['peak_rss_mb']} MB")
        if args.json:
            print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
