"""``make bench``: the cycle's data stages on one synthetic quarter of N feedback rows.

Prints, per stage, seconds and rows/s, and the peak RSS of the process. No
assertions: the figures go into the issue notes and the README.

    python -m tools.bench --rows 1000000
    python -m tools.bench --part text --texts 1000000   # text analytics only

The quarter is 40 % star-survey respondents (20 items each) and 60 % contact-centre
calls, a third of them with a comment drawn from a few hundred realistic texts
(with personal data in some), 1 % broken rows and 1 % duplicates.

The text-analytics part runs :func:`tasks.text.analyser.analyse_frame` on ``--texts`` comments
(default 1,000,000) in Russian, Finnish and English, mostly distinct, 60-140
characters, built from phrase fragments with a fixed seed (:func:`realistic_comments`),
in a process of its own so that its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import csv
import re
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from cxloop.config import get_config
from cxloop.domain import ITEMS
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


# ----------------------------------------------------------------- text analytics

# Phrase fragments for the text benchmark: realistic clauses per language, joined as
# clients write (an opener, one or two clauses, a joiner, a tail, a closer). The
# product of the choices is far larger than a million, so the drawn texts are mostly
# distinct and the analyser's memo cannot help.
TEXT_FRAGMENTS: dict[str, dict[str, list[str]]] = {
    "ru": {
        "open": [
            "",
            "",
            "",
            "",
            "Здравствуйте! ",
            "Добрый день. ",
            "Хочу оставить отзыв. ",
            "Обращалась в центр занятости. ",
            "Был на приёме в понедельник. ",
            "Уже третий раз пишу. ",
            "Честно говоря, ",
            "По поводу пособия: ",
        ],
        "clause": [
            "не могу дозвониться до инспектора",
            "телефон центра занятости постоянно занят",
            "на письма никто не отвечает",
            "специалист так и не перезвонила",
            "о встрече никто не напомнил, пропустила перерегистрацию",
            "смс-напоминание пришло за день до встречи",
            "непонятно, что делать дальше и когда со мной свяжутся",
            "консультант всё подробно объяснил",
            "личный кабинет постоянно выдаёт ошибку",
            "не получается загрузить документы на портал",
            "в очереди просидела два часа",
            "приняли без очереди",
            "сотрудница была очень вежливой и внимательной",
            "инспектор разговаривал грубо",
            "консультант дал неверную информацию о пособии",
            "пособие задерживают второй месяц",
            "пособие пришло вовремя",
            "предлагают вакансии, которые давно закрыты",
            "подобрали хорошую вакансию по специальности",
            "требуют одни и те же справки каждый раз",
            "в здании нет пандуса",
            "в зале ожидания душно и негде сесть",
            "курсы переподготовки отличные",
            "обучение оказалось бесполезным",
            "план составили для галочки",
            "мою ситуацию при составлении плана учли",
            "кандидаты не приходят на собеседования",
            "специалист помогла составить резюме",
            "сайт зависает при подаче заявления",
            "запись на приём только через три недели",
            "никто не объяснил, какие документы нужны",
            "сотрудники не хамили, всё спокойно",
            "очереди не было",
            "в разных кабинетах говорят разное",
            "присылают кандидатов без опыта",
            "выплату пересчитали неправильно",
            "на горячей линии никто не берёт трубку",
            "центр работает только до пяти",
            "нужно приходить лично несколько раз",
            "все вопросы решили за один визит",
        ],
        "tail": [
            "",
            " уже неделю",
            " опять",
            " в этот раз",
            " как всегда",
            " с утра",
            " в прошлом месяце",
            " снова",
            " вообще",
            " уже {k} дней",
            " с {k} числа",
            " в {h}:{m}",
            " уже {k}-й раз",
        ],
        "join": [", но ", ", и ", ". ", ", а ещё ", ". Кроме того, ", ", зато ", ", хотя ", "; "],
        "close": [
            "",
            "",
            "",
            ". Спасибо",
            ". Очень неудобно",
            ". Разберитесь, пожалуйста",
            "!",
            "...",
            ". Ужас",
            ". В целом довольна",
            ". Надеюсь на улучшения",
            ". Спасибо за работу",
        ],
    },
    "fi": {
        "open": [
            "",
            "",
            "",
            "Hei! ",
            "Moi. ",
            "Palautetta: ",
            "Kävin toimistossa tiistaina. ",
            "Taas kerran ",
            "Rehellisesti sanottuna ",
        ],
        "clause": [
            "puhelimeen ei vastata koskaan",
            "en saanut yhteyttä virkailijaan",
            "sähköpostiini ei vastattu",
            "en saanut muistutusta tapaamisesta",
            "tekstiviestimuistutus tuli ajoissa",
            "en tiedä mitä seuraavaksi tapahtuu",
            "virkailija selitti kaiken selkeästi",
            "verkkopalvelu ei toimi",
            "liitteiden lataaminen ei onnistu",
            "jonotin yli tunnin",
            "pääsin heti sisään",
            "virkailija oli todella ystävällinen",
            "asiakaspalvelu oli tylyä",
            "sain väärää tietoa päivärahasta",
            "päiväraha on myöhässä",
            "tuki maksettiin ajallaan",
            "tarjotut työpaikat olivat vanhentuneita",
            "sain hyvän työtarjouksen",
            "samat paperit piti toimittaa monta kertaa",
            "toimistossa ei ole luiskaa",
            "odotustila oli ahdas",
            "koulutus oli erinomainen",
            "kurssi oli hyödytön",
            "suunnitelma on kaavamainen",
            "tilanteeni otettiin huomioon",
            "hakijat eivät tulleet haastatteluun",
            "neuvonta oli asiantuntevaa",
            "ajan sai vasta kolmen viikon päähän",
            "jonoa ei ollut",
            "kukaan ei kertonut mitä pitää tehdä",
        ],
        "tail": [
            "",
            " taas",
            " tällä kertaa",
            " jo viikon",
            " aamulla",
            " viime kuussa",
            " jälleen",
            " jo {k} päivää",
            " {k}. päivä",
            " klo {h}.{m}",
        ],
        "join": [", mutta ", " ja ", ". ", ", vaikka ", ". Lisäksi ", ", silti "],
        "close": ["", "", "", ". Kiitos", ". Todella huonoa palvelua", "!", ". Korjatkaa tämä", ". Olen tyytyväinen"],
    },
    "en": {
        "open": [
            "",
            "",
            "",
            "Hi. ",
            "Hello, ",
            "Feedback: ",
            "I visited the office on Monday. ",
            "Honestly, ",
            "Once again ",
        ],
        "clause": [
            "nobody answers the phone",
            "I couldn't get through to my adviser",
            "my e-mails were never answered",
            "there was no reminder before the appointment",
            "I got a text reminder the day before",
            "I don't know what happens next",
            "the adviser explained everything clearly",
            "the portal keeps crashing",
            "I cannot upload documents to my account",
            "I waited over an hour in the queue",
            "there was no queue at all",
            "the staff were friendly and helpful",
            "the receptionist was rude",
            "I was given wrong information about benefits",
            "my benefit payment is late",
            "the allowance was paid on time",
            "the vacancies offered were outdated",
            "they found me a suitable job",
            "I had to bring the same documents three times",
            "there is no ramp at the entrance",
            "the waiting room was crowded",
            "the training course was excellent",
            "the course was a waste of time",
            "my employment plan is a generic template",
            "they took my situation into account",
            "candidates did not show up for interviews",
            "the advice was competent",
            "the next appointment is in three weeks",
            "staff weren't rude at all",
            "nobody explained what documents I need",
        ],
        "tail": [
            "",
            " again",
            " this time",
            " for a week now",
            " this morning",
            " last month",
            " as usual",
            " for {k} days now",
            " on the {k}th",
            " at {h}:{m}",
        ],
        "join": [", but ", " and ", ". ", ", although ", ". Also, ", ", however "],
        "close": ["", "", "", ". Thanks", ". Very frustrating", "!", ". Please fix this", ". Overall satisfied"],
    },
}
TEXT_LANGUAGE_SHARES = {"ru": 0.7, "fi": 0.15, "en": 0.15}


_SENTENCE_START = re.compile(r"(?:^|[.!?] )\w")


def _pick(options: list[str], u: float) -> str:
    """The option at fraction ``u`` (in [0, 1)) of ``options``."""
    return options[int(u * len(options))]


def realistic_comments(n: int, seed: int = 5) -> list[str]:
    """``n`` feedback comments in ru/fi/en (70/15/15 %) built from :data:`TEXT_FRAGMENTS`.

    One clause in a quarter of the texts, two in the rest; the same seed gives the same
    list. Lengths are mostly 60-120 characters, like real survey comments.
    """
    rng = np.random.default_rng(seed)
    langs = list(TEXT_LANGUAGE_SHARES)
    lang_of = rng.choice(len(langs), n, p=list(TEXT_LANGUAGE_SHARES.values()))
    out: list[str] = []
    draws = rng.random((n, 8))
    numbers = rng.integers(0, 60, (n, 2))
    for i in range(n):
        f = TEXT_FRAGMENTS[langs[lang_of[i]]]
        d = draws[i]

        k, m = int(numbers[i, 0]) % 28 + 2, int(numbers[i, 1])

        first = int(d[1] * len(f["clause"]))
        parts = [_pick(f["open"], d[0]), f["clause"][first], _pick(f["tail"], d[2])]
        if d[3] < 0.75:
            second = (first + 1 + int(d[5] * (len(f["clause"]) - 1))) % len(f["clause"])  # not the same clause twice
            parts += [_pick(f["join"], d[4]), f["clause"][second], _pick(f["tail"], d[6])]
        parts.append(_pick(f["close"], d[7]))
        text = "".join(parts).format(k=k, h=8 + k % 9, m=f"{m:02d}")
        # Capitals at the start and after a full stop, as people mostly type them.
        out.append(_SENTENCE_START.sub(lambda mt: mt.group(0).upper(), text))
    return out


def run_text(n: int, seed: int = 5) -> dict[str, float]:
    """Text analytics (language, themes, sentiment) on ``n`` realistic comments: texts/s
    (wall and CPU) and the process's peak RSS."""
    from tasks.text.analyser import analyse_frame

    config = get_config()
    texts = pd.Series(realistic_comments(n, seed))
    distinct = texts.nunique()
    analyse_frame(pd.Series(realistic_comments(2000, seed + 1)), config=config)  # lexicons built outside the clock
    wall, cpu = time.perf_counter(), time.process_time()
    frame = analyse_frame(texts, config=config)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    share = {lang: float((frame["language"] == lang).mean()) for lang in ("ru", "fi", "en")}
    themed = float((frame["themes"] != "").mean())
    mean_len = float(texts.str.len().mean())
    print(
        f"text analytics of {n:,} comments ({distinct:,} distinct, mean {mean_len:.0f} chars; "
        f"ru {share['ru']:.0%}, fi {share['fi']:.0%}, en {share['en']:.0%}; {themed:.0%} with a theme):"
    )
    print(
        f"  {wall:.2f} s wall, {n / wall:,.0f} texts/s ({cpu:.2f} s CPU, {n / cpu:,.0f} texts/s); "
        f"peak RSS {peak_rss_mb():,.0f} MB",
        flush=True,
    )
    return {"texts": n, "distinct": distinct, "seconds": wall, "cpu_seconds": cpu, "peak_rss_mb": peak_rss_mb()}


