"""The month's facts and ranking kept between commands: reused only when made from the same
store, plan, day and tool, and never read unless this workspace signed them."""

from __future__ import annotations

import pickle
from datetime import date, datetime
from pathlib import Path

import pytest

from reporting import factcache
from reporting.collate import facts
from reporting.collate.service import collate, status
from reporting.reports.service import report
from reporting.scoring import rank as rank_module
from reporting.scoring.service import rank
from tests.test_collate import MAY, Month

AS_OF = date(2014, 6, 9)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often the month and the ranking are really computed."""
    calls = {"month": 0, "ranking": 0}
    load, score = facts.load_month, rank_module.rank_units

    def load_month(*args, **kw):
        calls["month"] += 1
        return load(*args, **kw)

    def rank_units(*args, **kw):
        calls["ranking"] += 1
        return score(*args, **kw)

    monkeypatch.setattr("reporting.collate.service.load_month", load_month)
    monkeypatch.setattr("reporting.scoring.service.rank_units", rank_units)
    return calls


def _facts_files(m: Month) -> list[Path]:
    return sorted((m.root / factcache.FOLDER).glob("*.pickle"))


def test_collate_rank_report_compute_the_month_once(month: Month, counted):
    first = collate(month.root, "2014-05").month
    ranked = rank(month.root, "2014-05", as_of=AS_OF).ranking
    done = report(month.root, "2014-05", as_of=AS_OF, day=date(2014, 6, 10), pdf=False)
    assert counted == {"month": 1, "ranking": 1}
    assert done.month == first and done.ranking == ranked  # the same facts, read back
    assert [p.name for p in _facts_files(month)] == [
        "month-2014-05.pickle",
        "plan.pickle",
        "ranking-2014-05.pickle",
    ]


def test_a_new_return_another_day_or_period_computes_again(month: Month, counted):
    rank(month.root, "2014-05", as_of=AS_OF)
    rank(month.root, "2014-05", as_of=date(2014, 7, 20))  # another as-of day: the same month
    assert counted == {"month": 1, "ranking": 2}
    month.rec("U5", MAY, datetime(2014, 6, 9, 8), values={"B01": 12.0})  # U5 finally reports
    after = status(month.root, "2014-05", today=AS_OF).month
    assert counted["month"] == 2
    assert after.unit("U5").state == "late"
    status(month.root, "2014-04", today=AS_OF)
    assert counted["month"] == 3


def test_a_tampered_or_foreign_file_is_never_unpickled(month: Month, counted, tmp_path: Path):
    collate(month.root, "2014-05")
    path = _facts_files(month)[0]

    ran = tmp_path / "ran"
    evil = pickle.dumps(_Evil(str(ran)))
    data = path.read_bytes()
    head = len(factcache.MAGIC) + 32
    path.write_bytes(data[:head] + evil)  # the original signature, another payload
    assert collate(month.root, "2014-05").month.unit("U1").state == "on-time"
    assert not ran.exists() and counted["month"] == 2

    # a file this workspace did not sign: here its key changed since (the same as a file
    # copied in from another workspace)
    (month.root / ".form-key").write_text("ab" * 32 + "\n", "ascii")
    collate(month.root, "2014-05")
    assert counted["month"] == 3


def test_an_unwritable_cache_only_costs_time(month: Month, counted):
    (month.root / ".cache").mkdir(exist_ok=True)
    (month.root / factcache.FOLDER).write_text("not a folder")
    collate(month.root, "2014-05")
    collate(month.root, "2014-05")
    assert counted["month"] == 2


class _Evil:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path(self.path).write_text, ("code ran",))


def test_a_damaged_key_means_no_cache_not_a_failed_command(month: Month, counted):
    """collate, rank and report never needed the signing key before there was a cache."""
    (month.root / ".form-key").write_text("damaged\n", "ascii")
    assert collate(month.root, "2014-05").month.unit("U1").state == "on-time"
    rank(month.root, "2014-05", as_of=AS_OF)
    assert counted == {"month": 2, "ranking": 1}
    assert _facts_files(month) == []


def test_the_parsed_plan_is_kept_and_known_by_the_file_s_bytes(month: Month, monkeypatch):
    from reporting.intake import reader
    from reporting.plan.load import load_plan
    from reporting.workspace import Workspace

    plan_path = month.root / "plan.xlsx"
    Workspace(month.root).form_key()  # a workspace has its key (init makes it)
    first = load_plan(plan_path)  # kept in .cache/facts/plan.pickle
    assert (month.root / factcache.FOLDER / "plan.pickle").is_file()

    def unread(*args, **kw):
        raise AssertionError("the plan file was parsed again")

    monkeypatch.setattr(reader, "read_workbook", unread)
    again = load_plan(plan_path)
    assert again == first and again.plan.version == first.plan.version
    assert again.sheets == first.sheets  # the rows a plan-version snapshot is made of
    monkeypatch.undo()

    # Other bytes (the bureau edits the plan): parsed again, whatever the file is called.
    import openpyxl

    wb = openpyxl.load_workbook(plan_path)
    wb["单位"]["B2"] = "改过名字的单位"
    wb.save(plan_path)
    edited = load_plan(plan_path)
    assert edited.plan.units[0].name == "改过名字的单位"
    assert edited.plan.version != first.plan.version


def test_a_plan_outside_a_workspace_is_not_kept_and_no_key_is_made(month: Month, tmp_path: Path):
    import shutil

    from reporting.plan.load import load_plan

    loose = tmp_path / "loose"
    loose.mkdir()
    shutil.copy(month.root / "plan.xlsx", loose / "plan.xlsx")
    assert load_plan(loose / "plan.xlsx").valid
    assert sorted(p.name for p in loose.iterdir()) == ["plan.xlsx"]
