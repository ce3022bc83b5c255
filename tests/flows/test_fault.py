"""Crash safety of the quarterly cycle.

- A stage killed inside its transaction leaves the quarter's previous results as they
  were (SQLite and PostgreSQL): a subprocess replaces them, flushes, and SIGKILLs
  itself before the commit.
- The cycle killed in the middle of a run, twice, and then rerun ends with exactly the
  database of one clean run on a fresh database from the same files. The runs are the
  real command line (``python -m cxloop.cli cycle --quarter Q --no-send``) in
  subprocesses, against the session's Prefect test server; the kills are
  deterministic: ``CXLOOP_FAULT_AFTER=<task>[#n]`` makes the process SIGKILL itself
  right after that task completed (``flows.faults.crash_after_task``), first after
  the 4th of 18 files was ingested, then after the measures were proposed (inside the
  results transaction, so no index, pain point or proposal of the quarter is left). Each
  rerun finds the dead run's lock row and takes it over.
- A rerun of a completed quarter killed half way (after the pain points, with more files
  than the first run) leaves the first run's results of the quarter exactly as they were.
- A second run for a quarter whose lock is held by a live run fails fast with a
  message naming the quarter and the holder, and changes nothing (it does not wait).

The comparison is a canonical dump of every table: rows without surrogate ids
(references to them replaced by the referenced row's content), without wall-clock
columns, sorted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader
from sqlalchemy import MetaData, create_engine, func, select, text

from flows.faults import FAULT_ENV
from flows.locks import quarter_lock, read_lock
from models import store
from models.db import session_scope, upgrade
from models.locks import CycleLock

ROOT = Path(__file__).resolve().parents[2]
QUARTER = "2026Q1"
# Columns that hold the wall clock of the moment something happened (none is written
# by a --no-send cycle, but a rerun must not be judged on them if one ever is).
WALL_CLOCK = {("delivery", "at"), ("quarantine", "released_at")}
# Integer references to a surrogate id that are not declared as foreign keys.
ID_REFS = {("ingested_file", "repeat_of"): "ingested_file"}
NOT_RESULTS = {"cycle_lock"}  # run bookkeeping, must be empty after a completed run (checked on its own)


# --------------------------------------------------------------------------- canonical dump


def _plain(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def canonical_dump(url: str) -> dict[str, list[tuple]]:
    """Every table of the database as a sorted list of rows, each row a tuple of
    (column, value) without its surrogate ``id``, without wall-clock columns, and with
    every reference to another row's id replaced by that row's canonical content."""
    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        canon: dict[str, dict[object, tuple]] = {}
        dump: dict[str, list[tuple]] = {}
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                if table.name in NOT_RESULTS:
                    continue
                pk = [c.name for c in table.primary_key.columns]
                surrogate = pk[0] if pk == ["id"] else None
                refs = {
                    c.name: fk.column.table.name
                    for c in table.columns
                    for fk in c.foreign_keys
                    if fk.column.name == "id"
                }
                refs.update({col: target for (t, col), target in ID_REFS.items() if t == table.name})
                plain_cols = [
                    c.name
                    for c in table.columns
                    if c.name != surrogate and c.name not in refs and (table.name, c.name) not in WALL_CLOCK
                ]
                rows = conn.execute(select(table)).mappings().all()
                base = {r[surrogate]: tuple((c, _plain(r[c])) for c in plain_cols) for r in rows} if surrogate else {}
                canon[table.name] = base  # self references (ingested_file.repeat_of) resolve to the base content
                full = []
                for r in rows:
                    own = base[r[surrogate]] if surrogate else tuple((c, _plain(r[c])) for c in plain_cols)
                    resolved = tuple(
                        (c, None if r[c] is None else canon[target][r[c]]) for c, target in sorted(refs.items())
                    )
                    full.append((r[surrogate] if surrogate else None, own + resolved))
                canon[table.name] = dict(full)
                dump[table.name] = sorted((v for _, v in full), key=repr)
        return dump
    finally:
        engine.dispose()


def _count(url: str, sql: str) -> int:
    with session_scope(url) as s:
        return s.execute(text(sql), {"q": QUARTER}).scalar_one()


def _first_difference(a: dict, b: dict) -> str:
    if a.keys() != b.keys():
        return f"tables differ: {sorted(a.keys() ^ b.keys())}"
    for name in a:
        if a[name] != b[name]:
            only_a = [r for r in a[name] if r not in b[name]][:1]
            only_b = [r for r in b[name] if r not in a[name]][:1]
            return (
                f"{name}: {len(a[name])} vs {len(b[name])} rows; "
                f"e.g. only in the first {only_a}, only in the second {only_b}"
            )
    return "equal"


# --------------------------------------------------------------------------- a stage killed inside its transaction

_PREVIOUS = {"index": 70.0, "priority": 5.0}
_NEW = {"index": 80.0, "priority": 9.0}

_REPLACE = """
import os, signal, sys
import pandas as pd
from models.db import session_scope
from models import store
from tests.flows.test_fault import results_frames
url, quarter, die = sys.argv[1], sys.argv[2], sys.argv[3] == "die"
index, pains = results_frames(index=80.0, priority=9.0)
with session_scope(url) as session:
    store.replace_index_results(session, quarter, index)
    store.replace_pain_points(session, quarter, pains)
    session.flush()
    print("replaced, not committed", flush=True)
    if die:
        os.kill(os.getpid(), signal.SIGKILL)
