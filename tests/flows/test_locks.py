"""The per-quarter run lock (tasks/locks.py) on SQLite and PostgreSQL: one winner among
concurrent acquirers with a refusal naming the quarter and the holder, quarters
independent, dead holders taken over (process gone, heartbeat stale, Prefect run
ended) but live ones never, heartbeat, release, a lock lost while held, the
migration, and the crash hook the fault tests use."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, insert, inspect, select, update
from sqlmodel import SQLModel

from flows import faults, locks
from flows.locks import LockLost, QuarterLocked, acquire, quarter_lock, read_lock, release
from models.db import alembic_config, session_scope
from models.locks import CycleLock

ROOT = Path(__file__).resolve().parents[2]
Q = "2026Q1"


def _plant(
    url: str,
    quarter: str,
    *,
    host: str,
    pid: int,
    holder: str,
    key: str | None = None,
    flow_run_id: str | None = None,
    heartbeat_age: timedelta = timedelta(0),
) -> None:
    """A lock row as another process (maybe on another machine) would have left it."""
    with session_scope(url) as s:
        now = locks._db_now(s)
        s.execute(
            insert(CycleLock.__table__).values(
                quarter=quarter,
                token="f" * 32,
                holder=holder,
                host=host,
                pid=pid,
                process_key=key,
                flow_run_id=flow_run_id,
                acquired_at=now - heartbeat_age,
                heartbeat_at=now - heartbeat_age,
            )
        )


def _age_heartbeat(url: str, quarter: str, age: timedelta) -> None:
    with session_scope(url) as s:
        now = locks._db_now(s)
        s.execute(update(CycleLock.__table__).where(CycleLock.quarter == quarter).values(heartbeat_at=now - age))


class _Lines(logging.Handler):
    """The lines ``flows.locks`` logs (a handler on that logger: Prefect's logging setup
    in the same session must not decide what a test sees)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture()
def lock_log():
    handler = _Lines()
    log = logging.getLogger("flows.locks")
    log.addHandler(handler)
    yield handler.lines
    log.removeHandler(handler)


def _rows(url: str) -> list[str]:
    with session_scope(url) as s:
        return sorted(s.execute(select(CycleLock.quarter)).scalars())


# --------------------------------------------------------------------------- contention


def test_one_of_many_concurrent_acquirers_wins_the_others_are_told_who(any_db_url):
    n = 8
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = acquire(Q, f"cycle attempt {i}", url=any_db_url, check_prefect=False)
        except Exception as exc:  # noqa: BLE001 - collected and checked below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    winners = [r for r in results if isinstance(r, locks.LockInfo)]
    refused = [r for r in results if isinstance(r, QuarterLocked)]
    assert len(winners) == 1 and len(refused) == n - 1, results
    winner = winners[0]
    held = read_lock(Q, any_db_url)
    assert held.token == winner.token and held.holder == winner.holder
    assert held.pid == os.getpid() and held.host == socket.gethostname()
    for exc in refused:
        assert exc.quarter == Q and exc.holder == winner.holder
        assert f"quarter {Q} is already being processed by {winner.holder}" in str(exc)
        assert f"process {os.getpid()} on host {socket.gethostname()}" in str(exc)
    assert release(winner, any_db_url) and read_lock(Q, any_db_url) is None


def test_different_quarters_do_not_block_each_other(any_db_url):
    with quarter_lock("2026Q1", "cycle", url=any_db_url, check_prefect=False):
        with quarter_lock("2026Q2", "cycle", url=any_db_url, check_prefect=False):
            assert _rows(any_db_url) == ["2026Q1", "2026Q2"]
            with pytest.raises(QuarterLocked, match="quarter 2026Q2 is already being processed by cycle"):
                acquire("2026Q2", "another cycle", url=any_db_url, check_prefect=False)
        assert _rows(any_db_url) == ["2026Q1"]
    assert _rows(any_db_url) == []


def test_the_lock_is_released_when_the_body_fails(any_db_url):
    with pytest.raises(ZeroDivisionError), quarter_lock(Q, "cycle", url=any_db_url, check_prefect=False):
        assert read_lock(Q, any_db_url) is not None
        raise ZeroDivisionError("the body fails")
    assert read_lock(Q, any_db_url) is None


# --------------------------------------------------------------------------- dead holders


