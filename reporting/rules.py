"""A small, safe language for cross-field checks and scoring rules — never ``eval``.

Indicator rules (月报指标.校验规则) are comparisons over numbers, other indicators written as
``[B02]`` and unit attributes written by name (``职工人数``)::

    <= 职工人数                 # the indicator itself is the left side when omitted
    <= [B01] * 2
    [B03] + [B04] <= 职工人数; >= 0

Rubric rules (考评细则.规则) name a rule kind, optionally with an argument::

    动作完成率                  # share of due required activities done (honours 最少次数)
    动作完成率(A01、A02)        # the same over some activities only
    按时报送率                  # on-time returns over periods due
    台账完成率(整改台账)        # share of a ledger's items completed
    指标达标([B02] / 职工人数 >= 1)   # an indicator (or expression) reaching a target

Parsing returns AST dataclasses or raises :class:`RuleSyntaxError` (message in Chinese); the
plan loader turns that into a ``bad-rule`` finding.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# Unit attributes a rule may name, mapped to the attribute of reporting.plan.model.Unit.
UNIT_ATTRIBUTES = {"职工人数": "headcount"}

_FULLWIDTH = str.maketrans(
    {
        "＜": "<",
        "＞": ">",
        "＝": "=",
        "≤": "<=",
        "≥": ">=",
        "≠": "!=",
        "（": "(",
        "）": ")",
        "［": "[",
        "］": "]",
        "【": "[",
        "】": "]",
        "＋": "+",
        "－": "-",
        "×": "*",
        "＊": "*",
        "÷": "/",
        "／": "/",
        "；": ";",
        "　": " ",
    }
)

COMPARATORS = ("<=", ">=", "!=", "==", "<", ">", "=")


class RuleSyntaxError(ValueError):
    """A rule that does not parse; ``str()`` is a Chinese explanation."""


# --------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Ref:
    """Another indicator, by code: ``[B02]``."""

    code: str


@dataclass(frozen=True)
class Attr:
    """A unit attribute by its Chinese name: ``职工人数``."""

    name: str


@dataclass(frozen=True)
class SelfRef:
    """The indicator the rule belongs to (implicit left side)."""


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Neg:
    operand: Expr


Expr = Num | Ref | Attr | SelfRef | BinOp | Neg


@dataclass(frozen=True)
class Comparison:
    op: str
    left: Expr
    right: Expr
    text: str

    def references(self) -> set[str]:
        return _refs(self.left) | _refs(self.right)

    def attributes(self) -> set[str]:
        return _attrs(self.left) | _attrs(self.right)


def _refs(e: Expr) -> set[str]:
    if isinstance(e, Ref):
        return {e.code}
    if isinstance(e, BinOp):
        return _refs(e.left) | _refs(e.right)
    if isinstance(e, Neg):
        return _refs(e.operand)
    return set()


def _attrs(e: Expr) -> set[str]:
    if isinstance(e, Attr):
        return {e.name}
    if isinstance(e, BinOp):
        return _attrs(e.left) | _attrs(e.right)
    if isinstance(e, Neg):
        return _attrs(e.operand)
    return set()


# --------------------------------------------------------------------------- tokenizer

_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<num>\d+(?:\.\d+)?%?)
    | \[(?P<ref>[^\]\s]+)\]
    | (?P<cmp><=|>=|!=|==|<|>|=)
    | (?P<op>[-+*/()])
    | (?P<name>[A-Za-z_\u4e00-\u9fff][\w\u4e00-\u9fff]*)
    )
    """,
    re.VERBOSE,
)


def normalise(text: str) -> str:
    return text.translate(_FULLWIDTH).strip()


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise RuleSyntaxError(f"第{pos + 1}个字符“{text[pos:].strip()[:1]}”无法识别")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise RuleSyntaxError("规则不完整，结尾缺少数值或指标")
        self.i += 1
        return tok

    def expr(self) -> Expr:
        node = self.term()
        while ((tok := self.peek()) and tok == ("op", "+")) or tok == ("op", "-"):
            self.take()
            node = BinOp(tok[1], node, self.term())
        return node

    def term(self) -> Expr:
        node = self.factor()
        while ((tok := self.peek()) and tok == ("op", "*")) or tok == ("op", "/"):
            self.take()
            node = BinOp(tok[1], node, self.factor())
        return node

    def factor(self) -> Expr:
        kind, value = self.take()
        if kind == "num":
            if value.endswith("%"):
                return Num(float(value[:-1]) / 100)
            return Num(float(value))
        if kind == "ref":
            return Ref(value)
        if kind == "name":
            if value not in UNIT_ATTRIBUTES:
                known = "、".join(UNIT_ATTRIBUTES)
                raise RuleSyntaxError(
                    f"“{value}”不是可用的单位属性（可用：{known}）；引用指标请写成 [编号]"
                )
            return Attr(value)
        if (kind, value) == ("op", "-"):
            return Neg(self.factor())
        if (kind, value) == ("op", "("):
            node = self.expr()
            if self.take() != ("op", ")"):
                raise RuleSyntaxError("括号不配对")
            return node
        raise RuleSyntaxError(f"此处应为数值、[指标编号] 或单位属性，却是“{value}”")


