"""Benchmark: generate unit forms for N units and print forms per second.

    python bench/forms.py [--units 1000] [--workers N]

Target (issue #3): at least 100 forms/s per core, using both cores for large runs.
The single-process run also reports CPU time per form (``time.process_time``), the figure to
compare between versions: wall time on a shared machine depends on what else is running.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from common import bench_workspace, cpu_count, peak_rss_mb

from reporting.forms import generate_forms
from reporting.periods import Period
from reporting.plan.load import require_plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = bench_workspace(Path(tmp) / "ws", args.units)
        plan = require_plan(ws.plan_path)
        figures = {"units": args.units}
        for workers in dict.fromkeys([1, args.workers or cpu_count()] if cpu_count() > 1 else [1]):
            start = time.perf_counter()
            cpu = time.process_time()
            result = generate_forms(ws, plan, Period(2014, 5), workers=workers)
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
