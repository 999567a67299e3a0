"""``report`` attaches the workbooks ``collate`` and ``rank`` wrote when nothing has changed
since, and writes them again when anything they were made from has."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from reporting.collate.service import collate
from reporting.outputs import CACHE_DIR, RECORD
from reporting.reports.service import report
from reporting.scoring.service import rank
from tests.test_collate import MAY, Month

AS_OF = date(2014, 6, 9)


def _ids(*paths: Path) -> list[tuple[int, int]]:
    """A file written again (atomically, by rename) gets a new inode."""
    return [(p.stat().st_ino, p.stat().st_mtime_ns) for p in paths]


def _month_report(m: Month, as_of: date = AS_OF):
    return report(m.root, "2014-05", as_of=as_of, day=date(2014, 6, 10), pdf=False)


def test_report_attaches_what_collate_and_rank_wrote(month: Month):
    summary = collate(month.root, "2014-05").path
    ranking = rank(month.root, "2014-05", as_of=AS_OF).path
    before = _ids(summary, ranking)
    done = _month_report(month)
    assert (done.summary, done.ranking_workbook) == (summary, ranking)
    assert _ids(summary, ranking) == before
    assert (month.root / CACHE_DIR / RECORD).is_file()


def test_a_new_return_makes_report_write_both_again(month: Month):
    summary = collate(month.root, "2014-05").path
    ranking = rank(month.root, "2014-05", as_of=AS_OF).path
    before = _ids(summary, ranking)
    # U5 finally reports
    month.rec("U5", MAY, datetime(2014, 6, 9, 8), values={"B01": 12.0})
    _month_report(month)
    after = _ids(summary, ranking)
    assert after[0] != before[0] and after[1] != before[1]
    book = openpyxl.load_workbook(summary, read_only=True)
    rows = [row for row in book["报送情况"].iter_rows(values_only=True) if row and row[0] == "U5"]
    book.close()
    assert rows and "逾期报送" in rows[0]


def test_another_day_or_an_edited_file_is_written_again(month: Month):
    summary = collate(month.root, "2014-05").path
    ranking = rank(month.root, "2014-05", as_of=AS_OF).path
    before = _ids(summary, ranking)
    _month_report(month, as_of=date(2014, 7, 9))  # a later day: timeliness may count more
    after = _ids(summary, ranking)
    assert after[0] == before[0] and after[1] != before[1]

    summary.write_bytes(summary.read_bytes() + b"\0")  # a clerk's edit
    _month_report(month, as_of=date(2014, 7, 9))
    again = _ids(summary, ranking)
    assert again[0] != after[0] and again[1] == after[1]
    openpyxl.load_workbook(summary, read_only=True).close()  # a whole workbook again


def test_a_lost_or_broken_record_only_costs_a_rewrite(month: Month):
    summary = collate(month.root, "2014-05").path
    rank(month.root, "2014-05", as_of=AS_OF)
    (month.root / CACHE_DIR / RECORD).write_text("{not json", "utf-8")
    before = _ids(summary)
    _month_report(month)
    assert _ids(summary) != before
    before = _ids(summary)
    _month_report(month)
    assert _ids(summary) == before


def test_paused_gc_restores_the_collector_even_on_error():
    import gc

    from reporting.gcpause import paused_gc

    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused_gc():
        assert not gc.isenabled()
        raise RuntimeError
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # a caller that turned it off keeps it off
    finally:
        gc.enable()
