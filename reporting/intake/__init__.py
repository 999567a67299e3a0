"""Intake: find what units sent back, read it safely, check it, record it.

The form-agnostic half lives in :mod:`~reporting.intake.sources` (what is in the inbox),
:mod:`~reporting.intake.sniff` (what a file really is), :mod:`~reporting.intake.reader`
(workbook bytes to plain data) and :mod:`~reporting.intake.sandbox` (running the reader in
worker processes with memory and time limits).
"""
