"""Per-quarter run lock: two quarterly cycles for the same quarter never run at once.

Why in the application database: the cycle of a quarter can be started by the
scheduled deployment, the rerun deployment, ``cxloop cycle``, ``cxloop demo``,
``cxloop serve`` or a notebook, on any machine with a worker. A Prefect deployment
concurrency limit only covers runs of one deployment; the database is the one thing
every entry point shares. So the lock is a row of ``cycle_lock``
(``models/locks.py``) keyed by quarter; different quarters never block each other.

How it works (same SQL on SQLite and PostgreSQL):

- **Acquire**: INSERT the row (quarter, a random token, holder, host, pid, process
  key, Prefect flow run, database ``now`` twice) in its own short transaction. The
  primary key lets exactly one of any number of concurrent INSERTs win: PostgreSQL
  makes the others wait for the winner's commit and then fails them with a
  duplicate key; SQLite serialises the writers.
- **Refuse, fast**: when the row exists and its holder is alive the caller gets
  :class:`QuarterLocked` at once, naming the quarter and the holder. A cycle takes
  minutes; a scheduled run that collides with a manual rerun should be seen in the
  Prefect UI as a failed run, not be queued silently behind it.
- **Stale holders are taken over**. The holder is dead when, checked in this order,
  (1) it ran on this host and its process is gone, a zombie, or the pid now belongs to
  another process (``process_key``: kernel boot id + process start time); (2) its
  heartbeat is older than ``stale_after`` (default 10 min) by the *database* clock;
  (3) the Prefect flow run it names is in a final state (Completed, Failed,
  Cancelled, Crashed). The takeover is a compare-and-swap on the dead holder's token
  (``UPDATE ... WHERE token = <old>``), so of several runs finding the same dead
  holder exactly one gets the lock; it is logged as a warning with the old holder and
  the reason.
- **Heartbeat**: while held, a daemon thread refreshes ``heartbeat_at`` every
  ``heartbeat_seconds`` (default 30 s). A failed refresh (SQLite busy during a long
  stage write, a network blip) is logged and retried at the next tick. If the row is
  gone or carries another token, the lock was taken over (this process was stalled
  for longer than ``stale_after``): that is logged as an error and the context
  manager raises :class:`LockLost` on the way out, so the run ends Failed.
- **Release**: DELETE the row by token when the body ends, whatever way it ends. A
  process killed outright (SIGKILL, power loss) leaves its row; the next run finds
  the holder dead and takes over.

What it does not do: fence writes. A holder that is frozen for longer than
``stale_after`` (a suspended VM) and then resumes may write once more after another
run took over; it learns at its next heartbeat and fails. ``stale_after`` is far
above the cycle's results transaction (the quarter's index, pain points, proposals
and effects are written in one, ``models.db.one_transaction``), so the later run's
results are whole.

The fault-injection hook :func:`crash_after_task` (for the crash tests, inert unless
``CXLOOP_FAULT_AFTER`` is set) is at the end of this module.

Use::

    from flows.locks import quarter_lock

    with quarter_lock("2026Q3", "quarterly-cx-cycle"):
        ...  # the cycle's stages
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from models.db import session_scope
from models.locks import CycleLock

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 30.0
STALE_AFTER = timedelta(minutes=10)
_ACQUIRE_ATTEMPTS = 5
#: The lock's table, for Core INSERT/UPDATE/DELETE (one statement each, no ORM state).
_LOCK_TABLE: Table = CycleLock.__table__  # type: ignore[attr-defined]  # set on table=True models; SQLModel doesn't declare it


# --------------------------------------------------------------------------- types


@dataclass(frozen=True)
class LockInfo:
    """One row of ``cycle_lock``: who holds the lock of a quarter."""

    quarter: str
    token: str
    holder: str
    host: str
    pid: int
    process_key: str | None
    flow_run_id: str | None
    acquired_at: datetime
    heartbeat_at: datetime

    @classmethod
    def from_row(cls, row: CycleLock) -> LockInfo:
        return cls(
            quarter=row.quarter,
            token=row.token,
            holder=row.holder,
            host=row.host,
            pid=row.pid,
            process_key=row.process_key,
            flow_run_id=row.flow_run_id,
            acquired_at=_utc(row.acquired_at),
            heartbeat_at=_utc(row.heartbeat_at),
        )

    def describe(self) -> str:
        """``<holder> (process <pid> on host <host>[, Prefect flow run <id>])``."""
        where = f"process {self.pid} on host {self.host}"
        if self.flow_run_id:
            where += f", Prefect flow run {self.flow_run_id}"
        return f"{self.holder} ({where})"


class QuarterLocked(RuntimeError):
    """Another live run holds the quarter's lock; this run must not touch the quarter."""

    def __init__(self, info: LockInfo, now: datetime, stale_after: timedelta) -> None:
        self.quarter = info.quarter
        self.holder = info.holder
        self.info = info
        silent = max(0, int((now - info.heartbeat_at).total_seconds()))
        super().__init__(
            f"quarter {info.quarter} is already being processed by {info.describe()}, "
            f"since {info.acquired_at:%Y-%m-%d %H:%M:%S} UTC (last heartbeat {silent} s ago); "
            f"this run stopped without changing anything. Wait for that run to end and start again; "
            f"a holder whose process is gone, whose flow run has ended, or that sent no heartbeat for "
            f"{_minutes(stale_after)} is taken over automatically."
        )


