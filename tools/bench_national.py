"""A national-size quarter through the cycle's stages: 85 regions, 2,400 offices, ~1,000,000 rows.

    python -m tools.bench_national                       # the full national size (~16 min on 2 cores:
                                                         # ~5 making files, ~3 serial reports)
    python -m tools.bench_national --report-scopes 10    # reports for national + 9 regions, extrapolated to 86
    python -m tools.bench_national --rows 100000         # a tenth of the rows, same 85 regions / 2,400 offices
    python -m tools.bench_national --history-scale 0     # no earlier quarters (effects then have nothing to do)
    python -m tools.bench_national --workers 1           # validate and render in one process
    python -m tools.bench_national --database postgresql # on a throw-away PostgreSQL server
    python -m tools.bench_national --keep /tmp           # keep the folder (database, files, PDFs) ...
    python -m tools.bench_national --reports-only /tmp/cxloop-national-XXXX --report-scopes 10  # ... and rerun reports

What it builds, all in a temporary folder (nothing under ``var/`` or ``out/`` is touched):

* **Configuration**: a copy of ``config/`` whose ``offices.csv`` is a synthetic registry of
  2,400 offices in 85 regions (codes ``01``…``85``; 20 regions with 29 offices, 65 with 28).
* **Data**: the demo generator (:func:`demo.generate.generate_demo_data`) for every region:
  six channel files per region in the demo's messy formats (XLSX, cp1251 and UTF-16 CSV,
  JSON, JSON lines) with realistic texts, planted pain points, personal data, broken rows
  and duplicates. Its volume multiplier is calibrated so the measured quarter holds
  ``--rows`` rows. Two earlier quarters at ``--history-scale`` of that volume (default a
  quarter of it) and the demo's register seed (a measure implemented in the middle quarter)
  give the trend, the index change and the effect evaluation real history to read. The
  earlier quarters are ingested before the clock starts.
* **Database**: a temporary SQLite file (migrated with Alembic, registry merged), or with
  ``--database postgresql`` a database on a throw-away PostgreSQL server started from the
  machine's binaries the way the tests start theirs (:mod:`tools.pg_server`).

What it times, per stage, in this order, with the process's peak RSS after each: ingest of
the quarter's 510 files (:func:`tools.bench_ingest.ingest_folder`: batches validated
together, in a pool of ``--workers`` processes ahead of the one being stored, files stored
one by one in order, as the ingest flow does; the flow's Prefect tasks are not in this
figure); learning the sentiment model and rereading; the star index; pain points; measure proposals; effect
evaluation; emerging topics; the register export; the wait for the intake's GE Data Docs,
built in a process of their own from the end of the intake on, as the cycle builds them
(:mod:`flows.background`); then the 86 reports twice:

* **serial**: ``tasks.reports.render.write_reports`` in this process, one session, one scope
  after the other (the cycle before the fan-out), timed per scope;
* **fan-out**: :func:`flows.fanout.fan_out_reports` in a Prefect flow whose runner is the
  cycle's (:class:`flows.fanout.CycleTaskRunner`: a process pool, one worker per core, or
  Dask when ``CXLOOP_DASK_ADDRESS`` is set), including the workers' start-up. The two
  sets of PDFs are compared byte for byte.

With ``--report-scopes N`` both take national and the first N-1 regions only, and the
totals for all 86 are extrapolated (national + regions x the sampled regional mean; the
fan-out at the sample's speed-up) and printed as estimates.

No assertions beyond that comparison: the figures go into the issue notes. Prefect runs in
its embedded mode with a temporary ``PREFECT_HOME`` unless ``PREFECT_API_URL`` is set.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from flows.background import BackgroundCall
from tools.bench_figures import distinct_texts, figures_path, measure_floor, national_figures, write_figures
from tools.bench_ingest import ingest_folder

REGIONS = 85
OFFICES = 2_400
QUARTER = "2026Q3"
HISTORY = ("2026Q1", "2026Q2")
ROOT = Path(__file__).resolve().parent.parent


def timed_data_docs(*args) -> float:
    """Seconds :func:`tasks.validate.datadocs.build_data_docs` took (run in the background)."""
    from tasks.validate.datadocs import build_data_docs

    start = time.perf_counter()
    build_data_docs(*args)
    return time.perf_counter() - start


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_rss_mb() -> float:
    """The largest peak RSS of any child process that has ended (pool workers once shut down)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def children_cpu_seconds() -> float:
    """CPU time (user + system) of the child processes that have ended and been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Timer:
    """Stage timings printed as they finish and kept for the summary."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, float, float]] = []

    @contextmanager
    def stage(self, name: str, note: str = ""):
        """Wall time, this process's CPU time, peak RSS, and the machine's load average at
        the end (other work on the machine shows there: it slows every figure down)."""
        info = {"note": note}
        start, cpu = time.perf_counter(), time.process_time()
        yield info
        secs, cpu = time.perf_counter() - start, time.process_time() - cpu
        self.rows.append((name, info["note"], secs, peak_rss_mb()))
        print(
            f"  {name:<34} {secs:>9.2f} s  (CPU {cpu:>8.2f} s, load {os.getloadavg()[0]:4.1f})  "
            f"peak RSS {peak_rss_mb():>7,.0f} MB   {info['note']}",
            flush=True,
        )


