"""Reports: the GB/T 9704 notice, editable templates, and the self-contained dashboard."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from datetime import date
from pathlib import Path

import pytest
from docx import Document

from reporting.collate.facts import load_month
from reporting.reports.dashboard import dashboard_html
from reporting.reports.gbt9704 import bracket_number, chinese_date
from reporting.reports.notice import NoticeInfo, cn, notice_data, notice_docx
from reporting.reports.service import default_number
from reporting.reports.templates import TemplateError
from reporting.scoring.items import OnSite
from reporting.scoring.rank import rank_units
from tests.libreoffice import convert, needs_soffice
from tests.test_collate import MAY, Month, story

INFO = NoticeInfo(
    "浙卫党发[2014]15号", date(2014, 6, 10), ("排名表_2014-05.xlsx", "汇总表_2014-05.xlsx")
)


@pytest.fixture
def scored(tmp_path: Path):
    """The hand-checkable month of test_collate, with on-site scores for all but U5."""
    m = Month(tmp_path)
    story(m)
    month = load_month(m.store, m.plan, MAY)
    full = {"K05": 10, "K06": 10, "K07": 5}
    onsite = {}
    for code, less in (("U1", 0), ("U2", 3), ("U3", 1), ("U4", 3), ("U6", 6), ("U7", 9)):
        scores = {k: (float(v), None) for k, v in full.items()}
        scores["K05"] = (float(full["K05"] - less), "组织不力" if less else None)
        onsite[code] = OnSite(code, "王督导、李督导", date(2014, 6, 6), scores)
    ranking = rank_units(month, onsite, date(2014, 6, 9))
    yield m, month, ranking
    m.store.close()


def docx_of(month, ranking, workspace=None) -> Document:
    return Document(io.BytesIO(notice_docx(month, ranking, INFO, workspace)))


def test_page_size_margins_and_grid(scored):
    _, month, ranking = scored
    doc = docx_of(month, ranking)
    s = doc.sections[0]
    assert (round(s.page_width.mm), round(s.page_height.mm)) == (210, 297)
    assert [
        round(x.mm) for x in (s.top_margin, s.bottom_margin, s.left_margin, s.right_margin)
    ] == [37, 35, 28, 26]
    grid = s._sectPr.find("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}docGrid")
    assert (
        grid.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}linePitch") == "579"
    )


def styles_xml(month, ranking) -> str:
    data = notice_docx(month, ranking, INFO, None)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read("word/styles.xml").decode() + zf.read("word/document.xml").decode()


def test_fonts_are_set_for_chinese_text(scored):
    _, month, ranking = scored
    doc = docx_of(month, ranking)
    east = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia"
    fonts = {}
    for name in ("公文标题", "公文正文", "公文一级标题", "公文二级标题"):
        style = doc.styles[name]
        fonts[name] = (style.element.rPr.rFonts.get(east), style.font.size.pt)
    assert fonts == {
        "公文标题": ("方正小标宋简体", 22),
        "公文正文": ("仿宋_GB2312", 16),
        "公文一级标题": ("黑体", 16),
        "公文二级标题": ("楷体_GB2312", 16),
    }
    for p in doc.paragraphs:  # every run carries its Chinese font
        for run in p.runs:
            if run.text.strip():
                assert run._r.rPr.rFonts.get(east), run.text
    title = next(p for p in doc.paragraphs if p.style.name == "公文标题" and "通报" in p.text)
    assert title.style.paragraph_format.alignment == 1  # centred by its style


def test_headings_page_numbers_number_and_date(scored):
    _, month, ranking = scored
    doc = docx_of(month, ranking)
    h1 = [p.text for p in doc.paragraphs if p.style.name == "公文一级标题"]
    assert h1[0] == "一、总体情况" and all(re.match(r"^[一二三四五六七八九十]+、", t) for t in h1)
    h2 = [p.text for p in doc.paragraphs if p.style.name == "公文二级标题"]
    assert h2 and all(t.startswith("（") for t in h2)
    texts = [p.text for p in doc.paragraphs]
    assert "浙卫党发〔2014〕15号" in texts
    assert "2014年6月10日" in texts
    section = doc.sections[0]
    assert doc.settings.odd_and_even_pages_header_footer
    for footer, align in ((section.footer, 2), (section.even_page_footer, 0)):
        xml = footer._element.xml
        assert "PAGE" in xml and "— " in footer.paragraphs[0].text
        assert footer.paragraphs[0].alignment == align  # odd right, even left
        assert "宋体" in xml


def test_ranking_table_rows(scored):
    _, month, ranking = scored
    doc = docx_of(month, ranking)
    table = doc.tables[0]
    rows = [[c.text for c in r.cells] for r in table.rows]
    assert rows[0] == ["名次", "单位名称", "单位类别", "得分", "等级"]
    assert len(rows) == 1 + len(ranking.ranked) == 7  # U5 has no on-site score: pending
    assert rows[1][1] == ranking.ranked[0].unit.name and rows[1][0] == "1"
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "乙市人民医院的现场评分尚未完成" in text


def test_notice_content_from_the_store(scored):
    _, month, ranking = scored
    data = notice_data(month, ranking, INFO)
    assert data["o"]["reported"] == 5 and data["o"]["missing"] == 1
    assert data["problems"]["missing"] == ["乙市人民医院"]
    assert data["problems"]["rejected"] == ["丙市监督所"]
    assert data["problems"]["late"] == ["甲市人民医院"]
    assert {a["unit"] for a in data["problems"]["activities"]} == {
        "甲市人民医院",
        "乙市卫生局",
        "乙市人民医院",
        "丙市卫生局",
        "丙市监督所",
    }
    assert data["problems"]["ledger"] == [{"unit": "甲市人民医院", "count": 1}]
    assert "乙市人民医院" in data["criticism"]
    assert data["praise"][0] == ranking.ranked[0].unit.name


def test_bracket_number_date_and_numerals():
    assert bracket_number("浙卫发[2014]12号") == "浙卫发〔2014〕12号"
    assert bracket_number("浙卫发（2014）12号") == "浙卫发〔2014〕12号"
    assert chinese_date(date(2014, 6, 5)) == "2014年6月5日"
    assert [cn(n) for n in (1, 10, 11, 20, 23)] == ["一", "十", "十一", "二十", "二十三"]
    assert default_number("浙卫党发〔2014〕12号", 2014, 5) == "浙卫党发〔2014〕5号"


def test_bureau_can_edit_the_wording(scored, tmp_path):
    _, month, ranking = scored
    ws = tmp_path / "ws"
    (ws / "templates").mkdir(parents=True)
    (ws / "templates" / "notice.txt.j2").write_text(
        "标题：关于{{ period.label }}情况的通报\n# 一、总体情况\n共 {{ o.units }} 个单位。\n"
        "落款：{{ issuer }}\n",
        "utf-8",
    )
    doc = docx_of(month, ranking, ws)
    assert "共 7 个单位。" in [p.text for p in doc.paragraphs]


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("标题：{{ period.label \n", "第 1 行"),
        ("标题：通报\n# 一、情况\n{% for x in o %}\n{{ x }\n", "第 4 行"),
        ("标题：通报\n{{ no_such_thing.value }}\n", "no_such_thing"),
    ],
)
def test_broken_template_is_a_clear_chinese_error(scored, tmp_path, text, expect):
    _, month, ranking = scored
    ws = tmp_path / "ws"
    (ws / "templates").mkdir(parents=True)
    (ws / "templates" / "notice.txt.j2").write_text(text, "utf-8")
    with pytest.raises(TemplateError) as info:
        notice_docx(month, ranking, INFO, ws)
    assert "notice.txt.j2" in str(info.value) and expect in str(info.value)


def test_dashboard_is_self_contained_and_escapes_unit_text(scored):
    _, month, ranking = scored
    html = dashboard_html(month, ranking, None)
    assert not re.search(r"https?://", html)
    assert not re.search(r"<(link|img|iframe)\b|src=|@import|url\(", html)
    assert html.count("<svg") == 3 and "sortable" in html
    for unit in month.units:
        assert unit.unit.name in html


def test_unit_text_is_escaped_in_html_and_plain_in_word(tmp_path):
    m = Month(tmp_path)
    story(m)
    evil = '<script>alert(1)</script>=HYPERLINK("http://x")'
    m.rec(
        "U1",
        MAY,
        __import__("datetime").datetime(2014, 6, 4, 12),
        values={"B01": 80.0, "B09": evil},
    )
    month = load_month(m.store, m.plan, MAY)
    ranking = rank_units(month, {}, date(2014, 6, 9))
    html = dashboard_html(month, ranking, None)
    assert "<script>alert" not in html
    doc = docx_of(month, ranking)
    assert any(evil in p.text for p in doc.paragraphs)
    m.store.close()


@needs_soffice
def test_notice_renders_to_pdf(scored, tmp_path):
    _, month, ranking = scored
    path = tmp_path / "通报.docx"
    path.write_bytes(notice_docx(month, ranking, INFO, None))
    pdf = convert([path], "pdf", tmp_path / "pdf")[0]
    if not shutil.which("pdftotext"):
        assert pdf.stat().st_size > 10_000
        return
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = text.count("\f")
    assert 2 <= pages <= 8
    flat = re.sub(r"\s+", "", text)
    assert "督导检查情况的通报" in flat and "甲市卫生局" in flat and "—1—" in flat


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium 未安装")
def test_dashboard_renders_in_a_browser(scored, tmp_path):
    _, month, ranking = scored
    page = tmp_path / "dashboard.html"
    page.write_text(dashboard_html(month, ranking, None), "utf-8")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1000,1400",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert shot.is_file()
    # a blank white page of this size compresses to a few KB; ours has text, charts, tables
    assert shot.stat().st_size > 40_000


def test_long_ranking_shows_head_and_tail(scored):
    from dataclasses import replace

    from reporting.reports.notice import TABLE_HEAD, TABLE_TAIL

    _, month, ranking = scored
    many = ranking.ranked * 12  # 72 ranked rows
    big = replace(ranking, units=tuple(many))
    data = notice_data(month, big, INFO)
    rows = data["ranking_rows"]
    assert data["ranking_truncated"] and len(rows) == TABLE_HEAD + 1 + TABLE_TAIL
    assert rows[TABLE_HEAD][0] == "……"
    doc = docx_of(month, big)
    assert len(doc.tables[0].rows) == 1 + TABLE_HEAD + 1 + TABLE_TAIL
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "全部 72 个单位的排名见附件" in text


def test_the_notice_holds_text_xml_cannot():
    """Defence behind the plan loader (a plan snapshot stored earlier may still hold them):
    the notice drops the control characters XML forbids instead of failing."""
    from reporting.reports.gbt9704 import OfficialDocument

    doc = OfficialDocument()
    doc.paragraph("杭州市\x0b卫生计生委\x00")
    saved = Document(io.BytesIO(doc.save()))
    assert any(p.text == "杭州市卫生计生委" for p in saved.paragraphs)
