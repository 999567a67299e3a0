"""The CLI contract: exit codes, --json shapes, Chinese messages, help for every command."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from cli import app
from reporting.plan.example import UNIT_ROWS
from reporting.plan.load import load_plan

ENV = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env=ENV)


def test_init_then_plan_json(runner: CliRunner, tmp_path: Path):
    ws = tmp_path / "ws"
    result = runner.invoke(app, ["init", str(ws)])
    assert result.exit_code == 0, result.output
    assert (ws / "plan.xlsx").is_file() and (ws / "inbox").is_dir() and (ws / "outbox").is_dir()

    result = runner.invoke(app, ["plan", "-w", str(ws), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["valid"] is True
    assert data["plan_version"] == load_plan(ws / "plan.xlsx").plan.version
    assert set(data["counts"]) == {
        "units",
        "phases",
        "activities",
        "indicators",
        "ledgers",
        "rubric_items",
    }
    assert data["counts"]["units"] == 34 and data["counts"]["rubric_items"] == 7
    assert data["findings"] == []


def test_init_refuses_existing_plan(runner: CliRunner, workspace: Path):
    before = (workspace / "plan.xlsx").read_bytes()
    result = runner.invoke(app, ["init", str(workspace)])
    assert result.exit_code == 1
    assert "--force" in result.stderr
    assert (workspace / "plan.xlsx").read_bytes() == before


def test_plan_with_mistakes_exits_1_and_lists_all(runner: CliRunner, workspace: Path):
    path = workspace / "plan.xlsx"
    wb = openpyxl.load_workbook(path)
    wb["单位"]["E3"] = 0  # headcount
    wb["阶段"]["C4"] = "不知道"  # a start date
    wb["考评细则"]["D2"] = 50  # rubric sums to 110
    wb.save(path)

    result = runner.invoke(app, ["plan", "-w", str(workspace), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["valid"] is False
    found = {(f["code"], f["sheet"], f["row"], f["column"]) for f in data["findings"]}
    assert ("bad-headcount", "单位", 3, "职工人数") in found
    assert ("bad-date", "阶段", 4, "开始日期") in found
    assert ("rubric-total", "考评细则", None, "分值") in found
    for f in data["findings"]:
        assert set(f) == {"code", "severity", "sheet", "row", "column", "message"}

    text = runner.invoke(app, ["plan", "-w", str(workspace)])
    assert text.exit_code == 1
    assert "职工人数" in text.stdout and "3 处错误" in text.stdout


def test_plan_outside_workspace_is_a_clear_failure(runner: CliRunner, tmp_path: Path):
    result = runner.invoke(app, ["plan", "-w", str(tmp_path)])
    assert result.exit_code == 1
    assert "找不到方案文件" in result.stderr
    assert "Traceback" not in result.output


def test_usage_error_exits_2(runner: CliRunner):
    result = runner.invoke(app, ["plan", "--no-such-option"])
    assert result.exit_code == 2
    assert "没有选项" in result.output


def test_demo_builds_its_own_workspace(runner: CliRunner, tmp_path: Path):
    target = tmp_path / "demo"
    result = runner.invoke(app, ["demo", str(target)])
    assert result.exit_code == 0, result.output
    assert load_plan(target / "plan.xlsx").valid
    assert str(target / "plan.xlsx") in result.stdout
    forms = sorted((target / "outbox" / "forms" / "2014-05").glob("*.xlsx"))
    assert len(forms) == 34
    assert (target / "outbox" / "forms" / "全部表单_2014-05.zip").is_file()
    from reporting.store import Store

    with Store.open(target / "store.sqlite") as store:
        current = {
            s.unit_code: s for s in store.submissions("2014-05", kind="unit", states=["accepted"])
        }
        superseded = store.submissions("2014-05", kind="unit", states=["superseded"])
        rejected = {
            s.unit_code for s in store.submissions("2014-05", kind="unit", states=["rejected"])
        }
    # one unit stays silent, two rejected returns are not corrected within the demo
    assert set(current) == {r[0] for r in UNIT_ROWS} - {"ZS06", "YL04", "ZS02"}
    assert {c for c, s in current.items() if s.late} == {"SX07", "SX11", "YL02", "YL09", "ZS05"}
    assert [s.unit_code for s in superseded] == ["YL02"]  # revised the day after
    assert rejected == {"SX07", "YL04", "ZS02"}
    feedback = target / "outbox" / "feedback" / "2014-05"
    assert (feedback / "YL04_浙江省人民医院_退回修改.xlsx").is_file()
    assert "第二次回收" in result.stdout
    outbox = target / "outbox" / "2014-05"
    for name in (
        "汇总表_2014-05.xlsx",
        "排名表_2014-05.xlsx",
        "督导检查情况通报_2014-05.docx",
        "dashboard.html",
        "催报名单_2014-05.xlsx",
    ):
        assert (outbox / name).is_file(), name
    inspections = sorted((target / "outbox" / "inspection" / "2014-05").glob("*.xlsx"))
    assert len(inspections) == 34
    # Re-running is safe: the demo folder is its own.
    assert runner.invoke(app, ["demo", str(target)]).exit_code == 0


def test_demo_never_touches_a_real_workspace(runner: CliRunner, workspace: Path):
    plan = workspace / "plan.xlsx"
    before = plan.read_bytes()
    result = runner.invoke(app, ["demo", str(workspace)])
    assert result.exit_code == 1
    assert "演示已停止" in result.stderr
    assert plan.read_bytes() == before


def test_every_command_has_chinese_help_and_is_in_readme(runner: CliRunner):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    for name, command in app.registered_commands and [
        (c.name or c.callback.__name__, c) for c in app.registered_commands
    ]:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0
        assert command.callback.__doc__
        assert any("\u4e00" <= ch <= "\u9fff" for ch in command.callback.__doc__)
        assert f"python cli.py {name}" in readme, f"README does not mention {name}"


def test_forms_command_writes_forms_and_records_plan_version(runner: CliRunner, workspace: Path):
    from reporting.store import Store

    result = runner.invoke(
        app, ["forms", "-w", str(workspace), "--period", "2014-06", "-u", "SX03", "-u", "ZS02"]
    )
    assert result.exit_code == 0, result.output
    folder = workspace / "outbox" / "forms" / "2014-06"
    assert sorted(p.name for p in folder.glob("*.xlsx")) == [
        "SX03_温州市卫生计生委_2014-06.xlsx",
        "ZS02_浙江省医学科学院_2014-06.xlsx",
    ]
    version = load_plan(workspace / "plan.xlsx").plan.version
    with Store.open(workspace / "store.sqlite") as store:
        assert store.plan_snapshot(version) is not None
        assert {u.code for u in store.units(version)} >= {"SX03", "ZS02"}


def test_forms_usage_errors(runner: CliRunner, workspace: Path):
    bad_period = runner.invoke(app, ["forms", "-w", str(workspace), "--period", "2014-13"])
    assert bad_period.exit_code == 2 and "格式不对" in bad_period.stderr
    bad_unit = runner.invoke(app, ["forms", "-w", str(workspace), "-p", "2014-05", "-u", "NOPE"])
    assert bad_unit.exit_code == 2 and "NOPE" in bad_unit.stderr


def test_long_listings_show_head_and_tail_and_name_the_workbook(runner: CliRunner, tmp_path: Path):
    """70 units, nothing returned: the terminal lists 60 units to chase and the ranking's head
    and tail; the workbooks hold everything."""
    from bench.common import bench_workspace

    ws = bench_workspace(tmp_path / "ws", 70)
    status = runner.invoke(
        app, ["status", "-p", "2014-05", "--as-of", "2014-06-09", "-w", str(ws.root)]
    )
    assert status.exit_code == 0, status.output
    assert "U00060" in status.output and "U00061" not in status.output
    assert "另有 10 个需要催报或处理的单位未列出" in status.output
    ranked = runner.invoke(app, ["rank", "-p", "2014-05", "-w", str(ws.root)])
    assert ranked.exit_code == 0, ranked.output
    listed = {f"U{i:05d}" for i in range(1, 71) if f"U{i:05d}" in ranked.output}
    assert len(listed) == 40
    assert "中间 30 个单位略" in ranked.output
    book = openpyxl.load_workbook(ws.outbox / "2014-05" / "排名表_2014-05.xlsx", read_only=True)
    codes = {c for row in book.worksheets[0].iter_rows(values_only=True) for c in row}
    assert {f"U{i:05d}" for i in range(1, 71)} <= codes


def test_typos_get_chinese_suggestions(runner: CliRunner, workspace: Path):
    option = runner.invoke(app, ["rank", "-p", "2014-05", "--jsn", "-w", str(workspace)])
    assert option.exit_code == 2
    assert "是不是要用 --json" in option.output and "Did you mean" not in option.output
    command = runner.invoke(app, ["rnak"])
    assert command.exit_code == 2
    assert "是不是要用 'rank'" in command.output and "Did you mean" not in command.output


@pytest.mark.parametrize("command", ["status", "inspect", "rank", "report"])
def test_as_of_dates_are_checked_alike(runner: CliRunner, workspace: Path, command: str):
    done = runner.invoke(
        app, [command, "-p", "2014-05", "--as-of", "2014-13-01", "-w", str(workspace)]
    )
    assert done.exit_code == 2
    assert "--as-of 的日期“2014-13-01”格式不对" in done.output


def test_names_and_values_from_returns_print_as_they_are(runner: CliRunner, tmp_path: Path):
    """File names, cell values and claimed codes come from the units: nothing in them is read
    as rich markup (``[final]`` vanished, ``[/]`` stopped the command with a MarkupError) or
    reaches the terminal as a control character."""
    from tests.conftest import Office
    from tests.test_intake import set_cells

    office = Office(tmp_path / "office")
    names = {
        "SX02": "报表[final].xlsx",
        "SX03": "esc\x1b[2Jname.xlsx",
        "SX04": "表:cat:.xlsx",
    }
    for code, name in names.items():
        office.drop(name, set_cells(office.filled(code), "规定动作", {"D5": "[/]完成[bold]"}))
    res = runner.invoke(
        app, ["collect", "-w", str(office.ws.root), "--received-at", "2014-06-03T10:00"]
    )
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
    assert "报表[final].xlsx" in res.output and "表:cat:.xlsx" in res.output
    assert "esc\\x1b[2Jname.xlsx" in res.output and "\x1b" not in res.output
    assert res.output.count("现为“[/]完成[bold]”") == 3


def test_progress_bar_shows_its_label_in_bold():
    import io

    from commands.common import _Console, progress

    buf = io.StringIO()
    console = _Console(file=buf, force_terminal=True, width=100)
    with progress("回收审核", console=console) as update:
        update(3, 10)
        console.file.flush()
    shown = buf.getvalue()
    assert "回收审核" in shown and "[bold]" not in shown and "\x1b[1m回收审核" in shown


def test_an_output_that_cannot_be_replaced_is_named_not_an_internal_error(
    runner: CliRunner, workspace: Path
):
    """On Windows a workbook open in Excel cannot be replaced; the clerk is told which file
    to close (here a folder stands where the summary goes, which cannot be replaced either)."""
    blocked = workspace / "outbox" / "2014-05" / "汇总表_2014-05.xlsx"
    blocked.mkdir(parents=True)
    res = runner.invoke(app, ["collate", "-w", str(workspace), "-p", "2014-05"])
    assert res.exit_code == 1
    assert "无法写入" in res.output and "汇总表_2014-05.xlsx" in res.output
    assert "程序内部错误" not in res.output and blocked.is_dir()


def test_a_worker_running_the_script_again_imports_no_command_line():
    """multiprocessing runs ``cli.py`` again as ``__mp_main__`` in each of collect's workers
    (runpy.run_path, as its spawn.prepare does); the command line must not be built there."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parent.parent / "cli.py"
    probe = (
        "import runpy, sys\n"
        f"runpy.run_path({str(script)!r}, run_name='__mp_main__')\n"
        "names = ('typer', 'rich', 'commands', 'commands.app')\n"
        "print(sorted(m for m in names if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
