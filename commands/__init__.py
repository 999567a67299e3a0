"""The command line, one module per stage; ``cli.py`` assembles them."""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> None:
    """Register every command, in the order a bureau uses them in a month."""
    from commands import collation, demo, forms, intake, plan, reports, scoring

    plan.register(app)
    forms.register(app)
    intake.register(app)
    collation.register(app)
    scoring.register(app)
    reports.register(app)
    demo.register(app)
