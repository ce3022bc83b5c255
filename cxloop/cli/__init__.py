"""``cxloop``: the command-line face of the loop. Every command that writes something is a
thin call into a flow; read-only views (``quarantine list``, ``quarantine release``) read
the database directly, so they answer without starting Prefect.

This module holds the typer ``app`` and registers the command groups: data.py (demo,
cycle, ingest, quarantine, db), measures.py (offices, measures), reports.py (report,
deliveries), text.py (text analyse, text train), deploy.py (serve, server); common.py has what they share.
Prefect runs embedded (ephemeral) unless PREFECT_API_URL points at a server; the CLI gives
that embedded server 90 s to start (PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, a value
in the environment wins). Two failures end a command with one line on stderr instead of a
traceback (common.CxloopGroup): a broken configuration (exit 2) and the embedded server not
starting in time (exit 1).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import typer

from cxloop.cli.common import STARTUP_TIMEOUT_DEFAULT, STARTUP_TIMEOUT_SETTING, CxloopGroup

# Quiet, local defaults; must be set before Prefect is imported (commands import lazily).
os.environ.setdefault("PREFECT_HOME", str(Path("var/prefect").resolve()))
os.environ.setdefault("PREFECT_SERVER_ALLOW_EPHEMERAL_MODE", "true")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MPLBACKEND", "Agg")
# A loaded machine needs more than Prefect's 20 s to start the embedded server (issue 14,
# row 11); a value in the environment wins.
os.environ.setdefault(STARTUP_TIMEOUT_SETTING, STARTUP_TIMEOUT_DEFAULT)
# Prefect does not create missing parents of its home (a fresh working directory has no var/);
# if this fails, Prefect then says itself that it cannot use the folder.
with contextlib.suppress(OSError):
    Path(os.environ["PREFECT_HOME"]).expanduser().mkdir(parents=True, exist_ok=True)

# The command modules import Prefect only inside their commands, so the defaults above hold.
from cxloop.cli.data import cycle, db_app, demo, ingest, quarantine_app
from cxloop.cli.deploy import serve, server
from cxloop.cli.measures import measures_app, offices_app
from cxloop.cli.reports import deliveries_app, report
from cxloop.cli.text import text_app
from cxloop.cli.text_review import review_app

app = typer.Typer(
    cls=CxloopGroup,
    help="cxloop: closed-loop client-experience management for employment services.",
    no_args_is_help=True,
)

# Top-level commands, in the order `cxloop --help` lists them.
app.command()(demo)
app.command()(cycle)
app.command()(ingest)
app.command()(report)
app.command()(serve)
app.command()(server)

# Command groups, in the order `cxloop --help` lists them.
app.add_typer(offices_app, name="offices")
app.add_typer(measures_app, name="measures")
app.add_typer(db_app, name="db")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(deliveries_app, name="deliveries")
text_app.add_typer(review_app, name="review")  # cxloop text review export|import|train
app.add_typer(text_app, name="text")
