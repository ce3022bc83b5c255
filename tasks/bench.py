"""``make bench``: the cycle's data stages on one synthetic quarter of N feedback rows.

Prints, per stage, seconds and rows/s, and the peak RSS of the process. No
assertions: the figures go into the issue notes and the README.

    python -m tasks.bench --rows 1000000

The quarter is 40 % star-survey respondents (20 items each) and 60 % contact-centre
calls, a third of them with a comment drawn from a few hundred realistic texts
(with personal data in some), 1 % broken rows and 1 % duplicates.
"""

from __future__ import annotations

import argparse
import csv
import resource
import tempfile
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from cxloop.config import ITEMS, get_config
from cxloop.quarters import Quarter

COMMENTS = [
    "Не могу дозвониться до центра занятости уже неделю",
    "Никто не напомнил о встрече, пропустила перерегистрацию",
    "Непонятно, что делать дальше и когда со мной свяжутся",
    "Личный кабинет постоянно выдаёт ошибку, не могу загрузить документы",
    "Просидела в очереди два часа",
    "Сотрудница была очень вежливой и всё объяснила, спасибо",
    "Консультант дал неверную информацию о пособии",
    "Пособие задерживают второй месяц",
    "Предлагают вакансии, которые давно закрыты",
    "Требуют одни и те же справки каждый раз",
    "В здании нет пандуса",
    "Курсы переподготовки отличные",
    "Всё хорошо, быстро и удобно",
    "Мой телефон +7 912 345-67-89, перезвоните",
    "Ei muistutusta tapaamisesta",
    "Nobody answers the phone",
]


