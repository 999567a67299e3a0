"""The plan workbook's sheets and columns: one table used by the loader, the example writer and
the generated documentation (docs/plan.md), so the three cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    required: bool  # the column must exist
    help: str  # Chinese description, used as a header comment and in docs/plan.md


@dataclass(frozen=True)
class SheetSpec:
    name: str
    help: str
    columns: tuple[Column, ...]

    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


SETTINGS = SheetSpec(
    "方案",
    "方案的基本设置，两列：项目、内容。",
    (
        Column("项目", True, "设置项名称，见下表"),
        Column("内容", True, "设置项的值"),
    ),
)

# Items of the 方案 sheet: (name, required, help)
SETTING_ITEMS: tuple[tuple[str, bool, str], ...] = (
    ("方案名称", True, "活动或方案的名称，出现在报表、通报的标题中"),
    ("发文机关", True, "印发方案的机关，如“中共浙江省卫生和计划生育委员会党组”"),
    ("发文字号", True, "如“浙卫党发〔2014〕12号”，通报中照此书写"),
    ("年度", True, "四位年份；阶段、时限和表单中的日期都限制在该年度内"),
    ("报送周期", True, "每几个月报送一次，目前支持 1（按月报送）"),
    ("报送截止日", True, "每期次月的第几日为报送截止日，1–31，超出当月天数按月末计"),
    ("联系人", True, "局办公室联系人，印在表单填报说明中"),
    ("联系电话", True, "联系人电话"),
    ("等级划分", True, "如“优秀>=90;良好>=80;合格>=60;不合格<60”，从左到右取第一个满足的等级"),
    ("保护密码", False, "表单工作表保护密码；留空则不设密码（仍然保护）"),
)

PHASES = SheetSpec(
    "阶段",
    "活动阶段，每行一个，时间不得重叠，须在年度内。",
    (
        Column("编号", True, "阶段编号，如 P1，唯一"),
        Column("名称", True, "如 宣传发动"),
        Column("开始日期", True, "日期"),
        Column("结束日期", True, "日期，不早于开始日期"),
    ),
)

UNITS = SheetSpec(
    "单位",
    "参加活动的下属单位名单，每行一个单位。",
    (
        Column(
            "单位编码",
            True,
            "唯一编码，印在表单上，用于识别回收的文件。表单、退回修改表等按“编码_名称”命名"
            "（文件名不能用的字符换成 _，不分大小写），两个单位得到同一个文件名时方案不能通过；"
            "编码最好只用字母、数字和“-”",
        ),
        Column("单位名称", True, "单位全称，唯一"),
        Column("单位类别", True, "如 市县卫生计生局、省级医疗卫生单位、委直属单位"),
        Column("所属地区", True, "如 杭州市；用于按地区汇总"),
        Column("职工人数", True, "正整数；用于人均指标和“不超过职工人数”类规则"),
        Column("联系人", True, "单位联系人，用于催报名单"),
        Column("联系电话", True, "单位联系电话"),
    ),
)

ACTIVITIES = SheetSpec(
    "规定动作",
    "各单位必须完成的规定动作，每行一项。",
    (
        Column("编号", True, "如 A01，唯一"),
        Column("名称", True, "如 专题学习会"),
        Column("阶段", True, "所属阶段的编号或名称"),
        Column("适用类别", True, "留空表示所有类别；多个类别用“、”分隔"),
        Column("最少次数", True, "正整数，留空按 1 次"),
        Column("完成时限", True, "日期；过了时限仍未报完成即为逾期"),
        Column("佐证材料", True, "如 会议记录、照片、签到表"),
        Column("分值", True, "该项在动作完成率中的权重，留空按 1"),
    ),
)

INDICATORS = SheetSpec(
    "月报指标",
    "各单位每期报送的指标，每行一项。",
    (
        Column("编号", True, "如 B01，唯一；规则中写作 [B01]"),
        Column("名称", True, "如 参加学习人数"),
        Column("计量单位", True, "如 人、篇、次、%"),
        Column("类型", True, "整数、小数、文本、日期、是否 之一"),
        Column("最小值", True, "数值型的下限，可留空；文本型不填"),
        Column("最大值", True, "数值型的上限；文本型为最多字数；可留空"),
        Column("必填", True, "是 或 否"),
        Column("汇总方式", True, "求和、平均、最大、最小、计数 之一；文本、日期、是否 只能计数"),
        Column("校验规则", True, "跨项校验，如 <= 职工人数、<= [B01] * 2；多条用“;”分隔；可留空"),
    ),
)

LEDGERS = SheetSpec(
    "清单",
    "台账和推荐名单等清单的列定义，每行定义一个清单的一列，同一清单的行按列的先后排列。",
    (
        Column("清单名称", True, "如 整改台账、典型推荐；每个清单在表单中成为一个工作表"),
        Column("列名", True, "该列标题，同一清单内唯一"),
        Column("类型", True, "文本、整数、小数、日期、选项 之一"),
        Column("必填", True, "是 或 否；一行填了任何内容时，必填列不能为空"),
        Column("选项", True, "类型为“选项”时的可选值，用“、”分隔"),
        Column("最大长度", True, "文本最多字数，可留空"),
        Column("用途", False, "可留空；状态、时限、完成日期 之一，供汇总和考评判断完成与逾期"),
        Column("完成值", False, "用途为“状态”时，表示已完成的选项，如 已完成"),
    ),
)

RUBRIC = SheetSpec(
    "考评细则",
    "督导考评细则，分值合计须为 100。",
    (
        Column("编号", True, "如 K01，唯一"),
        Column("项目", True, "考评项目"),
        Column("内容", True, "考评内容和评分标准"),
        Column("分值", True, "正数；各项合计 100"),
        Column("方式", True, "自动（由报送数据计算）或 现场（督导组评分）"),
        Column("规则", True, "自动项的计算规则，见 docs/plan.md；现场项留空"),
    ),
)

ALL_SHEETS: tuple[SheetSpec, ...] = (
    SETTINGS,
    PHASES,
    UNITS,
    ACTIVITIES,
    INDICATORS,
    LEDGERS,
    RUBRIC,
)
