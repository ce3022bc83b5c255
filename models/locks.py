"""The run lock table: at most one quarterly cycle per quarter at a time.

One row per quarter *while* a cycle for it runs (``tasks/locks.py`` inserts it on
start, deletes it on the way out): the primary key on ``quarter`` is what makes two
runs for the same quarter impossible, on SQLite and PostgreSQL alike, whichever
machine they run on. The other columns say who holds it (for the refusal message and
for an operator's ``SELECT * FROM cycle_lock``) and let a later run decide that the
holder is dead and take the lock over:

- ``host``, ``pid``, ``process_key``: the holding process; on the same host a pid that
  no longer exists, or that now belongs to another process (``process_key`` = the
  kernel's boot id + the process start time), means the holder died;
- ``flow_run_id``: the Prefect flow run holding it; a run in a final state is dead;
- ``heartbeat_at``: refreshed by the holder every ~30 s from the *database's* clock
  (so clocks of different machines never matter); a row not refreshed for longer than
  the stale limit belongs to a dead or hung holder.

Both times are written by the database (``CURRENT_TIMESTAMP`` on SQLite, ``now()`` on
PostgreSQL) and read back as aware UTC datetimes.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class CycleLock(SQLModel, table=True):
    """Who is running the cycle of a quarter right now (no row: nobody)."""

    __tablename__ = "cycle_lock"

    quarter: str = Field(primary_key=True, max_length=6)
    token: str = Field(max_length=32, description="random id of this acquisition; release and heartbeat match on it")
    holder: str = Field(max_length=200, description="what holds it, e.g. 'quarterly-cx-cycle flow run brave-otter'")
    host: str = Field(max_length=255)
    pid: int
    process_key: str | None = Field(
        default=None,
        max_length=80,
        description="boot id and start time of the process (Linux); tells a reused pid apart",
    )
    flow_run_id: str | None = Field(default=None, max_length=36)
    acquired_at: datetime
    heartbeat_at: datetime
