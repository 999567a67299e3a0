"""Unit forms: one validated, protected, self-checking workbook per unit per period."""

from reporting.forms.generate import FormsResult, generate_forms
from reporting.forms.writer import EMPTY_PREFILL, Prefill

__all__ = ["EMPTY_PREFILL", "FormsResult", "Prefill", "generate_forms"]