class LockLost(RuntimeError):
    """The lock was taken over while this run still held it (it was stalled too long)."""


# --------------------------------------------------------------------------- helpers


def _utc(value: datetime) -> datetime:
    """Aware UTC whatever the driver returned (SQLite: naive UTC text; PostgreSQL: aware)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _minutes(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _db_now(session) -> datetime:
    return _utc(session.execute(select(func.now())).scalar_one())


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of a Linux process; None if not readable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name (field 2) may hold spaces and ')'
    return fields[0], fields[19]  # fields 3 (state) and 22 (starttime)


def process_key(pid: int | None = None) -> str | None:
    """``<boot id>:<start time>`` of a process (default: this one) on Linux, else None.

    A pid is reused after the process exits; the start time (since boot) and the boot
    id are not, so the key names one process for the life of the host."""
    boot = _boot_id()
    stat = _proc_stat(os.getpid() if pid is None else pid)
    return f"{boot}:{stat[1]}" if boot and stat else None


def _local_process_dead(pid: int, key: str | None) -> str | None:
    """Why the process ``pid`` of this host is dead (None: it is alive)."""
    if Path("/proc").is_dir() and Path("/proc/self/stat").exists():
        stat = _proc_stat(pid)
        if stat is None:
            return f"process {pid} no longer exists"
        state, start = stat
        if state in ("Z", "X"):
            return f"process {pid} has exited"
        if key and key != f"{_boot_id()}:{start}":
            return f"process {pid} has exited (the pid now belongs to another process)"
        return None
    try:  # no /proc (macOS): existence only
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"process {pid} no longer exists"
    except PermissionError:
        pass
    return None


def _flow_run_final_state(flow_run_id: str) -> str | None:
    """The final state (``COMPLETED``, ``CRASHED``...) of a Prefect flow run; None when it is
    not final, unknown to the API, or the API cannot be asked.

    Only asked when a Prefect API is at hand (``PREFECT_API_URL`` set, or inside a flow
    run): outside of one, Prefect's client would start an ephemeral server just for this."""
    try:
        from prefect.client.orchestration import get_client
        from prefect.context import FlowRunContext
        from prefect.settings import PREFECT_API_URL

        if not PREFECT_API_URL.value() and FlowRunContext.get() is None:
            return None
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(uuid.UUID(flow_run_id))
    except Exception as exc:  # unknown run (another Prefect server), API down, bad id: undecided
        logger.debug("cannot read the state of flow run %s: %s", flow_run_id, exc)
        return None
    state = run.state
    return state.type.value if state is not None and state.is_final() else None


