"""Rerun the e-mail delivery of a quarter's reports (Prefect flow ``send-reports``).

The quarterly cycle writes the PDFs and e-mails them; this flow is for doing the
delivery again on its own: after the SMTP server was down, a recipient's mailbox was
fixed, ``recipients.yaml`` gained someone, or management asks for the report in
English. It

1. takes the quarter's PDFs from the archive (``out/reports/<quarter>/``), rendering
   only the ones that are not there yet (the archive is what was approved and what
   re-sends must send; rerun the cycle or ``cxloop report`` to render them anew);
2. e-mails each to its own recipients (national to the national list, a region's to
   that region's list only), skipping those who already got this exact PDF unless
   ``force``; or, with ``resend_failed_only``, sends again only what the delivery log
   says is still failed;
3. leaves a markdown artifact with counts per scope and the deliveries that failed,
   recipients' addresses masked (``d***@cx52.example``) and error texts redacted: the
   addresses are management's work addresses, not client data, but the artifact is
   shown to everyone with access to the Prefect UI and masking loses nothing there
   (the full addresses are in the delivery log and ``recipients.yaml``).

The run ends ``Completed`` when every message went, ``Partial`` (a completed state)
with a message when some did not: the PDFs are still in the archive and the log
lists what to resend.

From Python (no server needed)::

    from flows.delivery import send_reports
    send_reports(quarter="2026Q3", region="52", lang="ru")
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed

from cxloop.config import AppConfig, get_config
from cxloop.domain import check_region, report_scopes
from cxloop.quarters import Quarter
from cxloop.settings import Settings, get_settings
from flows.params import Lang, QuarterText, Region
from models.db import session_scope, upgrade
from tasks.delivery import archive
from tasks.delivery import send as dl
from tasks.reports.render import ReportFile, report_path

_task: dict[str, Any] = dict(cache_policy=NO_CACHE, persist_result=False)


@task(name="prepare-reports", **_task)
def prepare_reports(
    quarter: str, config: AppConfig, settings: Settings, scopes: list[str], lang: str, region: str | None
) -> dict[str, ReportFile]:
    """The PDFs of ``scopes`` from the archive, rendering the missing ones;
    refuses when there is nothing to report on."""
    missing = [s for s in scopes if not report_path(settings.out_dir, quarter, s, lang).is_file()]
    with session_scope() as session:
        if missing and not archive.feedback_count(session, quarter, region):
            raise ValueError(
                f"no data for {quarter}"
                + (f" in region {region}" if region else "")
                + f": no feedback is stored and the archive has no report for {', '.join(missing)}"
            )
        return archive.prepare_reports(session, quarter, config, settings.out_dir, scopes=scopes, lang=lang, reuse=True)


@task(name="deliver-reports", **_task)
def deliver(
    quarter: str, reports: dict[str, ReportFile], config: AppConfig, settings: Settings, force: bool, lang: str
) -> dl.DeliverySummary:
    with session_scope() as session:
        return dl.mail_reports(session, quarter, reports, config, settings, force=force, lang=lang)


@task(name="resend-failed-deliveries", **_task)
def resend_failed(
    quarter: str, config: AppConfig, settings: Settings, scopes: list[str], lang: str
) -> dl.DeliverySummary:
    with session_scope() as session:
        return dl.resend_deliveries(session, config, settings, quarter, failed_only=True, scopes=scopes, lang=lang)


def _code(text: str | None) -> str:
    """Inline code: a server's reply such as ``<a***@b.example>`` must not render as markup."""
    return "`" + (text or "").replace("`", "'") + "`"


