"""Inspector sheets (督导考评表): generated per unit, scored on site, returned through intake.

:mod:`~reporting.inspection.sheet` is the sheet's content and cell layout (the contract between
writer and intake), :mod:`~reporting.inspection.writer` renders the Excel sheet,
:mod:`~reporting.inspection.word` the Word sheet, :mod:`~reporting.inspection.validate` checks a
returned sheet, :mod:`~reporting.inspection.feedback` builds its 退回修改 copy, and
:mod:`~reporting.inspection.service` is the ``inspect`` command's library call.
"""