# --------------------------------------------------------------------------- the synthetic country


def national_registry(regions: int = REGIONS, offices: int = OFFICES) -> list[dict[str, str]]:
    """``offices`` offices spread as evenly as possible over ``regions`` regions (codes 01…)."""
    base, extra = divmod(offices, regions)
    rows = []
    for r in range(1, regions + 1):
        code = f"{r:02d}"
        for k in range(1, base + (1 if r <= extra else 0) + 1):
            rows.append(
                {
                    "office_code": f"{code}-{k:02d}",
                    "office_name": f"ЦЗН № {k} (регион {code})",
                    "region_code": code,
                    "region_name": f"Регион {code}",
                }
            )
    return rows


def write_config(folder: Path, regions: int = REGIONS, offices: int = OFFICES) -> Path:
    """A copy of ``config/`` with the national registry as its ``offices.csv``."""
    import csv

    shutil.copytree(ROOT / "config", folder)
    with (folder / "offices.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["office_code", "office_name", "region_code", "region_name"])
        writer.writeheader()
        writer.writerows(national_registry(regions, offices))
    # Recipients of regions the synthetic registry does not have would be a configuration error.
    import yaml

    recipients = yaml.safe_load((folder / "recipients.yaml").read_text(encoding="utf-8"))
    codes = {f"{r:02d}" for r in range(1, regions + 1)}
    recipients["regions"] = {k: v for k, v in (recipients.get("regions") or {}).items() if k in codes}
    (folder / "recipients.yaml").write_text(yaml.safe_dump(recipients, allow_unicode=True), encoding="utf-8")
    return folder


def rows_per_office_at_scale_one(offices, seed: int) -> float:
    """Calibrate the demo generator: rows one quarter of one region yields per office at scale 1."""
    from cxloop.quarters import Quarter
    from demo.generate import generate_demo_data

    first = [o for o in offices if o.region_code == offices[0].region_code]
    with tempfile.TemporaryDirectory(prefix="cxloop-calibrate-") as tmp:
        manifest = generate_demo_data(Path(tmp), [Quarter.parse(QUARTER)], seed=seed, offices=first, scale=1.0)
    return sum(f["rows_written"] for f in manifest.files) / len(first)


# --------------------------------------------------------------------------- the run


def _fan_out_flow(surveys: dict | None):
    """The cycle's report step on its own, under the cycle's task runner, given the scopes'
    survey findings as the cycle holds them (``tasks.reports.scope_survey``; not a flow
    parameter: Prefect would send those to its API)."""
    from prefect import flow

    from cxloop.config import get_config
    from cxloop.settings import get_settings
    from flows.fanout import CycleTaskRunner, fan_out_reports

    # (Prefect's stubs make TaskRunner[F] invariant, as at flows/quarterly_cycle.py: PrefectHQ/prefect#16938.)
    @flow(name="bench-national-reports", task_runner=CycleTaskRunner(), log_prints=False)  # type: ignore[arg-type]
    def national_reports(quarter: str, out_dir: str, scopes: list[str]) -> dict:
        settings = get_settings().model_copy(update={"out_dir": Path(out_dir)})
        start = time.perf_counter()
        config = get_config(settings.config_dir)
        reports = fan_out_reports(quarter, config, settings, "ru", scopes=scopes, surveys=surveys)
        return {"seconds": time.perf_counter() - start, "sha256": {k: v.sha256 for k, v in reports.items()}}

    return national_reports


def use_folder(folder: Path) -> None:
    """Point every setting at ``folder``. Set before the first settings are read: the pool's
    spawned workers inherit the environment and read the same database and configuration."""
    os.environ.update(
        {
            "CXLOOP_DATABASE_URL": f"sqlite:///{folder / 'cxloop.db'}",
            "CXLOOP_CONFIG_DIR": str(folder / "config"),
            "CXLOOP_DATA_DIR": str(folder / "incoming"),
            "CXLOOP_OUT_DIR": str(folder / "out"),
        }
    )
    if not os.environ.get("PREFECT_API_URL"):
        os.environ.setdefault("PREFECT_HOME", str(folder / "prefect"))
        os.environ.setdefault("PREFECT_SERVER_ALLOW_EPHEMERAL_MODE", "true")
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    for name, value in {
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "GX_ANALYTICS_ENABLED": "false",
        "MPLBACKEND": "Agg",
    }.items():
        os.environ.setdefault(name, value)


def compare_reports(
    folder: Path, timer: Timer, limit: int | None = None, surveys: dict | None = None
) -> dict[str, float]:
    """The quarter's reports serial, then fanned out; ``limit`` takes national plus the first
    ``limit - 1`` regions only, and the totals for every scope are then extrapolated.

    Serial: :func:`tasks.reports.render.write_reports` scope by scope in one session of this
    process (timed per scope), each report reading everything from the database. Fan-out:
    :func:`flows.fanout.fan_out_reports` in a flow under the cycle's runner, given the
    scopes' ``surveys`` as the cycle is; the time is measured inside the flow (the pool's
    start-up included, Prefect's embedded server start excluded). The PDFs are compared
    byte for byte."""
    from cxloop.config import get_config
    from cxloop.domain import report_scopes
    from cxloop.settings import get_settings
    from models.db import dispose_engines, session_scope
    from tasks.reports.render import write_reports

    settings = get_settings()
    config = get_config(settings.config_dir)
    every = report_scopes(config.regions)
    scopes = every[:limit] if limit else every
    per_scope: dict[str, float] = {}
    serial = {}
    serial_cpu = time.process_time()
    with timer.stage(f"reports serial ({len(scopes)} of {len(every)})") as info:
        with session_scope() as session:
            for scope in scopes:
                start = time.perf_counter()
                serial.update(write_reports(session, QUARTER, config, folder / "serial", scopes=[scope], lang="ru"))
                per_scope[scope] = time.perf_counter() - start
        regional = [v for k, v in per_scope.items() if k != "national"]
        info["note"] = (
            (
                f"national {per_scope['national']:.2f} s, a region {statistics.mean(regional):.2f} s on average "
                f"(min {min(regional):.2f}, max {max(regional):.2f}); national PDF "
                f"{serial['national'].path.stat().st_size / 1024:,.0f} KB"
            )
            if regional
            else ""
        )
    dispose_engines()
    serial_secs = sum(per_scope.values())
    serial_cpu = time.process_time() - serial_cpu

    workers = os.environ.get("PREFECT_TASKS_RUNNER_PROCESS_POOL_MAX_WORKERS") or str(os.cpu_count())
    runner = (
        f"Dask at {os.environ['CXLOOP_DASK_ADDRESS']}"
        if os.environ.get("CXLOOP_DASK_ADDRESS")
        else f"process pool, {workers} workers"
    )
    national_reports = _fan_out_flow(surveys)
    workers_cpu = children_cpu_seconds()
    with timer.stage(f"reports fan-out ({len(scopes)}): flow run", runner) as info:
        result = national_reports(QUARTER, str(folder / "fanout"), scopes)
        workers_cpu = children_cpu_seconds() - workers_cpu  # the pool's workers, reaped at the end of the run
        info["note"] += (
            f"; inside the flow {result['seconds']:.2f} s (pool start-up included); workers' CPU {workers_cpu:.2f} s"
        )
    fan_secs = result["seconds"]
    same = list(result["sha256"]) == scopes and all(result["sha256"][s] == serial[s].sha256 for s in scopes)
    print(
        f"  fan-out PDFs byte-identical to serial: {same}; largest worker peak RSS {children_peak_rss_mb():,.0f} MB",
        flush=True,
    )
    out = {
        "scopes": len(scopes),
        "serial": serial_secs,
        "fan_out": fan_secs,
        "serial_cpu": serial_cpu,
        "workers_cpu": workers_cpu,
    }
    if len(scopes) < len(every) and regional:
        # Every region costs about the same (each loads the whole quarter: see the notes), so
        # the serial total is national + regions x the sampled mean; the fan-out keeps the
        # sample's speed-up (conservative: start-up and the national task weigh less in a longer run).
        out["serial_all_est"] = per_scope["national"] + statistics.mean(regional) * (len(every) - 1)
        out["fan_out_all_est"] = out["serial_all_est"] * fan_secs / serial_secs
    return out


def run_reports_only(folder: Path, limit: int | None) -> None:
    """Only the report comparison, on a folder kept by an earlier run (``--keep``)."""
    if not (folder / "cxloop.db").is_file() or not (folder / "config").is_dir():
        raise SystemExit(f"{folder}: no cxloop.db and config/ here; run with --keep first")
    use_folder(folder)
    shutil.rmtree(folder / "serial", ignore_errors=True)
    shutil.rmtree(folder / "fanout", ignore_errors=True)
    timer = Timer()
    print(f"cxloop national bench, reports only, on {folder}", flush=True)
    from models.answers import load_answers
    from models.db import session_scope
    from tasks.reports.scope_survey import quarter_scope_surveys

    with session_scope() as session:  # what the cycle holds when its reports start (not timed)
        surveys = quarter_scope_surveys(load_answers(session, QUARTER))
    figures = compare_reports(folder, timer, limit, surveys)
    _print_reports(figures)
    print(f"  peak RSS of this process {peak_rss_mb():,.0f} MB", flush=True)


def _print_reports(f: dict[str, float], data_stages: float | None = None) -> None:
    print("summary:", flush=True)
    if data_stages is not None:
        print(f"  data stages (ingest … register export) {data_stages:9.2f} s", flush=True)
    print(f"  reports serial, {f['scopes']} scopes{'':<10} {f['serial']:9.2f} s", flush=True)
    print(
        f"  reports fan-out, {f['scopes']} scopes{'':<9} {f['fan_out']:9.2f} s  "
        f"(speed-up {f['serial'] / f['fan_out']:.2f}x)",
        flush=True,
    )
    print(
        f"  CPU: serial {f['serial_cpu']:.2f} s in this process; fan-out {f['workers_cpu']:.2f} s in the workers "
        f"(their start-up included); a fan-out wall time well above workers' CPU / workers means "
        f"start-up, an uneven last task or other load on the machine",
        flush=True,
    )
    serial, fan = f.get("serial_all_est", f["serial"]), f.get("fan_out_all_est", f["fan_out"])
    if "serial_all_est" in f:
        print(f"  all scopes, estimated: serial {serial:.0f} s, fan-out {fan:.0f} s", flush=True)
    if data_stages is not None:
        print(
            f"  cycle with serial reports{' (est.)' if 'serial_all_est' in f else ''}: {data_stages + serial:9.0f} s; "
            f"with fan-out: {data_stages + fan:9.0f} s",
            flush=True,
        )


def run(
    rows: int,
    seed: int,
    history_scale: float,
    keep: Path | None,
    regions: int = REGIONS,
    offices: int = OFFICES,
    report_limit: int | None = None,
    workers: int | None = None,
    database: str = "sqlite",
) -> None:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="cxloop-national-", dir=keep))
    json_path = figures_path().resolve()  # the caller's CXLOOP_OUT_DIR, before the run's folder replaces it
    use_folder(tmp)
    if workers is not None:  # the reports' process pool too (spawned workers read it)
        os.environ["PREFECT_TASKS_RUNNER_PROCESS_POOL_MAX_WORKERS"] = str(workers)
    workers = int(os.environ.get("PREFECT_TASKS_RUNNER_PROCESS_POOL_MAX_WORKERS") or os.cpu_count() or 1)
    server = None
    if database == "postgresql":
        from tools.pg_server import PostgresServer, create_database, pg_bindir

        bindir = pg_bindir()
        if bindir is None:
            raise SystemExit("--database postgresql: no PostgreSQL server binaries (run `make system-deps`)")
        server = PostgresServer(bindir)
        server.start()
        os.environ["CXLOOP_DATABASE_URL"] = create_database(server.base_url, "cxloop_bench")
    try:
        _run(tmp, json_path, rows, seed, history_scale, keep, regions, offices, report_limit, workers)
    finally:
        if server is not None:
            server.stop()


