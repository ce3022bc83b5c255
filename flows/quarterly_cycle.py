"""The quarterly client-experience cycle, end to end.

Every quarter the CX design service collects feedback from every channel, checks
it against its data contracts, measures the client-centricity star, finds and
ranks pain points, proposes corrective measures for the worst ones, measures the
effect of measures implemented earlier, and sends management a PDF per region and
a national one. This flow wires those stages together; each stage is a plain
function in ``tasks/`` that you can also call from a notebook.

Run it from the command line (``cxloop cycle --quarter 2026Q3``), from the Prefect
UI (deployment ``quarterly-cx-cycle``), or from Python::

    from flows.quarterly_cycle import quarterly_cycle
    quarterly_cycle(quarter="2026Q3", send_reports=False)

Rerunning a quarter is safe: files already ingested are skipped, and the
quarter's index, pain points, proposals and effect evaluations are replaced, not
duplicated, in one transaction: a run that dies half way leaves the previous
results of the quarter intact. A side product that fails (GE Data Docs, an artifact
for the UI) never fails the cycle: it is logged and listed in the result's
``side_products_failed``, and the rest goes on.

Rerunning one region (``region="52"``, ``cxloop cycle --quarter 2026Q3 --region 52``):
for a region's analyst, in seconds. Feedback files are *not* per region (a file's rows
carry their offices, and a file name need not name a region), so the drop folder is
ingested as usual: files already ingested are skipped, a new file is stored whole
(its other regions' rows wait for the next whole-quarter run to be counted). Then only
the region's results are recomputed and replaced, in one transaction: its offices' and
its own index rows, its pain points, proposals from its pain points, the effect of the
measures with an office in it, and its texts reread with the model the quarter's last
whole cycle trained (no training). Only its report is rendered and sent. The country
rows, the other regions' rows, the emerging topics, the national report and the text
model stay as the last whole-quarter cycle left them; the summary says so
(``national_refreshed: false``).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed

from cxloop.config import get_config
from cxloop.quarters import Quarter
from cxloop.settings import get_settings
from flows.background import BackgroundCall
from flows.cycle_summary import cycle_summary, intake_totals, problems, summary_markdown
from flows.fanout import CycleTaskRunner, fan_out_reports
from flows.faults import crash_after_task
from flows.ingest import collect_data_docs, ingest_feedback, side_product, start_data_docs
from flows.inputs import as_is
from flows.locks import quarter_lock
from flows.params import Lang, QuarterText, Region, Seconds, check_region
from flows.register import await_proposal_review
from flows.text_reading import publish_text_reading
from models.answers import read_answers_once, read_quarter_answers, worth_reading_ahead
from models.db import one_transaction, session_scope, upgrade
from tasks.collect import step as collect
from tasks.delivery import step as delivery
from tasks.effects import step as effects
from tasks.insight import step as insight
from tasks.insight.explain import pain_points_artifact_rows
from tasks.measures import step as measures
from tasks.reports import scope_survey
from tasks.text import step as text

# DataFrames are passed between tasks in memory; hashing them for a cache key would
# cost more than the stages themselves, so caching is off.
# crash_after_task does nothing unless CXLOOP_FAULT_AFTER names a task (the fault tests).
_task: dict[str, Any] = dict(cache_policy=NO_CACHE, persist_result=False, on_completion=[crash_after_task])

migrate_database = task(name="migrate-database", **_task)(upgrade)
sync_registry = task(name="sync-office-registry", **_task)(collect.sync_registry)
measure_star = task(name="measure-star-index", **_task)(insight.measure_star)
detect_pain_points = task(name="detect-pain-points", **_task)(insight.detect_pain_points)
propose_measures = task(name="propose-measures", **_task)(measures.propose_measures)
evaluate_effects = task(name="evaluate-effects", **_task)(effects.evaluate_effects)
deliver_reports = task(name="deliver-reports", retries=1, retry_delay_seconds=30, **_task)(delivery.deliver_reports)
export_register = task(name="export-register", **_task)(measures.export_register)
find_emerging_topics = task(name="find-emerging-topics", **_task)(text.find_emerging_topics)
learn_sentiment = task(name="learn-sentiment", **_task)(text.learn_sentiment)


# Per-region work (the reports) fans out through processes, or Dask when CXLOOP_DASK_ADDRESS
# is set (flows/fanout.py); the stages the flow calls directly still run in its own process.
# (Prefect's stubs make TaskRunner[F] invariant, so no concrete runner type-checks: PrefectHQ/prefect#16938.)
@flow(name="quarterly-cx-cycle", log_prints=False, task_runner=CycleTaskRunner())  # type: ignore[arg-type]  # stub bug
def quarterly_cycle(
    quarter: QuarterText | None = None,
    send_reports: bool = True,
    lang: Lang = "ru",
    review_timeout_seconds: Seconds = 0,
    region: Region | None = None,
) -> dict:
    """Run the whole loop for one quarter (default: the last complete quarter).

    Args:
        quarter: the quarter as ``YYYYQn``, e.g. ``2026Q3``.
        send_reports: e-mail the PDFs (SMTP if configured, otherwise ``.eml`` files in the outbox).
        lang: report language: ``ru`` (default), ``en`` or ``fi``.
        review_timeout_seconds: when above 0, the run pauses after proposing measures so the
            working group can approve, reject or reassign them in the Prefect UI; with no
            answer in time the proposals stay ``proposed`` and the run goes on.
        region: rerun only this region (a region code of ``config/offices.csv``): its results
            and its report; the national figures are not refreshed (module docstring).
            Default: the whole quarter.
    """
    q = str(Quarter.parse(quarter)) if quarter else str(Quarter.last_complete())
    settings = get_settings()
    settings.ensure_dirs()
    config = get_config(settings.config_dir)
    if region is not None:  # checked again here, before anything is written (the registry as it is now)
        check_region(region)
    migrate_database()
    # One cycle per quarter at a time, whichever deployment or machine starts it; a
    # crashed run's lock is taken over (flows/locks.py).
    with quarter_lock(q, "quarterly-cx-cycle"):
        return _cycle(q, settings, config, lang, send_reports, review_timeout_seconds, region)


def _artifact_key(prefix: str, q: str, region: str | None) -> str:
    """An artifact's key; a region's rerun has its own, so the quarter's national one stays."""
    return f"{prefix}-{q.lower()}" + (f"-region-{region.lower()}" if region else "")


