"""The register's commands: ``offices load`` (the office registry) and the ``measures``
group (export, list, show, update, import). ``offices load`` and ``measures export`` run
the flows of flows/register.py; the views and edits call tasks.measures directly.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from cxloop.cli.common import console, default_who, jsonable, one_line, quarter_option, refuse, wrapping_table

offices_app = typer.Typer(help="The office registry.", no_args_is_help=True)
measures_app = typer.Typer(help="The corrective-measure register.", no_args_is_help=True)


@offices_app.command("load")
def offices_load(
    path: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="CSV: office_code, office_name, region_code, region_name"
    ),
) -> None:
    """Merge an office registry file into the database."""
    from cxloop.config import ConfigError
    from flows.register import load_office_registry

    try:
        result = load_office_registry(str(path))
    except ConfigError as exc:  # the file given: one line on stderr, exit 2
        refuse(one_line(str(exc)))
    console.print(f"offices: {result['added']} added, {result['updated']} updated, {result['unchanged']} unchanged")


@measures_app.command("export")
def measures_export(
    xlsx: Path | None = typer.Option(None, "--xlsx", help="write a formatted XLSX register here"),
    csv: Path | None = typer.Option(None, "--csv", help="write a CSV register here"),
    quarter: str | None = typer.Option(None, help="judge overdue at this quarter's cycle date"),
) -> None:
    """Export the measure register."""
    from flows.register import export_measure_register

    if not xlsx and not csv:
        raise typer.BadParameter("give --xlsx PATH and/or --csv PATH")
    for kind, path in export_measure_register(
        str(xlsx) if xlsx else None, str(csv) if csv else None, quarter_option(quarter)
    ).items():
        console.print(f"{kind}: {path}")


# The register's views and edits answer without starting Prefect: they call the same
# functions as the update-measure flow (tasks.measures.register / tasks.measures.register_io) and leave
# the same history rows. Exit codes: 0 done, 2 input refused (nothing written).


def _measures_db() -> None:
    from cxloop.settings import get_settings
    from models.db import upgrade

    get_settings().ensure_dirs()
    upgrade()


def _iso_date(value: str | None, option: str):  # -> datetime.date | None
    from datetime import date

    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option) from exc


@measures_app.command("list")
def measures_list(
    region: str | None = typer.Option(None, help="region code: its measures and those rolled out to its offices"),
    status: list[str] | None = typer.Option(None, "--status", help="status (repeatable or comma-separated)"),
    overdue: bool | None = typer.Option(
        None, "--overdue/--not-overdue", help="only overdue (or only not overdue) measures"
    ),
    as_of: str | None = typer.Option(None, "--as-of", help="judge overdue on this day, YYYY-MM-DD (default today)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object per measure and nothing else"),
) -> None:
    """List the measure register, filtered by region, status and overdue."""
    import json
    from datetime import date

    from models.db import session_scope
    from tasks.measures.edits import list_register
    from tasks.validate.redaction import redact

    day = _iso_date(as_of, "--as-of") or date.today()
    statuses = [s.strip() for item in status or () for s in item.split(",") if s.strip()]
    _measures_db()
    with session_scope() as session:
        try:
            frame = list_register(session, day, region=region, statuses=statuses or None, overdue=overdue)
        except ValueError as exc:
            refuse(str(exc))
    if as_json:
        for rec in frame.to_dict("records"):
            print(json.dumps({k: jsonable(v) for k, v in rec.items()}, ensure_ascii=False))
        return
    table = wrapping_table("code", "status", "overdue", "region", "owner", "due", "title")
    for r in frame.itertuples(index=False):
        table.add_row(
            escape(r.code),
            r.status,
            "[red]OVERDUE[/red]" if r.overdue else "",
            escape(str(r.region_code)),
            escape(redact(r.owner) or ""),
            str(jsonable(r.due_date) or "—"),
            escape(redact(r.title) or ""),
        )
    console.print(table)
    console.print(
        f"{len(frame)} measures"
        + (f", {int(frame['overdue'].sum())} overdue" if len(frame) else "")
        + f" (as of {day.isoformat()})"
    )


@measures_app.command("show")
def measures_show(
    code: str = typer.Argument(..., help="the measure's code"),
    as_json: bool = typer.Option(False, "--json", help="print the measure and its history as one JSON object"),
) -> None:
    """Show one measure with its full history (who, when, from → to, comment)."""
    import json
    from datetime import date

    from models.db import session_scope
    from tasks.measures.register import REGISTER_COLUMNS, MeasureNotFound, get_measure, history_of
    from tasks.measures.status import codesign_label, is_overdue, is_override
    from tasks.validate.redaction import redact

    _measures_db()
    with session_scope() as session:
        try:
            m = get_measure(session, code)
        except MeasureNotFound as exc:
            refuse(str(exc))
        record: dict[str, Any] = {k: jsonable(getattr(m, k)) for k in m.model_fields if k != "id"}
        record["overdue"] = is_overdue(m, date.today())
        history: list[dict[str, Any]] = [
            {
                "at": h.at.isoformat(),
                "who": h.who,
                "field": h.field,
                "from": h.from_value,
                "to": h.to_value,
                "comment": h.comment,
                "override": is_override(h),
            }
            for h in history_of(session, m)
        ]
    if as_json:
        print(json.dumps({"measure": record, "history": history}, ensure_ascii=False))
        return
    console.rule(f"[bold]{escape(record['code'])}[/bold] {escape(redact(record['title']) or '')}")
    shown = dict(record)
    # The register's columns in its order; the code and title head the card, the description
    # and the effect's figures have their own commands (export, the report).
    hidden = {"code", "title", "description"} | {c for c in REGISTER_COLUMNS if c.startswith("effect_")}
    card_fields = [c for c in REGISTER_COLUMNS if c not in hidden or c == "effect_verdict"]
    shown["codesign_form"] = codesign_label(record["codesign_form"], "en")
    for key in card_fields:
        value = shown.get(key)
        text = "—" if value is None or value == "" else str(value)
        console.print(f"{key:>18}: " + escape((redact(text) or "") if key in ("owner",) else text), highlight=False)
    table = wrapping_table("when (UTC)", "who", "field", "from", "to", "comment")
    for h in history:
        table.add_row(
            h["at"][:16].replace("T", " "),
            escape(redact(h["who"]) or ""),
            h["field"],
            escape(str(h["from"] or "—")),
            escape(str(h["to"] or "—")),
            ("[bold yellow]OVERRIDE[/bold yellow] " if h["override"] else "") + escape(redact(h["comment"]) or ""),
        )
    console.print(table)


@measures_app.command("plan")
def measures_plan(
    code: str = typer.Argument(..., help="the measure's code"),
    quarters: int = typer.Option(2, "--quarters", min=1, help="quarters after the start the effect is judged on"),
    as_json: bool = typer.Option(False, "--json", help="print the plan as one JSON object"),
) -> None:
    """Power check before the start: the smallest effect the measure's evaluation could detect.

    From the KPI's history in the database: the minimum detectable effect (80 % power, 5 %
    level) of the planned design (the measure's offices, --quarters after the start), whether
    it is within the aimed change, and how many offices or quarters the aim would need."""
    import json

    from cxloop.config import get_config
    from cxloop.settings import get_settings
    from models.db import session_scope
    from tasks.effects.planning import plan_measure
    from tasks.measures.register import MeasureNotFound, get_measure

    _measures_db()
    config = get_config(get_settings().config_dir)
    with session_scope() as session:
        try:
            measure = get_measure(session, code)
        except MeasureNotFound as exc:
            refuse(str(exc))
        plan = plan_measure(session, measure, config, post_quarters=quarters)
    if as_json:
        print(json.dumps(plan.as_dict(), ensure_ascii=False))
        return
    p = plan.plan
    history = plan.history_quarters
    span = f"{history[0]}–{history[-1]}" if history else "none"
    console.print(escape(f"{plan.code}: KPI {plan.kpi_metric}, aimed change {p.target_change:+g}"), highlight=False)
    console.print(
        escape(
            f"design: {len(plan.offices)} office(s) in scope against {p.n_comparison} comparison office(s), "
            f"{quarters} quarter(s) after the start; history {span} ({len(history)} quarters)"
        ),
        highlight=False,
    )
    if plan.left_out_offices:
        console.print(
            escape(f"left out of the comparison (another measure on this KPI): {', '.join(plan.left_out_offices)}"),
            highlight=False,
        )
    console.print(escape(plan.verdict()), highlight=False, style="green" if p.enough else "yellow")
    if p.note:
        console.print(escape(p.note), highlight=False)


@measures_app.command("update")
def measures_update(
    code: str = typer.Argument(..., help="the measure's code"),
    status: str | None = typer.Option(
        None, help="new status: proposed, approved, in_progress, implemented, evaluated, closed, rejected, cancelled"
    ),
    owner: str | None = typer.Option(None, help="new owner"),
    due: str | None = typer.Option(None, help="new due date, YYYY-MM-DD"),
    implemented_on: str | None = typer.Option(None, "--implemented-on", help="actual implementation date, YYYY-MM-DD"),
    office_starts: str | None = typer.Option(
        None,
        "--office-starts",
        help="a rollout office by office: 'OFFICE:QUARTER' pairs, e.g. '52-03:2026Q2, 52-04:2026Q3' "
        "(the other offices start with --implemented-on; '' clears)",
    ),
    codesign_date: str | None = typer.Option(
        None, "--codesign-date", help="when the measure was designed with clients, YYYY-MM-DD"
    ),
    codesign_form: str | None = typer.Option(None, "--codesign-form", help="workshop, observation or client_test"),
    codesign_clients: int | None = typer.Option(None, "--codesign-clients", help="number of clients involved"),
    comment: str = typer.Option("", help="why (kept in the history)"),
    who: str | None = typer.Option(None, help="who makes the change (default: your login name)"),
    override_reason: str | None = typer.Option(
        None, "--override-reason", help="approver only: start without co-design evidence, for this reason"
    ),
    expected_version: int | None = typer.Option(
        None, "--expected-version", help="refuse if the measure changed since this version"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Change a measure's status and fields — all or nothing, one history row per change.

    Exit 2 (nothing written) for an unknown code, an invalid transition, a start without
    co-design evidence (unless --override-reason), a stale --expected-version or a bad value."""
    import json
    from datetime import datetime

    from models.db import session_scope
    from tasks.measures.edits import edit_measure as update_measure

    changes = {
        k: v
        for k, v in {
            "owner": owner,
            "due_date": _iso_date(due, "--due"),
            "implemented_on": _iso_date(implemented_on, "--implemented-on"),
            "office_starts": office_starts,
            "codesign_date": _iso_date(codesign_date, "--codesign-date"),
            "codesign_form": codesign_form,
            "codesign_clients": codesign_clients,
        }.items()
        if v is not None
    }
    if status is None and not changes:
        raise typer.BadParameter("nothing to change: give --status and/or a field option")
    _measures_db()
    try:
        with session_scope() as session:
            result = update_measure(
                session,
                code,
                who or default_who(),
                datetime.now(UTC),
                status=status,
                changes=changes,
                comment=comment,
                override_reason=override_reason,
                expected_version=expected_version,
            )
    except (ValueError, LookupError, RuntimeError) as exc:  # InvalidTransition, CodesignMissing, VersionConflict, ...
        refuse(str(exc).strip("'\""))
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    if not result["changes"]:
        console.print(escape(f"{result['code']}: nothing changed (version {result['version']})"), highlight=False)
        return
    for c in result["changes"]:
        console.print(escape(f"{result['code']}: {c['field']} {c['from'] or '—'} → {c['to'] or '—'}"), highlight=False)
    console.print(
        escape(
            f"{result['code']}: now {result['status']}, version {result['version']}"
            + (" (started without co-design evidence: override recorded)" if result["override"] else "")
        ),
        highlight=False,
    )


@measures_app.command("import")
def measures_import(
    xlsx: Path | None = typer.Option(
        None, "--xlsx", help="an edited register XLSX (as 'measures export --xlsx' wrote it)"
    ),
    csv: Path | None = typer.Option(None, "--csv", help="or an edited register CSV"),
    who: str | None = typer.Option(None, help="who made the edits (default: your login name)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="check and report, save nothing"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Apply an edited register back: GE-validated, row by row, every change in the history.

    A rejected row is listed with its row number, column and reason, and nothing of it
    is applied; the other rows are. Exit 2 when a row (or the whole file) was rejected."""
    import json
    from datetime import datetime

    from tasks.measures.register_file import RegisterFileError
    from tasks.measures.register_io import import_register_file, summary_lines

    path = xlsx or csv
    if path is None or (xlsx is not None and csv is not None):
        raise typer.BadParameter("give either --xlsx PATH or --csv PATH")
    _measures_db()
    try:
        summary = import_register_file(path, who or default_who(), datetime.now(UTC), dry_run=dry_run)
    except (RegisterFileError, ValueError) as exc:
        refuse(str(exc))
    if as_json:
        print(json.dumps(summary.as_dict(), ensure_ascii=False, default=str))
    else:
        for line in summary_lines(summary):
            console.print(escape(line), highlight=False)
    raise typer.Exit(2 if summary.rejected else 0)