def _why_dead(info: LockInfo, now: datetime, stale_after: timedelta, check_prefect: bool) -> str | None:
    """Why the holder of ``info`` is dead, or None when it may be alive (see the module doc)."""
    if info.host == socket.gethostname():
        if info.pid == os.getpid() and info.process_key == process_key():
            return None  # this very process: it is alive (the lock is not re-entrant)
        reason = _local_process_dead(info.pid, info.process_key)
        if reason:
            return f"{reason} on this host"
        return None  # a live process on this host: decisive, whatever its heartbeat says
    silent = now - info.heartbeat_at
    if silent > stale_after:
        return f"no heartbeat for {_minutes(silent)} (limit {_minutes(stale_after)})"
    if check_prefect and info.flow_run_id:
        state = _flow_run_final_state(info.flow_run_id)
        if state:
            return f"its Prefect flow run is {state}"
    return None


def _run_logger() -> logging.Logger | logging.LoggerAdapter:
    """The Prefect run logger inside a run (the line shows in the UI), else this module's."""
    try:
        from prefect.logging import get_run_logger

        return get_run_logger()
    except Exception:
        return logger


def _current_flow_run() -> tuple[str | None, str | None]:
    """(id, name) of the Prefect flow run this code runs in, or (None, None)."""
    try:
        from prefect.context import FlowRunContext

        ctx = FlowRunContext.get()
    except Exception:
        return None, None
    if ctx is None or ctx.flow_run is None:
        return None, None
    return str(ctx.flow_run.id), ctx.flow_run.name


# --------------------------------------------------------------------------- the lock


def read_lock(quarter: str, url: str | None = None) -> LockInfo | None:
    """Who holds the lock of ``quarter`` now (None: nobody)."""
    with session_scope(url) as session:
        row = session.get(CycleLock, quarter)
        return LockInfo.from_row(row) if row is not None else None


def acquire(
    quarter: str,
    holder: str,
    *,
    url: str | None = None,
    flow_run_id: str | None = None,
    stale_after: timedelta = STALE_AFTER,
    check_prefect: bool = True,
) -> LockInfo:
    """Take the lock of ``quarter`` for ``holder`` or raise :class:`QuarterLocked`.

    A dead holder's lock is taken over (logged as a warning with the reason). Does not
    wait and does not start a heartbeat: :func:`quarter_lock` does both for a run."""
    me = dict(
        holder=holder[:200],
        host=socket.gethostname()[:255],
        pid=os.getpid(),
        process_key=process_key(),
        flow_run_id=flow_run_id,
    )
    last: tuple[LockInfo, datetime] | None = None
    for _attempt in range(_ACQUIRE_ATTEMPTS):
        token = uuid.uuid4().hex
        try:
            with session_scope(url) as session:
                session.execute(
                    insert(_LOCK_TABLE).values(
                        quarter=quarter, token=token, acquired_at=func.now(), heartbeat_at=func.now(), **me
                    )
                )
                inserted = session.get(CycleLock, quarter)
                assert inserted is not None  # the row this transaction just inserted
                return LockInfo.from_row(inserted)
        except IntegrityError:
            pass  # held (or being taken) by someone: look at who
        with session_scope(url) as session:
            row = session.get(CycleLock, quarter)
            info = LockInfo.from_row(row) if row is not None else None
            now = _db_now(session)
        if info is None:
            continue  # released between our INSERT and the look: try again
        last = (info, now)
        reason = _why_dead(info, now, stale_after, check_prefect)
        if reason is None:
            raise QuarterLocked(info, now, stale_after)
        with session_scope(url) as session:
            taken = session.exec(
                update(_LOCK_TABLE)
                .where(col(CycleLock.quarter) == quarter, col(CycleLock.token) == info.token)
                .values(token=token, acquired_at=func.now(), heartbeat_at=func.now(), **me)
            ).rowcount
            if taken == 1:
                taken_row = session.get(CycleLock, quarter)
                assert taken_row is not None  # the row this transaction just updated
                new = LockInfo.from_row(taken_row)
        if taken == 1:
            _run_logger().warning("took over the run lock of quarter %s from %s: %s", quarter, info.describe(), reason)
            return new
        # Another run took it over (or it was released) in between: look again.
    assert last is not None
    raise QuarterLocked(*last, stale_after)