def parse_comparison(text: str, *, implicit_left: bool) -> Comparison:
    """Parse one comparison. With ``implicit_left`` a leading comparator means "this value"."""
    clean = normalise(text)
    if not clean:
        raise RuleSyntaxError("规则为空")
    parser = _Parser(_tokenize(clean))
    first = parser.peek()
    if first and first[0] == "cmp":
        if not implicit_left:
            raise RuleSyntaxError("比较符号左边缺少内容")
        left: Expr = SelfRef()
    else:
        left = parser.expr()
    tok = parser.peek()
    if tok is None or tok[0] != "cmp":
        raise RuleSyntaxError("缺少比较符号（<=、>=、<、>、=、!=）")
    op = parser.take()[1]
    op = "==" if op == "=" else op
    right = parser.expr()
    if parser.peek() is not None:
        raise RuleSyntaxError(f"“{parser.peek()[1]}”之后的内容多余")  # type: ignore[index]
    return Comparison(op, left, right, clean)


def parse_indicator_rule(text: str) -> tuple[Comparison, ...]:
    """Parse a 校验规则 cell: one or more comparisons separated by ``;``."""
    parts = [p for p in normalise(text).split(";") if p.strip()]
    if not parts:
        raise RuleSyntaxError("规则为空")
    return tuple(parse_comparison(p, implicit_left=True) for p in parts)


# --------------------------------------------------------------------------- evaluation


def evaluate(
    expr: Expr,
    values: Mapping[str, float | None],
    attrs: Mapping[str, float | None],
    self_value: float | None = None,
) -> float | None:
    """Value of ``expr``; ``None`` when an operand is missing or a division is by zero."""
    if isinstance(expr, Num):
        return expr.value
    if isinstance(expr, SelfRef):
        return self_value
    if isinstance(expr, Ref):
        return values.get(expr.code)
    if isinstance(expr, Attr):
        return attrs.get(expr.name)
    if isinstance(expr, Neg):
        v = evaluate(expr.operand, values, attrs, self_value)
        return None if v is None else -v
    left = evaluate(expr.left, values, attrs, self_value)
    right = evaluate(expr.right, values, attrs, self_value)
    if left is None or right is None:
        return None
    if expr.op == "+":
        return left + right
    if expr.op == "-":
        return left - right
    if expr.op == "*":
        return left * right
    if right == 0:
        return None
    return left / right


def _dec(x: float) -> Decimal:
    try:
        return Decimal(repr(x))
    except InvalidOperation:  # pragma: no cover - inf/nan never reach here
        return Decimal(0)


def compare(op: str, left: float, right: float) -> bool:
    # Compare as decimals so 0.1 + 0.2 <= 0.3 holds as a clerk expects.
    a, b = _dec(round(left, 9)), _dec(round(right, 9))
    return {
        "<=": a <= b,
        ">=": a >= b,
        "<": a < b,
        ">": a > b,
        "==": a == b,
        "!=": a != b,
    }[op]


def check(
    cmp: Comparison,
    values: Mapping[str, float | None],
    attrs: Mapping[str, float | None],
    self_value: float | None = None,
) -> bool | None:
    """True/False when both sides are known, ``None`` when the rule cannot be evaluated yet."""
    left = evaluate(cmp.left, values, attrs, self_value)
    right = evaluate(cmp.right, values, attrs, self_value)
    if left is None or right is None:
        return None
    return compare(cmp.op, left, right)


# --------------------------------------------------------------------------- rubric rules

RUBRIC_KINDS = {
    "动作完成率": "activity_completion",
    "按时报送率": "timeliness",
    "台账完成率": "ledger_completion",
    "指标达标": "indicator_target",
}


@dataclass(frozen=True)
class RubricRule:
    """A parsed 考评细则 rule.

    ``kind`` is one of ``activity_completion`` (``activities`` limits it to some codes; empty
    means all that apply), ``timeliness``, ``ledger_completion`` (``ledger`` names the list) or
    ``indicator_target`` (``target`` is the comparison to reach).
    """

    kind: str
    text: str
    activities: tuple[str, ...] = ()
    ledger: str | None = None
    target: Comparison | None = None


_RUBRIC = re.compile(r"^(?P<name>[\u4e00-\u9fff]+)\s*(?:\((?P<arg>.*)\))?$", re.S)


def parse_rubric_rule(text: str) -> RubricRule:
    clean = normalise(text)
    m = _RUBRIC.match(clean)
    if not m or m.group("name") not in RUBRIC_KINDS:
        kinds = "、".join(RUBRIC_KINDS)
        raise RuleSyntaxError(f"规则应以 {kinds} 之一开头，例如“台账完成率(整改台账)”")
    kind = RUBRIC_KINDS[m.group("name")]
    arg = (m.group("arg") or "").strip()
    if kind == "activity_completion":
        codes = tuple(c.strip() for c in re.split(r"[、,，\s]+", arg) if c.strip())
        return RubricRule(kind, clean, activities=codes)
    if kind == "timeliness":
        if arg:
            raise RuleSyntaxError("按时报送率不带参数")
        return RubricRule(kind, clean)
    if kind == "ledger_completion":
        if not arg:
            raise RuleSyntaxError("台账完成率需在括号中写清单名称，例如“台账完成率(整改台账)”")
        return RubricRule(kind, clean, ledger=arg)
    if not arg:
        raise RuleSyntaxError("指标达标需在括号中写目标，例如“指标达标([B02] / 职工人数 >= 1)”")
    target = parse_comparison(arg, implicit_left=False)
    if not target.references():
        raise RuleSyntaxError("指标达标的目标中至少要引用一个指标，例如 [B02]")
    return RubricRule(kind, clean, target=target)