@contextmanager
def stage(name: str, rows: int, results: list):
    """Time a stage; the block may set ``counter["rows"]`` when it learns the count."""
    counter = {"rows": rows}
    start = time.perf_counter()
    yield counter
    secs = time.perf_counter() - start
    rows = counter["rows"]
    results.append((name, rows, secs))
    print(f"{name:<28} {rows:>10,} rows {secs:>8.2f} s {rows / secs if secs else float('inf'):>12,.0f} rows/s  peak RSS {peak_rss_mb():,.0f} MB", flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_synthetic_quarter(folder: Path, rows: int, quarter: Quarter, offices: list[str], seed: int = 11) -> dict[str, Path]:
    rng = np.random.default_rng(seed)
    n_survey = int(rows * 0.4)
    n_calls = rows - n_survey
    days = (quarter.end - quarter.start).days + 1
    folder.mkdir(parents=True, exist_ok=True)

    def dates(n):
        return [(quarter.start + timedelta(days=int(d))).strftime("%d.%m.%Y") for d in rng.integers(0, days, n)]

    survey = pd.DataFrame({
        "respondent_id": [f"S{i:08d}" for i in range(n_survey)],
        "Дата анкеты": dates(n_survey),
        "Код ЦЗН": rng.choice(offices, n_survey),
        "Тип клиента": rng.choice(["гражданин", "работодатель"], n_survey, p=[0.8, 0.2]),
    })
    answers = rng.choice(np.arange(1, 6), size=(n_survey, len(ITEMS)), p=[0.04, 0.06, 0.15, 0.35, 0.40]).astype(object)
    answers[rng.random(answers.shape) < 0.04] = ""
    for j, item in enumerate(ITEMS):
        survey[item] = answers[:, j]
    survey["Комментарий"] = np.where(rng.random(n_survey) < 0.25, rng.choice(COMMENTS, n_survey), "")
    broken = rng.random(n_survey) < 0.01
    survey.loc[broken, "Код ЦЗН"] = "00-99"
    dup = rng.choice(n_survey, n_survey // 100, replace=False)
    survey = pd.concat([survey, survey.iloc[dup]], ignore_index=True)

    calls = pd.DataFrame({
        "call_id": [f"C{i:08d}" for i in range(n_calls)],
        "call_date": [(quarter.start + timedelta(days=int(d))).isoformat() for d in rng.integers(0, days, n_calls)],
        "office_code": rng.choice(offices, n_calls),
        "client_type": "citizen",
        "rating": rng.choice(np.arange(1, 6), n_calls, p=[0.08, 0.07, 0.15, 0.3, 0.4]),
        "comment": np.where(rng.random(n_calls) < 0.33, rng.choice(COMMENTS, n_calls), ""),
    })
    calls.loc[rng.random(n_calls) < 0.01, "rating"] = 7
    paths = {"star_survey": folder / "star_survey_bench.csv", "contact_center": folder / "contact_center_bench.csv"}
    survey.to_csv(paths["star_survey"], sep=";", index=False, encoding="cp1251", quoting=csv.QUOTE_MINIMAL)
    calls.to_csv(paths["contact_center"], sep=";", index=False, encoding="utf-8")
    return paths


def run(rows: int, seed: int = 11) -> list[tuple[str, int, float]]:
    from models.db import dispose_engines, session_scope, upgrade
    from tasks import store
    from tasks.index import quarter_index
    from tasks.ingest import store_feedback, to_feedback_frame, validation_parameters
    from tasks.intake import read_channel_file, stage_rows
    from tasks.painpoints import prioritise_pain_points
    from tasks.registry import merge_offices
    from tasks.validation import apply_suite, split_duplicates

    config = get_config()
    quarter = Quarter.parse("2026Q3")
    registry = {o.office_code: o.region_code for o in config.offices}
    results: list[tuple[str, int, float]] = []
    with tempfile.TemporaryDirectory(prefix="cxloop-bench-") as tmp:
        tmp_path = Path(tmp)
        url = f"sqlite:///{tmp_path / 'bench.db'}"
        upgrade(url)
        with session_scope(url) as session:
            merge_offices(session, config.offices)
        with stage("generate files", rows, results):
            paths = write_synthetic_quarter(tmp_path / "in", rows, quarter, sorted(registry), seed)
        params = validation_parameters(registry)
        total_in = 0
        for channel, path in paths.items():
            with stage(f"{channel}: read", 0, results) as counter:
                raw = read_channel_file(path, channel, config)
                counter["rows"] = n = len(raw.frame)
            total_in += n
            with stage(f"{channel}: stage", n, results):
                staged = stage_rows(raw, registry)
            with stage(f"{channel}: validate (GE)", n, results):
                outcome = apply_suite(staged, channel, params)
            n_ok = len(outcome.accepted)
            with stage(f"{channel}: redact+text", n_ok, results):
                feedback = to_feedback_frame(outcome.accepted, config)
            with stage(f"{channel}: contract (GE)", n_ok, results):
                contract = apply_suite(feedback, "feedback", params)
            with stage(f"{channel}: dedup+store", n_ok, results):
                new, dupes = split_duplicates(contract.accepted, set())
                with session_scope(url) as session:
                    store_feedback(session, new)
            print(f"  {channel}: received {n:,} = accepted {len(new):,} + quarantined "
                  f"{len(outcome.quarantine) + len(contract.quarantine):,} + duplicates {dupes:,}")
        q = str(quarter)
        with session_scope(url) as session:
            with stage("star index: load", 0, results) as counter:
                answers = store.load_answers(session, q)
                counter["rows"] = len(answers)
            with stage("star index: compute", len(answers), results):
                index = quarter_index(answers, config.thresholds.star)
            with stage("pain points: load", 0, results) as counter:
                fb = store.load_feedback(session, q)
                counter["rows"] = len(fb)
            with stage("pain points: detect+rank", len(fb), results):
                prioritise_pain_points(fb, config, index)
        dispose_engines()
    total = sum(secs for name, _, secs in results if name != "generate files")
    print(f"{'all data stages':<28} {total_in:>10,} rows {total:>8.2f} s {total_in / total:>12,.0f} rows/s  peak RSS {peak_rss_mb():,.0f} MB")
    return results


def run_intake(rows: int, seed: int = 11) -> dict[str, float]:
    """Intake + validation of one contact-centre CSV of ``rows`` rows, against a bare pandas.read_csv."""
    from tasks.ingest import validation_parameters
    from tasks.intake import read_channel_file, stage_rows
    from tasks.validation import apply_suite

    config = get_config()
    registry = {o.office_code: o.region_code for o in config.offices}
    with tempfile.TemporaryDirectory(prefix="cxloop-bench-") as tmp:
        path = write_synthetic_quarter(Path(tmp), int(rows / 0.6) + 1, Quarter.parse("2026Q3"), sorted(registry), seed)["contact_center"]
        size_mb = path.stat().st_size / 1e6
        start = time.perf_counter()
        bare = pd.read_csv(path, sep=";", dtype=str)
        t_pandas = time.perf_counter() - start
        n = len(bare)
        del bare
        from tasks.validation import _gx

        start = time.perf_counter()
        _gx()  # Great Expectations' import and context: once per process, whatever the rows
        t_ge_start = time.perf_counter() - start
        start = time.perf_counter()
        raw = read_channel_file(path, "contact_center", config)
        t_read = time.perf_counter() - start
        staged = stage_rows(raw, registry)
        t_stage = time.perf_counter() - start - t_read
        outcome = apply_suite(staged, "contact_center", validation_parameters(registry))
        total = time.perf_counter() - start
        t_validate = total - t_read - t_stage
        print(f"intake + validation of one {size_mb:,.0f} MB CSV, {n:,} rows "
              f"(accepted {len(outcome.accepted):,}, quarantined {len(outcome.quarantine):,}):")
        print(f"  read {t_read:.2f} s, type {t_stage:.2f} s, GE validation {t_validate:.2f} s -> "
              f"{total:.2f} s, {n / total:,.0f} rows/s; bare pandas.read_csv {t_pandas:.2f} s "
              f"(ratio {total / t_pandas:.1f}x); peak RSS {peak_rss_mb():,.0f} MB", flush=True)
        print(f"  plus Great Expectations start-up {t_ge_start:.2f} s once per process "
              f"(with it: {n / (total + t_ge_start):,.0f} rows/s)", flush=True)
    return {"rows": n, "seconds": total, "ge_startup": t_ge_start, "pandas_seconds": t_pandas, "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--part", choices=["intake", "cycle", "all"], default="all",
                        help="intake: one CSV through read+type+GE; cycle: every data stage of a quarter")
    args = parser.parse_args()
    if args.part in ("intake", "all"):
        # First, so its peak RSS is its own.
        print(f"cxloop bench (intake): {args.rows:,} rows")
        run_intake(args.rows, args.seed)
    if args.part in ("cycle", "all"):
        print(f"cxloop bench (cycle): {args.rows:,} synthetic feedback rows, one quarter, SQLite in a temp folder")
        run(args.rows, args.seed)


if __name__ == "__main__":
    main()