_NO_TOPICS = {"topics": [], "markdown": "Emerging topics are national: not refreshed by a region's rerun."}


def _publish_findings(q: str, pains, topics: dict, config, lang: str, region: str | None = None) -> None:
    """The quarter's pain points (with the components of their priority) and candidate new
    themes as artifacts of the run, for the analysts in the Prefect UI."""
    pain_rows = pain_points_artifact_rows(pains, config, lang=lang) if not pains.empty else []
    if pain_rows:
        create_table_artifact(
            key=_artifact_key("cx-pain-points", q, region),
            table=pain_rows,
            description=f"Top pain points {q} per region and the country, with the components of their priority"
            if region is None
            else f"Top pain points {q} of region {region} and its offices, with the components of their priority",
        )
    if region is not None:
        return
    create_markdown_artifact(
        key=f"cx-emerging-topics-{q.lower()}",
        markdown=topics["markdown"],
        description=f"Candidate new themes {q}: negative feedback no theme matches",
    )


def _cycle(
    q: str, settings, config, lang: str, send_reports: bool, review_timeout_seconds: int, region: str | None = None
):
    """The stages of one quarter, in order (called by the flow while it holds the quarter's lock);
    with ``region`` only that region's results and report (module docstring)."""
    logger = get_run_logger()
    sync_registry(as_is(config))

    # Intake through the ingest flow as a subflow: one task per file, a "Partial" state when a
    # file is rejected as a whole, the validation table as its artifact. Its GE Data Docs are
    # built in a process of their own, started after learning on the core the later stages
    # leave idle, and collected after the data stages (flows/background.py).
    drop = settings.data_dir / q
    intake = ingest_feedback([str(drop)], quarter=q, data_docs_in_background=True) if drop.is_dir() else {"files": []}
    summaries, unreadable, totals = intake_totals(intake)
    side_failed: list[str] = list(intake.get("side_products_failed", []))
    if unreadable:
        logger.error(
            "%d file(s) rejected as a whole (see the ingest-feedback subflow): %s",
            len(unreadable),
            "; ".join(s["error"] for s in unreadable),
        )

    # The quarter's results (star index, pain points, proposed measures, effect evaluations)
    # are written in ONE transaction: each stage's session joins it, and it commits only
    # after the last. A run that dies anywhere in between leaves the previous results of
    # the quarter exactly as they were; the rerun replaces them all at once. Nothing that
    # waits for people (the proposal review) or for the outside world runs inside it.
    # The stages read the quarter's survey answers once (models.answers.read_answers_once):
    # none of them writes answers, offices, regions or client types.
    # A national quarter's ~884,000 survey answers are read meanwhile in a process of their
    # own, on the core that learning's reread leaves idle (models/answers.py); a small
    # quarter's are read where the star index asks for them.
    # The star index and key drivers, which depend on those answers alone, are made there too.
    # So are the reports' survey findings per scope, handed to the report tasks below: a
    # national report then does not read the whole quarter's respondents again.
    derive = {**insight.answers_derivations(config), **scope_survey.answers_derivations()}
    ahead = BackgroundCall(read_quarter_answers, q, derive) if worth_reading_ahead(q) else None
    with one_transaction(), read_answers_once(ahead):
        # The sentiment model learned from the stored ratings rereads the quarter's texts
        # first: the pain points count what it reads as negative (tasks/text/reread.py).
        # A region's rerun deletes and writes only that region's rows (models/store.py).
        reading = learn_sentiment(q, as_is(config), region=region)
        # Learning's model fits take both cores; the stages below take one, GE Data Docs the other.
        start_data_docs(intake)
        index = measure_star(q, as_is(config), region=region)
        pains = detect_pain_points(q, as_is(config), region=region)
        proposed = propose_measures(q, as_is(config), region=region)
        effects = evaluate_effects(q, as_is(config), region=region)
        with session_scope() as session:
            surveys = scope_survey.held_scope_surveys(session, q)
    topics = find_emerging_topics(q, lang) if region is None else _NO_TOPICS
    collect_data_docs(intake, side_failed)
    side_product("findings_artifacts", side_failed, _publish_findings, q, pains, topics, config, lang, region)
    side_product("model_card_artifact", side_failed, publish_text_reading, q, reading)
    # Effects concern measures implemented earlier, so the review of this quarter's new
    # proposals (which can take days) does not change them; it must end before the reports.
    review = await_proposal_review(q, proposed, review_timeout_seconds) if review_timeout_seconds else None
    # One render task per region + national through the flow's task runner; same dict as write_reports.
    reports = fan_out_reports(q, config, settings, lang, scopes=[region] if region else None, surveys=surveys)
    delivery = deliver_reports(q, reports, config, settings) if send_reports else None
    register = export_register(q, settings)

    summary = cycle_summary(
        q,
        files=summaries,
        totals=totals,
        index=index,
        pains=pains,
        proposed=proposed,
        review=review,
        topics=topics,
        effects=effects,
        reports=reports,
        register=register,
        delivery=delivery,
        side_products_failed=side_failed,  # the same list: a failure of the artifact below shows in it
        reading=reading,
        region=region,
    )
    side_product(
        "cycle_artifact",
        side_failed,
        create_markdown_artifact,
        key=_artifact_key("cx-cycle", q, region),
        markdown=summary_markdown(summary),
        description=f"CX cycle {q}" + (f", region {region} only" if region else ""),
    )
    found = problems(unreadable, delivery)
    if found:
        # The UI shows the run as Partial; callers still get the summary as its result.
        return Completed(name="Partial", message="; ".join(found), data=summary)
    return summary


if __name__ == "__main__":
    quarterly_cycle()
