"""``cxloop``: the command-line face of the loop. Every command that writes something is a
thin call into a flow; read-only views (``quarantine list``, ``quarantine release``) read
the database directly, so they answer without starting Prefect.

Prefect runs embedded (ephemeral) unless PREFECT_API_URL points at a server.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

# Quiet, local defaults; must be set before Prefect is imported (commands import lazily).
os.environ.setdefault("PREFECT_HOME", str(Path("var/prefect").resolve()))
os.environ.setdefault("PREFECT_SERVER_ALLOW_EPHEMERAL_MODE", "true")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MPLBACKEND", "Agg")
try:  # Prefect does not create missing parents of its home (a fresh working directory has no var/)
    Path(os.environ["PREFECT_HOME"]).expanduser().mkdir(parents=True, exist_ok=True)
except OSError:
    pass  # Prefect then says itself that it cannot use the folder

app = typer.Typer(help="cxloop: closed-loop client-experience management for employment services.", no_args_is_help=True)
offices_app = typer.Typer(help="The office registry.", no_args_is_help=True)
measures_app = typer.Typer(help="The corrective-measure register.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(offices_app, name="offices")
app.add_typer(measures_app, name="measures")
quarantine_app = typer.Typer(help="Quarantined rows: list, export, release for re-ingest.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(quarantine_app, name="quarantine")
console = Console(soft_wrap=True)  # paths and error messages must not be broken across lines
err_console = Console(stderr=True, soft_wrap=True)  # errors: stdout stays clean for --json


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

    from flows.locks import QuarterLocked

    try:
        summary = quarterly_cycle(quarter=_quarter(quarter), send_reports=send, lang=lang)
    except QuarterLocked as exc:  # another cycle of this quarter is running: say who, exit 3
        err_console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
        raise typer.Exit(3) from exc
    print_cycle(summary)
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


# The register's views and edits answer without starting Prefect: they call the same
# functions as the update-measure flow (tasks.measures.register / tasks.measures.register_io) and leave
# the same history rows. Exit codes: 0 done, 2 input refused (nothing written).


def _measures_db() -> None:
    from cxloop.settings import get_settings
    from models.db import upgrade

    get_settings().ensure_dirs()
    upgrade()


def _iso_date(value: Optional[str], option: str):  # -> datetime.date | None
    from datetime import date

    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option) from exc


def _default_who() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): the history still needs a who
        return "cli"


def _refuse(message: str) -> None:
    err_console.print(f"[red]{escape(message)}[/red]", highlight=False)
    raise typer.Exit(2)


def _jsonable(value: object) -> object:
    from datetime import date

    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value


@measures_app.command("list")
def measures_list(
    region: Optional[str] = typer.Option(None, help="region code: its measures and those rolled out to its offices"),
    status: Optional[list[str]] = typer.Option(None, "--status", help="status (repeatable or comma-separated)"),
    overdue: Optional[bool] = typer.Option(None, "--overdue/--not-overdue", help="only overdue (or only not overdue) measures"),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="judge overdue on this day, YYYY-MM-DD (default today)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object per measure and nothing else"),
) -> None:
    """List the measure register, filtered by region, status and overdue."""
    import json
    from datetime import date

    from models.db import session_scope
    from tasks.measures.register import list_register
    from tasks.validate.redaction import redact

    day = _iso_date(as_of, "--as-of") or date.today()
    statuses = [s.strip() for item in status or () for s in item.split(",") if s.strip()]
    _measures_db()
    with session_scope() as session:
        try:
            frame = list_register(session, day, region=region, statuses=statuses or None, overdue=overdue)
        except ValueError as exc:
            _refuse(str(exc))
    if as_json:
        for rec in frame.to_dict("records"):
            print(json.dumps({k: _jsonable(v) for k, v in rec.items()}, ensure_ascii=False))
        return
    table = _wrapping_table("code", "status", "overdue", "region", "owner", "due", "title")
    for r in frame.itertuples(index=False):
        table.add_row(escape(r.code), r.status, "[red]OVERDUE[/red]" if r.overdue else "", escape(str(r.region_code)),
                      escape(redact(r.owner) or ""), str(_jsonable(r.due_date) or "—"), escape(redact(r.title) or ""))
    console.print(table)
    console.print(f"{len(frame)} measures" + (f", {int(frame['overdue'].sum())} overdue" if len(frame) else "") + f" (as of {day.isoformat()})")


@measures_app.command("show")
def measures_show(
    code: str = typer.Argument(..., help="the measure's code"),
    as_json: bool = typer.Option(False, "--json", help="print the measure and its history as one JSON object"),
) -> None:
    """Show one measure with its full history (who, when, from → to, comment)."""
    import json
    from datetime import date

    from models.db import session_scope
    from tasks.measures.register import MeasureNotFound, codesign_label, get_measure, history_of, is_overdue, is_override
    from tasks.validate.redaction import redact

    _measures_db()
    with session_scope() as session:
        try:
            m = get_measure(session, code)
        except MeasureNotFound as exc:
            _refuse(str(exc))
        record = {k: _jsonable(getattr(m, k)) for k in m.model_fields if k != "id"}
        record["overdue"] = is_overdue(m, date.today())
        history = [{"at": h.at.isoformat(), "who": h.who, "field": h.field, "from": h.from_value, "to": h.to_value,
                    "comment": h.comment, "override": is_override(h)} for h in history_of(session, m)]
    if as_json:
        print(json.dumps({"measure": record, "history": history}, ensure_ascii=False))
        return
    console.rule(f"[bold]{escape(record['code'])}[/bold] {escape(redact(record['title']) or '')}")
    shown = dict(record)
    shown["codesign_form"] = codesign_label(record["codesign_form"], "en")
    for key in ("status", "overdue", "version", "region_code", "offices", "theme", "journey_stage", "type", "owner",
                "codesign_date", "codesign_form", "codesign_clients", "planned_start", "due_date", "implemented_on",
                "kpi_metric", "kpi_baseline", "kpi_target", "effect_verdict", "source_pain_point", "proposed_quarter"):
        value = shown.get(key)
        text = "—" if value is None or value == "" else str(value)
        console.print(f"{key:>18}: " + escape(redact(text) if key in ("owner",) else text), highlight=False)
    table = _wrapping_table("when (UTC)", "who", "field", "from", "to", "comment")
    for h in history:
        table.add_row(h["at"][:16].replace("T", " "), escape(redact(h["who"]) or ""), h["field"], escape(str(h["from"] or "—")),
                      escape(str(h["to"] or "—")),
                      ("[bold yellow]OVERRIDE[/bold yellow] " if h["override"] else "") + escape(redact(h["comment"]) or ""))
    console.print(table)


@measures_app.command("update")
def measures_update(
    code: str = typer.Argument(..., help="the measure's code"),
    status: Optional[str] = typer.Option(None, help="new status: proposed, approved, in_progress, implemented, evaluated, closed, rejected, cancelled"),
    owner: Optional[str] = typer.Option(None, help="new owner"),
    due: Optional[str] = typer.Option(None, help="new due date, YYYY-MM-DD"),
    implemented_on: Optional[str] = typer.Option(None, "--implemented-on", help="actual implementation date, YYYY-MM-DD"),
    codesign_date: Optional[str] = typer.Option(None, "--codesign-date", help="when the measure was designed with clients, YYYY-MM-DD"),
    codesign_form: Optional[str] = typer.Option(None, "--codesign-form", help="workshop, observation or client_test"),
    codesign_clients: Optional[int] = typer.Option(None, "--codesign-clients", help="number of clients involved"),
    comment: str = typer.Option("", help="why (kept in the history)"),
    who: Optional[str] = typer.Option(None, help="who makes the change (default: your login name)"),
    override_reason: Optional[str] = typer.Option(None, "--override-reason", help="approver only: start without co-design evidence, for this reason"),
    expected_version: Optional[int] = typer.Option(None, "--expected-version", help="refuse if the measure changed since this version"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Change a measure's status and fields — all or nothing, one history row per change.

    Exit 2 (nothing written) for an unknown code, an invalid transition, a start without
    co-design evidence (unless --override-reason), a stale --expected-version or a bad value."""
    import json
    from datetime import datetime, timezone

    from models.db import session_scope
    from tasks.measures.register import update_measure

    changes = {k: v for k, v in {
        "owner": owner, "due_date": _iso_date(due, "--due"), "implemented_on": _iso_date(implemented_on, "--implemented-on"),
        "codesign_date": _iso_date(codesign_date, "--codesign-date"), "codesign_form": codesign_form,
        "codesign_clients": codesign_clients,
    }.items() if v is not None}
    if status is None and not changes:
        raise typer.BadParameter("nothing to change: give --status and/or a field option")
    _measures_db()
    try:
        with session_scope() as session:
            result = update_measure(session, code, who or _default_who(), datetime.now(timezone.utc), status=status,
                                    changes=changes, comment=comment, override_reason=override_reason,
                                    expected_version=expected_version)
    except (ValueError, LookupError, RuntimeError) as exc:  # InvalidTransition, CodesignMissing, VersionConflict, ...
        _refuse(str(exc).strip("'\""))
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    if not result["changes"]:
        console.print(escape(f"{result['code']}: nothing changed (version {result['version']})"), highlight=False)
        return
    for c in result["changes"]:
        console.print(escape(f"{result['code']}: {c['field']} {c['from'] or '—'} → {c['to'] or '—'}"), highlight=False)
    console.print(escape(f"{result['code']}: now {result['status']}, version {result['version']}"
                         + (" (started without co-design evidence: override recorded)" if result["override"] else "")), highlight=False)


