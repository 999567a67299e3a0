from __future__ import annotations

import pytest

from reporting.rules import (
    RuleSyntaxError,
    check,
    parse_comparison,
    parse_indicator_rule,
    parse_rubric_rule,
)


def test_implicit_left_uses_own_value():
    (rule,) = parse_indicator_rule("<= 职工人数")
    assert check(rule, {}, {"职工人数": 100}, self_value=100) is True
    assert check(rule, {}, {"职工人数": 100}, self_value=101) is False


def test_references_arithmetic_and_fullwidth():
    rules = parse_indicator_rule("≤【B01】×2；＞＝0")
    assert check(rules[0], {"B01": 5}, {}, self_value=10) is True
    assert check(rules[0], {"B01": 5}, {}, self_value=11) is False
    assert check(rules[1], {}, {}, self_value=-1) is False


def test_precedence_and_parentheses():
    cmp = parse_comparison("[A] + [B] * 2 == ([A] + [B]) * 2 - [A]", implicit_left=False)
    assert check(cmp, {"A": 1, "B": 3}, {}) is True


def test_decimal_comparison_is_exact():
    cmp = parse_comparison("[A] + [B] <= 0.3", implicit_left=False)
    assert check(cmp, {"A": 0.1, "B": 0.2}, {}) is True


def test_unknown_operand_or_division_by_zero_is_undecided():
    cmp = parse_comparison("[A] / 职工人数 >= 1", implicit_left=False)
    assert check(cmp, {}, {"职工人数": 10}) is None
    assert check(cmp, {"A": 3}, {"职工人数": 0}) is None


@pytest.mark.parametrize(
    "text", ["", "<= 人数", "<=", "[A] 5", "<= ([A]", "<= 1 1", "<= __import__"]
)
def test_syntax_errors(text):
    with pytest.raises(RuleSyntaxError):
        parse_indicator_rule(text)


def test_rubric_rules():
    assert parse_rubric_rule("动作完成率").kind == "activity_completion"
    assert parse_rubric_rule("动作完成率（A01、A02）").activities == ("A01", "A02")
    assert parse_rubric_rule("按时报送率").kind == "timeliness"
    assert parse_rubric_rule("台账完成率(整改台账)").ledger == "整改台账"
    target = parse_rubric_rule("指标达标([B02] / 职工人数 >= 1)").target
    assert target is not None and target.references() == {"B02"}
    for bad in ("优秀率", "按时报送率(1)", "台账完成率", "指标达标(职工人数 >= 1)"):
        with pytest.raises(RuleSyntaxError):
            parse_rubric_rule(bad)
