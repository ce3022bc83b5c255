"""What every command of ``cxloop`` shares: the consoles (stdout for results, stderr for
errors), the ``--quarter`` option's parsing, refusing input with exit 2, JSON-safe values
and tables that wrap. The command groups (data, measures, reports, deploy) import it.
"""

from __future__ import annotations

from typing import NoReturn, overload

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(soft_wrap=True)  # paths and error messages must not be broken across lines
err_console = Console(stderr=True, soft_wrap=True)  # errors: stdout stays clean for --json


@overload
def quarter_option(value: str) -> str: ...
@overload
def quarter_option(value: None) -> None: ...
@overload
def quarter_option(value: str | None) -> str | None: ...


def quarter_option(value: str | None) -> str | None:
    if value is None:
        return None
    from cxloop.quarters import Quarter

    try:
        return str(Quarter.parse(value))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def refuse(message: str) -> NoReturn:
    err_console.print(f"[red]{escape(message)}[/red]", highlight=False)
    raise typer.Exit(2)


def jsonable(value: object) -> object:
    from datetime import date

    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value


def wrapping_table(*columns: str) -> Table:
    """A table whose cells wrap instead of being cut: a path or a reason must stay whole."""
    table = Table(box=None)
    for name in columns:
        table.add_column(name, overflow="fold", min_width=min(len(name), 12))
    return table
