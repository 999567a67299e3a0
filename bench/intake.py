"""Benchmark: collect N filled returns and compare with python-calamine reading the same files.

    python bench/intake.py [--units 5000] [--json]

Target (issue #4): collect within 3x calamine's read time, both cores, peak memory < 500 MB.
Returns are filled by XML editing (bench/fastfill.py); 5% carry an error, 3% are sent twice.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from common import bench_workspace, peak_rss_mb
from fastfill import fast_fill

from reporting.forms.service import make_forms
from reporting.intake.collect import collect
from reporting.periods import Period
from reporting.plan.load import require_plan
from reporting.simulate import typical_filling

PERIOD = Period(2014, 5)


def calamine_read_all(paths: list[Path]) -> float:
    from python_calamine import CalamineWorkbook

    start = time.perf_counter()
    for path in paths:
        wb = CalamineWorkbook.from_path(str(path))
        for name in wb.sheet_names:
            wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(4)
    with tempfile.TemporaryDirectory() as tmp:
        ws = bench_workspace(Path(tmp) / "ws", args.units)
        t0 = time.perf_counter()
        forms = make_forms(ws.root, str(PERIOD))
        forms_s = time.perf_counter() - t0
        plan = require_plan(ws.plan_path)
        t0 = time.perf_counter()
        paths = []
        for form in forms.files:
            unit = plan.unit(form.unit_code)
            assert unit
            filling = typical_filling(plan, unit, PERIOD, rng)
            if rng.random() < 0.05:
                filling.indicators["B01"] = unit.headcount + 5  # breaks "<= 职工人数"
            data = fast_fill(form.path.read_bytes(), plan, unit, PERIOD, filling)
            path = ws.inbox / form.path.name
            path.write_bytes(data)
            paths.append(path)
            if rng.random() < 0.03:
                (ws.inbox / f"{form.path.stem}(1).xlsx").write_bytes(data)
        fill_s = time.perf_counter() - t0
        calamine_s = calamine_read_all(paths)
        t0 = time.perf_counter()
        result = collect(ws.root, received_at=None)
        collect_s = time.perf_counter() - t0
        t = result.totals
        n = len(paths)
        figures = {
            "units": args.units,
            "forms_s": round(forms_s, 2),
            "fill_s": round(fill_s, 2),
            "collect_s": round(collect_s, 2),
            "collect_files_per_s": round(t["received"] / collect_s, 1),
            "calamine_read_s": round(calamine_s, 2),
            "collect_vs_calamine": round(collect_s / calamine_s, 2),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "totals": t,
        }
        print(f"表单 {args.units} 份：{forms_s:.1f} 秒；填写 {n} 份：{fill_s:.1f} 秒")
        print(
            f"collect：{t['received']} 个文件 {collect_s:.1f} 秒，"
            f"{t['received'] / collect_s:.0f} 个/秒"
            f"（接收 {t['accepted']}，退回 {t['rejected']}，重复 {t['duplicate']}）"
        )
        print(
            f"calamine 单进程读取同样 {n} 个文件：{calamine_s:.1f} 秒；collect / calamine = "
            f"{collect_s / calamine_s:.2f}"
        )
        print(f"峰值内存 {figures['peak_rss_mb']} MB")
        if args.json:
            print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
