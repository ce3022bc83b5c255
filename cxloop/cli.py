"""``cxloop``: the command-line face of the loop. Every command is a thin call into a flow.

Prefect runs embedded (ephemeral) unless PREFECT_API_URL points at a server.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

# Quiet, local defaults; must be set before Prefect is imported (commands import lazily).
os.environ.setdefault("PREFECT_HOME", str(Path("var/prefect").resolve()))
os.environ.setdefault("PREFECT_SERVER_ALLOW_EPHEMERAL_MODE", "true")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MPLBACKEND", "Agg")

app = typer.Typer(help="cxloop: closed-loop client-experience management for employment services.", no_args_is_help=True)
offices_app = typer.Typer(help="The office registry.", no_args_is_help=True)
measures_app = typer.Typer(help="The corrective-measure register.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(offices_app, name="offices")
app.add_typer(measures_app, name="measures")
app.add_typer(db_app, name="db")
console = Console(soft_wrap=True)  # paths and error messages must not be broken across lines


def _quarter(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    from cxloop.quarters import Quarter

    try:
        return str(Quarter.parse(value))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def print_cycle(summary: dict) -> None:
    t = summary["intake"]
    console.rule(f"[bold]Quarter {summary['quarter']}")
    ok = t["received"] == t["accepted"] + t["quarantined"] + t["duplicates"]
    console.print(
        f"rows in {t['received']} = accepted {t['accepted']} + quarantined {t['quarantined']} + "
        f"duplicates {t['duplicates']}  ({t['files']} files){'' if ok else '  [red]IDENTITY BROKEN[/red]'}"
    )
    if t.get("unreadable_files"):
        console.print(f"[red]{t['unreadable_files']} file(s) unreadable[/red]: " + "; ".join(
            f["error"] for f in summary["files"] if f["status"] == "unreadable"))
    table = Table("unit", "citizens", "employers", "composite", box=None)
    for unit, vals in summary["index"].items():
        table.add_row(unit, vals.get("citizen", "—"), vals.get("employer", "—"), vals.get("composite", "—"))
    console.print(table)
    console.print("top pain points: " + (", ".join(summary["top_pain_points"]) or "none"))
    console.print(f"measures proposed: {len(summary['measures_proposed'])}  " + " ".join(summary["measures_proposed"]))
    console.print(f"effects evaluated: {len(summary['effects'])}")
    for e in summary["effects"]:
        console.print(f"  {e['measure']}: {e['verdict']} ({e['method']}: {e['estimate']} [{e['ci_low']}; {e['ci_high']}])")
    console.print(f"files written: {len(summary['reports'])} PDF, register {Path(summary['register']['xlsx']).name}")
    if summary.get("delivery"):
        d = summary["delivery"]
        console.print(f"e-mail: {d['sent']} sent, {d['skipped']} skipped (already sent), {d['failed']} failed")


def _where(out_dir: Path) -> None:
    from cxloop.settings import get_settings

    s = get_settings()
    console.rule("[bold]Where to look")
    console.print(f"reports:         {(out_dir / 'reports').resolve()}")
    console.print(f"register export: {(out_dir / 'register').resolve()}")
    console.print(f"outbox:          {(out_dir / 'outbox').resolve()}" + ("" if not s.smtp_host else f"  (SMTP {s.smtp_host} is set: mail was sent there)"))
    console.print(f"database:        {s.database_url}")


@app.command()
def demo(
    seed: int = typer.Option(7, help="random seed: same seed and --until give byte-identical files"),
    quarters: int = typer.Option(4, min=2, help="how many quarters to generate and run"),
    until: str = typer.Option("2026Q3", help="last quarter, YYYYQn"),
    regions: Optional[str] = typer.Option(None, help="comma-separated region codes (default: all in config/offices.csv)"),
    send: bool = typer.Option(True, help="e-mail the reports (outbox .eml files without SMTP settings)"),
    scale: float = typer.Option(1.0, help="multiply the demo volumes"),
) -> None:
    """Generate demo data and run the quarterly cycle for each quarter in order."""
    from cxloop.settings import get_settings
    from flows.demo import demo as demo_flow

    until = _quarter(until)
    region_list = [r.strip() for r in regions.split(",")] if regions else None
    console.print(f"cxloop demo: seed {seed}, {quarters} quarters until {until}; Prefect runs embedded (first start takes ~15 s)")
    summaries = demo_flow(seed=seed, quarters=quarters, until=until, regions=region_list, send_reports=send, scale=scale)
    for s in summaries:
        print_cycle(s)
    _where(get_settings().out_dir)


@app.command()
def cycle(
    quarter: Optional[str] = typer.Option(None, help="YYYYQn (default: the last complete quarter)"),
    send: bool = typer.Option(True, help="e-mail the reports"),
    lang: str = typer.Option("ru", help="report language"),
) -> None:
    """Run the quarterly cycle for one quarter on the files in the drop folder."""
    from cxloop.settings import get_settings
    from flows.quarterly_cycle import quarterly_cycle

    print_cycle(quarterly_cycle(quarter=_quarter(quarter), send_reports=send, lang=lang))
    _where(get_settings().out_dir)


@offices_app.command("load")
def offices_load(path: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV: office_code, office_name, region_code, region_name")) -> None:
    """Merge an office registry file into the database."""
    from cxloop.config import ConfigError
    from flows.register import load_office_registry

    try:
        result = load_office_registry(str(path))
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"offices: {result['added']} added, {result['updated']} updated, {result['unchanged']} unchanged")


@measures_app.command("export")
def measures_export(
    xlsx: Optional[Path] = typer.Option(None, "--xlsx", help="write a formatted XLSX register here"),
    csv: Optional[Path] = typer.Option(None, "--csv", help="write a CSV register here"),
    quarter: Optional[str] = typer.Option(None, help="judge overdue at this quarter's cycle date"),
) -> None:
    """Export the measure register."""
    from flows.register import export_measure_register

    if not xlsx and not csv:
        raise typer.BadParameter("give --xlsx PATH and/or --csv PATH")
    for kind, path in export_measure_register(str(xlsx) if xlsx else None, str(csv) if csv else None, _quarter(quarter)).items():
        console.print(f"{kind}: {path}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (CXLOOP_DATABASE_URL)."""
    from cxloop.settings import get_settings
    from models.db import upgrade

    get_settings().ensure_dirs()
    upgrade()
    console.print(f"database at head: {get_settings().database_url}")


if __name__ == "__main__":
    app()