def delivery_markdown(result: dict) -> str:
    """The run's artifact: counts per scope and what was not delivered (addresses masked)."""
    mode = "re-send of failed deliveries" if result["mode"] == "resend" else "delivery"
    lines = [
        f"# Report {mode} {result['quarter']}" + (f", region {result['region']}" if result["region"] else ""),
        "",
        f"**Via**: {result['via']}  ",
        f"**Sent** {result['sent']}, **skipped** (already had this PDF) {result['skipped']}, "
        f"**failed** {result['failed']}",
        "",
        "| scope | recipients | sent | skipped | failed |",
        "|---|---|---|---|---|",
    ]
    for scope, c in result["per_scope"].items():
        lines.append(f"| {scope} | {c['recipients']} | {c['sent']} | {c['skipped']} | {c['failed']} |")
    if not result["per_scope"]:
        lines.append("| — | 0 | 0 | 0 | 0 |")
    if result["failures"]:
        lines += [
            "",
            "**Not delivered** (the PDFs stay in the archive; resend with "
            f"`cxloop deliveries resend --quarter {result['quarter']}`):",
            "",
        ]
        lines += [f"- {f['scope']}: {f['recipient']}, {f['report']}: {_code(f['error'])}" for f in result["failures"]]
    if result["scopes_without_recipients"]:
        lines += ["", "**No recipients configured** for: " + ", ".join(result["scopes_without_recipients"])]
    if result["not_recipients"]:
        lines += [
            "",
            "**Left out** (no longer recipients of the scope): "
            + ", ".join(f"{n['scope']} {n['recipient']}" for n in result["not_recipients"]),
        ]
    if result["reports"]:
        lines += ["", "**Reports**:"] + [f"- {name}" for name in result["reports"]]
    return "\n".join(lines)


@flow(name="send-reports")
def send_reports(
    quarter: QuarterText,
    region: Region | None = None,
    lang: Lang = "ru",
    resend_failed_only: bool = False,
    force: bool = False,
) -> dict:
    """E-mail a quarter's reports again: the PDFs in the archive (missing ones rendered) to their recipients.

    Args:
        quarter: the quarter, ``YYYYQn``.
        region: only this region's report (default: the national one and every region's).
        lang: language of the reports and e-mails (``ru``, ``en``, ``fi``).
        resend_failed_only: send only the deliveries the log says are still failed
            (of ``lang``'s reports), with the PDF they were meant to carry.
        force: send even to recipients who already got this exact PDF (not used with
            ``resend_failed_only``: a failed delivery is always sent again).

    Returns ``{"quarter", "region", "lang", "mode", "reports", "transport", "via", "sent",
    "skipped", "failed", "per_scope", "failures", ...}`` with addresses masked; the run is
    ``Partial`` when a message was not delivered.
    """
    logger = get_run_logger()
    q = str(Quarter.parse(quarter))
    settings = get_settings()
    settings.ensure_dirs()
    config = get_config(settings.config_dir)
    upgrade()
    scopes = [check_region(region, config.regions)] if region else report_scopes(config.regions)

    if resend_failed_only:
        summary = resend_failed(q, config, settings, scopes, lang)
        reports: dict[str, ReportFile] = {}
    else:
        reports = prepare_reports(q, config, settings, scopes, lang, region)
        summary = deliver(q, reports, config, settings, force, lang)
    if region:  # a one-region run says nothing about the other scopes
        summary.scopes_without_report = []

    result = {
        "quarter": q,
        "region": region,
        "lang": lang,
        "mode": "resend" if resend_failed_only else "deliver",
        "reports": [r.path.name for r in reports.values()],
        **summary.as_dict(),
    }
    create_markdown_artifact(
        key=f"send-reports-{q.lower()}",
        markdown=delivery_markdown(result),
        description=f"E-mail delivery of the {q} reports",
    )
    logger.info(
        "send-reports %s: %d sent, %d skipped, %d failed (via %s)",
        q,
        summary.sent,
        summary.skipped,
        summary.failed,
        summary.via,
    )
    if summary.failed:
        attempted = summary.sent + summary.failed
        # A flow returning a State ends in it; calling the flow still gives the dict (its data).
        return Completed(  # type: ignore[return-value]  # Prefect's types cannot say so
            name="Partial",
            message=f"{summary.failed} of {attempted} e-mail(s) not delivered (the PDFs are in the archive); "
            f"see the delivery log (cxloop deliveries list --quarter {q} --status failed)",
            data=result,
        )
    return result


if __name__ == "__main__":
    import sys

    send_reports(quarter=sys.argv[1] if len(sys.argv) > 1 else str(Quarter.last_complete()))