_HOLD_AND_DIE = """
import os, signal, sys
from flows.locks import acquire
info = acquire(sys.argv[2], "cycle in a killed process", url=sys.argv[1], check_prefect=False)
print(info.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_holder_on_this_host_is_taken_over_at_once(any_db_url, lock_log):
    """A process that took the lock and was SIGKILLed leaves its row with a fresh heartbeat;
    the next acquirer sees the process is gone and takes over without waiting."""
    proc = subprocess.run(
        [sys.executable, "-c", _HOLD_AND_DIE, any_db_url, Q], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    dead = read_lock(Q, any_db_url)
    assert dead.holder == "cycle in a killed process" and dead.pid == int(proc.stdout.split()[0])
    mine = acquire(Q, "rerun", url=any_db_url, check_prefect=False)
    assert mine.token != dead.token and read_lock(Q, any_db_url).holder == "rerun"
    [line] = [line for line in lock_log if "took over" in line]
    assert f"took over the run lock of quarter {Q} from cycle in a killed process (process {dead.pid}" in line
    assert f"process {dead.pid} no longer exists on this host" in line


def test_a_live_process_on_this_host_keeps_its_lock_a_reused_pid_does_not(any_db_url):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        key = None
        for _ in range(50):  # /proc/<pid>/stat appears as soon as the process exists
            key = locks.process_key(sleeper.pid)
            if key:
                break
            time.sleep(0.02)
        assert key and key != locks.process_key()
        # Alive, heartbeat an hour old: the live process is decisive, no takeover.
        _plant(
            any_db_url,
            Q,
            host=socket.gethostname(),
            pid=sleeper.pid,
            key=key,
            holder="slow cycle",
            heartbeat_age=timedelta(hours=1),
        )
        with pytest.raises(QuarterLocked, match=f"by slow cycle \\(process {sleeper.pid} on host"):
            acquire(Q, "rerun", url=any_db_url, check_prefect=False)
        # The same pid recorded with another process's start time: that process is gone.
        with session_scope(any_db_url) as s:
            s.execute(update(CycleLock.__table__).values(process_key=key.split(":")[0] + ":1"))
        assert acquire(Q, "rerun", url=any_db_url, check_prefect=False).holder == "rerun"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_holder_on_another_host_is_taken_over_only_once_its_heartbeat_is_stale(any_db_url, lock_log):
    _plant(any_db_url, Q, host="worker-7.example", pid=4242, holder="cycle on worker 7")
    with pytest.raises(QuarterLocked) as refused:
        acquire(Q, "rerun", url=any_db_url, check_prefect=False)
    assert "cycle on worker 7 (process 4242 on host worker-7.example)" in str(refused.value)
    assert "sent no heartbeat for 10 min is taken over" in str(refused.value)

    _age_heartbeat(any_db_url, Q, timedelta(minutes=11))
    with pytest.raises(QuarterLocked):  # a longer limit: still alive
        acquire(Q, "rerun", url=any_db_url, check_prefect=False, stale_after=timedelta(minutes=30))
    taken = acquire(Q, "rerun", url=any_db_url, check_prefect=False)
    assert read_lock(Q, any_db_url).token == taken.token
    [line] = [line for line in lock_log if "took over" in line]
    assert "from cycle on worker 7 (process 4242 on host worker-7.example): no heartbeat for 11" in line


def test_only_one_of_two_runs_takes_over_the_same_dead_holder(any_db_url):
    _plant(
        any_db_url, Q, host="worker-7.example", pid=4242, holder="cycle on worker 7", heartbeat_age=timedelta(hours=2)
    )
    barrier = threading.Barrier(2)
    results: list[object] = [None, None]

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = acquire(Q, f"rerun {i}", url=any_db_url, check_prefect=False)
        except QuarterLocked as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    winners = [r for r in results if isinstance(r, locks.LockInfo)]
    assert len(winners) == 1 and isinstance(next(r for r in results if r is not winners[0]), QuarterLocked)
    assert read_lock(Q, any_db_url).token == winners[0].token


# --------------------------------------------------------------------------- heartbeat, loss


def test_the_heartbeat_keeps_the_lock_fresh(any_db_url):
    with quarter_lock(
        Q, "cycle", url=any_db_url, heartbeat_seconds=0.3, stale_after=timedelta(seconds=1), check_prefect=False
    ) as lock:
        first = read_lock(Q, any_db_url).heartbeat_at
        time.sleep(1.6)  # SQLite's CURRENT_TIMESTAMP counts whole seconds
        assert read_lock(Q, any_db_url).heartbeat_at > first
        assert not lock.lost
        lock.ensure_held()
    assert read_lock(Q, any_db_url) is None


def test_a_lock_taken_over_while_held_fails_the_run(any_db_url):
    with (
        pytest.raises(LockLost, match=f"run lock of quarter {Q} was taken over.*now held by other run"),
        quarter_lock(Q, "cycle", url=any_db_url, heartbeat_seconds=0.2, check_prefect=False) as lock,
    ):
        with session_scope(any_db_url) as s:  # what a run on another machine does after a takeover
            s.execute(update(CycleLock.__table__).values(token="e" * 32, holder="other run", host="elsewhere"))
        deadline = time.monotonic() + 5
        while not lock.lost and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock.lost
        with pytest.raises(LockLost):
            lock.ensure_held()
    assert read_lock(Q, any_db_url).holder == "other run"  # its row is not ours to delete


def test_heartbeat_must_be_well_below_the_stale_limit(db_url):
    with (
        pytest.raises(ValueError, match="heartbeat_seconds"),
        quarter_lock(Q, "cycle", url=db_url, heartbeat_seconds=60, stale_after=timedelta(minutes=2)),
    ):
        pass
    assert read_lock(Q, db_url) is None


# --------------------------------------------------------------------------- Prefect


def test_a_prefect_flow_run_that_ended_gives_up_its_claim(db_url, prefect_harness, lock_log):
    """Inside a flow run the lock records the run; a row naming a run that is Completed is
    taken over at once (even from another host with a fresh heartbeat), one naming a run
    still Running is not."""
    from prefect import flow, get_client
    from prefect.states import Running

    @flow(name="lock-holder")
    def hold(url: str) -> dict:
        with quarter_lock("2026Q4", "test cycle", url=url, heartbeat_seconds=0) as lock:
            return {"id": lock.info.flow_run_id, "holder": lock.info.holder}

    state = hold(db_url, return_state=True)
    seen = state.result()
    assert seen["id"] == str(state.state_details.flow_run_id)
    assert seen["holder"].startswith("test cycle flow run ")

    with get_client(sync_client=True) as client:
        running = client.create_flow_run(hold, parameters={"url": db_url}, state=Running())
    _plant(db_url, Q, host="worker-2.example", pid=77, holder="cycle on worker 2", flow_run_id=str(running.id))
    with pytest.raises(QuarterLocked, match=f"Prefect flow run {running.id}"):
        acquire(Q, "rerun", url=db_url)
    with session_scope(db_url) as s:
        s.execute(update(CycleLock.__table__).values(flow_run_id=seen["id"]))
    assert acquire(Q, "rerun", url=db_url).holder == "rerun"
    assert any("its Prefect flow run is COMPLETED" in line for line in lock_log)


# --------------------------------------------------------------------------- schema


def test_migration_0003_builds_the_model_and_walks_down_and_up(any_db_url):
    def diff() -> list:
        engine = create_engine(any_db_url)
        try:
            with engine.connect() as conn:
                ctx = MigrationContext.configure(
                    conn,
                    opts={  # this migration's table only
                        "include_object": lambda obj, name, type_, reflected, other: (
                            type_ != "table" or name == "cycle_lock"
                        )
                    },
                )
                return compare_metadata(ctx, SQLModel.metadata)
        finally:
            engine.dispose()

    assert diff() == []
    cfg = alembic_config(any_db_url)
    command.downgrade(cfg, "0002")
    engine = create_engine(any_db_url)
    assert "cycle_lock" not in inspect(engine).get_table_names()
    engine.dispose()
    command.upgrade(cfg, "head")
    assert diff() == []
    with session_scope(any_db_url) as s:
        assert s.execute(select(func.count()).select_from(CycleLock)).scalar_one() == 0


# --------------------------------------------------------------------------- crash hook

_HOOK = """
from types import SimpleNamespace
from flows.faults import crash_after_task
for name in ["ingest-file", "measure-star-index", "ingest-file", "ingest-file", "write-reports"]:
    crash_after_task(SimpleNamespace(name=name), None, None)
    print("completed", name, flush=True)
"""


@pytest.mark.parametrize(
    "spec, survivors",
    [
        ("ingest-file#2", ["ingest-file", "measure-star-index"]),
        ("measure-star-index", ["ingest-file"]),
        ("", ["ingest-file", "measure-star-index", "ingest-file", "ingest-file", "write-reports"]),
    ],
)
def test_the_crash_hook_kills_after_the_named_completion(spec, survivors):
    env = {**os.environ, faults.FAULT_ENV: spec}
    proc = subprocess.run([sys.executable, "-c", _HOOK], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert [line.split()[1] for line in proc.stdout.splitlines()] == survivors
    if spec:
        assert proc.returncode == -signal.SIGKILL
        assert f"{faults.FAULT_ENV}: killing process" in proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr
