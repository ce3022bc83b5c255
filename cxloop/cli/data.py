"""Feeding the loop: ``demo`` and ``cycle`` (the quarterly flow), ``ingest`` of feedback
files, the ``quarantine`` group (list, export, release) and ``db upgrade``. Writing
commands call the flows; the quarantine views read the database directly.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, cast

import typer
from rich.markup import escape
from rich.table import Table

from cxloop.cli.common import check_config, console, err_console, quarter_option, refuse, wrapping_table

if TYPE_CHECKING:
    from flows.params import Channel, Lang

quarantine_app = typer.Typer(help="Quarantined rows: list, export, release for re-ingest.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def print_cycle(summary: dict) -> None:
    t = summary["intake"]
    region = summary.get("region")
    console.rule(f"[bold]Quarter {summary['quarter']}" + (f", region {region} only" if region else ""))
    if not summary.get("national_refreshed", True):
        console.print(f"[yellow]national figures not refreshed: only region {region} was recomputed[/yellow]")
    ok = t["received"] == t["accepted"] + t["quarantined"] + t["duplicates"]
    console.print(
        f"rows in {t['received']} = accepted {t['accepted']} + quarantined {t['quarantined']} + "
        f"duplicates {t['duplicates']}  ({t['files']} files){'' if ok else '  [red]IDENTITY BROKEN[/red]'}"
    )
    if t.get("unreadable_files"):
        console.print(
            f"[red]{t['unreadable_files']} file(s) unreadable[/red]: "
            + "; ".join(f["error"] for f in summary["files"] if f["status"] == "unreadable")
        )
    table = Table("unit", "citizens", "employers", "composite", box=None)
    for unit, vals in summary["index"].items():
        table.add_row(unit, vals.get("citizen", "—"), vals.get("employer", "—"), vals.get("composite", "—"))
    console.print(table)
    reading = summary.get("text_reading") or {}
    if reading:
        how = (
            f"rules + sentiment model {reading['model_version']} ({reading['rated_texts']} rated texts)"
            if "model" in reading["method"]
            else f"rules ({reading['rated_texts']} rated texts: too few to learn from)"
        )
        console.print(f"texts read by: {how}" + (" + analysts' theme labels" if "themes" in reading["method"] else ""))
    console.print("top pain points: " + (", ".join(summary["top_pain_points"]) or "none"))
    console.print(f"measures proposed: {len(summary['measures_proposed'])}  " + " ".join(summary["measures_proposed"]))
    console.print(f"effects evaluated: {len(summary['effects'])}")
    for e in summary["effects"]:
        console.print(
            f"  {e['measure']}: {e['verdict']} ({e['method']}: {e['estimate']} [{e['ci_low']}; {e['ci_high']}])"
        )
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
    console.print(
        f"outbox:          {(out_dir / 'outbox').resolve()}"
        + ("" if not s.smtp_host else f"  (SMTP {s.smtp_host} is set: mail was sent there)")
    )
    console.print(f"database:        {s.database_url}")


def demo(
    seed: int = typer.Option(7, help="random seed: same seed and --until give byte-identical files"),
    quarters: int = typer.Option(4, min=2, help="how many quarters to generate and run"),
    until: str = typer.Option("2026Q3", help="last quarter, YYYYQn"),
    regions: str | None = typer.Option(None, help="comma-separated region codes (default: all in config/offices.csv)"),
    send: bool = typer.Option(True, help="e-mail the reports (outbox .eml files without SMTP settings)"),
    scale: float = typer.Option(1.0, help="multiply the demo volumes"),
) -> None:
    """Generate demo data and run the quarterly cycle for each quarter in order."""
    from cxloop.settings import get_settings
    from flows.demo import demo as demo_flow

    until = quarter_option(until)
    check_config()
    region_list = [r.strip() for r in regions.split(",")] if regions else None
    console.print(
        f"cxloop demo: seed {seed}, {quarters} quarters until {until}; Prefect runs embedded (first start takes ~15 s)"
    )
    summaries = demo_flow(
        seed=seed, quarters=quarters, until=until, regions=region_list, send_reports=send, scale=scale
    )
    for s in summaries:
        print_cycle(s)
    _where(get_settings().out_dir)


def cycle(
    quarter: str | None = typer.Option(None, help="YYYYQn (default: the last complete quarter)"),
    send: bool = typer.Option(True, help="e-mail the reports"),
    lang: str = typer.Option("ru", help="report language"),
    region: str | None = typer.Option(
        None, help="rerun only this region's results and report (national figures are not refreshed)"
    ),
) -> None:
    """Run the quarterly cycle for one quarter on the files in the drop folder (or rerun one region)."""
    from cxloop.config import get_config
    from cxloop.domain import check_region
    from cxloop.settings import get_settings
    from flows.locks import QuarterLocked
    from flows.quarterly_cycle import quarterly_cycle

    check_config()
    if region is not None:  # refused here, before Prefect starts, with one clear line
        try:
            check_region(region, get_config(get_settings().config_dir).regions)
        except ValueError as exc:
            refuse(str(exc))
    try:
        # the flow validates ``lang`` against its Literal when it is called (Prefect parameters)
        summary = quarterly_cycle(
            quarter=quarter_option(quarter), send_reports=send, lang=cast("Lang", lang), region=region
        )
    except QuarterLocked as exc:  # another cycle of this quarter is running: say who, exit 3
        err_console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
        raise typer.Exit(3) from exc
    print_cycle(summary)
    _where(get_settings().out_dir)


def ingest(
    paths: list[str] = typer.Argument(
        ..., help="files, folders or globs; a folder or glob takes every readable file in it"
    ),
    channel: str | None = typer.Option(None, help="channel of every file (default: from each file name)"),
    quarter: str | None = typer.Option(
        None, help="YYYYQn the files are accounted to (default: the folder name, else the last complete quarter)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object per file and nothing else"),
) -> None:
    """Ingest feedback files: read, validate, quarantine, store. Exit 2 when a file was rejected as a whole."""
    import json

    from tasks.collect.discovery import InputError, resolve_inputs
    from tasks.validate.summary import file_record

    quarter = quarter_option(quarter)
    check_config()
    try:  # bad input is refused here, before Prefect starts, with one clear line
        items = resolve_inputs(paths, channel, quarter)
    except InputError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
        raise typer.Exit(2) from exc
    if not items:
        err_console.print(escape("no readable files in " + ", ".join(paths)), highlight=False)
        raise typer.Exit(0)
    from flows.ingest import ingest_feedback

    # resolve_inputs above refused a channel outside CHANNELS
    summary = ingest_feedback(paths=list(paths), channel=cast("Channel | None", channel), quarter=quarter)
    records = [file_record(f) for f in summary["files"]]
    if as_json:
        for rec in records:
            print(json.dumps(rec, ensure_ascii=False))
    else:
        table = wrapping_table("file", "channel", "received", "accepted", "quarantined", "duplicates", "status")
        for f in summary["files"]:
            table.add_row(
                escape(f["file"]),
                f["channel"] or "—",
                *(str(f[k]) for k in ("received", "accepted", "quarantined", "duplicates")),
                "[red]rejected[/red]" if f["rejected"] else f["status"],
            )
        console.print(table)
        for rec in records:
            if rec["rejected"]:
                console.print(f"[red]{escape(rec['error'])}[/red]", highlight=False)
        t = summary["totals"]
        console.print(
            f"rows in {t['received']} = accepted {t['accepted']} + quarantined {t['quarantined']} + "
            f"duplicates {t['duplicates']}"
            f"  ({t['files']} files, {t['rejected_files']} rejected)"
        )
        if summary.get("data_docs"):
            console.print(escape(f"validation report (GE Data Docs): {summary['data_docs']}"), highlight=False)
    if summary.get("side_products_failed"):  # the rows are ingested; only a by-product is missing
        failed = ", ".join(summary["side_products_failed"])
        err_console.print(escape(f"warning: not built: {failed} (see the run's log); the intake itself is complete"))
    raise typer.Exit(2 if summary["totals"]["rejected_files"] else 0)


def _quarantine_db() -> None:
    from cxloop.settings import get_settings
    from models.db import upgrade

    get_settings().ensure_dirs()
    upgrade()


@quarantine_app.command("list")
def quarantine_list(
    quarter: str | None = typer.Option(None, help="YYYYQn"),
    file: str | None = typer.Option(None, "--file", help="the file as it was ingested"),
    channel: str | None = typer.Option(None, help="channel id"),
    limit: int = typer.Option(50, min=1, help="show at most this many rows"),
    all_rows: bool = typer.Option(False, "--all", help="include rows already released for re-ingest"),
) -> None:
    """Show open quarantined rows: id, file, row, field, rule and reason."""
    from models.db import session_scope
    from tasks.validate.quarantine import count_quarantine, list_quarantine

    quarter = quarter_option(quarter)
    _quarantine_db()
    with session_scope() as session:
        rows = list_quarantine(session, quarter, file, channel, limit, include_released=all_rows)
        total = count_quarantine(session, quarter, file, channel, include_released=all_rows)
    table = wrapping_table("id", "file", "row", "field", "rule", "reason")
    for r in rows:
        table.add_row(str(r["id"]), *(escape(str(r[k])) for k in ("file", "row", "field", "rule", "reason")))
    console.print(table)
    console.print(
        f"{len(rows)} of {total} quarantined rows shown" + (" (use --limit to see more)" if total > len(rows) else "")
    )


@quarantine_app.command("export")
def quarantine_export(
    csv: Path = typer.Option(..., "--csv", help="write the CSV here (UTF-8 with BOM)"),
    quarter: str | None = typer.Option(None, help="YYYYQn"),
    file: str | None = typer.Option(None, "--file", help="the file as it was ingested"),
    channel: str | None = typer.Option(None, help="channel id"),
) -> None:
    """Export quarantined rows as CSV; text a spreadsheet would run as a formula is neutralised."""
    from flows.ingest import export_quarantine

    # the flow validates ``channel`` against its Literal when it is called (Prefect parameters)
    result = export_quarantine(str(csv), quarter_option(quarter), file, cast("Channel | None", channel))
    console.print(escape(f"{result['rows']} quarantined rows written to {result['csv']}"), highlight=False)


@quarantine_app.command("release")
def quarantine_release(
    file: str | None = typer.Option(None, "--file", help="release the quarantined rows of this file"),
    ids: list[int] | None = typer.Option(None, "--id", help="release these quarantine ids (repeatable)"),
) -> None:
    """Release quarantined rows for re-ingest once the source (or the registry) is fixed.

    Nothing is deleted: the rows are marked released and no longer listed; the next
    ingest of the file validates it again (even unchanged), counts the rows accepted
    before as duplicates and quarantines again whatever is still wrong."""
    from datetime import datetime

    from models.db import session_scope
    from tasks.collect.discovery import InputError
    from tasks.validate.quarantine import release_rows

    _quarantine_db()
    try:
        with session_scope() as session:
            items = release_rows(session, datetime.now(UTC), file, ids or ())
    except InputError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
        raise typer.Exit(2) from exc
    if not items:
        err_console.print(
            escape(
                "no quarantined rows match " + (f"file {file}" if file else "ids " + ", ".join(map(str, ids or ())))
            ),
            highlight=False,
        )
        raise typer.Exit(2)
    for it in items:
        console.print(
            escape(
                f"{it.path} ({it.quarter}, {it.channel}): {it.quarantined_rows} quarantined rows — "
                f"{it.status}: {it.message}"
            ),
            highlight=False,
        )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (CXLOOP_DATABASE_URL)."""
    from cxloop.settings import get_settings
    from models.db import upgrade

    get_settings().ensure_dirs()
    upgrade()
    console.print(f"database at head: {get_settings().database_url}")
