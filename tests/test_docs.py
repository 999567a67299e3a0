from __future__ import annotations

from pathlib import Path

from reporting.docs import render

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_generated_doc_blocks_are_current():
    stale = [
        p.name for p in DOCS.glob("*.md") if render(p.read_text("utf-8")) != p.read_text("utf-8")
    ]
    assert not stale, f"run python -m reporting.docs to refresh: {stale}"


def test_plan_doc_names_every_sheet():
    from reporting.plan.schema import ALL_SHEETS

    text = (DOCS / "plan.md").read_text("utf-8")
    for spec in ALL_SHEETS:
        assert f"### `{spec.name}`" in text
