"""Campaign reporting from Excel returns.

Stages in data order: plan → forms → intake → store → collation → scoring → reports.

Library code never prints and never exits: it returns data (findings, results) and raises
only the exceptions in :mod:`reporting.errors` when it cannot go on.
"""

__version__ = "0.1.0"
