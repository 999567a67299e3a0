"""Scoring: the rubric (考评细则) applied to a month's facts and the inspectors' on-site scores.

:mod:`reporting.scoring.items` scores one rubric item of one unit; :mod:`reporting.scoring.rank`
adds the items up, grades and ranks the units. Both are pure functions of a
:class:`~reporting.collate.facts.Month` and :class:`~reporting.scoring.items.OnSite` sheets;
:mod:`reporting.scoring.service` reads them from the store and writes the ranking workbook.
"""