def release(info: LockInfo, url: str | None = None) -> bool:
    """Give the lock back; False when it was no longer ours (taken over)."""
    with session_scope(url) as session:
        gone = session.exec(
            delete(_LOCK_TABLE).where(col(CycleLock.quarter) == info.quarter, col(CycleLock.token) == info.token)
        ).rowcount
    return gone == 1


def heartbeat(info: LockInfo, url: str | None = None) -> bool:
    """Refresh the lock's heartbeat; False when it is no longer ours."""
    with session_scope(url) as session:
        hit = session.exec(
            update(_LOCK_TABLE)
            .where(col(CycleLock.quarter) == info.quarter, col(CycleLock.token) == info.token)
            .values(heartbeat_at=func.now())
        ).rowcount
    return hit == 1


class QuarterLock:
    """A held lock with its heartbeat thread (what :func:`quarter_lock` yields)."""

    def __init__(self, info: LockInfo, url: str | None, heartbeat_seconds: float) -> None:
        self.info = info
        self.url = url
        self.heartbeat_seconds = heartbeat_seconds
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"cxloop-lock-{info.quarter}", daemon=True)

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def ensure_held(self) -> None:
        """Raise :class:`LockLost` unless the row still carries this lock's token (one query)."""
        current = read_lock(self.info.quarter, self.url)
        if current is None or current.token != self.info.token:
            self._lost.set()
        if self.lost:
            raise LockLost(self._lost_message(current))

    def _lost_message(self, current: LockInfo | None) -> str:
        now = "nobody holds it now" if current is None else f"it is now held by {current.describe()}"
        return (
            f"the run lock of quarter {self.info.quarter} was taken over while this run held it "
            f"(no heartbeat reached the database for too long); {now}. The quarter's results may "
            f"mix both runs' work: rerun the quarter once the other run has ended."
        )

    def _beat(self) -> None:
        failing = False
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                ours = heartbeat(self.info, self.url)
            except Exception as exc:  # busy SQLite, network blip: try again at the next tick
                if not failing:
                    logger.warning(
                        "could not refresh the run lock of quarter %s (will retry): %s",
                        self.info.quarter,
                        type(exc).__name__,
                    )
                failing = True
                continue
            failing = False
            if not ours and not self._stop.is_set():
                self._lost.set()
                logger.error(
                    "the run lock of quarter %s was taken over by another run while this one held it", self.info.quarter
                )
                return

    def start(self) -> None:
        if self.heartbeat_seconds > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


@contextmanager
def quarter_lock(
    quarter: str,
    holder: str,
    *,
    url: str | None = None,
    stale_after: timedelta = STALE_AFTER,
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
    check_prefect: bool = True,
) -> Iterator[QuarterLock]:
    """Hold the run lock of ``quarter`` for the body; raise :class:`QuarterLocked` at once
    (before the body runs) when another live run holds it.

    ``holder`` says what runs (e.g. ``"quarterly-cx-cycle"``); inside a Prefect flow run
    the run's name is added and its id recorded, so a later run can tell from Prefect
    that this one has ended. The lock is released however the body ends; if it was
    taken over meanwhile, :class:`LockLost` is raised after a body that succeeded."""
    if heartbeat_seconds > 0 and heartbeat_seconds * 3 > stale_after.total_seconds():
        raise ValueError("heartbeat_seconds must be well below stale_after (at most a third)")
    run_id, run_name = _current_flow_run()
    label = f"{holder} flow run {run_name}" if run_name else holder
    lock = QuarterLock(
        acquire(quarter, label, url=url, flow_run_id=run_id, stale_after=stale_after, check_prefect=check_prefect),
        url,
        heartbeat_seconds,
    )
    lock.start()
    ok = False
    try:
        yield lock
        ok = True
    finally:
        lock.stop()
        try:
            ours = release(lock.info, url)
        except Exception:
            # The row stays behind; the next run will find this process gone and take over.
            logger.exception("could not release the run lock of quarter %s", quarter)
            ours = True
        if not ours:
            lock._lost.set()
    if ok and lock.lost:
        raise LockLost(lock._lost_message(read_lock(quarter, url)))
