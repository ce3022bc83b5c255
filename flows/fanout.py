"""Per-region work of the quarterly cycle, fanned out through a Prefect task runner.

Rendering a report is CPU-bound (Jinja2, matplotlib's SVG charts, WeasyPrint's layout)
and each scope — a region or the national report — only *reads* the database, so the
scopes are independent and can run side by side. A national cycle has 86 of them.

**Which runner** (:func:`task_runner`, chosen when a flow run starts):

* ``CXLOOP_DASK_ADDRESS`` unset (default): Prefect's own
  :class:`~prefect.task_runners.ProcessPoolTaskRunner`, one process per core on this
  machine (``PREFECT_TASKS_RUNNER_PROCESS_POOL_MAX_WORKERS`` caps it). Processes, not
  threads: WeasyPrint and matplotlib hold the GIL, so a thread pool renders no faster
  than one thread. Workers are started with ``spawn``, inherit the flow's environment
  (``CXLOOP_*`` included) and import the code once, ~3.5 s each, paid once per flow run.
  Each carries a lifeline (:mod:`cxloop.lifeline`): it exits when the flow's process is gone.
* ``CXLOOP_DASK_ADDRESS=tcp://host:8786``: :class:`prefect_dask.DaskTaskRunner` on that
  existing Dask scheduler (``pip install prefect-dask``). Dask workers read their own
  ``CXLOOP_*`` settings, so on other machines they need a database they can reach
  (PostgreSQL; a SQLite file only works for workers on the flow's machine) and the same
  configuration folder. They need no shared disk: a task returns the PDF's bytes and the
  flow writes the file, so reports, delivery and the archive stay where the flow runs.

:class:`CycleTaskRunner` is what ``@flow(task_runner=...)`` of the quarterly cycle holds.
Prefect asks a flow's runner for a fresh copy (``duplicate()``) at the start of every
run; this one answers with :func:`task_runner`, so the environment is read per run and
not frozen at import time. Tasks the flow merely *calls* run in the flow's own process
as before; only what is ``submit``-ted or ``map``-ped goes through the runner.

**What fans out** (:func:`fan_out_reports`): one ``render-region-report`` task per scope
(:func:`render_region_reports`), each with its own short-lived database session, running
:func:`tasks.reports.render.write_reports` for that one scope (context, embedded register,
PDF). The flow hands every task what it has made once for all of them: the register CSV
each PDF embeds, and, in a cycle, the scope's survey findings from the quarter's answers
it holds (:mod:`tasks.reports.scope_survey`); a task given none makes its own. The flow
then writes the files and returns ``scope -> ReportFile`` in the same order and shape as
``write_reports``, so delivery and the run summary do not change. The PDFs are
byte-identical to the serial path's (``tests/flows/test_fanout.py``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from prefect import task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner

from cxloop.config import AppConfig, get_config
from cxloop.domain import report_scopes
from cxloop.files import file_sha256
from cxloop.lifeline import worker_initializer
from cxloop.settings import Settings, get_settings
from models.db import session_scope

if TYPE_CHECKING:  # tasks.reports.render loads WeasyPrint and matplotlib: only where a report is made
    from tasks.reports.render import ReportFile
    from tasks.reports.scope_survey import ScopeSurvey

DASK_ADDRESS_ENV = "CXLOOP_DASK_ADDRESS"


def dask_address() -> str | None:
    """The Dask scheduler to use (``CXLOOP_DASK_ADDRESS`` in the environment or in ``.env``,
    read afresh at every call), or None for local processes."""
    address = (Settings().dask_address or "").strip()
    return address or None


def task_runner(max_workers: int | None = None) -> TaskRunner:
    """The runner for per-region work: a Dask cluster when ``CXLOOP_DASK_ADDRESS`` is set,
    else a pool of ``max_workers`` processes (default: Prefect's setting, else the cores)."""
    address = dask_address()
    if address:
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError as exc:  # an optional dependency: say what to install
            raise RuntimeError(
                f"{DASK_ADDRESS_ENV} is set ({address}) but prefect-dask is not installed: "
                "pip install -c constraints.txt prefect-dask"
            ) from exc
        return DaskTaskRunner(address=address)
    # Each worker ends when this process does, even killed (issue 14, row 9).
    return ProcessPoolTaskRunner(max_workers=max_workers, initializer=worker_initializer, initargs=(os.getpid(),))


class CycleTaskRunner(ProcessPoolTaskRunner):
    """A process pool that defers the choice to :func:`task_runner` at every flow run.

    Prefect enters ``flow.task_runner.duplicate()`` for each run; returning
    ``task_runner()`` there makes ``CXLOOP_DASK_ADDRESS`` take effect per run (a test, a
    long-lived worker or ``.env`` loaded after import all see the current value).
    """

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__(max_workers=max_workers)
        self._requested_workers = max_workers

    # Not Self, on purpose: the runner of a run may be another class (Dask).
    def duplicate(self) -> TaskRunner:  # type: ignore[override]  # returns another runner type by design
        return task_runner(self._requested_workers)


# --------------------------------------------------------------------------- one scope


@dataclass(frozen=True)
class RenderedReport:
    """One scope's report as it comes back from a worker: the PDF's bytes (no shared disk
    needed) and the key messages the e-mail carries."""

    scope: str
    pdf: bytes = field(repr=False)
    key_messages: list[str] = field(default_factory=list)


def render_scope(
    quarter: str,
    scope: str,
    lang: str = "ru",
    *,
    config: AppConfig | None = None,
    database_url: str | None = None,
    survey: ScopeSurvey | None = None,
    register_csv: bytes | None = None,
) -> RenderedReport:
    """One scope's report, made by :func:`tasks.reports.render.write_reports` itself restricted to
    that scope (``scopes=[scope]``), in a session of its own, into a private temporary
    folder; the PDF comes back as bytes. Whatever the serial path puts into a report (the
    context, the embedded register, the rendering) this path does too, by construction.
    ``survey``: the scope's survey findings when the flow holds them
    (:mod:`tasks.reports.scope_survey`), else read here; ``register_csv``: the quarter's
    register CSV as the flow exported it for all scopes, else exported here. Callable
    without Prefect."""
    from tasks.reports.render import write_reports

    config = config if config is not None else get_config(get_settings().config_dir)
    surveys = {scope: survey} if survey is not None else None
    with tempfile.TemporaryDirectory(prefix="cxloop-render-") as tmp, session_scope(database_url) as session:
        written = write_reports(
            session, quarter, config, Path(tmp), scopes=[scope], lang=lang, surveys=surveys, register_csv=register_csv
        )[scope]
        return RenderedReport(scope=scope, pdf=written.path.read_bytes(), key_messages=list(written.key_messages))


@task(name="render-region-report", task_run_name="render-report-{scope}", cache_policy=NO_CACHE, persist_result=False)
def render_region_reports(
    quarter: str,
    scope: str,
    lang: str = "ru",
    survey: ScopeSurvey | None = None,
    register_csv: bytes | None = None,
) -> RenderedReport:
    """One scope's PDF ("national" or a region code), rendered wherever the task runner puts it.

    Reads the worker's own settings (``CXLOOP_DATABASE_URL``, ``CXLOOP_CONFIG_DIR``);
    ``survey`` and ``register_csv`` as :func:`render_scope`'s."""
    return render_scope(quarter, scope, lang, survey=survey, register_csv=register_csv)


# --------------------------------------------------------------------------- all scopes


def save_reports(
    quarter: str, rendered: Iterable[RenderedReport], out_dir: Path, lang: str = "ru"
) -> dict[str, ReportFile]:
    """Write rendered reports where :func:`tasks.reports.render.write_reports` puts them and return
    ``scope -> ReportFile`` (path, key messages, SHA-256 of the file) in the given order.

    Each file is written to a sibling and renamed, so a crash never leaves a half PDF that
    delivery would send."""
    from tasks.reports.render import ReportFile, report_path

    reports = {}
    for r in rendered:
        path = report_path(out_dir, quarter, r.scope, lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(path.suffix + ".part")
        part.write_bytes(r.pdf)
        part.replace(path)
        reports[r.scope] = ReportFile(
            scope=r.scope, path=path, key_messages=list(r.key_messages), sha256=file_sha256(path)
        )
    return reports


@contextmanager
def workers_share_api() -> Iterator[None]:
    """Point the workers at this process's Prefect API while tasks are submitted.

    With no ``PREFECT_API_URL`` (``make demo``'s embedded mode) Prefect runs its API in a
    subprocess server of the flow's process, and a spawned worker that finds no URL starts
    a server of its own: ~20 s per worker, more than the rendering it then does. The URL of
    the flow's server goes into the settings the runner hands to its workers (Prefect
    serialises the settings context and environment at the first submission), so they
    report to the same API. With a configured URL nothing changes."""
    from prefect.context import FlowRunContext
    from prefect.settings import PREFECT_API_URL, temporary_settings

    context = FlowRunContext.get()
    client = context.client if context is not None else None
    url = str(client.api_url) if client is not None else ""
    if PREFECT_API_URL.value() or not url.startswith("http"):
        yield
        return
    with temporary_settings(updates={PREFECT_API_URL: url.rstrip("/")}):
        yield


class ReportRenderingError(RuntimeError):
    """Some scopes' reports could not be rendered (the others were written)."""


def fan_out_reports(
    quarter: str,
    config: AppConfig,
    settings: Settings,
    lang: str = "ru",
    scopes: Sequence[str] | None = None,
    surveys: Mapping[str, ScopeSurvey] | None = None,
) -> dict[str, ReportFile]:
    """Inside a flow run: render every scope's report as its own task through the flow's
    task runner, wait for all, write the files and return ``scope -> ReportFile`` like
    :func:`tasks.reports.render.write_reports` (national first, then the regions).

    ``surveys``: scope -> its survey findings, made by the flow from the quarter's answers
    it already holds (:func:`tasks.reports.scope_survey.held_scope_surveys`), handed to
    each scope's task so it need not read its respondents again; a scope without one
    reads them itself. The same values either way, so the same PDF.

    National goes first on purpose: it is the longest (it reads the whole quarter, a
    region's report only that region's rows), and a pool starts tasks in submission
    order. When a scope fails, the others are still written, then
    :class:`ReportRenderingError` names the failed scopes (each task run's log has its
    traceback)."""
    from tasks.reports.attachments import register_csv_bytes

    scopes = list(scopes) if scopes is not None else report_scopes(config.regions)
    # Every report embeds the same register CSV: exported once here, not once per task
    # (~0.03 s each at national size).
    with session_scope() as session:
        register_csv = register_csv_bytes(session, quarter, lang)
    held = surveys or {}
    with workers_share_api():
        futures = render_region_reports.map(
            quarter=unmapped(quarter),
            scope=scopes,
            lang=unmapped(lang),
            register_csv=unmapped(register_csv),
            # Not as_is(): Dask unpacks Prefect's quote (a named tuple) into a plain tuple.
            # A ScopeSurvey is small; Prefect's walk of it costs nothing worth saving.
            survey=[held.get(scope) for scope in scopes],
        )
    rendered: list[RenderedReport] = []
    failed: list[str] = []
    for scope, future in zip(scopes, futures, strict=True):
        try:
            rendered.append(future.result())
        except Exception as exc:  # noqa: BLE001 - collected and raised below, after the rest is written
            failed.append(f"{scope} ({type(exc).__name__})")
    reports = save_reports(quarter, rendered, settings.out_dir, lang)
    if failed:
        raise ReportRenderingError(
            f"{quarter}: report(s) not rendered for {', '.join(failed)}; {len(reports)} other(s) written"
        )
    return reports


__all__ = [
    "DASK_ADDRESS_ENV",
    "CycleTaskRunner",
    "RenderedReport",
    "ReportRenderingError",
    "dask_address",
    "fan_out_reports",
    "render_region_reports",
    "render_scope",
    "save_reports",
    "task_runner",
    "workers_share_api",
]
