"""The provincial benchmark must not rot: run it end to end on a tiny roster."""

from __future__ import annotations

import importlib.util
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


def _bench(script: str, *args: str) -> tuple[dict, str]:
    """Run ``bench/<script>`` with ``args``: the JSON of its last line, and all it printed."""
    done = subprocess.run(
        [sys.executable, str(BENCH.with_name(script)), *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stdout


def test_bench_run_smoke():
    figures, printed = _bench("run.py", "--units", "20", "--json", "--pairs", "1")
    assert set(figures) == KEYS
    assert figures["units"] == 20
    assert all(isinstance(v, int | float) and v >= 0 for v in figures.values())
    assert "collect" in printed and "calamine" in printed
    # the host's speed next to the run: before, and as collect and calamine met it
    (speed,) = [line for line in printed.splitlines() if "本机速度" in line]
    assert "开始前单核" in speed and "calamine 之后单核" in speed
    # --pairs: one more collect/calamine pair, on a copy of the workspace before the first collect
    (again,) = [line for line in printed.splitlines() if "再测 1 对" in line]
    assert "collect/calamine 中位数" in again


def test_bench_inspection_smoke():
    """bench/inspection.py with enough units for the process pool (PARALLEL_FROM)."""
    figures, _ = _bench("inspection.py", "--units", "45", "--sample", "5", "--json")
    assert figures["units"] == 45
    keys = {"seconds", "units_per_s", "tree_cpu_s", "peak_mb", "excel_ms", "word_ms", "unit_ms"}
    assert keys <= set(figures)
    assert all(isinstance(figures[k], int | float) and figures[k] > 0 for k in keys)


def test_bench_intake_smoke():
    figures, printed = _bench("intake.py", "--units", "20", "--worker-sample", "3", "--json")
    assert figures["totals"]["received"] >= 20
    assert figures["parent_cpu_ms_per_file"] > 0 and figures["worker_cpu_ms_per_file"] > 0
    assert "collect / calamine" in printed and "CPU" in printed


def test_the_bench_times_commands_with_their_bytecode_compiled(tmp_path, monkeypatch):
    """Where PYTHONDONTWRITEBYTECODE is set, each stage would compile the tool again at start-up,
    a cost no clerk pays: the bench compiles the packages first, whatever the variable says."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.syspath_prepend(str(BENCH.parent))
    from common import compile_bytecode

    sources = [tmp_path / "reporting" / "intake" / "collect.py", tmp_path / "commands" / "x.py"]
    for source in sources:
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text("VALUE = 1\n", "utf-8")
    compile_bytecode(tmp_path)
    assert all(Path(importlib.util.cache_from_source(str(s))).is_file() for s in sources)
