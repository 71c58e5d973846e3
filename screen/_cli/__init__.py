"""Subcommands of `screen`, one module per command group.

Each module has `register(app)`; heavy imports (torch, paddle, ultralytics)
happen inside the commands so that `screen --help` stays fast.
"""

from __future__ import annotations

import typer


def register_all(app: typer.Typer) -> None:
    from . import calibrate, classify, phantom, screening, train, weights

    for module in (screening, classify, weights, train, calibrate, phantom):
        module.register(app)
