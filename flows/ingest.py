"""Stages 1-2 of the loop on demand, *collect* and *validate*: ingest files, folders or globs.

Files are read and checked against their Great Expectations suites in batches (task
``validate-files``: one GE run per channel for up to :data:`BATCH_FILES` files,
:mod:`tasks.validate.batch`), then each is stored in its own transaction, one Prefect
task per file (``ingest-file``), in the order given, so a file rejected as a whole (empty,
garbage, unknown layout...) never stops the others. The run publishes a validation
summary table and a link to GE Data Docs (``<CXLOOP_OUT_DIR>/data_docs/index.html``)
as artifacts, and ends in a Completed state named "Partial" when at least one file
was rejected as a whole. A side product that fails (Data Docs, an artifact) never fails
the run: one log line (the kind of error, no file content), its name in the result's
``side_products_failed`` and a warning in the validation table; the files stay ingested.

Run it from the command line (``cxloop ingest var/incoming/2026Q3``), from the
Prefect UI (flow ``ingest-feedback``), or from Python::

    from flows.ingest import ingest_feedback
    ingest_feedback(["var/incoming/2026Q3"], quarter="2026Q3")

The quarterly cycle calls it as a subflow for its drop folder.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError
from prefect.futures import PrefectFuture
from prefect.states import Completed, State

from cxloop.config import get_config
from cxloop.settings import get_settings
from flows.background import BackgroundCall
from flows.fanout import CycleTaskRunner, workers_share_api
from flows.faults import crash_after_task
from flows.inputs import as_is
from flows.params import Channel, QuarterText
from models.db import upgrade
from tasks.collect import discovery
from tasks.collect.step import sync_registry as sync_office_registry
from tasks.validate import batch, datadocs, quarantine
from tasks.validate.summary import FileReport, rejected_summary, validation_markdown

# No caching: every run must look at the files and the database as they are now
# (the database, not Prefect, decides what was ingested already).
_task: dict[str, Any] = dict(cache_policy=NO_CACHE, persist_result=False, on_completion=[crash_after_task])

migrate_database = task(name="migrate-database", **_task)(upgrade)
sync_registry = task(name="sync-office-registry", **_task)(sync_office_registry)
validate_files = task(name="validate-files", task_run_name="validate-{items[0].path.name}-and-on", **_task)(
    batch.prepare_files
)

# Files validated together per task (one GE run per channel for all of them): large enough that
# GE's fixed cost per validation is paid a few times per quarter instead of once per file, small
# enough that a batch's frames stay a fraction of the memory a national quarter needs.
BATCH_FILES = 32  # 200k-row national intake, 2 workers: 64 -> 32 files, 31.3-32.0 s -> 29.1-30.1 s
# ... and at most this many bytes of files (one file larger than that is a batch of its own):
# a national quarter's 85 star surveys (1.3 MB, ~10,000 respondents each) sort last and
# made three batches of 21-34 s of validation, the last two on one worker while the other
# waited; batches of even work keep both busy and the writer storing as they come.
BATCH_BYTES = 6_000_000
BATCHES_AHEAD = 2  # batches validated by workers beyond the one being stored


def batches(items: list[discovery.FileInput]) -> list[list[discovery.FileInput]]:
    """The files in order, cut into batches of at most :data:`BATCH_FILES` files and
    :data:`BATCH_BYTES` bytes (a file that cannot be sized counts 0: it fails later, in
    its own report)."""
    out: list[list[discovery.FileInput]] = []
    size = 0
    for item in items:
        try:
            n = item.path.stat().st_size
        except OSError:
            n = 0
        if not out or len(out[-1]) >= BATCH_FILES or (out[-1] and size + n > BATCH_BYTES):
            out.append([])
            size = 0
        out[-1].append(item)
        size += n
    return out


def _store(item: discovery.FileInput, prepared: batch.Prepared, config) -> FileReport:
    """One prepared file stored (``item`` names the task run)."""
    return batch.store_prepared(prepared, config)


ingest_file = task(name="ingest-file", task_run_name="ingest-{item.path.name}", **_task)(_store)


def _logger() -> Any:
    """The run's logger inside a flow or task run, this module's outside one."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


