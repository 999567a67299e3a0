from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import IntEnum, StrEnum
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from reporting.findings import Finding, Severity
from reporting.plan.model import Plan, Unit
from reporting.store import (
    BULK_CHECKPOINT_PAGES,
    MIGRATIONS,
    ActivityRow,
    LedgerRow,
    Migration,
    Store,
    StoreError,
    StoreLocked,
    SubmissionRecord,
    ValueRow,
    encode_details,
)

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2014, 6, 3, 9, 30)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "store.sqlite") as s:
        yield s


def rows(store: Store, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    return store._conn.execute(sql, params).fetchall()


def count(store: Store, table: str) -> int:
    return rows(store, f"SELECT COUNT(*) FROM {table}")[0][0]


def record(sha: str, **changes: Any) -> SubmissionRecord:
    base = SubmissionRecord(
        sha256=sha,
        original_name=f"{sha}.xlsx",
        original_path=f"inbox/{sha}.xlsx",
        archive_path=f"archive/{sha}.xlsx",
        size=1234,
        format="xlsx",
        kind="unit",
        unit_code="U01",
        period="2014-05",
        plan_version="pv1",
        received_at=T0,
        state="accepted",
    )
    return replace(base, **changes)


# ---- opening and migrations


def test_bulk_writes_checkpoints_rarely_and_leaves_no_log(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    with Store.open(path) as s:
        default = rows(s, "PRAGMA wal_autocheckpoint")[0][0]
        s.bulk_writes()
        assert rows(s, "PRAGMA wal_autocheckpoint") == [(BULK_CHECKPOINT_PAGES,)]
        assert default < BULK_CHECKPOINT_PAGES
        for i in range(50):
            s.record_submission(record(f"{i:064x}"), "run")
        assert Path(f"{path}-wal").exists()
    assert not Path(f"{path}-wal").exists()  # closing checkpoints and removes the log
    with Store.open(path) as s:
        assert len(s.submissions()) == 50
        assert rows(s, "PRAGMA wal_autocheckpoint") == [(default,)]  # that connection only


def test_open_creates_store_with_pragmas_and_records_migrations_once(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    with Store.open(path) as s:
        assert [m.version for m in s.applied_migrations()] == [m.version for m in MIGRATIONS]
        first = rows(s, "SELECT version, description, applied_at FROM schema_migrations")
        assert rows(s, "PRAGMA journal_mode") == [("wal",)]
        assert rows(s, "PRAGMA foreign_keys") == [(1,)]
        assert rows(s, "PRAGMA synchronous") == [(1,)]  # NORMAL (see Store._connect)
        assert rows(s, "PRAGMA busy_timeout")[0][0] >= 1000
        tables = {r[0] for r in rows(s, "SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {
            "plan_versions",
            "units",
            "submissions",
            "findings",
            "submission_values",
            "activity_records",
            "ledger_rows",
            "audit_log",
        } <= tables
    with Store.open(path) as s:
        assert rows(s, "SELECT version, description, applied_at FROM schema_migrations") == first


def test_appended_migration_is_applied_once_and_newer_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    Store.open(path).close()
    extra = Migration(
        len(MIGRATIONS) + 1,
        "extra scores",
        """
        -- a comment; with a semicolon
        CREATE TABLE extra_scores (submission_id INTEGER, item TEXT, points REAL);
        CREATE TRIGGER no_negative BEFORE INSERT ON extra_scores
        WHEN NEW.points < 0 BEGIN SELECT RAISE(ABORT, 'negative'); END;
        """,
    )
    for _ in range(2):
        with Store.open(path, migrations=(*MIGRATIONS, extra)) as s:
            assert rows(s, "SELECT version, description FROM schema_migrations") == [
                *((m.version, m.description) for m in MIGRATIONS),
                (len(MIGRATIONS) + 1, "extra scores"),
            ]
            assert rows(s, "SELECT name FROM sqlite_master WHERE type = 'trigger'") == [
                ("no_negative",)
            ]
    with pytest.raises(StoreError, match="更新版本"):
        Store.open(path)  # this program only knows up to len(MIGRATIONS)


def test_migration_that_fails_leaves_no_trace(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    bad = Migration(
        len(MIGRATIONS) + 1,
        "broken",
        "CREATE TABLE half (x INTEGER); INSERT INTO nowhere VALUES (1);",
    )
    with pytest.raises(StoreError):
        Store.open(path, migrations=(*MIGRATIONS, bad))
    with Store.open(path) as s:
        assert [m.version for m in s.applied_migrations()] == [m.version for m in MIGRATIONS]
        assert rows(s, "SELECT name FROM sqlite_master WHERE name = 'half'") == []


def test_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    path.write_bytes(b"PK\x03\x04 this is a zip, not a database" * 100)
    with pytest.raises(StoreError, match="无法使用数据库"):
        Store.open(path)


# ---- plan versions and units


def test_plan_versions_and_units_are_idempotent(store: Store) -> None:
    assert store.save_plan_version("pv1", "camp", "八个一", '{"a": 1}') is True
    assert store.save_plan_version("pv1", "camp", "八个一", '{"a": 1}') is False
    assert store.plan_snapshot("pv1") == '{"a": 1}'
    assert store.plan_snapshot("nope") is None
    units = [
        Unit("U01", "杭州市卫生局", "市卫生局", "杭州", 120, "张三", "0571-1"),
        Unit("U02", "省人民医院", "直属单位", "省本级", 3000, "李四", "0571-2"),
    ]
    store.save_units("pv1", units)
    store.save_units("pv1", units)
    assert count(store, "units") == 2
    assert store.units("pv1") == units
    with pytest.raises(sqlite3.IntegrityError):
        store.save_units("unknown-version", units)  # plan version must be saved first
    assert count(store, "units") == 2


@pytest.fixture(scope="module")
def example_plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    from reporting.plan.load import require_plan
    from reporting.workspace import init_workspace

    ws = init_workspace(tmp_path_factory.mktemp("plan") / "ws").workspace
    return require_plan(ws.plan_path)


def test_a_known_plan_is_recorded_without_writing_even_while_a_collect_writes(
    tmp_path: Path, example_plan: Plan
) -> None:
    path = tmp_path / "store.sqlite"
    plan = example_plan
    dumps: list[str] = []

    def snapshot() -> str:
        dumps.append(plan.version)
        return '{"a": 1}'

    with Store.open(path) as first:
        assert first.record_plan(plan, snapshot) is True
        assert first.plan_snapshot(plan.version) == '{"a": 1}'
        assert first.units(plan.version) == list(plan.units)
        # a collect holds the write lock for a group of files: a command that only needs its
        # known plan on record neither waits for it nor fails
        with Store.open(path) as collect, collect.commit_group(64, 60.0):
            collect.audit("skipped", "r", path="inbox/x.txt")
            first._conn.execute("PRAGMA busy_timeout=50")
            assert first.record_plan(plan, snapshot) is False
            edited = replace(plan, units=plan.units[:-1])  # plan.xlsx edited: a new version
            with pytest.raises(StoreError, match="正被另一个程序写入"):  # that one must wait
                first.record_plan(edited, snapshot)
        assert dumps == [plan.version]  # not even dumped: the lock comes first
        assert first.record_plan(edited, snapshot) is True
        assert first.units(edited.version) == list(plan.units[:-1])


def test_a_plan_recorded_without_its_units_gets_them(store: Store, example_plan: Plan) -> None:
    plan = example_plan
    store.save_plan_version(plan.version, plan.plan_id, "八个一", "{}")  # a run stopped here
    assert store.record_plan(plan, lambda: "{}") is True
    assert store.units(plan.version) == list(plan.units)
    assert store.record_plan(plan, lambda: "{}") is False


# ---- recording submissions


def full_record() -> SubmissionRecord:
    return record(
        "full",
        received_at=datetime(2014, 6, 5, 16, 45, 12),
        late=True,
        days_late=2,
        findings=(
            Finding("late", Severity.WARNING, "逾期 2 天报送", sheet="填报说明", cell="B3"),
            Finding(
                "bad-number",
                Severity.ERROR,
                "“参加人数”应为整数",
                sheet="月报数据",
                row=5,
                column="D",
                cell="D5",
                label="参加人数",
            ),
        ),
        values=(
            ValueRow("I01", 12),
            ValueRow("I02", 3.5),
            ValueRow("I03", "组织全体职工学习郑晓英同志先进事迹"),
            ValueRow("I04", date(2014, 5, 20)),
            ValueRow("I05", True),
            ValueRow("I06", False),
            ValueRow("I07", None),
            ValueRow("I08", "2014-05-20"),
        ),
        activities=(
            ActivityRow("A01", "已完成", 2, date(2014, 5, 12), 85, "集中学习", "会议记录", None),
            ActivityRow("A02", "未开展", None, None, None, None, None, "下月安排"),
        ),
        ledger_rows=(
            LedgerRow(
                "整改台账",
                1,
                {
                    "问题": "服务态度生硬",
                    "时限": date(2014, 6, 30),
                    "备注": "2014-06-30",
                    "件数": 3,
                    "比例": 0.5,
                    "完成": True,
                    "责任人": None,
                },
            ),
            LedgerRow("典型推荐", 1, {"名称": "急诊科", "日期": date(2014, 5, 1)}),
        ),
    )


def test_full_record_round_trip(store: Store) -> None:
    rec = full_record()
    info = store.record_submission(rec, "run-1")

    assert info.sha256 == "full" and info.state == "accepted" and info.superseded_by is None
    assert (info.unit_code, info.period, info.kind, info.plan_version) == (
        "U01",
        "2014-05",
        "unit",
        "pv1",
    )
    assert info.received_at == rec.received_at
    assert (info.late, info.days_late, info.size, info.format) == (True, 2, 1234, "xlsx")
    assert info.archive_path == "archive/full.xlsx"
    assert isinstance(info.recorded_at, datetime)
    assert store.submission_by_sha("full") == info
    assert store.has_submission("full") and not store.has_submission("other")

    assert store.findings_for(info.id) == list(rec.findings)
    assert all(isinstance(f.severity, Severity) for f in store.findings_for(info.id))

    values = store.values_for([info.id])[info.id]
    assert values == {
        "I01": 12.0,
        "I02": 3.5,
        "I03": "组织全体职工学习郑晓英同志先进事迹",
        "I04": date(2014, 5, 20),
        "I05": True,
        "I06": False,
        "I07": None,
        "I08": "2014-05-20",
    }
    assert type(values["I01"]) is float and type(values["I05"]) is bool
    assert type(values["I04"]) is date and type(values["I08"]) is str
    assert rows(
        store,
        "SELECT indicator_code, kind, num, text FROM submission_values ORDER BY indicator_code",
    ) == [
        ("I01", "num", 12.0, None),
        ("I02", "num", 3.5, None),
        ("I03", "text", None, "组织全体职工学习郑晓英同志先进事迹"),
        ("I04", "date", None, "2014-05-20"),
        ("I05", "bool", 1.0, None),
        ("I06", "bool", 0.0, None),
        ("I07", "none", None, None),
        ("I08", "text", None, "2014-05-20"),
    ]

    assert store.activities_for([info.id]) == {info.id: list(rec.activities)}
    assert rows(store, "SELECT done_date FROM activity_records") == [("2014-05-12",), (None,)]

    ledgers = store.ledger_rows_for([info.id])[info.id]
    assert ledgers == list(rec.ledger_rows)
    first = ledgers[0].data
    assert type(first["时限"]) is date and type(first["备注"]) is str
    assert type(first["件数"]) is int and type(first["完成"]) is bool
    assert list(first) == ["问题", "时限", "备注", "件数", "比例", "完成", "责任人"]
    raw = json.loads(rows(store, "SELECT data FROM ledger_rows WHERE row_no = 1 LIMIT 1")[0][0])
    assert raw["时限"] == {"$date": "2014-06-30"} and raw["备注"] == "2014-06-30"

    assert [
        (e.run_id, e.action, e.sha256, e.unit_code, e.period) for e in store.audit_entries()
    ] == [("run-1", "accepted", "full", "U01", "2014-05")]
    assert store.integrity_check() == []


def test_midnight_datetime_is_a_date_but_a_time_of_day_is_refused(store: Store) -> None:
    info = store.record_submission(
        record("dt", values=(ValueRow("I04", datetime(2014, 5, 20)),)), "run"
    )
    assert store.values_for([info.id])[info.id] == {"I04": date(2014, 5, 20)}
    with pytest.raises(TypeError):
        store.record_submission(
            record("dt2", values=(ValueRow("I04", datetime(2014, 5, 20, 8, 0)),)), "run"
        )
    assert not store.has_submission("dt2")


class _Code(StrEnum):
    A = "甲"


class _Level(IntEnum):
    HIGH = 3


class _Day(date):
    pass


def test_values_and_ledger_cells_of_every_type_are_stored_exactly(store: Store) -> None:
    """The stored columns and JSON for the usual cell types and for the unusual ones (bools,
    subclasses of str/int/float/date, midnight datetimes), which the encoders tell apart."""
    cells: dict[str, Any] = {
        "float": 2.5,
        "int": 7,
        "big": 10**17 + 1,
        "bool": True,
        "text": "二〇一四",
        "none": None,
        "date": date(2014, 5, 3),
        "midnight": datetime(2014, 5, 4),
        "day": _Day(2014, 5, 5),
        "enum-text": _Code.A,
        "enum-int": _Level.HIGH,
        "negative-zero": -0.0,
    }
    info = store.record_submission(
        record(
            "types",
            values=tuple(ValueRow(k, v) for k, v in cells.items()),
            ledger_rows=(LedgerRow("台账", 1, cells),),
        ),
        "run",
    )
    assert rows(
        store, "SELECT indicator_code, kind, num, text FROM submission_values ORDER BY rowid"
    ) == [
        ("float", "num", 2.5, None),
        ("int", "num", 7.0, None),
        ("big", "num", 1e17, None),
        ("bool", "bool", 1.0, None),
        ("text", "text", None, "二〇一四"),
        ("none", "none", None, None),
        ("date", "date", None, "2014-05-03"),
        ("midnight", "date", None, "2014-05-04"),
        ("day", "date", None, "2014-05-05"),
        ("enum-text", "text", None, "甲"),
        ("enum-int", "num", 3.0, None),
        ("negative-zero", "num", -0.0, None),
    ]
    assert rows(store, "SELECT data FROM ledger_rows") == [
        (
            '{"float": 2.5, "int": 7, "big": 100000000000000001, "bool": true, "text": "二〇一四",'
            ' "none": null, "date": {"$date": "2014-05-03"}, "midnight": {"$date": "2014-05-04"},'
            ' "day": {"$date": "2014-05-05"}, "enum-text": "甲", "enum-int": 3,'
            ' "negative-zero": -0.0}',
        )
    ]
    assert store.ledger_rows_for([info.id])[info.id][0].data["date"] == date(2014, 5, 3)


def test_rows_encoded_beforehand_are_stored_as_the_rows_themselves(tmp_path: Path) -> None:
    """collect's workers send encode_details(...) instead of the rows: same stored bytes."""
    rec = full_record()
    dumps = []
    for name, given in (
        ("rows", rec),
        (
            "encoded",
            replace(
                rec,
                values=(),
                activities=(),
                ledger_rows=(),
                details=encode_details(rec.values, rec.activities, rec.ledger_rows),
            ),
        ),
    ):
        with Store.open(tmp_path / f"{name}.sqlite") as store:
            store.record_submission(given, "run")
            dumps.append(
                [
                    rows(store, f"SELECT * FROM {table} ORDER BY rowid")
                    for table in ("submission_values", "activity_records", "ledger_rows")
                ]
            )
    assert dumps[0] == dumps[1]
    assert len(dumps[0][0]) == 8 and len(dumps[0][1]) == 2 and len(dumps[0][2]) == 2
    with Store.open(tmp_path / "both.sqlite") as store, pytest.raises(ValueError):
        store.record_submission(replace(rec, details=encode_details(rec.values)), "run")
    with pytest.raises(TypeError):
        encode_details(ledger_rows=(LedgerRow("台账", 1, {"列": b"bytes"}),))


UNSTORABLE = [
    (float("nan"), ValueError),
    (float("inf"), ValueError),
    (datetime(2014, 5, 4, 8, 30), TypeError),
    (Decimal("1.5"), TypeError),
    (b"bytes", TypeError),
]


@pytest.mark.parametrize(("value", "error"), [*UNSTORABLE, (10**400, OverflowError)])
def test_a_value_that_cannot_be_stored_exactly_is_refused(
    store: Store, value: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        store.record_submission(record("v", values=(ValueRow("I01", value),)), "run")  # type: ignore[arg-type]
    assert count(store, "submissions") == 0


@pytest.mark.parametrize(("value", "error"), UNSTORABLE)
def test_a_ledger_cell_that_cannot_be_stored_exactly_is_refused(
    store: Store, value: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        store.record_submission(
            record("l", ledger_rows=(LedgerRow("台账", 1, {"列": value}),)), "run"
        )
    assert count(store, "submissions") == 0


def test_submission_shas(store: Store) -> None:
    assert store.submission_shas() == set()
    store.record_submission(record("a"), "r")
    store.record_submission(record("b", state="rejected"), "r")
    assert store.submission_shas() == {"a", "b"}


def test_same_sha_twice_is_one_row(store: Store) -> None:
    first = store.record_submission(record("same"), "run-1")
    again = store.record_submission(record("same", original_name="改名了.xlsx"), "run-2")
    assert again == first
    assert count(store, "submissions") == 1
    assert rows(store, "SELECT original_name FROM submissions") == [("same.xlsx",)]
    assert [e.action for e in store.audit_entries()] == ["accepted"]
    assert store.audit_entries("run-2") == []


def test_period_is_stored_canonical(store: Store) -> None:
    info = store.record_submission(record("p", period="2014-5"), "run")
    assert info.period == "2014-05"


# ---- supersede rule


def states(store: Store) -> dict[str, tuple[str, str | None]]:
    by_id = {r[0]: r[1] for r in rows(store, "SELECT id, sha256 FROM submissions")}
    return {
        sha: (state, by_id.get(sup))
        for sha, state, sup in rows(store, "SELECT sha256, state, superseded_by FROM submissions")
    }


def test_newer_accepted_supersedes_older(store: Store) -> None:
    old = store.record_submission(record("old", received_at=T0), "run-1")
    new = store.record_submission(record("new", received_at=T0 + timedelta(days=1)), "run-2")
    assert new.state == "accepted"
    assert states(store) == {"old": ("superseded", "new"), "new": ("accepted", None)}
    assert store.current_submission("U01", "2014-05") == new
    entries = store.audit_entries("run-2")
    assert [(e.action, e.sha256) for e in entries] == [("accepted", "new"), ("superseded", "old")]
    assert "old.xlsx" in entries[1].detail and "new.xlsx" in entries[1].detail
    assert store.submission(old.id).superseded_by == new.id  # type: ignore[union-attr]


def test_older_file_recorded_after_newer_is_superseded_at_once(store: Store) -> None:
    store.record_submission(record("new", received_at=T0 + timedelta(hours=2)), "run-1")
    late_arrival = store.record_submission(record("old", received_at=T0), "run-2")
    assert late_arrival.state == "superseded"
    assert states(store) == {"new": ("accepted", None), "old": ("superseded", "new")}
    assert store.current_submission("U01", "2014-05").sha256 == "new"  # type: ignore[union-attr]


def test_the_returned_info_is_what_was_stored(store: Store) -> None:
    beijing = timezone(timedelta(hours=8))
    records = [
        record("a", period="2014-5", original_path=Path("inbox") / "a.xlsx"),
        record("b", received_at=T0 - timedelta(days=1)),  # superseded at once by "a"
        record("c", state="rejected", late=True, days_late=3),
        record("d", unit_code=None, period=None, archive_path=None, kind="unknown"),
        record("e", received_at=datetime(2014, 6, 3, 18, tzinfo=beijing)),
        record("f", kind="inspection"),
    ]
    for rec in records:
        info = store.record_submission(rec, "run")
        assert info == store.submission(info.id), rec.sha256
    assert store.submission_by_sha("b").state == "superseded"  # type: ignore[union-attr]


def test_supersede_compares_instants_across_utc_offsets(store: Store) -> None:
    beijing = timezone(timedelta(hours=8))
    store.record_submission(record("bj", received_at=datetime(2014, 6, 3, 10, tzinfo=beijing)), "r")
    store.record_submission(record("utc", received_at=datetime(2014, 6, 3, 3, tzinfo=UTC)), "r")
    # 03:00Z is later than 10:00+08:00 (= 02:00Z) although "03" sorts before "10" as text.
    assert states(store) == {"bj": ("superseded", "utc"), "utc": ("accepted", None)}


def test_equal_received_at_highest_id_wins(store: Store) -> None:
    store.record_submission(record("a"), "r")
    store.record_submission(record("b"), "r")
    assert states(store) == {"a": ("superseded", "b"), "b": ("accepted", None)}


def test_rejected_never_supersedes_and_slots_are_independent(store: Store) -> None:
    store.record_submission(record("ok", received_at=T0), "r")
    bad = store.record_submission(
        record(
            "bad",
            received_at=T0 + timedelta(days=1),
            state="rejected",
            findings=(
                Finding("bad-number", Severity.ERROR, "数值无法识别", "月报数据", cell="D5"),
            ),
        ),
        "r",
    )
    store.record_submission(
        record("june", period="2014-06", received_at=T0 + timedelta(days=2)), "r"
    )
    store.record_submission(
        record("other-unit", unit_code="U02", received_at=T0 + timedelta(3)), "r"
    )
    store.record_submission(record("insp", kind="inspection", received_at=T0 + timedelta(4)), "r")
    store.record_submission(record("anon", unit_code=None, period=None), "r")
    assert bad.state == "rejected"
    assert {sha: s for sha, (s, _) in states(store).items()} == {
        "ok": "accepted",
        "bad": "rejected",
        "june": "accepted",
        "other-unit": "accepted",
        "insp": "accepted",
        "anon": "accepted",
    }
    assert store.current_submission("U01", "2014-05").sha256 == "ok"  # type: ignore[union-attr]
    assert store.current_submission("U01", "2014-05", kind="inspection").sha256 == "insp"  # type: ignore[union-attr]
    assert store.current_submission("U03", "2014-05") is None
    assert [s.sha256 for s in store.submissions(period="2014-05", states=["rejected"])] == ["bad"]
    assert [s.sha256 for s in store.submissions(kind="inspection")] == ["insp"]
    assert store.submissions(states=[]) == []
    assert len(store.submissions()) == 6


def test_latest_accepted_before(store: Store) -> None:
    store.record_submission(record("mar", period="2014-03"), "r")
    store.record_submission(record("apr-old", period="2014-04", received_at=T0), "r")
    store.record_submission(record("apr", period="2014-04", received_at=T0 + timedelta(1)), "r")
    store.record_submission(
        record("apr-rejected", period="2014-04", state="rejected", received_at=T0 + timedelta(2)),
        "r",
    )
    store.record_submission(record("may", period="2014-05"), "r")
    store.record_submission(record("u2", unit_code="U02", period="2014-04"), "r")

    def before(period: str) -> str | None:
        info = store.latest_accepted_before("U01", period)
        return None if info is None else info.sha256

    assert before("2014-05") == "apr"
    assert before("2014-06") == "may"
    assert before("2014-04") == "mar"
    assert before("2014-03") is None
    assert store.latest_accepted_before("U02", "2014-12").sha256 == "u2"  # type: ignore[union-attr]
    assert store.latest_accepted_before("U01", "2014-05", kind="inspection") is None


# ---- transactions


def test_failure_midway_leaves_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.record_submission(record("old", received_at=T0), "r")

    def boom(self: Store, sub_id: int, rec: SubmissionRecord) -> None:
        assert self.has_submission(rec.sha256)  # the submission row is already in
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Store, "_insert_details", boom)
    with pytest.raises(RuntimeError):
        store.record_submission(full_record(), "r2")
    monkeypatch.undo()

    assert not store.has_submission("full")
    assert states(store) == {"old": ("accepted", None)}
    for table in ("findings", "submission_values", "activity_records", "ledger_rows"):
        assert count(store, table) == 0, table
    assert store.audit_entries("r2") == []
    assert store.integrity_check() == []
    assert not store._conn.in_transaction


def test_failing_insert_after_supersede_rolls_back_the_supersede(store: Store) -> None:
    store.record_submission(record("old", received_at=T0), "r")
    dup = (ValueRow("I01", 1), ValueRow("I01", 2))  # same indicator twice: PK violation
    with pytest.raises(sqlite3.IntegrityError):
        store.record_submission(record("new", received_at=T0 + timedelta(1), values=dup), "r2")
    assert states(store) == {"old": ("accepted", None)}
    assert count(store, "submission_values") == 0
    assert store.audit_entries("r2") == []
    assert store.integrity_check() == []


def test_nested_transaction_rolls_back_only_the_inner_block(store: Store) -> None:
    with store.transaction():
        store.record_submission(record("kept"), "r")
        with pytest.raises(RuntimeError), store.transaction():
            store.record_submission(record("dropped", unit_code="U02"), "r")
            raise RuntimeError
        store.audit("skipped", "r", path="inbox/readme.txt", detail="不是 Excel 文件")
    assert states(store) == {"kept": ("accepted", None)}
    assert [e.action for e in store.audit_entries("r")] == ["accepted", "skipped"]
    skipped = store.audit_entries("r")[1]
    assert (skipped.path, skipped.sha256, skipped.detail) == (
        "inbox/readme.txt",
        None,
        "不是 Excel 文件",
    )


def committed(path: Path) -> list[str]:
    """The shas another connection sees: only what was committed."""
    with Store.open(path) as other:
        return sorted(other.submission_shas())


def test_a_commit_group_commits_every_n_pieces_and_the_rest_at_the_end(store: Store) -> None:
    with store.commit_group(2, 3600.0) as group:
        for sha in ("a", "b", "c"):
            store.record_submission(record(sha, unit_code=f"U-{sha}"), "r")
            group.completed()
            assert store.has_submission(sha)  # this connection sees its own writes at once
        assert committed(store.path) == ["a", "b"]  # c waits for its group
        store.audit("skipped", "r", path="inbox/x.txt", detail="不是 Excel 文件")
        group.completed()
        assert committed(store.path) == ["a", "b", "c"]
        store.record_submission(record("d", unit_code="U-d"), "r")
        group.completed()
        assert committed(store.path) == ["a", "b", "c"]
    assert committed(store.path) == ["a", "b", "c", "d"]
    assert not store._conn.in_transaction
    actions = [e.action for e in store.audit_entries("r")]
    assert actions == ["accepted", "accepted", "accepted", "skipped", "accepted"]


def test_a_commit_group_commits_once_its_oldest_piece_waited_long_enough(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import reporting.store as store_mod

    clock = [100.0]
    monkeypatch.setattr(store_mod, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    with store.commit_group(1000, 2.0) as group:
        store.record_submission(record("a"), "r")
        group.completed()  # the oldest uncommitted piece: the clock starts
        clock[0] = 101.9
        store.record_submission(record("b", unit_code="U02"), "r")
        group.completed()
        assert committed(store.path) == []
        clock[0] = 102.0
        store.record_submission(record("c", unit_code="U03"), "r")
        group.completed()  # two seconds after "a": all three go
        assert committed(store.path) == ["a", "b", "c"]
        clock[0] = 103.0
        store.record_submission(record("d", unit_code="U04"), "r")
        group.completed()  # the clock starts again with "d"
        assert committed(store.path) == ["a", "b", "c"]


def test_a_failure_in_a_commit_group_loses_only_the_uncommitted_pieces(store: Store) -> None:
    with pytest.raises(KeyboardInterrupt), store.commit_group(2, 3600.0) as group:
        for sha in ("a", "b", "c"):
            store.record_submission(record(sha, unit_code=f"U-{sha}"), "r")
            group.completed()
        raise KeyboardInterrupt
    assert committed(store.path) == ["a", "b"]
    assert sorted(store.submission_shas()) == ["a", "b"]  # c rolled back, not half-stored
    assert not store._conn.in_transaction
    assert store.integrity_check() == []


def test_a_transaction_failing_in_a_commit_group_rolls_back_the_group_and_ends_it(
    store: Store,
) -> None:
    dup = (ValueRow("I01", 1), ValueRow("I01", 2))  # same indicator twice: PK violation
    failed = pytest.raises(RuntimeError, match="failed inside a commit group")
    with failed, store.commit_group(10, 3600.0) as group:
        store.record_submission(record("a"), "r")
        group.completed()
        with pytest.raises(sqlite3.IntegrityError):
            store.record_submission(record("b", unit_code="U02", values=dup), "r")
        # "a" went with it: no savepoints. Caught and carried on, the group refuses to go
        # on, and leaving it says so.
        with pytest.raises(RuntimeError, match="end it first"):
            store.record_submission(record("c", unit_code="U03"), "r")
    assert store.submission_shas() == set()
    assert count(store, "submission_values") == 0
    assert not store._conn.in_transaction
    store.record_submission(record("d"), "r")  # the store itself carries on
    assert committed(store.path) == ["d"]


def test_commit_groups_do_not_nest(store: Store) -> None:
    with store.commit_group(2, 1.0), pytest.raises(RuntimeError), store.commit_group(2, 1.0):
        pass
    with store.transaction(), pytest.raises(RuntimeError), store.commit_group(2, 1.0):
        pass


def test_integrity_check_reports_broken_foreign_keys(store: Store) -> None:
    store._conn.execute("PRAGMA foreign_keys=OFF")
    store._conn.execute(
        "INSERT INTO findings VALUES (999, 1, 'x', 'error', NULL, NULL, NULL, NULL, NULL, 'm')"
    )
    assert any("findings" in p for p in store.integrity_check())


# ---- run lock


def test_lock_conflicts_within_one_process_and_is_released(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    with Store.open(path) as a, Store.open(path) as b:
        with a.lock() as lock_path:
            assert lock_path == tmp_path / "store.sqlite.lock"
            with pytest.raises(StoreLocked) as err, b.lock():
                pass
            message = str(err.value)
            assert "另一个 collect 正在运行" in message and str(lock_path) in message
            with pytest.raises(StoreLocked), a.lock():  # not re-entrant either
                pass
        with b.lock():  # released when the block ends
            pass


def test_lock_conflicts_across_processes(store: Store) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from reporting.store import Store, StoreLocked\n"
        "s = Store.open(Path(sys.argv[1]))\n"
        "try:\n"
        "    with s.lock():\n"
        "        sys.exit(0)\n"
        "except StoreLocked as exc:\n"
        "    sys.stderr.write(str(exc))\n"
        "    sys.exit(3)\n"
    )
    cmd = [sys.executable, "-c", script, str(store.path)]
    with store.lock():
        held = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert held.returncode == 3, held.stderr
    assert "另一个 collect 正在运行" in held.stderr
    free = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert free.returncode == 0, free.stderr


# ---- batch queries


def test_batch_queries_over_many_ids_use_few_statements(store: Store) -> None:
    n = 1200
    with store.transaction():  # one commit for the lot; each record is a savepoint
        infos = [
            store.record_submission(
                record(
                    f"s{i}",
                    unit_code=f"U{i:05d}",
                    values=(ValueRow("I01", i), ValueRow("I02", f"单位{i}")),
                    activities=(
                        ActivityRow("A01", "已完成", 1, date(2014, 5, 1), i, None, None, None),
                    ),
                    ledger_rows=(LedgerRow("整改台账", 1, {"时限": date(2014, 6, 30), "号": i}),),
                    findings=(Finding("late", Severity.WARNING, f"逾期{i}"),),
                ),
                "bulk",
            )
            for i in range(n)
        ]
    ids = [info.id for info in infos] + [10**9]  # an unknown id is a key with nothing in it

    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    values = store.values_for(ids)
    activities = store.activities_for(ids)
    ledgers = store.ledger_rows_for(ids)
    findings = store.findings_for_many(ids)
    store._conn.set_trace_callback(None)
    assert len(statements) == 4 * 3  # 1201 ids in chunks of 500, no query per id

    assert len(values) == len(activities) == len(ledgers) == len(findings) == n + 1
    assert values[10**9] == {} and activities[10**9] == [] and ledgers[10**9] == []
    for i, info in enumerate(infos):
        assert values[info.id] == {"I01": float(i), "I02": f"单位{i}"}
        assert activities[info.id][0].participants == i
        assert ledgers[info.id][0].data == {"时限": date(2014, 6, 30), "号": i}
        assert findings[info.id][0].message == f"逾期{i}"
    assert count(store, "submissions") == n
    assert len(store.submissions(period="2014-05", kind="unit", states=["accepted"])) == n


def test_a_recheck_replaces_only_the_rejection_it_names(store: Store) -> None:
    """record_submission(replacing=id) swaps a stored rejection of the same bytes for the new
    verdict, with everything stored for it; an accepted row, or another id, is left alone."""
    store.save_plan_version("pv1", "camp", "八个一", "{}")
    off = record(
        "again",
        state="rejected",
        findings=(Finding("unknown-unit", Severity.ERROR, "单位编码不在名单中"),),
    )
    old = store.record_submission(off, "run1")
    assert store.record_submission(record("again"), "run2", replacing=old.id + 1) == old
    assert store.submission_by_sha("again") == old  # another id: nothing replaced
    revision = store.revision()

    new = store.record_submission(record("again"), "run2", replacing=old.id)
    assert (new.state, new.sha256) == ("accepted", "again") and new.id > old.id
    assert [s.id for s in store.submissions()] == [new.id]
    assert store.findings_for_many([old.id]) == {old.id: []}  # its findings went with it
    assert store.revision() != revision
    actions = [e.action for e in store.audit_entries() if e.sha256 == "again"]
    assert actions == ["rejected", "rechecked", "accepted"]

    # an accepted row is never replaced
    assert store.record_submission(off, "run3", replacing=new.id) == new
    assert [s.state for s in store.submissions()] == ["accepted"]
