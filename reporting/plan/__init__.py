"""The implementation plan (实施方案): schema, loading, domain objects and the example."""

from reporting.plan.load import PlanResult, load_plan, parse_plan, require_plan
from reporting.plan.model import Plan

__all__ = ["Plan", "PlanResult", "load_plan", "parse_plan", "require_plan"]
