"""Time (and optionally profile) one stage of the cycle on a national folder kept by
``python -m tools.bench_national --keep DIR``, on a copy of its database, rolled back.

    python -m tools.profile_stage /tmp/cxloop-national-XXXX learn            # wall seconds
    python -m tools.profile_stage /tmp/cxloop-national-XXXX effects --profile 40

Stages: learn (sentiment model and reread), star, pain, propose, effects, topics. The kept
database already holds the quarter's results; ``propose`` first drops the quarter's proposed
measures so that it proposes them again. The stage runs inside the cycle's transaction
(rolled back at the end) with the quarter's survey answers read once, as in the flow; for the
stages after the star index they are read before the clock starts, as the star index has
read them by then in the cycle.
How this round's per-stage figures in the README ("National size") were measured.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tools.bench_national import QUARTER, use_folder

STAGES = ("learn", "star", "pain", "propose", "effects", "topics")
AFTER_STAR = ("pain", "propose", "effects", "topics")  # the cycle's answers are read once by then


class _Rollback(Exception):
    """Ends the transaction without committing it."""


def _copy(folder: Path, into: Path) -> Path:
    if not (folder / "cxloop.db").is_file() or not (folder / "config").is_dir():
        raise SystemExit(f"{folder}: no cxloop.db and config/ here; run tools.bench_national with --keep first")
    shutil.copy(folder / "cxloop.db", into / "cxloop.db")
    shutil.copytree(folder / "config", into / "config")
    for name in ("out", "incoming"):
        (into / name).mkdir()
    return into


def _drop_proposals(database: Path, quarter: str) -> int:
    con = sqlite3.connect(database)
    try:
        ids = [r[0] for r in con.execute("SELECT id FROM measure WHERE code LIKE ?", (f"M-{quarter}-%",))]
        marks = ",".join("?" * len(ids))
        for table in ("measure_history", "effect_evaluation"):
            con.execute(f"DELETE FROM {table} WHERE measure_id IN ({marks})", ids)
        con.execute(f"DELETE FROM measure WHERE id IN ({marks})", ids)
        con.commit()
    finally:
        con.close()
    return len(ids)


def _stage(name: str, config) -> Callable[[], object]:
    from tasks.effects.step import evaluate_effects
    from tasks.insight.step import detect_pain_points, measure_star
    from tasks.measures.step import propose_measures
    from tasks.text.step import find_emerging_topics, learn_sentiment

    return {
        "learn": lambda: learn_sentiment(QUARTER, config),
        "star": lambda: measure_star(QUARTER, config),
        "pain": lambda: detect_pain_points(QUARTER, config),
        "propose": lambda: propose_measures(QUARTER, config),
        "effects": lambda: evaluate_effects(QUARTER, config),
        "topics": lambda: find_emerging_topics(QUARTER),
    }[name]


def _read_answers() -> None:
    """Read the quarter's answers into the open :func:`models.answers.read_answers_once`, as the
    star index does before the later stages in the cycle (not timed)."""
    from models.answers import load_answers
    from models.db import session_scope

    start = time.perf_counter()
    with session_scope() as session:
        load_answers(session, QUARTER)
    print(
        f"(the quarter's answers read first, as the star index reads them in the cycle: "
        f"{time.perf_counter() - start:.2f} s, not counted)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a folder kept by tools.bench_national --keep")
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print cProfile's top N by cumulative time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cxloop-stage-") as tmp:
        work = _copy(args.folder.resolve(), Path(tmp))
        if args.stage == "propose":
            print(f"dropped {_drop_proposals(work / 'cxloop.db', QUARTER)} proposals of {QUARTER}", flush=True)
        use_folder(work)
        from cxloop.config import get_config
        from models.answers import read_answers_once
        from models.db import dispose_engines, one_transaction

        run = _stage(args.stage, get_config(work / "config"))
        profile = cProfile.Profile()
        try:
            with one_transaction(), read_answers_once():
                if args.stage in AFTER_STAR:
                    _read_answers()
                start = time.perf_counter()
                if args.profile:
                    profile.runcall(run)
                else:
                    run()
                print(f"{args.stage}: {time.perf_counter() - start:.2f} s", flush=True)
                raise _Rollback
        except _Rollback:
            pass
        finally:
            dispose_engines()
        if args.profile:
            pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile)


if __name__ == "__main__":
    main()
