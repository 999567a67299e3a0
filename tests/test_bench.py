"""The provincial benchmark must not rot: run it end to end on a tiny roster."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "run.py"
KEYS = {
    "units",
    "forms_s",
    "collect_s",
    "calamine_read_s",
    "openpyxl_read_s",
    "collect_vs_calamine",
    "openpyxl_vs_collect",
    "collate_s",
    "rank_s",
    "report_s",
    "peak_rss_mb",
}


def test_bench_run_smoke():
    done = subprocess.run(
        [sys.executable, str(BENCH), "--units", "20", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    figures = json.loads(last)
    assert set(figures) == KEYS
    assert figures["units"] == 20
    assert all(isinstance(v, int | float) and v >= 0 for v in figures.values())
    assert "collect" in done.stdout and "calamine" in done.stdout


def test_bench_inspection_smoke():
    """bench/inspection.py with enough units for the process pool (PARALLEL_FROM)."""
    script = BENCH.parent / "inspection.py"
    done = subprocess.run(
        [sys.executable, str(script), "--units", "45", "--sample", "5", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["units"] == 45
    keys = {"seconds", "units_per_s", "tree_cpu_s", "peak_mb", "excel_ms", "word_ms", "unit_ms"}
    assert keys <= set(figures)
    assert all(isinstance(figures[k], int | float) and figures[k] > 0 for k in keys)


def test_bench_intake_smoke():
    args = ["--units", "20", "--worker-sample", "3", "--json"]
    done = subprocess.run(
        [sys.executable, str(BENCH.with_name("intake.py")), *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["totals"]["received"] >= 20
    assert figures["parent_cpu_ms_per_file"] > 0 and figures["worker_cpu_ms_per_file"] > 0
    assert "collect / calamine" in done.stdout and "CPU" in done.stdout
