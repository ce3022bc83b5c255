"""What every command of ``cxloop`` shares: the consoles (stdout for results, stderr for
errors), the ``--quarter`` option's parsing, refusing input with exit 2, JSON-safe values
and tables that wrap. The command groups (data, measures, reports, deploy) import it.

It also holds the root command group (:class:`CxloopGroup`), which turns the two
failures a user fixes outside the code into one line on stderr instead of a traceback:
a broken configuration (:class:`cxloop.config.ConfigError`, exit 2) and Prefect's
embedded server not starting in time (exit 1).
"""

from __future__ import annotations

import re
from typing import Any, NoReturn, overload

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

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


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) made one space."""
    return " ".join(text.split())


def config_refused(exc: Exception) -> NoReturn:
    """A :class:`cxloop.config.ConfigError` as one line (file, entry, cause) on stderr, exit 2."""
    refuse("configuration error: " + one_line(str(exc)))


def check_config() -> None:
    """Load the configuration (``CXLOOP_CONFIG_DIR``) before a flow starts, so a broken
    file stops the command with one line and exit 2 (:class:`CxloopGroup`) and no
    failed flow run with its traceback in the log."""
    from cxloop.config import get_config
    from cxloop.settings import get_settings

    get_config(get_settings().config_dir)


STARTUP_TIMEOUT_SETTING = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
STARTUP_TIMEOUT_DEFAULT = "90"
"""Seconds the CLI gives Prefect's embedded server to start (Prefect's own default is 20),
unless the environment sets :data:`STARTUP_TIMEOUT_SETTING`."""

# Prefect's RuntimeError when the ephemeral server does not answer in time
# (prefect/server/api/server.py, SubprocessASGIServer.start).
_EPHEMERAL_TIMEOUT = re.compile(r"Timed out while attempting to connect to ephemeral Prefect API server")


def server_start_failed(exc: BaseException) -> NoReturn:
    """Prefect's embedded server did not start: one line on stderr naming the limit and
    how to run against a server instead, exit 1."""
    import os

    limit = os.environ.get(STARTUP_TIMEOUT_SETTING, "20")
    err_console.print(
        escape(
            f"Prefect's embedded server did not start within {limit} s ({STARTUP_TIMEOUT_SETTING}); "
            f"raise that limit, or run against a Prefect server: start one with `cxloop server` "
            f"in another terminal and set PREFECT_API_URL=http://127.0.0.1:4200/api"
        ),
        style="red",
        highlight=False,
    )
    raise typer.Exit(1) from exc


class CxloopGroup(TyperGroup):
    """The root group of ``cxloop``: a :class:`cxloop.config.ConfigError` raised by any
    command becomes :func:`config_refused` (one line, exit 2), a timed-out start of
    Prefect's embedded server :func:`server_start_failed` (one line, exit 1). Every
    other exception keeps its traceback (a bug to report)."""

    def invoke(self, ctx: Any) -> Any:  # ctx: typer's click Context
        from cxloop.config import ConfigError

        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            config_refused(exc)
        except RuntimeError as exc:
            if _EPHEMERAL_TIMEOUT.search(str(exc)):
                server_start_failed(exc)
            raise


def default_who() -> str:
    """Who a command acts for when ``--who`` is not given: the login name, else "cli"."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): a history entry or a label still needs a who
        return "cli"


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
