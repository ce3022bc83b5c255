"""Reports and their e-mail: ``report`` (PDFs for a quarter, ``--send`` to e-mail them) and
the ``deliveries`` group (the delivery log: list, resend). They run in-process through
tasks.delivery.send, like the register's commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer
from rich.markup import escape

from cxloop.cli.common import config_refused, console, err_console, quarter_option, refuse, wrapping_table
from cxloop.domain import check_region

# Reports and their e-mail delivery run in-process, like the register's commands: no
# Prefect needed (unless CXLOOP_SMTP_BLOCK names a Prefect block to take the SMTP server
# from). Exit codes: 0 done, 1 some e-mail not delivered (the PDFs are written and stay
# in the archive), 2 input refused or nothing to report on (nothing written).

deliveries_app = typer.Typer(help="The e-mail delivery log of the reports: list, resend.", no_args_is_help=True)


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
        config_refused(exc)
    return settings, config


def _smtp_target_or_refuse(settings):  # -> SmtpTarget | None
    from tasks.delivery.smtp import SmtpConfigError, smtp_target

    try:
        return smtp_target(settings)
    except SmtpConfigError as exc:
        refuse(str(exc))


def _print_delivery(summary, settings, quarter: str | None) -> None:
    """Counts, how the mail went, and every recipient who did not get the report (address masked)."""
    from tasks.delivery.messages import display_error, mask_address

    if summary.transport == "outbox" and summary.sent:
        where = (settings.out_dir / "outbox" / (quarter or "")).resolve()
        console.print(
            escape(
                f"no SMTP settings (CXLOOP_SMTP_HOST or CXLOOP_SMTP_BLOCK): messages written as .eml files to {where}"
            ),
            highlight=False,
        )
    console.print(
        escape(
            f"e-mail via {summary.via}: {summary.sent} sent, {summary.skipped} skipped (already sent), "
            f"{summary.failed} failed"
        ),
        highlight=False,
    )
    if summary.scopes_without_recipients:
        console.print(
            escape("no recipients configured for: " + ", ".join(summary.scopes_without_recipients)), highlight=False
        )
    for q, scope, who in summary.not_recipients:
        console.print(
            escape(f"left out {q} {scope} {mask_address(who)}: no longer a recipient of {scope} in recipients.yaml"),
            highlight=False,
        )
    if summary.failures:
        err_console.print(f"[red]not delivered: {len(summary.failures)}[/red] (the PDFs stay in the archive)")
        table = wrapping_table("quarter", "scope", "recipient", "report", "error")
        for f in summary.failures:
            table.add_row(
                f.quarter,
                escape(f.scope),
                escape(mask_address(f.recipient)),
                escape(Path(f.report_path).name),
                escape(display_error(f.error) or ""),
            )
        err_console.print(table)
        hint = f" --quarter {quarter}" if quarter else ""
        err_console.print(escape(f"send them again once fixed: cxloop deliveries resend{hint}"), highlight=False)


def report(
    quarter: str = typer.Option(..., help="the quarter, YYYYQn"),
    region: str | None = typer.Option(
        None, help="only this region's report (default: the national one and every region's)"
    ),
    lang: Literal["ru", "en", "fi"] = typer.Option("ru", help="report language"),
    send: bool = typer.Option(
        False, "--send", help="e-mail the PDFs to their recipients (.eml files in the outbox without SMTP settings)"
    ),
    force: bool = typer.Option(
        False, "--force", help="with --send: send even to recipients who already got this exact report"
    ),
) -> None:
    """Write the quarter's PDF reports to out/reports/<quarter>/ and, with --send, e-mail them.

    National recipients get the national report; each region's recipients only their
    region's. Exit 2 when there is no data for the quarter (nothing written), 1 when an
    e-mail was not delivered (see `cxloop deliveries list --status failed`)."""
    from models.db import session_scope
    from tasks.delivery.archive import feedback_count, prepare_reports
    from tasks.delivery.send import mail_reports

    q = quarter_option(quarter)
    settings, config = _delivery_setup()
    if region is not None:
        try:
            check_region(region, config.regions)
        except ValueError as exc:
            refuse(str(exc))
    target = _smtp_target_or_refuse(settings) if send else None  # a broken SMTP setting is refused before any work
    with session_scope() as session:
        if not feedback_count(session, q, region):
            refuse(
                f"no data for {q}"
                + (f" in region {region}" if region else "")
                + ": no feedback is stored for it; ingest it first (cxloop ingest, or cxloop cycle)"
            )
        reports = prepare_reports(session, q, config, settings.out_dir, scopes=[region] if region else None, lang=lang)
    for scope, rep in reports.items():
        console.print(escape(f"{scope}: {rep.path}"), highlight=False)
    if not send:
        return
    with session_scope() as session:
        summary = mail_reports(session, q, reports, config, settings, force=force, lang=lang, target=target)
    _print_delivery(summary, settings, q)
    raise typer.Exit(1 if summary.failed else 0)


@deliveries_app.command("list")
def deliveries_list(
    quarter: str | None = typer.Option(None, help="YYYYQn"),
    status: Literal["failed", "sent"] | None = typer.Option(
        None, help="only deliveries whose latest attempt failed / was sent"
    ),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object per delivery and nothing else"),
    show_addresses: bool = typer.Option(
        False, "--show-addresses", help="show recipients' addresses in full (masked by default)"
    ),
) -> None:
    """The delivery log, one line per quarter x report x recipient: latest status, attempts, last error."""
    import json

    from models.db import session_scope
    from tasks.delivery.log import delivery_log

    q = quarter_option(quarter)
    _delivery_setup()
    with session_scope() as session:
        states = delivery_log(session, quarter=q, status=status)
    if as_json:
        for state in states:
            print(json.dumps(state.as_dict(show_address=show_addresses), ensure_ascii=False))
        return
    table = wrapping_table(
        "quarter", "scope", "recipient", "report", "via", "status", "attempts", "last attempt (UTC)", "error"
    )
    for st in states:
        rec = st.as_dict(show_address=show_addresses)
        table.add_row(
            st.quarter,
            escape(st.scope),
            escape(rec["recipient"]),
            escape(st.report_file),
            st.transport,
            "[red]failed[/red]" if st.status == "failed" else st.status,
            str(st.attempts),
            st.last_at.strftime("%Y-%m-%d %H:%M"),
            escape(rec["error"] or ""),
        )
    console.print(table)
    failed = sum(s.status == "failed" for s in states)
    console.print(f"{len(states)} deliveries: {len(states) - failed} sent, {failed} failed")


@deliveries_app.command("resend")
def deliveries_resend(
    quarter: str | None = typer.Option(None, help="YYYYQn (default: every quarter)"),
    failed_only: bool = typer.Option(
        True,
        "--failed-only/--all",
        help="resend only deliveries whose latest attempt failed (default), or every logged one",
    ),
) -> None:
    """Send again what the log says was not delivered, to the same recipients, with the PDF in the archive.

    Recipients taken off recipients.yaml since are left out. Exit 1 when one still failed."""
    from models.db import session_scope
    from tasks.delivery.send import resend_deliveries

    q = quarter_option(quarter)
    settings, config = _delivery_setup()
    target = _smtp_target_or_refuse(settings)
    with session_scope() as session:
        summary = resend_deliveries(session, config, settings, q, failed_only=failed_only, target=target)
    if not summary.per_scope and not summary.not_recipients:
        console.print(
            escape(
                "nothing to resend" + (f" for {q}" if q else "") + (": no failed deliveries" if failed_only else "")
            ),
            highlight=False,
        )
        return
    _print_delivery(summary, settings, q)
    raise typer.Exit(1 if summary.failed else 0)