def side_product(name: str, failed: list[str], make: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``make(*args, **kwargs)`` for a side product of a run (Data Docs, an artifact): when it
    raises, one warning line names the product and the kind of error (not its message, which
    may quote a file name or a value), ``name`` is added to ``failed`` and None returned, so
    the run goes on. Only for things nothing later in the run depends on."""
    try:
        return make(*args, **kwargs)
    except Exception as exc:
        _logger().warning("side product %s not produced (%s); the run goes on", name, type(exc).__name__)
        failed.append(name)
        return None


def _data_docs(
    reports: list[FileReport], site_dir: Path, run_name: str, run_time: datetime
) -> tuple[Path | None, list[str]]:
    """The run's Data Docs index (None: nothing to show) and ``["data_docs"]`` when they could
    not be built (unwritable folder, a GE error): logged on one line, no traceback."""
    failed: list[str] = []
    index = side_product("data_docs", failed, datadocs.build_data_docs, reports, site_dir, run_name, run_time)
    return index, failed


build_data_docs = task(name="build-data-docs", **_task)(_data_docs)


@dataclass
class _DocsInBackground:
    """Data Docs an intake left building in a process of its own (``data_docs_in_background``)."""

    call: BackgroundCall[Path | None]
    reports: list[FileReport]
    run_name: str


# Keyed by the token the intake's summary carries (``data_docs_pending``); this process only.
_docs_in_background: dict[str, _DocsInBackground] = {}


def start_data_docs(intake: dict) -> None:
    """Start building the Data Docs an intake run with ``data_docs_in_background=True`` left
    pending, in a process of their own (the quarterly cycle does once learning is done);
    :func:`collect_data_docs` starts them itself when nobody did. A process that cannot be
    started is reported there, as a build that failed."""
    pending = _docs_in_background.get(intake.get("data_docs_pending") or "")
    if pending is not None:
        with suppress(Exception):  # collect_data_docs meets it again and says so
            pending.call.start()


def collect_data_docs(intake: dict, failed: list[str]) -> None:
    """Wait for the Data Docs an intake run with ``data_docs_in_background=True`` left
    building, then publish their link as an artifact of the current run. When they could not
    be built: one warning line (the kind of error), ``"data_docs"`` added to ``failed`` and
    the intake's validation table published again with the warning and without the link.
    Nothing to do for an intake that built them itself (or built none)."""
    pending = _docs_in_background.pop(intake.get("data_docs_pending") or "", None)
    if pending is None:
        return
    failed_here: list[str] = []
    index = side_product("data_docs", failed_here, pending.call.result)
    if failed_here:
        _publish_validation(pending.reports, pending.run_name, None, failed_here)
    elif index is not None:
        _publish_docs_link(pending.run_name, index.resolve().as_uri(), failed_here)
    failed += failed_here


def _run_name(reports: list[FileReport]) -> str:
    quarters = sorted({r.quarter for r in reports})
    return "+".join(quarters) if quarters else "ingest"


def _prepared(chunk: list[discovery.FileInput], state: State) -> list[batch.Prepared]:
    """A batch's prepared files; a batch that failed to validate (a bug, not bad input: the
    task's log says what) is stored file by file, each file validated on its own."""
    return state.result() if state.is_completed() else [batch.Prepared(item) for item in chunk]


def _ingest_all(items: list[discovery.FileInput], config, logger) -> list[FileReport]:
    """Validate the files in batches and store them one by one, in the order given.

    One batch is validated in this process. More are validated through the flow's task
    runner (:mod:`flows.fanout`: local processes, or Dask with ``CXLOOP_DASK_ADDRESS``),
    :data:`BATCHES_AHEAD` ahead of the one being stored, so workers parse, validate, redact
    and tag while this process writes, and no more than a few batches wait in memory.
    Validating reads the database only; every write happens here, in order, so what is a
    duplicate never depends on which worker was faster."""
    chunks = batches(items)
    reports: list[FileReport] = []
    if len(chunks) <= 1:
        for chunk in chunks:
            prepared = _prepared(chunk, validate_files(chunk, as_is(config), return_state=True))
            reports += [_ingest(p, config, logger) for p in prepared]
        return reports
    waiting: deque[tuple[list[discovery.FileInput], PrefectFuture]] = deque()
    upcoming = iter(chunks)
    with workers_share_api():
        for chunk in itertools.islice(upcoming, BATCHES_AHEAD + 1):
            waiting.append((chunk, validate_files.submit(chunk, as_is(config))))
        while waiting:
            chunk, future = waiting.popleft()
            future.wait()
            next_chunk = next(upcoming, None)
            if next_chunk is not None:
                waiting.append((next_chunk, validate_files.submit(next_chunk, as_is(config))))
            reports += [_ingest(p, config, logger) for p in _prepared(chunk, future.state)]
    return reports


def _ingest(prepared: batch.Prepared, config, logger) -> FileReport:
    """One file through its task; a task that crashed is reported as the file rejected."""
    item = prepared.item
    # as_is: Prefect would otherwise walk the whole configuration and the file's frames (flows.inputs).
    state = ingest_file(item, as_is(prepared), as_is(config), return_state=True)
    if state.is_completed():
        report = state.result()
    else:  # a bug, not bad input; the task run's log has the traceback, the summary only the kind
        exc = state.result(raise_on_failure=False)
        error = f"{item.path}: could not be processed ({type(exc).__name__}); see the task run's log"
        report = FileReport(rejected_summary(item.path, item.channel, error), item.quarter)
    s = report.summary
    if report.rejected:
        logger.error("rejected %s", s.error)
    else:
        logger.info(
            "%s: %s received = %s accepted + %s quarantined + %s duplicates (%s)",
            s.path,
            s.received,
            s.accepted,
            s.quarantined,
            s.duplicates,
            s.status,
        )
    return report


def _publish_validation(
    reports: list[FileReport], run_name: str, docs_url: str | None, failed: list[str], pending: bool = False
) -> None:
    """The validation summary table and the link to GE Data Docs, as artifacts of the run;
    each one a side product (a failure is logged and added to ``failed``). ``pending``: the
    Data Docs are still being built; :func:`collect_data_docs` publishes their link."""
    key = f"ingest-validation-{run_name.lower().replace('+', '-')}"
    warnings = [_NOT_PRODUCED[name] for name in failed if name in _NOT_PRODUCED]
    markdown = validation_markdown(reports, docs_url, f"Intake and validation {run_name}", warnings)
    side_product(
        "validation_artifact",
        failed,
        create_markdown_artifact,
        key=key,
        markdown=markdown,
        description=f"Validation summary {run_name}",
    )
    if docs_url and not pending:
        _publish_docs_link(run_name, docs_url, failed)


def _publish_docs_link(run_name: str, docs_url: str, failed: list[str]) -> None:
    side_product(
        "data_docs_link_artifact",
        failed,
        create_link_artifact,
        key="ge-data-docs",
        link=docs_url,
        link_text="Great Expectations Data Docs",
        description=f"GE Data Docs (latest run: {run_name})",
    )


_NOT_PRODUCED = {
    "data_docs": "Data Docs were not built (see the run's log); the files above were ingested all the same.",
}


def _summary(reports: list[FileReport], docs_url: str | None, failed: list[str]) -> dict:
    """The run's result: each file's counts and the totals, which add up."""
    files = [
        {**r.summary.as_dict(), "file": r.summary.path, "rejected": r.rejected, "quarter": r.quarter} for r in reports
    ]
    totals = {k: sum(f[k] for f in files) for k in ("received", "accepted", "quarantined", "duplicates", "warnings")}
    totals.update(files=len(files), rejected_files=sum(f["rejected"] for f in files))
    return {"files": files, "totals": totals, "data_docs": docs_url, "side_products_failed": failed}


@flow(name="ingest-feedback", log_prints=False, task_runner=CycleTaskRunner())  # type: ignore[arg-type]  # stub bug
def ingest_feedback(
    paths: list[str] | str | None = None,
    channel: Channel | None = None,
    quarter: QuarterText | None = None,
    data_docs_in_background: bool = False,
) -> dict:
    """Ingest feedback files: each file read, validated and stored on its own.

    Args:
        paths: files, folders or globs (``var/incoming/2026Q3``, ``exports/*.csv``); a
            folder or glob takes every readable file in it. Default: the whole drop
            folder (``CXLOOP_DATA_DIR``), where files already ingested are skipped.
        channel: the channel of every file (``star_survey``, ``review_book``, ``pos``,
            ``social``, ``contact_center``, ``interview_followup``); default: from each
            file's name.
        quarter: the quarter the files are accounted to, ``YYYYQn``; default: the
            folder's name when it looks like one, else the last complete quarter.
        data_docs_in_background: build the Data Docs in a process of their own and return
            without waiting for them: the caller starts them with :func:`start_data_docs`
            when a core is free and collects them with :func:`collect_data_docs` (the
            quarterly cycle does, so its data stages do not wait for them). Leave it off
            when running this flow on its own.

    Returns a summary: per file (``files``) the counts, ``rejected`` and the error;
    ``totals``; ``data_docs`` (the Data Docs index URL, None when not built);
    ``side_products_failed`` (e.g. ``["data_docs"]``: not produced, the intake done all
    the same). The state is "Partial" when a file was rejected as a whole.
    """
    logger = get_run_logger()
    settings = get_settings()
    settings.ensure_dirs()
    config = get_config(settings.config_dir)
    if not paths:
        paths = [str(settings.data_dir)]
    items = discovery.resolve_inputs(paths, channel, quarter)  # bad input: the run fails with one clear message
    migrate_database()
    sync_registry(as_is(config))

    reports = _ingest_all(items, config, logger)
    run_name = _run_name(reports)
    # Side products from here on: the files are committed, so nothing below may fail the run.
    site_dir, pending = settings.out_dir / "data_docs", None
    failed: list[str] = []
    index: Path | None = None
    if data_docs_in_background:
        index = datadocs.site_index(reports, site_dir)
        if any(r.suites for r in reports):  # else nothing to build (every file known): no process
            docs_args = (reports, site_dir, run_name, datetime.now(UTC))
            # Started by the caller (start_data_docs) when a core is free, else when collected.
            call = BackgroundCall.later(datadocs.build_data_docs, *docs_args)
            pending = uuid.uuid4().hex
            _docs_in_background[pending] = _DocsInBackground(call, reports, run_name)
    else:
        docs = build_data_docs(reports, site_dir, run_name, datetime.now(UTC), return_state=True)
        index, failed = docs.result() if docs.is_completed() else (None, ["data_docs"])
    docs_url = index.resolve().as_uri() if index else None
    _publish_validation(reports, run_name, docs_url, failed, pending=pending is not None)
    summary = _summary(reports, docs_url, failed)
    if pending is not None:
        summary["data_docs_pending"] = pending
    files, rejected = summary["files"], [f for f in summary["files"] if f["rejected"]]
    if rejected:
        names = ", ".join(f["file"] for f in rejected)
        # A flow returning a State ends in it; calling the flow still gives the dict (its data).
        return Completed(  # type: ignore[return-value]  # Prefect's types cannot say so
            name="Partial", message=f"{len(rejected)} of {len(files)} files rejected as a whole: {names}", data=summary
        )
    return summary


@flow(name="export-quarantine")
def export_quarantine(
    csv: str, quarter: QuarterText | None = None, file: str | None = None, channel: Channel | None = None
) -> dict:
    """Write the quarantined rows (optionally of one quarter, file or channel) as CSV for an analyst:
    UTF-8 with BOM, formula text neutralised."""
    from pathlib import Path

    from models.db import session_scope

    upgrade()
    with session_scope() as session:
        rows = quarantine.export_quarantine_csv(session, Path(csv), quarter, file, channel)
    return {"csv": str(csv), "rows": rows}


if __name__ == "__main__":
    import sys

    ingest_feedback(sys.argv[1:])