@measures_app.command("import")
def measures_import(
    xlsx: Optional[Path] = typer.Option(None, "--xlsx", help="an edited register XLSX (as 'measures export --xlsx' wrote it)"),
    csv: Optional[Path] = typer.Option(None, "--csv", help="or an edited register CSV"),
    who: Optional[str] = typer.Option(None, help="who made the edits (default: your login name)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="check and report, save nothing"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Apply an edited register back: GE-validated, row by row, every change in the history.

    A rejected row is listed with its row number, column and reason, and nothing of it
    is applied; the other rows are. Exit 2 when a row (or the whole file) was rejected."""
    import json
    from datetime import datetime, timezone

    from tasks.measures.register_io import RegisterFileError, import_register_file, summary_lines

    if bool(xlsx) == bool(csv):
        raise typer.BadParameter("give either --xlsx PATH or --csv PATH")
    path = xlsx or csv
    _measures_db()
    try:
        summary = import_register_file(path, who or _default_who(), datetime.now(timezone.utc), dry_run=dry_run)
    except (RegisterFileError, ValueError) as exc:
        _refuse(str(exc))
    if as_json:
        print(json.dumps(summary.as_dict(), ensure_ascii=False, default=str))
    else:
        for line in summary_lines(summary):
            console.print(escape(line), highlight=False)
    raise typer.Exit(2 if summary.rejected else 0)


@app.command()
def ingest(
    paths: list[str] = typer.Argument(..., help="files, folders or globs; a folder or glob takes every readable file in it"),
    channel: Optional[str] = typer.Option(None, help="channel of every file (default: from each file name)"),
    quarter: Optional[str] = typer.Option(None, help="YYYYQn the files are accounted to (default: the folder name, else the last complete quarter)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object per file and nothing else"),
) -> None:
    """Ingest feedback files: read, validate, quarantine, store. Exit 2 when a file was rejected as a whole."""
    import json

    from tasks.validate.quarantine import InputError, file_record, resolve_inputs

    quarter = _quarter(quarter)
    try:  # bad input is refused here, before Prefect starts, with one clear line
        items = resolve_inputs(paths, channel, quarter)
    except InputError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
        raise typer.Exit(2) from exc
    if not items:
        err_console.print(escape("no readable files in " + ", ".join(paths)), highlight=False)
        raise typer.Exit(0)
    from flows.ingest import ingest_feedback

    summary = ingest_feedback(paths=list(paths), channel=channel, quarter=quarter)
    records = [file_record(f) for f in summary["files"]]
    if as_json:
        for rec in records:
            print(json.dumps(rec, ensure_ascii=False))
    else:
        table = _wrapping_table("file", "channel", "received", "accepted", "quarantined", "duplicates", "status")
        for f in summary["files"]:
            table.add_row(escape(f["file"]), f["channel"] or "—", *(str(f[k]) for k in ("received", "accepted", "quarantined", "duplicates")),
                          "[red]rejected[/red]" if f["rejected"] else f["status"])
        console.print(table)
        for rec in records:
            if rec["rejected"]:
                console.print(f"[red]{escape(rec['error'])}[/red]", highlight=False)
        t = summary["totals"]
        console.print(f"rows in {t['received']} = accepted {t['accepted']} + quarantined {t['quarantined']} + duplicates {t['duplicates']}"
                      f"  ({t['files']} files, {t['rejected_files']} rejected)")
        if summary.get("data_docs"):
            console.print(escape(f"validation report (GE Data Docs): {summary['data_docs']}"), highlight=False)
    raise typer.Exit(2 if summary["totals"]["rejected_files"] else 0)


def _wrapping_table(*columns: str) -> Table:
    """A table whose cells wrap instead of being cut: a path or a reason must stay whole."""
    table = Table(box=None)
    for name in columns:
        table.add_column(name, overflow="fold", min_width=min(len(name), 12))
    return table


def _quarantine_db() -> None:
    from cxloop.settings import get_settings
    from models.db import upgrade

    get_settings().ensure_dirs()
    upgrade()


@quarantine_app.command("list")
def quarantine_list(
    quarter: Optional[str] = typer.Option(None, help="YYYYQn"),
    file: Optional[str] = typer.Option(None, "--file", help="the file as it was ingested"),
    channel: Optional[str] = typer.Option(None, help="channel id"),
    limit: int = typer.Option(50, min=1, help="show at most this many rows"),
    all_rows: bool = typer.Option(False, "--all", help="include rows already released for re-ingest"),
) -> None:
    """Show open quarantined rows: id, file, row, field, rule and reason."""
    from models.db import session_scope
    from tasks.validate.quarantine import count_quarantine, list_quarantine

    quarter = _quarter(quarter)
    _quarantine_db()
    with session_scope() as session:
        rows = list_quarantine(session, quarter, file, channel, limit, include_released=all_rows)
        total = count_quarantine(session, quarter, file, channel, include_released=all_rows)
    table = _wrapping_table("id", "file", "row", "field", "rule", "reason")
    for r in rows:
        table.add_row(str(r["id"]), *(escape(str(r[k])) for k in ("file", "row", "field", "rule", "reason")))
    console.print(table)
    console.print(f"{len(rows)} of {total} quarantined rows shown" + (" (use --limit to see more)" if total > len(rows) else ""))


@quarantine_app.command("export")
def quarantine_export(
    csv: Path = typer.Option(..., "--csv", help="write the CSV here (UTF-8 with BOM)"),
    quarter: Optional[str] = typer.Option(None, help="YYYYQn"),
    file: Optional[str] = typer.Option(None, "--file", help="the file as it was ingested"),
    channel: Optional[str] = typer.Option(None, help="channel id"),
) -> None:
    """Export quarantined rows as CSV; text a spreadsheet would run as a formula is neutralised."""
    from flows.ingest import export_quarantine

    result = export_quarantine(str(csv), _quarter(quarter), file, channel)
    console.print(escape(f"{result['rows']} quarantined rows written to {result['csv']}"), highlight=False)


@quarantine_app.command("release")
def quarantine_release(
    file: Optional[str] = typer.Option(None, "--file", help="release the quarantined rows of this file"),
    ids: Optional[list[int]] = typer.Option(None, "--id", help="release these quarantine ids (repeatable)"),
) -> None:
    """Release quarantined rows for re-ingest once the source (or the registry) is fixed.

    Nothing is deleted: the rows are marked released and no longer listed; the next
    ingest of the file validates it again (even unchanged), counts the rows accepted
    before as duplicates and quarantines again whatever is still wrong."""
    from datetime import datetime, timezone

    from models.db import session_scope
    from tasks.validate.quarantine import InputError, release_rows

    _quarantine_db()
    try:
        with session_scope() as session:
            items = release_rows(session, datetime.now(timezone.utc), file, ids or ())
    except InputError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/red]", highlight=False)
        raise typer.Exit(2) from exc
    if not items:
        err_console.print(escape("no quarantined rows match " + (f"file {file}" if file else "ids " + ", ".join(map(str, ids or ())))), highlight=False)
        raise typer.Exit(2)
    for it in items:
        console.print(escape(f"{it.path} ({it.quarter}, {it.channel}): {it.quarantined_rows} quarantined rows — {it.status}: {it.message}"), highlight=False)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (CXLOOP_DATABASE_URL)."""
    from cxloop.settings import get_settings
    from models.db import upgrade

    get_settings().ensure_dirs()
    upgrade()
    console.print(f"database at head: {get_settings().database_url}")



# Reports and their e-mail delivery run in-process, like the register's commands: no
# Prefect needed (unless CXLOOP_SMTP_BLOCK names a Prefect block to take the SMTP server
# from). Exit codes: 0 done, 1 some e-mail not delivered (the PDFs are written and stay
# in the archive), 2 input refused or nothing to report on (nothing written).

deliveries_app = typer.Typer(help="The e-mail delivery log of the reports: list, resend.", no_args_is_help=True)
app.add_typer(deliveries_app, name="deliveries")


def _delivery_setup():  # -> tuple[Settings, AppConfig]
    from cxloop.config import ConfigError, get_config
    from cxloop.settings import get_settings
    from models.db import upgrade

    settings = get_settings()
    settings.ensure_dirs()
    upgrade()
    try:
        config = get_config(settings.config_dir)
    except ConfigError as exc:
        _refuse(str(exc))
    return settings, config


def _smtp_target_or_refuse(settings):  # -> SmtpTarget | None
    from tasks.delivery.send import SmtpConfigError, smtp_target

    try:
        return smtp_target(settings)
    except SmtpConfigError as exc:
        _refuse(str(exc))


def _print_delivery(summary, settings, quarter: Optional[str]) -> None:
    """Counts, how the mail went, and every recipient who did not get the report (address masked)."""
    from tasks.delivery.send import display_error, mask_address

    if summary.transport == "outbox" and summary.sent:
        where = (settings.out_dir / "outbox" / (quarter or "")).resolve()
        console.print(escape(f"no SMTP settings (CXLOOP_SMTP_HOST or CXLOOP_SMTP_BLOCK): messages written as .eml files to {where}"),
                      highlight=False)
    console.print(escape(f"e-mail via {summary.via}: {summary.sent} sent, {summary.skipped} skipped (already sent), "
                         f"{summary.failed} failed"), highlight=False)
    if summary.scopes_without_recipients:
        console.print(escape("no recipients configured for: " + ", ".join(summary.scopes_without_recipients)), highlight=False)
    for q, scope, who in summary.not_recipients:
        console.print(escape(f"left out {q} {scope} {mask_address(who)}: no longer a recipient of {scope} in recipients.yaml"),
                      highlight=False)
    if summary.failures:
        err_console.print(f"[red]not delivered: {len(summary.failures)}[/red] (the PDFs stay in the archive)")
        table = _wrapping_table("quarter", "scope", "recipient", "report", "error")
        for f in summary.failures:
            table.add_row(f.quarter, escape(f.scope), escape(mask_address(f.recipient)), escape(Path(f.report_path).name),
                          escape(display_error(f.error) or ""))
        err_console.print(table)
        hint = f" --quarter {quarter}" if quarter else ""
        err_console.print(escape(f"send them again once fixed: cxloop deliveries resend{hint}"), highlight=False)


@app.command()
def report(
    quarter: str = typer.Option(..., help="the quarter, YYYYQn"),
    region: Optional[str] = typer.Option(None, help="only this region's report (default: the national one and every region's)"),
    lang: Literal["ru", "en", "fi"] = typer.Option("ru", help="report language"),
    send: bool = typer.Option(False, "--send", help="e-mail the PDFs to their recipients (.eml files in the outbox without SMTP settings)"),
    force: bool = typer.Option(False, "--force", help="with --send: send even to recipients who already got this exact report"),
) -> None:
    """Write the quarter's PDF reports to out/reports/<quarter>/ and, with --send, e-mail them.

    National recipients get the national report; each region's recipients only their
    region's. Exit 2 when there is no data for the quarter (nothing written), 1 when an
    e-mail was not delivered (see `cxloop deliveries list --status failed`)."""
    from models.db import session_scope
    from tasks.delivery.send import deliver_reports, feedback_count, prepare_reports

    q = _quarter(quarter)
    settings, config = _delivery_setup()
    if region is not None and region not in config.regions:
        _refuse(f"unknown region {region!r}; configured regions: {', '.join(config.regions)}")
    target = _smtp_target_or_refuse(settings) if send else None  # a broken SMTP setting is refused before any work
    with session_scope() as session:
        if not feedback_count(session, q, region):
            _refuse(f"no data for {q}" + (f" in region {region}" if region else "")
                    + ": no feedback is stored for it; ingest it first (cxloop ingest, or cxloop cycle)")
        reports = prepare_reports(session, q, config, settings.out_dir, scopes=[region] if region else None, lang=lang)
    for scope, rep in reports.items():
        console.print(escape(f"{scope}: {rep.path}"), highlight=False)
    if not send:
        return
    with session_scope() as session:
        summary = deliver_reports(session, q, reports, config, settings, force=force, lang=lang, target=target)
    _print_delivery(summary, settings, q)
    raise typer.Exit(1 if summary.failed else 0)


@deliveries_app.command("list")
def deliveries_list(
    quarter: Optional[str] = typer.Option(None, help="YYYYQn"),
    status: Optional[Literal["failed", "sent"]] = typer.Option(None, help="only deliveries whose latest attempt failed / was sent"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object per delivery and nothing else"),
    show_addresses: bool = typer.Option(False, "--show-addresses", help="show recipients' addresses in full (masked by default)"),
) -> None:
    """The delivery log, one line per quarter x report x recipient: latest status, attempts, last error."""
    import json

    from models.db import session_scope
    from tasks.delivery.send import delivery_log

    q = _quarter(quarter)
    _delivery_setup()
    with session_scope() as session:
        states = delivery_log(session, quarter=q, status=status)
    if as_json:
        for state in states:
            print(json.dumps(state.as_dict(show_address=show_addresses), ensure_ascii=False))
        return
    table = _wrapping_table("quarter", "scope", "recipient", "report", "via", "status", "attempts", "last attempt (UTC)", "error")
    for st in states:
        rec = st.as_dict(show_address=show_addresses)
        table.add_row(st.quarter, escape(st.scope), escape(rec["recipient"]), escape(st.report_file), st.transport,
                      "[red]failed[/red]" if st.status == "failed" else st.status, str(st.attempts),
                      st.last_at.strftime("%Y-%m-%d %H:%M"), escape(rec["error"] or ""))
    console.print(table)
    failed = sum(s.status == "failed" for s in states)
    console.print(f"{len(states)} deliveries: {len(states) - failed} sent, {failed} failed")


@deliveries_app.command("resend")
def deliveries_resend(
    quarter: Optional[str] = typer.Option(None, help="YYYYQn (default: every quarter)"),
    failed_only: bool = typer.Option(True, "--failed-only/--all", help="resend only deliveries whose latest attempt failed (default), or every logged one"),
) -> None:
    """Send again what the log says was not delivered, to the same recipients, with the PDF in the archive.

    Recipients taken off recipients.yaml since are left out. Exit 1 when one still failed."""
    from models.db import session_scope
    from tasks.delivery.send import resend_deliveries

    q = _quarter(quarter)
    settings, config = _delivery_setup()
    target = _smtp_target_or_refuse(settings)
    with session_scope() as session:
        summary = resend_deliveries(session, config, settings, q, failed_only=failed_only, target=target)
    if not summary.per_scope and not summary.not_recipients:
        console.print(escape("nothing to resend" + (f" for {q}" if q else "") + (": no failed deliveries" if failed_only else "")),
                      highlight=False)
        return
    _print_delivery(summary, settings, q)
    raise typer.Exit(1 if summary.failed else 0)



# --------------------------------------------------------------------------- running as a service
#
# `cxloop server` starts Prefect's server (API + UI) with the project's PREFECT_HOME;
# `cxloop serve` serves every deployment of prefect.yaml from this one process (Prefect's
# `serve`): a single-machine installation without work pools or workers. The deployments
# are built from prefect.yaml itself, so names, schedules and parameters stay those of
# `prefect deploy --all`.

_SCHEDULE_KEYS = ("cron", "interval", "rrule", "timezone", "anchor_date", "day_or", "active", "parameters", "slug")
# What `serve` takes from a deployment entry; the rest (work_pool, pull/build/push steps)
# only concerns workers and is left out on purpose.
_SERVED_KEYS = ("name", "entrypoint", "description", "parameters", "schedules", "concurrency_limit",
                "enforce_parameter_schema", "tags", "paused", "version")


def prefect_yaml_deployments(prefect_file: Path) -> list[dict]:
    """The deployment entries of ``prefect_file``, each reduced to :data:`_SERVED_KEYS`.

    ``{{ $VAR }}`` placeholders are filled from the environment, as ``prefect deploy``
    does; one left unfilled in a served key is an error naming the deployment (Prefect
    would silently drop it, e.g. a timezone, which then means UTC)."""
    import yaml
    from prefect.utilities.templating import apply_values, find_placeholders

    doc = yaml.safe_load(prefect_file.read_text(encoding="utf-8")) or {}
    entries = doc.get("deployments") or []
    if not entries:
        raise ValueError(f"{prefect_file}: no deployments declared")
    out = []
    for entry in entries:
        spec = {k: entry[k] for k in _SERVED_KEYS if entry.get(k) is not None}
        spec = apply_values(spec, dict(os.environ), remove_notset=False)
        name = spec.get("name") or "(unnamed)"
        if "entrypoint" not in spec:
            raise ValueError(f"{prefect_file}: deployment {name} has no entrypoint")
        left = sorted({p.full_match for p in _placeholders(spec, find_placeholders)})
        if left:
            raise ValueError(f"{prefect_file}: deployment {name}: {', '.join(left)} not set in the environment")
        out.append(spec)
    return out


def _placeholders(value: object, find) -> list:  # -> list[Placeholder]
    if isinstance(value, str):
        return list(find(value))
    if isinstance(value, dict):
        return [p for v in value.values() for p in _placeholders(v, find)]
    if isinstance(value, list):
        return [p for v in value for p in _placeholders(v, find)]
    return []


def schedule_from_yaml(spec: dict):  # -> prefect.schedules.Schedule
    """One ``schedules:`` item of prefect.yaml as a Prefect schedule object, with the same
    meaning ``prefect deploy`` gives it: exactly one of ``cron``, ``interval`` (seconds)
    or ``rrule``; optional ``timezone``, ``anchor_date``, ``day_or``, ``active``
    (default true), ``parameters``, ``slug``."""
    from datetime import timedelta

    from prefect.schedules import Schedule
    from prefect.types._datetime import parse_datetime

    unknown = sorted(set(spec) - set(_SCHEDULE_KEYS))
    if unknown:
        raise ValueError(f"schedule {spec}: unknown key(s) {', '.join(unknown)}")
    kinds = [k for k in ("cron", "interval", "rrule") if spec.get(k) is not None]
    if len(kinds) != 1:
        raise ValueError(f"schedule {spec}: give exactly one of cron, interval, rrule")
    kwargs = {k: spec[k] for k in _SCHEDULE_KEYS if spec.get(k) is not None}
    if isinstance(kwargs.get("interval"), (int, float)):
        kwargs["interval"] = timedelta(seconds=kwargs["interval"])
    if isinstance(kwargs.get("anchor_date"), str):
        kwargs["anchor_date"] = parse_datetime(kwargs["anchor_date"])
    return Schedule(**kwargs)


def _flow_of(entrypoint: str, root: Path):  # -> prefect.Flow
    """The flow object of a ``path/to/file.py:function`` entrypoint under ``root``,
    imported as a module of the project (``flows.quarterly_cycle``), not run as a script."""
    import importlib

    path, _, function = entrypoint.partition(":")
    file = (root / path).resolve()
    if not function or file.suffix != ".py" or not file.is_file():
        raise ValueError(f"entrypoint {entrypoint!r}: expected path/to/file.py:flow_function under {root}")
    module = ".".join(file.relative_to(root.resolve()).with_suffix("").parts)
    flow = getattr(importlib.import_module(module), function, None)
    if flow is None or not hasattr(flow, "to_deployment"):
        raise ValueError(f"entrypoint {entrypoint!r}: {module}.{function} is not a Prefect flow")
    return flow


def served_deployments(prefect_file: Path) -> list:  # -> list[RunnerDeployment]
    """Every deployment of ``prefect_file`` as ``flow.to_deployment(...)``, for ``prefect.serve``.

    Same names, descriptions, default parameters, schedules (with their timezone and
    active flag), concurrency limits, tags and parameter-schema enforcement as
    ``prefect deploy --all`` gives them; no work pool (the serving process runs the
    flows). The flow runs start in the folder of ``prefect_file`` (entrypoints are
    relative to it), so call this with that folder as the working directory."""
    root = prefect_file.resolve().parent
    if Path.cwd().resolve() != root:
        raise ValueError(f"run from {root} (the folder of {prefect_file.name}): the served flows start there")
    deployments = []
    for spec in prefect_yaml_deployments(prefect_file):
        flow = _flow_of(spec["entrypoint"], root)
        deployment = flow.to_deployment(
            name=spec["name"],
            description=spec.get("description"),
            parameters=spec.get("parameters") or {},
            schedules=[schedule_from_yaml(s) for s in spec.get("schedules") or []],
            concurrency_limit=spec.get("concurrency_limit"),
            enforce_parameter_schema=spec.get("enforce_parameter_schema", True),
            tags=spec.get("tags"),
            paused=spec.get("paused"),
            version=spec.get("version"),
        )
        deployment.entrypoint = spec["entrypoint"]  # as written in prefect.yaml (and as `prefect deploy` stores it)
        deployments.append(deployment)
    return deployments


def _api_url() -> Optional[str]:
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


def deployed_for_work_pools(deployments: list) -> list[tuple[str, str, object]]:
    """``(flow/deployment, work pool, id)`` of the server's deployments that have the name of
    one of ``deployments`` and run on a work pool (``prefect deploy``).

    Prefect's ``serve`` updates an existing deployment in place and keeps its work pool
    and its missing code path, so a run of it would go to the pool's worker, or crash
    in the serving process: such deployments must be deleted before they are served."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    found = []
    with get_client(sync_client=True) as client:
        for d in deployments:
            full = f"{d.flow_name}/{d.name}"
            try:
                existing = client.read_deployment_by_name(full)
            except ObjectNotFound:
                continue
            if existing.work_pool_name:
                found.append((full, existing.work_pool_name, existing.id))
    return found


@app.command()
def serve(
    prefect_file: Path = typer.Option(Path("prefect.yaml"), "--file", help="the deployments to serve"),
    limit: Optional[int] = typer.Option(None, min=1, help="at most this many flow runs at the same time (default: no limit)"),
    log_level: str = typer.Option("INFO", help="log level of the served flow runs (what the UI shows of each run)"),
    replace: bool = typer.Option(False, "--replace", help="delete deployments of the same names made for a work pool "
                                 "(prefect deploy) and serve them from here instead"),
) -> None:
    """Serve every deployment of prefect.yaml from this process: schedules and UI runs, no work pool.

    Needs a Prefect server (`cxloop server` in another terminal, or PREFECT_API_URL). Stop
    with Ctrl-C (or SIGTERM): Prefect then pauses the deployments until the next `cxloop serve`.
    Exit 2 when a deployment of the same name runs on a work pool (see --replace)."""
    os.environ["PREFECT_LOGGING_LEVEL"] = log_level.upper()  # before Prefect is imported: the runs inherit it
    prefect_file = prefect_file.resolve()
    if not prefect_file.is_file():
        _refuse(f"{prefect_file}: not found (run from the project folder, or give --file)")
    os.chdir(prefect_file.parent)
    api = _api_url()
    if not api:
        _refuse("no Prefect server: start one with `cxloop server` (another terminal), then "
                "PREFECT_API_URL=http://127.0.0.1:4200/api cxloop serve")
    try:
        deployments = served_deployments(prefect_file)
    except ValueError as exc:
        _refuse(str(exc))
    pooled = deployed_for_work_pools(deployments)
    if pooled and not replace:
        _refuse("deployed for a work pool (prefect deploy): " + ", ".join(f"{n} (pool {p})" for n, p, _ in pooled)
                + ". Their runs go to the pool's worker; to serve them from here instead, stop the worker and "
                "run `cxloop serve --replace` (deletes and re-creates them, past runs stay).")
    if pooled:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            for name, pool, deployment_id in pooled:
                client.delete_deployment(deployment_id)
                console.print(escape(f"deleted {name} (work pool {pool}): served from here now"), highlight=False)
    from prefect import serve as prefect_serve
    from prefect.settings import get_current_settings

    console.print(escape(f"serving {len(deployments)} deployments from {prefect_file} against {api}"), highlight=False)
    for d in deployments:
        when = ", ".join(_describe_schedule(s) for s in d.schedules or []) or "on demand"
        console.print(escape(f"  {d.flow_name}/{d.name}: {when}"), highlight=False)
    ui = get_current_settings().ui_url
    console.print(escape((f"runs and forms in the UI: {ui}/deployments; " if ui else "") + "stop with Ctrl-C"), highlight=False)
    prefect_serve(*deployments, limit=limit, print_starting_message=False)


def _describe_schedule(item) -> str:  # item: DeploymentScheduleCreate
    sched = item.schedule
    what = (getattr(sched, "cron", None) or getattr(sched, "rrule", None)
            or f"every {getattr(sched, 'interval', '?')}")
    return f"{what} ({sched.timezone or 'UTC'})" + ("" if item.active else " inactive")


def _ui_url(host: str, port: int) -> str:
    import socket

    shown = socket.gethostname() if host in ("0.0.0.0", "::") else host
    return f"http://{shown}:{port}"


@app.command()
def server(
    host: str = typer.Option("127.0.0.1", help="address to listen on (0.0.0.0: every interface)"),
    port: int = typer.Option(4200, min=1, max=65535, help="port of the API and the UI"),
    ui: bool = typer.Option(True, "--ui/--no-ui", help="serve the web UI (--no-ui: the API only)"),
) -> None:
    """Start the Prefect server (API and UI) with the project's PREFECT_HOME (var/prefect).

    Runs `prefect server start` until Ctrl-C; its database is PREFECT_HOME/prefect.db
    unless PREFECT_SERVER_DATABASE_CONNECTION_URL says otherwise."""
    import subprocess
    import sys

    url = _ui_url(host, port)
    console.print(escape((f"Prefect UI: {url}   " if ui else "") + f"API: {url}/api   (PREFECT_HOME={os.environ['PREFECT_HOME']})"),
                  highlight=False)
    console.print(escape(f"in another terminal: export PREFECT_API_URL={url}/api; then `cxloop serve`, or "
                         "`prefect deploy --all` and `prefect worker start --pool cxloop`"), highlight=False)
    args = [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]
    proc = subprocess.Popen(args + ([] if ui else ["--no-ui"]))
    try:
        code = proc.wait()
    except KeyboardInterrupt:  # the server got the same Ctrl-C: let it shut down
        code = proc.wait()
    raise typer.Exit(code)


if __name__ == "__main__":
    app()