def _run(
    tmp: Path,
    json_path: Path,
    rows: int,
    seed: int,
    history_scale: float,
    keep: Path | None,
    regions: int,
    offices: int,
    report_limit: int | None,
    workers: int,
) -> None:

    from cxloop.config import get_config
    from cxloop.quarters import Quarter
    from cxloop.settings import get_settings
    from demo.generate import generate_demo_data
    from demo.seed_measures import seed_measures
    from models.answers import read_answers_once, read_quarter_answers, worth_reading_ahead
    from models.db import dispose_engines, one_transaction, session_scope, upgrade
    from tasks.collect.offices import merge_offices
    from tasks.effects.step import evaluate_effects
    from tasks.insight.step import answers_derivations, detect_pain_points, measure_star
    from tasks.measures.step import export_register, propose_measures
    from tasks.reports.scope_survey import answers_derivations as report_derivations
    from tasks.reports.scope_survey import held_scope_surveys
    from tasks.text.step import find_emerging_topics, learn_sentiment

    timer = Timer()
    settings = get_settings()
    settings.ensure_dirs()
    write_config(settings.config_dir, regions, offices)
    config = get_config(settings.config_dir)
    print(
        f"cxloop national bench: {len(config.regions)} regions, {len(config.offices):,} offices, target {rows:,} rows "
        f"in {QUARTER}; folder {tmp}",
        flush=True,
    )

    print("set-up (not part of the cycle):", flush=True)
    per_office = rows_per_office_at_scale_one(config.offices, seed)
    scale = rows / (per_office * len(config.offices))
    with timer.stage("generate files", f"demo generator at scale {scale:.2f}") as info:
        main = generate_demo_data(
            settings.data_dir, [Quarter.parse(QUARTER)], seed=seed, offices=config.offices, scale=scale
        )
        written = sum(f["rows_written"] for f in main.files)
        size = sum((settings.data_dir / f["path"]).stat().st_size for f in main.files) / 1e6
        info["note"] += f"; {len(main.files)} files, {written:,} rows, {size:,.0f} MB"
    upgrade()
    with session_scope() as session:
        merge_offices(session, config.offices)
    if history_scale > 0:
        hist_dir = tmp / "history"
        with timer.stage("generate history", f"{', '.join(HISTORY)} at scale {scale * history_scale:.2f}") as info:
            history = generate_demo_data(
                hist_dir,
                [Quarter.parse(q) for q in (*HISTORY, QUARTER)],
                seed=seed,
                offices=config.offices,
                scale=scale * history_scale,
            )
            info["note"] += f"; {sum(f['rows_written'] for f in history.files if f['quarter'] != QUARTER):,} rows"
        with session_scope() as session:
            seed_measures(session, history.seeded_measures)
        for q in HISTORY:
            with timer.stage(f"ingest history {q}") as info:
                _, totals = ingest_folder(hist_dir / q, q, config, workers)
                info["note"] = f"{totals['accepted']:,} rows accepted from {totals['files']} files"
            with timer.stage(f"star + pain points {q}"):
                measure_star(q, config)
                detect_pain_points(q, config)

    engine = "PostgreSQL" if settings.database_url.startswith("postgresql") else "SQLite"
    print(f"the cycle's stages on {QUARTER} ({engine}; {workers} worker(s) validate ingest batches):", flush=True)
    first_stage = len(timer.rows)
    cycle_start = time.perf_counter()
    with timer.stage("ingest files (GE, redaction, text)") as info:
        file_reports, totals = ingest_folder(settings.data_dir / QUARTER, QUARTER, config, workers)
        info["note"] = (
            f"{totals['files']} files: {totals['received']:,} received = {totals['accepted']:,} accepted + "
            f"{totals['quarantined']:,} quarantined + {totals['duplicates']:,} duplicates; "
            f"{totals['unreadable']} unreadable"
        )
    # As the cycle does: Data Docs built in a process of their own, started once learning is
    # done, while the later stages go on, and collected after them (flows.background); the
    # stage "GE Data Docs (waited for)" below is the wait for them, if any.
    docs = BackgroundCall.later(
        timed_data_docs, file_reports, settings.out_dir / "data_docs", QUARTER, datetime.now(UTC)
    )
    del file_reports
    # As the cycle does: the quarter's results in one transaction (models.db.one_transaction),
    # its survey answers read once (models.answers.read_answers_once).
    # As the cycle does: the quarter's answers read ahead in a process of their own.
    derive = {**answers_derivations(config), **report_derivations()}
    ahead = BackgroundCall(read_quarter_answers, QUARTER, derive) if worth_reading_ahead(QUARTER) else None
    with one_transaction(), read_answers_once(ahead):
        with timer.stage("learn sentiment") as info:
            reading = learn_sentiment(QUARTER, config)
            info["note"] = (
                f"{reading['method']}, {reading['rated_texts']:,} rated texts, {reading['texts_read']:,} reread"
            )
        docs.start()
        with timer.stage("star index") as info:
            info["note"] = f"{len(measure_star(QUARTER, config)):,} index rows"
        with timer.stage("pain points") as info:
            info["note"] = f"{len(detect_pain_points(QUARTER, config)):,} pain points"
        with timer.stage("propose measures") as info:
            info["note"] = f"{len(propose_measures(QUARTER, config))} proposed"
        with timer.stage("effects") as info:
            effects = evaluate_effects(QUARTER, config)
            info["note"] = (
                f"{len(effects)} evaluation(s): "
                + ", ".join(f"{e['measure_code']} {e['method']} {e['verdict']}" for e in effects)[:120]
            )
        with session_scope() as session:
            surveys = held_scope_surveys(session, QUARTER)
    with timer.stage("emerging topics") as info:
        info["note"] = f"{len(find_emerging_topics(QUARTER)['topics'])} candidate themes"
    with timer.stage("register export"):
        export_register(QUARTER, settings)
    with timer.stage("GE Data Docs (waited for)") as info:
        info["note"] = f"built in the background in {docs.result():.1f} s, beside the stages above"
    data_stages = time.perf_counter() - cycle_start
    stages = {name: secs for name, _, secs, _ in timer.rows[first_stage:]}
    print("the floor for the same input (not part of the cycle):", flush=True)
    with timer.stage("floor: bare reads + text analysis") as info:
        with session_scope() as session:
            texts = distinct_texts(session, QUARTER)
        floor = measure_floor(settings.data_dir / QUARTER, texts, config)
        info["note"] = (
            f"read {floor['read_seconds']:.1f} s ({floor['files']} files, {floor['rows_read']:,} rows), "
            f"analyse {floor['text_seconds']:.1f} s ({floor['distinct_texts']:,} distinct texts)"
        )
    print(f"  data stages / floor: {data_stages / floor['seconds']:.2f} (target: at most 3)", flush=True)
    dispose_engines()

    figures = compare_reports(tmp, timer, report_limit, surveys)
    _print_reports(figures, data_stages)
    print(f"  peak RSS of this process {peak_rss_mb():,.0f} MB", flush=True)
    document = national_figures(
        rows=totals["received"],
        files=totals["files"],
        stages=stages,
        data_seconds=data_stages,
        reports_seconds=figures.get("fan_out_all_est", figures["fan_out"]),
        floor=floor,
        peak_rss_mb=max(peak_rss_mb(), children_peak_rss_mb()),
        workers=workers,
        database_url=settings.database_url,
    )
    print(f"  figures written to {write_figures(document, json_path)}", flush=True)
    if keep is None:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"kept {tmp}: python -m tools.bench_national --reports-only {tmp}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="feedback rows in the measured quarter")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--history-scale",
        type=float,
        default=0.25,
        help="volume of the two earlier quarters relative to the measured one (0: none)",
    )
    parser.add_argument("--regions", type=int, default=REGIONS, help="regions of the synthetic registry")
    parser.add_argument("--offices", type=int, default=OFFICES, help="offices of the synthetic registry")
    parser.add_argument(
        "--report-scopes",
        type=int,
        default=None,
        help="render national + the first N-1 regions only, and extrapolate to all",
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep the run's folder under this directory")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes that validate ingest batches and render reports (default: one per core)",
    )
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="sqlite: a file in the run's folder; postgresql: a throw-away server (tools/pg_server.py)",
    )
    parser.add_argument(
        "--reports-only",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="only compare the reports, on a folder an earlier --keep run left",
    )
    args = parser.parse_args()
    if args.report_scopes is not None and args.report_scopes < 2:
        parser.error("--report-scopes needs at least 2 (national and one region)")
    if args.reports_only:
        run_reports_only(args.reports_only.resolve(), args.report_scopes)
        return
    if args.rows <= 0 or args.history_scale < 0 or not 0 < args.regions <= min(args.offices, 99):
        parser.error("--rows must be positive, --history-scale not negative, 1 <= --regions <= min(--offices, 99)")
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    run(
        args.rows,
        args.seed,
        args.history_scale,
        args.keep,
        args.regions,
        args.offices,
        args.report_scopes,
        args.workers,
        args.database,
    )


if __name__ == "__main__":
    main()