"""


def results_frames(index: float, priority: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small star-index result and pain-point result of one quarter (values as given)."""
    idx = pd.DataFrame(
        [
            {
                "level": "country",
                "unit_code": "ALL",
                "region_code": None,
                "client_type": ct,
                "index": index + k,
                "ci_low": index + k - 3,
                "ci_high": index + k + 3,
                "n": 120,
                "stars": 3,
                "sufficient_sample": True,
            }
            for k, ct in enumerate(["citizen", "employer", "composite"])
        ]
    )
    pains = pd.DataFrame(
        [
            {
                "level": "region",
                "unit_code": r,
                "region_code": r,
                "client_type": "citizen",
                "theme": "waiting_time",
                "journey_stage": "first_contact",
                "mentions": 40,
                "negative_mentions": 30,
                "texts_total": 300,
                "negative_share": 10.0,
                "ray": "effort",
                "ray_score": 60.0,
                "priority": priority + i,
                "rank": 1,
            }
            for i, r in enumerate(["10", "52", "66"])
        ]
    )
    return idx, pains


def _results(url: str) -> tuple[list, list]:
    with session_scope(url) as s:
        index = store.load_index(s, QUARTER).drop(columns="id").sort_values(["client_type"])
        pains = store.load_pain_points(s, QUARTER).drop(columns="id")
    return index.to_dict("records"), pains.to_dict("records")


