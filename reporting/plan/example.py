"""The built-in example plan, after seed 000: the Zhejiang health and family planning
commission's April 2014 campaign to learn from the 上柏住院部 medical team ("八个一")."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

from reporting.fsutil import atomic_write_bytes
from reporting.plan import schema

Sheets = dict[str, list[list[Any]]]

SETTINGS_ROWS = [
    ["方案名称", "全省卫生计生系统向省皮肤病防治研究所上柏住院部医疗队学习活动"],
    ["发文机关", "中共浙江省卫生和计划生育委员会党组"],
    ["发文字号", "浙卫党发〔2014〕12号"],
    ["年度", 2014],
    ["报送周期", 1],
    ["报送截止日", 5],
    ["联系人", "委机关党委 陈明"],
    ["联系电话", "0571-87709016"],
    ["等级划分", "优秀>=90;良好>=80;合格>=60;不合格<60"],
    ["保护密码", ""],
]

PHASE_ROWS = [
    ["P1", "宣传发动", date(2014, 4, 10), date(2014, 4, 30)],
    ["P2", "学习讨论", date(2014, 5, 1), date(2014, 6, 30)],
    ["P3", "分析检查", date(2014, 7, 1), date(2014, 8, 31)],
    ["P4", "整改落实", date(2014, 9, 1), date(2014, 10, 31)],
    ["P5", "总结表彰", date(2014, 11, 1), date(2014, 12, 31)],
]

CITY = "市县卫生计生局"
HOSPITAL = "省级医疗卫生单位"
DIRECT = "委直属单位"

# code, name, category, region, headcount, contact, phone
UNIT_ROWS = [
    ["SX01", "杭州市卫生计生委", CITY, "杭州市", 126, "周建华", "0571-85252101"],
    ["SX02", "宁波市卫生计生委", CITY, "宁波市", 118, "郑丽萍", "0574-87361102"],
    ["SX03", "温州市卫生计生委", CITY, "温州市", 104, "林志强", "0577-88962103"],
    ["SX04", "嘉兴市卫生局", CITY, "嘉兴市", 86, "沈晓燕", "0573-82091104"],
    ["SX05", "湖州市卫生局", CITY, "湖州市", 78, "钱国平", "0572-22301105"],
    ["SX06", "绍兴市卫生计生委", CITY, "绍兴市", 92, "孙伟民", "0575-85121106"],
    ["SX07", "金华市卫生计生委", CITY, "金华市", 95, "吴海英", "0579-82461107"],
    ["SX08", "衢州市卫生计生委", CITY, "衢州市", 64, "徐立新", "0570-30251108"],
    ["SX09", "舟山市卫生局", CITY, "舟山市", 58, "胡海波", "0580-20351109"],
    ["SX10", "台州市卫生局", CITY, "台州市", 88, "陈素芬", "0576-88521110"],
    ["SX11", "丽水市卫生局", CITY, "丽水市", 61, "叶建军", "0578-21321111"],
    ["SX12", "杭州市余杭区卫生计生局", CITY, "杭州市", 47, "王卫东", "0571-86221112"],
    ["SX13", "慈溪市卫生局", CITY, "宁波市", 42, "张美娟", "0574-63921113"],
    ["SX14", "乐清市卫生局", CITY, "温州市", 39, "黄晓东", "0577-62521114"],
    ["SX15", "义乌市卫生局", CITY, "金华市", 44, "楼红梅", "0579-85521115"],
    ["SX16", "诸暨市卫生局", CITY, "绍兴市", 41, "何国庆", "0575-87021116"],
    ["SX17", "临海市卫生局", CITY, "台州市", 36, "潘晓丽", "0576-85311117"],
    ["SX18", "德清县卫生局", CITY, "湖州市", 33, "姚建明", "0572-84221118"],
    ["YL01", "浙江大学医学院附属第一医院", HOSPITAL, "杭州市", 5860, "方晓东", "0571-87236201"],
    ["YL02", "浙江大学医学院附属第二医院", HOSPITAL, "杭州市", 5320, "蒋慧芳", "0571-87783202"],
    ["YL03", "浙江大学医学院附属邵逸夫医院", HOSPITAL, "杭州市", 3610, "俞志刚", "0571-86006203"],
    ["YL04", "浙江省人民医院", HOSPITAL, "杭州市", 4120, "马丽君", "0571-85893204"],
    ["YL05", "浙江省中医院", HOSPITAL, "杭州市", 2480, "朱文斌", "0571-87068205"],
    ["YL06", "浙江省肿瘤医院", HOSPITAL, "杭州市", 2150, "邵红霞", "0571-88122206"],
    ["YL07", "浙江医院", HOSPITAL, "杭州市", 1870, "汪建平", "0571-87987207"],
    ["YL08", "浙江省皮肤病防治研究所", HOSPITAL, "湖州市", 186, "董海燕", "0572-84416208"],
    ["YL09", "温州医科大学附属第一医院", HOSPITAL, "温州市", 4460, "章伟", "0577-55579209"],
    ["YL10", "浙江省疾病预防控制中心", HOSPITAL, "杭州市", 620, "沈卫国", "0571-87115210"],
    ["ZS01", "浙江省卫生监督所", DIRECT, "杭州市", 148, "李晓峰", "0571-87069301"],
    ["ZS02", "浙江省医学科学院", DIRECT, "杭州市", 412, "赵敏", "0571-88215302"],
    ["ZS03", "浙江省卫生信息中心", DIRECT, "杭州市", 76, "许丹", "0571-87709303"],
    ["ZS04", "浙江省医疗服务管理评价中心", DIRECT, "杭州市", 54, "冯国强", "0571-87709304"],
    ["ZS05", "浙江省血液中心", DIRECT, "杭州市", 268, "曹秀兰", "0571-85175305"],
    ["ZS06", "浙江省卫生计生宣传教育中心", DIRECT, "杭州市", 62, "袁杰", "0571-87709306"],
]

# code, name, phase, categories, min count, deadline, evidence, points
ACTIVITY_ROWS = [
    ["A01", "举行一次专题学习会", "P1", "", 1, date(2014, 4, 30), "会议记录、照片、签到表", 1],
    ["A02", "召开一次学习动员部署会", "P1", "", 1, date(2014, 4, 30), "会议通知、讲话稿、照片", 1],
    [
        "A03",
        "组织一次先进事迹报告会",
        "P2",
        "",
        1,
        date(2014, 6, 30),
        "会议通知、参会名单、照片",
        1,
    ],
    ["A04", "召开一次专题座谈会", "P2", "", 1, date(2014, 6, 30), "会议记录、发言材料、照片", 1],
    [
        "A05",
        "举办一次演讲比赛选拔赛",
        "P3",
        f"{CITY}、{HOSPITAL}",
        1,
        date(2014, 8, 31),
        "比赛方案、获奖名单、照片",
        1,
    ],
    ["A06", "开辟一批学习园地", "P2", "", 1, date(2014, 5, 31), "园地照片、网站专栏截图", 1],
    [
        "A07",
        "开展“学先进、见行动、争优秀”活动",
        "P4",
        "",
        2,
        date(2014, 10, 31),
        "活动方案、活动记录、照片",
        1,
    ],
    [
        "A08",
        "进行一次督促检查",
        "P2",
        CITY,
        1,
        date(2014, 6, 30),
        "检查通知、检查记录、反馈意见",
        1,
    ],
]

# code, name, measure, type, min, max, required, aggregation, rule
INDICATOR_ROWS = [
    ["B01", "参加学习人数", "人", "整数", 0, None, "是", "求和", "<= 职工人数"],
    ["B02", "撰写心得体会篇数", "篇", "整数", 0, None, "是", "求和", "<= [B01] * 2"],
    ["B03", "开展宣传报道次数", "次", "整数", 0, 500, "是", "求和", ""],
    ["B04", "学习园地（专栏）数量", "个", "整数", 0, 100, "否", "求和", ""],
    ["B05", "志愿服务人次", "人次", "整数", 0, None, "否", "求和", "<= 职工人数 * 10"],
    ["B06", "服务对象满意度", "%", "小数", 0, 100, "是", "平均", ""],
    ["B07", "是否开设网站学习专栏", "", "是否", None, None, "是", "计数", ""],
    ["B08", "最近一次集中学习日期", "", "日期", None, None, "否", "计数", ""],
    ["B09", "本月好做法好经验", "", "文本", None, 500, "否", "计数", ""],
]

# ledger, column, type, required, options, max length, role, done value
LEDGER_ROWS = [
    ["整改台账", "问题描述", "文本", "是", "", 200, "", ""],
    ["整改台账", "整改措施", "文本", "是", "", 300, "", ""],
    ["整改台账", "整改时限", "日期", "是", "", None, "时限", ""],
    ["整改台账", "责任领导", "文本", "是", "", 20, "", ""],
    ["整改台账", "责任人", "文本", "是", "", 20, "", ""],
    ["整改台账", "整改状态", "选项", "是", "未启动、整改中、已完成", None, "状态", "已完成"],
    ["整改台账", "完成日期", "日期", "否", "", None, "完成日期", ""],
    ["典型推荐", "推荐类型", "选项", "是", "先锋示范岗、先进集体、先进个人", None, "", ""],
    ["典型推荐", "名称", "文本", "是", "", 50, "", ""],
    ["典型推荐", "所在科室", "文本", "否", "", 30, "", ""],
    ["典型推荐", "主要事迹", "文本", "是", "", 500, "", ""],
    ["典型推荐", "联系电话", "文本", "否", "", 20, "", ""],
]

RUBRIC_ROWS = [
    [
        "K01",
        "规定动作",
        "“八个一”规定动作按时完成情况，按到期动作的完成比例得分",
        40,
        "自动",
        "动作完成率",
    ],
    [
        "K02",
        "按时报送",
        "月报按时报送情况，按已到期各期中按时报送的比例得分",
        10,
        "自动",
        "按时报送率",
    ],
    [
        "K03",
        "整改落实",
        "整改台账完成情况，按已完成整改项目的比例得分",
        15,
        "自动",
        "台账完成率(整改台账)",
    ],
    [
        "K04",
        "心得体会",
        "人均撰写心得体会不少于1篇，达标得满分，未达标按比例得分",
        10,
        "自动",
        "指标达标([B02] / 职工人数 >= 1)",
    ],
    ["K05", "组织领导", "领导重视，方案具体，责任落实，领导干部带头参加学习", 10, "现场", ""],
    ["K06", "氛围营造", "学习园地、网站专栏、宣传报道等学习氛围浓厚", 10, "现场", ""],
    ["K07", "群众评价", "服务对象评价良好，明察暗访未发现问题", 5, "现场", ""],
]


def example_sheets() -> Sheets:
    """The example plan as plain rows (row 0 is the header): the pure form of ``plan.xlsx``."""
    bodies = {
        schema.SETTINGS.name: SETTINGS_ROWS,
        schema.PHASES.name: PHASE_ROWS,
        schema.UNITS.name: UNIT_ROWS,
        schema.ACTIVITIES.name: ACTIVITY_ROWS,
        schema.INDICATORS.name: INDICATOR_ROWS,
        schema.LEDGERS.name: LEDGER_ROWS,
        schema.RUBRIC.name: RUBRIC_ROWS,
    }
    return {
        spec.name: [spec.column_names()] + [list(r) for r in bodies[spec.name]]
        for spec in schema.ALL_SHEETS
    }


# Dropdowns offered to the bureau while editing the plan (column name → allowed values).
_PLAN_LISTS = {
    (schema.INDICATORS.name, "类型"): ["整数", "小数", "文本", "日期", "是否"],
    (schema.INDICATORS.name, "必填"): ["是", "否"],
    (schema.INDICATORS.name, "汇总方式"): ["求和", "平均", "最大", "最小", "计数"],
    (schema.LEDGERS.name, "类型"): ["文本", "整数", "小数", "日期", "选项"],
    (schema.LEDGERS.name, "必填"): ["是", "否"],
    (schema.LEDGERS.name, "用途"): ["状态", "时限", "完成日期"],
    (schema.RUBRIC.name, "方式"): ["自动", "现场"],
}


def plan_workbook_bytes(sheets: Sheets) -> bytes:
    """Render plan rows as a workbook the bureau can edit comfortably in Excel or WPS."""
    import xlsxwriter

    buf = io.BytesIO()
    from reporting.xlsx import SAFE_OPTIONS

    wb = xlsxwriter.Workbook(buf, SAFE_OPTIONS)
    head = wb.add_format(
        {
            "bold": True,
            "bg_color": "#DDEBF7",
            "border": 1,
            "text_wrap": True,
            "valign": "vcenter",
            "font_name": "宋体",
        }
    )
    cell = wb.add_format({"border": 1, "text_wrap": True, "valign": "top", "font_name": "宋体"})
    day = wb.add_format(
        {"border": 1, "num_format": "yyyy-mm-dd", "valign": "top", "font_name": "宋体"}
    )
    specs = {s.name: s for s in schema.ALL_SHEETS}
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        spec = specs.get(name)
        helps = {c.name: c.help for c in spec.columns} if spec else {}
        header = rows[0] if rows else []
        for c, title in enumerate(header):
            ws.write_string(0, c, str(title), head)
            if helps.get(str(title)):
                ws.write_comment(0, c, helps[str(title)], {"x_scale": 2, "y_scale": 1.2})
            width = max(8, min(48, max(_width(r[c]) if c < len(r) else 0 for r in rows) + 2))
            ws.set_column(c, c, width)
        for r, values in enumerate(rows[1:], start=1):
            for c, value in enumerate(values):
                if value is None or value == "":
                    ws.write_blank(r, c, None, cell)
                elif isinstance(value, date):
                    ws.write_datetime(r, c, value, day)  # type: ignore[arg-type]
                elif isinstance(value, int | float):
                    ws.write_number(r, c, value, cell)
                else:
                    ws.write_string(r, c, str(value), cell)
        for c, title in enumerate(header):
            options = _PLAN_LISTS.get((name, str(title)))
            if options:
                ws.data_validation(
                    1, c, 500, c, {"validate": "list", "source": options, "error_type": "warning"}
                )
        ws.freeze_panes(1, 0)
        if name == schema.SETTINGS.name:
            ws.set_column(1, 1, 60)
    wb.close()
    return buf.getvalue()


def _width(value: Any) -> int:
    if isinstance(value, date):
        return 10
    s = str(value if value is not None else "")
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s)


def write_plan(path: Path, sheets: Sheets) -> None:
    atomic_write_bytes(path, plan_workbook_bytes(sheets))


def write_example_plan(path: Path) -> None:
    write_plan(path, example_sheets())
