"""Wall time of one region's rerun against the whole quarter's cycle, on the demo.

Generates the demo into a temporary folder and runs its quarters through the cycle
(untimed), then times, on the last quarter with everything already ingested:

* the whole quarter's cycle again (``quarterly_cycle(quarter=Q)``), and
* one region's rerun (``quarterly_cycle(quarter=Q, region=R)``),

each ``--repeat`` times, reports off (``send_reports=False``) so both do the same kind of work.
Prefect runs embedded (its server starts before the first timed run).

    python -m tools.bench_region [--scale 1.0] [--quarters 4] [--until 2026Q3] [--region 52] [--repeat 2] [--keep DIR]

``--keep DIR`` generates into DIR (kept afterwards, e.g. for profiling single stages).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--quarters", type=int, default=4)
    parser.add_argument("--until", default="2026Q3")
    parser.add_argument("--region", default="52")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="cxloop-bench-region-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        os.environ.update(
            CXLOOP_DATABASE_URL=f"sqlite:///{root / 'cxloop.db'}",
            CXLOOP_DATA_DIR=str(root / "incoming"),
            CXLOOP_OUT_DIR=str(root / "out"),
        )
        from cxloop.settings import reset_settings_cache

        reset_settings_cache()
        from flows.demo import demo
        from flows.quarterly_cycle import quarterly_cycle

        started = time.perf_counter()
        demo(seed=args.seed, quarters=args.quarters, until=args.until, scale=args.scale, send_reports=False)
        print(f"demo ({args.quarters} quarters, scale {args.scale}): {time.perf_counter() - started:.1f} s, untimed")

        def timed(**params) -> list[float]:
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                quarterly_cycle(quarter=args.until, send_reports=False, **params)
                times.append(time.perf_counter() - t0)
            return times

        whole = timed()
        region = timed(region=args.region)
        for name, times in ((f"whole quarter {args.until}", whole), (f"region {args.region} only", region)):
            runs = ", ".join(f"{t:.1f}" for t in times)
            print(f"{name:<28} median {statistics.median(times):6.1f} s  (runs: {runs})")
        print(f"ratio whole / region: {statistics.median(whole) / statistics.median(region):.1f}x")


if __name__ == "__main__":
    main()