def test_a_stage_killed_inside_its_transaction_leaves_the_previous_results(any_db_url):
    index, pains = results_frames(**_PREVIOUS)
    with session_scope(any_db_url) as s:
        store.replace_index_results(s, QUARTER, index)
        store.replace_pain_points(s, QUARTER, pains)
    before = _results(any_db_url)
    assert [r["index"] for r in before[0]] == [70.0, 72.0, 71.0]  # citizen, composite, employer

    script = _REPLACE
    killed = subprocess.run(
        [sys.executable, "-c", script, any_db_url, QUARTER, "die"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL and "replaced, not committed" in killed.stdout, killed.stderr
    assert _results(any_db_url) == before

    # The same replacement committed does change them: the check above could fail.
    done = subprocess.run(
        [sys.executable, "-c", script, any_db_url, QUARTER, "commit"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    after = _results(any_db_url)
    assert [r["index"] for r in after[0]] == [80.0, 82.0, 81.0]
    assert [r["priority"] for r in after[1]] == [9.0, 10.0, 11.0]


# --------------------------------------------------------------------------- the cycle killed and rerun


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory) -> Path:
    """One quarter of demo exports (18 files: 3 regions x 6 channels), generated once."""
    from cxloop.quarters import Quarter
    from demo.generate import generate_demo_data

    root = tmp_path_factory.mktemp("fault-data")
    manifest = generate_demo_data(root, [Quarter.parse(QUARTER)], seed=11, scale=0.3)
    assert len(manifest.files) == 18
    return root


@pytest.fixture(scope="module")
def config_copy(tmp_path_factory) -> Path:
    """A copy of config/ taken once: every run of the comparison reads the same
    configuration even if someone edits the working tree's meanwhile."""
    target = tmp_path_factory.mktemp("fault-config") / "config"
    shutil.copytree(ROOT / "config", target)
    return target


@pytest.fixture()
def cli_env(prefect_harness, config_copy, tmp_path):
    """Environment for ``cxloop`` subprocesses: the session's Prefect test server, a temp
    PREFECT_HOME, the copied configuration, no SMTP."""
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CXLOOP_", "PREFECT_"))}
    home = tmp_path / "prefect-home"
    home.mkdir()
    env.update(
        PREFECT_API_URL=PREFECT_API_URL.value(),
        PREFECT_HOME=str(home),
        PREFECT_LOGGING_LEVEL="WARNING",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        GX_ANALYTICS_ENABLED="false",
        MPLBACKEND="Agg",
        CXLOOP_CONFIG_DIR=str(config_copy),
    )
    return env


def _start(env: dict, url: str, data: Path, out: Path, fault: str | None = None) -> subprocess.Popen:
    run_env = {**env, "CXLOOP_DATABASE_URL": url, "CXLOOP_DATA_DIR": str(data), "CXLOOP_OUT_DIR": str(out)}
    if fault:
        run_env[FAULT_ENV] = fault
    return subprocess.Popen(
        [sys.executable, "-m", "cxloop.cli", "cycle", "--quarter", QUARTER, "--no-send"],
        cwd=ROOT,
        env=run_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        # anything the run left in its process group (it runs in its own session)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return proc.returncode, out, err


def _printed_results(stdout: str) -> list[str]:
    keep = ("unit ", "region ", "country ", "top pain points:")
    return [line.strip() for line in stdout.splitlines() if line.strip().startswith(keep)]


def _pdf_texts(out: Path) -> dict[str, str]:
    return {
        p.name: "\n".join(page.extract_text() for page in PdfReader(p).pages)
        for p in sorted((out / "reports" / QUARTER).glob("*.pdf"))
    }


@pytest.mark.slow
def test_a_cycle_killed_twice_then_rerun_equals_a_clean_run(demo_files, cli_env, tmp_path):
    clean_url, crash_url = (f"sqlite:///{tmp_path / name}" for name in ("clean.db", "crash.db"))
    started = time.monotonic()
    clean = _start(cli_env, clean_url, demo_files, tmp_path / "out-clean")  # in parallel with the crashing chain

    try:
        # 1. killed right after the 4th file was ingested (one transaction per file)
        first = _start(cli_env, crash_url, demo_files, tmp_path / "out-crash", fault="ingest-file#4")
        code, _, err = _finish(first)
        assert code == -signal.SIGKILL, (
            f"the run was not killed (exit {code}): is {FAULT_ENV} wired into the flows? "
            "(on_completion=[flows.faults.crash_after_task] in the task options "
            "of flows/quarterly_cycle.py and flows/ingest.py)"
            f"\n{err[-3000:]}"
        )
        assert f"{FAULT_ENV}: killing process {first.pid} after task ingest-file #4" in err
        assert _count(crash_url, "SELECT COUNT(*) FROM ingested_file WHERE quarter = :q") == 4
        assert _count(crash_url, "SELECT COUNT(*) FROM index_result WHERE quarter = :q") == 0
        dead = read_lock(QUARTER, crash_url)
        assert dead is not None and dead.pid == first.pid and dead.holder.startswith("quarterly-cx-cycle"), (
            "the killed run left no lock row: is quarter_lock wired around the body of quarterly_cycle?"
        )

        # 2. rerun, killed right after proposing measures: inside the results transaction
        # (star index, pain points, proposals, effects commit together), so none of them is there
        second = _start(cli_env, crash_url, demo_files, tmp_path / "out-crash", fault="propose-measures")
        code, _, err = _finish(second)
        assert code == -signal.SIGKILL, err[-3000:]
        flat = " ".join(err.split())
        assert f"took over the run lock of quarter {QUARTER} from quarterly-cx-cycle" in flat
        assert f"process {first.pid} no longer exists on this host" in flat
        assert _count(crash_url, "SELECT COUNT(*) FROM ingested_file WHERE quarter = :q") == 18
        assert _count(crash_url, "SELECT COUNT(*) FROM index_result WHERE quarter = :q") == 0
        assert _count(crash_url, "SELECT COUNT(*) FROM pain_point WHERE quarter = :q") == 0
        assert _count(crash_url, "SELECT COUNT(*) FROM measure WHERE proposed_quarter = :q") == 0
        assert not (tmp_path / "out-crash" / "register" / f"measures_{QUARTER}.csv").exists()
        assert read_lock(QUARTER, crash_url).pid == second.pid

        # 3. rerun to completion
        code, out, err = _finish(_start(cli_env, crash_url, demo_files, tmp_path / "out-crash"))
        assert code == 0, err[-3000:]
        assert f"process {second.pid} no longer exists on this host" in " ".join(err.split())
        code, clean_out, err = _finish(clean)
        assert code == 0, err[-3000:]
        print(f"\nclean run and crash chain (3 runs) in parallel: {time.monotonic() - started:.1f} s")

    finally:
        if clean.poll() is None:  # the chain failed: do not leave the clean run behind
            os.killpg(clean.pid, signal.SIGKILL)
            clean.wait()

    for url in (clean_url, crash_url):
        assert read_lock(QUARTER, url) is None
        with session_scope(url) as s:
            assert s.execute(select(func.count()).select_from(CycleLock)).scalar_one() == 0
    clean_dump, crash_dump = canonical_dump(clean_url), canonical_dump(crash_url)
    assert {t: len(rows) for t, rows in crash_dump.items()} == {t: len(rows) for t, rows in clean_dump.items()}
    assert len(clean_dump["feedback"]) > 500 and len(clean_dump["measure"]) > 0 and len(clean_dump["pain_point"]) > 0
    assert crash_dump == clean_dump, _first_difference(clean_dump, crash_dump)
    # The results the run prints (index table, top pain points) and its files agree too. (Its
    # intake line and "measures proposed" differ by design: they count what this run did.)
    assert _printed_results(out) == _printed_results(clean_out) != []
    assert _pdf_texts(tmp_path / "out-crash") == _pdf_texts(tmp_path / "out-clean") != {}
    register = f"register/measures_{QUARTER}.csv"
    assert (tmp_path / "out-crash" / register).read_bytes() == (tmp_path / "out-clean" / register).read_bytes()


def _quarter_results(url: str) -> dict[str, list]:
    """The quarter's results as the cycle writes them: index, pain points, proposals, effects."""
    dump = canonical_dump(url)
    q = ("quarter", QUARTER)
    return {
        "index_result": [r for r in dump["index_result"] if q in r],
        "pain_point": [r for r in dump["pain_point"] if q in r],
        "measure": [r for r in dump["measure"] if ("proposed_quarter", QUARTER) in r],
        "effect_evaluation": [r for r in dump["effect_evaluation"] if q in r],
    }


@pytest.mark.slow
def test_a_rerun_killed_half_way_leaves_the_previous_results_of_the_quarter(demo_files, cli_env, tmp_path):
    """A completed cycle on two thirds of the files, then a rerun with all of them killed
    after the pain points were detected (index and pain points already replaced within its
    transaction, proposals and effects not yet): the quarter's results are still exactly
    the first run's, although the new files' rows were ingested (one transaction per file)."""
    url = f"sqlite:///{tmp_path / 'rerun.db'}"
    partial = tmp_path / "partial"
    shutil.copytree(demo_files, partial)
    files = sorted(p for p in (partial / QUARTER).iterdir() if p.is_file())
    for p in files[::3]:
        p.unlink()
    code, _, err = _finish(_start(cli_env, url, partial, tmp_path / "out"))
    assert code == 0, err[-3000:]
    before = _quarter_results(url)
    assert before["index_result"] and before["pain_point"] and before["measure"]
    rows_before = _count(url, "SELECT COUNT(*) FROM feedback WHERE quarter = :q")

    second = _start(cli_env, url, demo_files, tmp_path / "out", fault="detect-pain-points")
    code, _, err = _finish(second)
    assert code == -signal.SIGKILL, err[-3000:]
    assert f"{FAULT_ENV}: killing process {second.pid} after task detect-pain-points #1" in err
    assert _count(url, "SELECT COUNT(*) FROM feedback WHERE quarter = :q") > rows_before  # new data came in
    after = _quarter_results(url)
    assert after == before, _first_difference(before, after)
    # ... and the new data does change the results: the completed rerun replaces them.
    code, _, err = _finish(_start(cli_env, url, demo_files, tmp_path / "out"))
    assert code == 0, err[-3000:]
    assert _quarter_results(url)["index_result"] != before["index_result"]


@pytest.mark.slow
def test_a_second_run_for_a_held_quarter_fails_fast_and_changes_nothing(demo_files, cli_env, tmp_path):
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    upgrade(url)
    with quarter_lock(QUARTER, "fault test: a cycle already running", url=url, check_prefect=False):
        started = time.monotonic()
        code, out, err = _finish(_start(cli_env, url, demo_files, tmp_path / "out"), timeout=120)
        elapsed = time.monotonic() - started
        held = read_lock(QUARTER, url)
    assert code != 0, "the run was not refused: is quarter_lock wired around the body of quarterly_cycle?"
    said = " ".join((out + err).split())
    assert (
        f"quarter {QUARTER} is already being processed by fault test: a cycle already running "
        f"(process {os.getpid()} on host"
    ) in said
    assert _count(url, "SELECT COUNT(*) FROM ingested_file") == 0 and _count(url, "SELECT COUNT(*) FROM feedback") == 0
    assert held.holder == "fault test: a cycle already running"  # the refused run did not touch the lock
    assert read_lock(QUARTER, url) is None
    print(f"\nrefused in {elapsed:.1f} s (process start included)")
    assert elapsed < 60
