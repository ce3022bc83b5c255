"""``make bench``: wall time of the effect evaluation at national scale.

A synthetic panel of 2,000 offices x 12 quarters (one row per office and
quarter: the KPI mean and the number of respondents behind it, used as the
weight) and 50 measures, each with a random scope of 5-60 offices and a start
quarter; about half are rolled out in two or three waves (a mapping office
-> start quarter, estimated with the staggered estimator), the others start at
once (two-way fixed-effects difference-in-differences). Half the measures have
a planted effect of +4 points (growing by 1 point a quarter for the staggered
ones), the others none. Each measure gets its own KPI column so no two fits
share data. Only the calls of :func:`tasks.effects.estimators.estimate_effect` are timed;
building the panel is reported separately.

    python -m tools.bench_effects [--offices 2000] [--quarters 12] [--measures 50] [--seed 7]

Prints the total wall time, the mean per measure, the time by method, and how
many 95 % intervals cover the planted average effect (a sanity check, not a
coverage study: 50 draws). Fixed seed: the same panel and estimates every run.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxloop.quarters import Quarter, quarter_range
from tasks.effects.estimators import estimate_effect
from tasks.effects.results import EffectResult


@dataclass(frozen=True)
class BenchMeasure:
    code: str
    outcome: str
    starts: dict[str, str]  # office -> first treated quarter
    truth: float  # the estimand: average effect over the treated offices' post quarters (simple aggregation)


def build_panel(offices: int, quarters: int, measures: int, seed: int) -> tuple[pd.DataFrame, list[BenchMeasure]]:
    """The long panel (office, quarter, n, kpi_00 ...) and the measures with their planted effects."""
    rng = np.random.default_rng(seed)
    labels = [str(q) for q in quarter_range(Quarter.parse("2026Q4"), quarters)]
    codes = np.array([f"O{i:04d}" for i in range(offices)])
    office = np.repeat(codes, quarters)
    qpos = np.tile(np.arange(quarters), offices)
    n = rng.poisson(40, offices * quarters) + 5
    panel = pd.DataFrame({"office": office, "quarter": np.array(labels)[qpos], "n": n})
    office_fx = np.repeat(rng.normal(0, 6, offices), quarters)
    specs = []
    for m in range(measures):
        size = int(rng.integers(5, 61))
        scope = rng.choice(offices, size=size, replace=False)
        waves = min(int(rng.choice([1, 1, 2, 3])), size // 2)  # every wave has at least two offices
        first = int(rng.integers(3, quarters - 2 - (waves - 1) * 2))  # at least 3 quarters before and 2 after
        wave_start = [first + 2 * w for w in range(waves)]
        start_pos = np.array([wave_start[i % waves] for i in range(size)])
        effect = 4.0 if rng.random() < 0.5 else 0.0
        growth = 1.0 if (effect and waves > 1) else 0.0
        treat_start = np.full(offices, np.iinfo(np.int64).max)
        treat_start[scope] = start_pos
        since = qpos - np.repeat(treat_start, quarters)
        lift = np.where(since >= 0, effect + growth * since, 0.0)
        quarter_fx = np.tile(rng.normal(0, 2, quarters), offices)
        noise = rng.normal(0, 20, offices * quarters) / np.sqrt(n) + rng.normal(0, 1.5, offices * quarters)
        outcome = f"kpi_{m:02d}"
        panel[outcome] = 60 + office_fx + quarter_fx + noise + lift
        post_lifts = [effect + growth * (t - s) for s in start_pos for t in range(s, quarters)]
        specs.append(
            BenchMeasure(
                f"M-{m:02d}",
                outcome,
                {codes[o]: labels[s] for o, s in zip(scope, start_pos, strict=True)},
                float(np.mean(post_lifts)) if effect else 0.0,
            )
        )
    return panel, specs


def run(panel: pd.DataFrame, specs: list[BenchMeasure]) -> list[tuple[BenchMeasure, EffectResult, float]]:
    out = []
    for spec in specs:
        distinct = set(spec.starts.values())
        start = spec.starts if len(distinct) > 1 else distinct.pop()
        t0 = time.perf_counter()
        result = estimate_effect(
            panel,
            unit="office",
            period="quarter",
            outcome=spec.outcome,
            treated_units=set(spec.starts),
            start_period=start,
            weights="n",
            target_change=3.0,
        )
        out.append((spec, result, time.perf_counter() - t0))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offices", type=int, default=2000)
    parser.add_argument("--quarters", type=int, default=12)
    parser.add_argument("--measures", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.quarters < 8:
        parser.error("--quarters must be at least 8 (3 before and 2 after the latest of three waves)")

    t0 = time.perf_counter()
    panel, specs = build_panel(args.offices, args.quarters, args.measures, args.seed)
    built = time.perf_counter() - t0
    print(
        f"effects bench: {args.offices:,} offices x {args.quarters} quarters ({len(panel):,} rows), "
        f"{args.measures} measures, seed {args.seed}; panel built in {built:.2f} s",
        flush=True,
    )
    t0 = time.perf_counter()
    results = run(panel, specs)
    wall = time.perf_counter() - t0
    by_method: dict[str, list[float]] = {}
    for _, r, secs in results:
        by_method.setdefault(r.method, []).append(secs)
    covered = sum(
        r.ci_low is not None and r.ci_high is not None and r.ci_low <= s.truth <= r.ci_high for s, r, _ in results
    )
    verdicts = pd.Series([r.verdict for _, r, _ in results]).value_counts().to_dict()
    print(
        f"estimate_effect for {len(results)} measures: {wall:.2f} s wall, "
        f"{wall / len(results) * 1000:.1f} ms per measure"
    )
    for method, times in sorted(by_method.items()):
        print(
            f"  {method:<28} {len(times):>3} measures  mean {np.mean(times) * 1000:7.1f} ms  "
            f"max {max(times) * 1000:7.1f} ms"
        )
    print(f"  95 % interval covers the planted effect: {covered}/{len(results)}; verdicts {verdicts}")


if __name__ == "__main__":
    main()