@contextmanager
def stage(name: str, rows: int, results: list):
    """Time a stage; the block may set ``counter["rows"]`` when it learns the count."""
    counter = {"rows": rows}
    start = time.perf_counter()
    yield counter
    secs = time.perf_counter() - start
    rows = counter["rows"]
    results.append((name, rows, secs))
    print(
        f"{name:<28} {rows:>10,} rows {secs:>8.2f} s {rows / secs if secs else float('inf'):>12,.0f} rows/s  "
        f"peak RSS {peak_rss_mb():,.0f} MB",
        flush=True,
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_synthetic_quarter(
    folder: Path, rows: int, quarter: Quarter, offices: list[str], seed: int = 11
) -> dict[str, Path]:
    rng = np.random.default_rng(seed)
    n_survey = int(rows * 0.4)
    n_calls = rows - n_survey
    days = (quarter.end - quarter.start).days + 1
    folder.mkdir(parents=True, exist_ok=True)

    def dates(n):
        return [(quarter.start + timedelta(days=int(d))).strftime("%d.%m.%Y") for d in rng.integers(0, days, n)]

    survey = pd.DataFrame(
        {
            "respondent_id": [f"S{i:08d}" for i in range(n_survey)],
            "Дата анкеты": dates(n_survey),
            "Код ЦЗН": rng.choice(offices, n_survey),
            "Тип клиента": rng.choice(["гражданин", "работодатель"], n_survey, p=[0.8, 0.2]),
        }
    )
    answers = rng.choice(np.arange(1, 6), size=(n_survey, len(ITEMS)), p=[0.04, 0.06, 0.15, 0.35, 0.40]).astype(object)
    answers[rng.random(answers.shape) < 0.04] = ""
    for j, item in enumerate(ITEMS):
        survey[item] = answers[:, j]
    survey["Комментарий"] = np.where(rng.random(n_survey) < 0.25, rng.choice(COMMENTS, n_survey), "")
    broken = rng.random(n_survey) < 0.01
    survey.loc[broken, "Код ЦЗН"] = "00-99"
    dup = rng.choice(n_survey, n_survey // 100, replace=False)
    survey = pd.concat([survey, survey.iloc[dup]], ignore_index=True)

    calls = pd.DataFrame(
        {
            "call_id": [f"C{i:08d}" for i in range(n_calls)],
            "call_date": [(quarter.start + timedelta(days=int(d))).isoformat() for d in rng.integers(0, days, n_calls)],
            "office_code": rng.choice(offices, n_calls),
            "client_type": "citizen",
            "rating": rng.choice(np.arange(1, 6), n_calls, p=[0.08, 0.07, 0.15, 0.3, 0.4]),
            "comment": np.where(rng.random(n_calls) < 0.33, rng.choice(COMMENTS, n_calls), ""),
        }
    )
    calls.loc[rng.random(n_calls) < 0.01, "rating"] = 7
    paths = {"star_survey": folder / "star_survey_bench.csv", "contact_center": folder / "contact_center_bench.csv"}
    survey.to_csv(paths["star_survey"], sep=";", index=False, encoding="cp1251", quoting=csv.QUOTE_MINIMAL)
    calls.to_csv(paths["contact_center"], sep=";", index=False, encoding="utf-8")
    return paths


def run(rows: int, seed: int = 11) -> list[tuple[str, int, float]]:
    from models import answers as answers_store
    from models import store
    from models.db import dispose_engines, session_scope, upgrade
    from tasks.collect.offices import merge_offices
    from tasks.collect.readers import read_channel_file
    from tasks.collect.staging import stage_rows
    from tasks.insight.index import quarter_index
    from tasks.insight.painpoints import prioritise_pain_points
    from tasks.validate.dedup import split_duplicates
    from tasks.validate.ingest import store_feedback, to_feedback_frame, validation_parameters
    from tasks.validate.suites import apply_suite

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
            print(
                f"  {channel}: received {n:,} = accepted {len(new):,} + quarantined "
                f"{len(outcome.quarantine) + len(contract.quarantine):,} + duplicates {dupes:,}"
            )
        q = str(quarter)
        with session_scope(url) as session:
            with stage("star index: load", 0, results) as counter:
                answers = answers_store.load_answers(session, q)
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
    print(
        f"{'all data stages':<28} {total_in:>10,} rows {total:>8.2f} s {total_in / total:>12,.0f} rows/s  "
        f"peak RSS {peak_rss_mb():,.0f} MB"
    )
    return results


def run_intake(rows: int, seed: int = 11) -> dict[str, float]:
    """Intake + validation of one contact-centre CSV of ``rows`` rows, against a bare pandas.read_csv."""
    from tasks.collect.readers import read_channel_file
    from tasks.collect.staging import stage_rows
    from tasks.validate.ingest import validation_parameters
    from tasks.validate.suites import apply_suite

    config = get_config()
    registry = {o.office_code: o.region_code for o in config.offices}
    with tempfile.TemporaryDirectory(prefix="cxloop-bench-") as tmp:
        path = write_synthetic_quarter(Path(tmp), int(rows / 0.6) + 1, Quarter.parse("2026Q3"), sorted(registry), seed)[
            "contact_center"
        ]
        size_mb = path.stat().st_size / 1e6
        start = time.perf_counter()
        bare = pd.read_csv(path, sep=";", dtype=str)
        t_pandas = time.perf_counter() - start
        n = len(bare)
        del bare
        from tasks.validate.suites import ge_context

        start = time.perf_counter()
        ge_context()  # Great Expectations' import and context: once per process, whatever the rows
        t_ge_start = time.perf_counter() - start
        start = time.perf_counter()
        raw = read_channel_file(path, "contact_center", config)
        t_read = time.perf_counter() - start
        staged = stage_rows(raw, registry)
        t_stage = time.perf_counter() - start - t_read
        outcome = apply_suite(staged, "contact_center", validation_parameters(registry))
        total = time.perf_counter() - start
        t_validate = total - t_read - t_stage
        print(
            f"intake + validation of one {size_mb:,.0f} MB CSV, {n:,} rows "
            f"(accepted {len(outcome.accepted):,}, quarantined {len(outcome.quarantine):,}):"
        )
        print(
            f"  read {t_read:.2f} s, type {t_stage:.2f} s, GE validation {t_validate:.2f} s -> "
            f"{total:.2f} s, {n / total:,.0f} rows/s; bare pandas.read_csv {t_pandas:.2f} s "
            f"(ratio {total / t_pandas:.1f}x); peak RSS {peak_rss_mb():,.0f} MB",
            flush=True,
        )
        print(
            f"  plus Great Expectations start-up {t_ge_start:.2f} s once per process "
            f"(with it: {n / (total + t_ge_start):,.0f} rows/s)",
            flush=True,
        )
    return {
        "rows": n,
        "seconds": total,
        "ge_startup": t_ge_start,
        "pandas_seconds": t_pandas,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--texts", type=int, default=1_000_000, help="comments for the text-analytics part")
    parser.add_argument(
        "--part",
        choices=["intake", "cycle", "text", "all"],
        default="all",
        help="intake: one CSV through read+type+GE; cycle: every data stage of a quarter; "
        "text: language, themes and sentiment of --texts comments",
    )
    args = parser.parse_args()
    if args.part == "text":
        print(f"cxloop bench (text): {args.texts:,} comments")
        run_text(args.texts, args.seed)
        return
    if args.part == "all":
        # In a child process first, so that its peak RSS is its own.
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tools.bench",
                "--part",
                "text",
                "--texts",
                str(args.texts),
                "--seed",
                str(args.seed),
            ],
            check=True,
        )
    if args.part in ("intake", "all"):
        # First, so its peak RSS is its own.
        print(f"cxloop bench (intake): {args.rows:,} rows")
        run_intake(args.rows, args.seed)
    if args.part in ("cycle", "all"):
        print(f"cxloop bench (cycle): {args.rows:,} synthetic feedback rows, one quarter, SQLite in a temp folder")
        run(args.rows, args.seed)


if __name__ == "__main__":
    main()
