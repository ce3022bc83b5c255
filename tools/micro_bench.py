"""Micro-benchmarks of single stages, printing throughput (not run by the tests):

python -m tools.micro_bench analyser [n]          # texts/s of the text analyser (default 100,000)
python -m tools.micro_bench topics [n]            # emerging topics over n candidate texts (50,000)
python -m tools.micro_bench drivers [offices] [per_cell]  # key drivers by office (2,400 x 400)
python -m tools.micro_bench model [n]             # training the sentiment model on n rated texts, and
                                                  # texts/s of the learned path (default 100,000)
"""

from __future__ import annotations

import random
import sys
import time

import numpy as np
import pandas as pd

from cxloop.config import load_config
from cxloop.domain import CLIENT_TYPES, RAY_ITEMS
from cxloop.paths import DEFAULT_CONFIG_DIR
from tasks.insight.drivers import key_drivers
from tasks.text.analyser import analyse_frame
from tasks.text.topics import emerging_topics


def bench_analyser(argv: list[str]) -> None:
    """Throughput of :func:`tasks.text.analyser.analyse_frame` on unique and on repeated texts."""
    cfg = load_config(DEFAULT_CONFIG_DIR)
    n = int(argv[0]) if len(argv) > 0 else 100_000
    base = [
        "Не могу дозвониться до центра занятости уже неделю",
        "Никто не напомнил о встрече, пропустила перерегистрацию и сняли с учёта",
        "Непонятно, что делать дальше и когда со мной свяжутся",
        "Личный кабинет постоянно выдаёт ошибку, не могу загрузить документы",
        "Просидела в очереди два часа",
        "Сотрудница нагрубила",
        "Консультант дал неверную информацию о пособии",
        "Пособие задерживают второй месяц",
        "Предлагают вакансии, которые давно закрыты",
        "Требуют одни и те же справки каждый раз",
        "В здании нет пандуса",
        "Курсы переподготовки отличные",
        "Кандидаты не приходят на собеседования",
        "Ei muistutusta tapaamisesta",
        "En tiedä mitä seuraavaksi tapahtuu",
        "Verkkopalvelu ei toimi",
        "No reminder before the appointment",
        "Nobody answers the phone",
    ]
    rng = random.Random(7)
    # Unique texts: a base sentence plus a random tail so that the memo cannot help.
    tails = ["", " очень", " спасибо", " ужасно", " снова", " вообще", " today", " taas"]
    texts = pd.Series([f"{rng.choice(base)}{rng.choice(tails)} {i}" for i in range(n)])
    analyse_frame(texts.head(1000), config=cfg)  # build lexicons outside the clock
    t0 = time.perf_counter()
    analyse_frame(texts, config=cfg)
    dt = time.perf_counter() - t0
    print(f"{n} unique texts in {dt:.2f} s: {n / dt:,.0f} texts/s")
    repeated = pd.Series([rng.choice(base) for _ in range(n)])
    t0 = time.perf_counter()
    analyse_frame(repeated, config=cfg)
    dt = time.perf_counter() - t0
    print(f"{n} repeated texts in {dt:.2f} s: {n / dt:,.0f} texts/s")


def bench_topics(argv: list[str]) -> None:
    """Throughput of :func:`tasks.text.topics.emerging_topics` on planted subjects among noise."""
    n = int(argv[0]) if len(argv) > 0 else 50_000
    rng = random.Random(7)
    # Planted subjects (first clause names it, a second clause varies) and noise made of
    # pseudo-words from a vocabulary that grows with n, so that noise stays noise.
    planted = {
        "ru": (
            [
                "парковка всегда забита",
                "возле здания нет парковки",
                "парковку закрыли на ремонт",
                "на парковке нет мест",
                "до парковки далеко идти",
            ],
            ["машину оставить негде", "опоздал на приём", "получил штраф", "кружил полчаса", "дворы заставлены"],
        ),
        "fi": (
            ["pysäköinti on aina täynnä", "pysäköintiä ei ole asiakkaille", "pysäköinti on maksullista"],
            ["myöhästyin tapaamisesta", "sain sakon", "autolle ei löytynyt paikkaa"],
        ),
        "en": (
            ["the wifi does not work", "no wifi in the waiting area", "nobody knows the wifi password"],
            ["could not check my email", "had to come back the next day", "my phone had no signal"],
        ),
    }
    syllables = {
        "ru": "ба ве ги до ку ла ме ни по ру са те фи хо цу ча ша ю кра сто мли зве про гру".split(),
        "fi": "ka ve ri to su la me ni po ru sa te fi ho ju ta lo mi ne pa ko ä ö".split(),
        "en": "ka ve ri to su la me ni po ru sa te fi ho ju ta lo mi ne pa ko th sh".split(),
    }
    vocab = {
        lang: sorted({"".join(rng.choice(syl) for _ in range(rng.randint(3, 5))) for _ in range(size)})
        for (lang, syl), size in zip(syllables.items(), (12_000, 4_000, 4_000), strict=True)
    }
    rows = []
    for i in range(n):
        lang = rng.choices(["ru", "fi", "en"], weights=[6, 2, 2])[0]
        if rng.random() < 0.4:
            first, more = planted[lang]
            text = rng.choice(first) + (", " + rng.choice(more) if rng.random() < 0.7 else "") + f" ({i % 97})"
        else:
            text = " ".join(rng.sample(vocab[lang], 5))
        office = rng.choice(["52-01", "52-02", "66-01", "77-01"])
        rows.append(
            {
                "id": i,
                "office_code": office,
                "region_code": office[:2],
                "text": text,
                "language": lang,
                "sentiment": -0.5,
                "themes": "",
                "rating": None,
                "scale": None,
            }
        )
    frame = pd.DataFrame(rows)
    emerging_topics(frame.head(2_000))  # imports and first-call set-up outside the clock
    t0 = time.perf_counter()
    found = emerging_topics(frame)
    dt = time.perf_counter() - t0
    print(
        f"{n:,} candidate texts ({frame['text'].nunique():,} distinct) in {dt:.2f} s: {n / dt:,.0f} texts/s; "
        f"{len(found)} topics"
    )
    for t in found:
        print(f"  {t.language} {t.size:>7,} {t.share_negative_unthemed:6.1%}  {', '.join(t.top_terms)}")


def synthetic_answers(offices: int, per_cell: int, seed: int = 7) -> pd.DataFrame:
    """Survey answers for the benchmark: ``offices`` x 2 client types x ``per_cell``
    respondents; overall driven by effort (strongly) and personalisation."""
    rng = np.random.default_rng(seed)
    n = offices * 2 * per_cell
    office = np.repeat(np.arange(offices), 2 * per_cell)
    client = np.tile(np.repeat(np.array(CLIENT_TYPES, dtype=object), per_cell), offices)
    common = rng.normal(0.0, 0.5, n)
    frame: dict[str, object] = {
        "office_code": pd.Categorical.from_codes(office, [f"{i // 100:02d}-{i % 100:02d}" for i in range(offices)]),
        "client_type": client,
    }
    latent = {}
    for ray, items in RAY_ITEMS.items():
        latent[ray] = 4.0 + common + rng.normal(0.0, 0.6, n)
        for item in items:
            answer = np.clip(np.rint(latent[ray] + rng.normal(0.0, 0.5, n)), 1, 5)
            answer[rng.random(n) < 0.03] = np.nan
            frame[item] = answer
    overall = 7.5 + 1.5 * (latent["effort"] - 4) + 0.7 * (latent["personalisation"] - 4) + rng.normal(0.0, 1.0, n)
    overall = np.clip(np.rint(overall), 1, 10)
    overall[rng.random(n) < 0.2] = np.nan
    frame["overall"] = overall
    return pd.DataFrame(frame)


def bench_drivers(argv: list[str]) -> None:
    """Time of :func:`tasks.insight.drivers.key_drivers` by office on synthetic answers."""
    offices = int(argv[0]) if len(argv) > 0 else 2400
    per_cell = int(argv[1]) if len(argv) > 1 else 400
    answers = synthetic_answers(offices, per_cell)
    start = time.perf_counter()
    result = key_drivers(answers, by=("office_code",))
    elapsed = time.perf_counter() - start
    groups = result.groupby(["office_code", "client_type"], observed=True).ngroups
    print(
        f"key_drivers by office: {len(answers):,} respondents, {offices:,} offices x 2 client types "
        f"(+ pooled) -> {groups:,} groups decomposed in {elapsed:.2f} s"
    )
    top = result[result["client_type"] == "all"].groupby("ray")["importance"].mean().sort_values(ascending=False)
    print("mean importance over offices (all clients): " + ", ".join(f"{r} {v:.2f}" for r, v in top.items()))


def synthetic_rated(n: int, seed: int = 7) -> tuple[list[str], list[int]]:
    """``n`` unique rated Russian texts: a praise, complaint or plain clause (plus a second
    one and pseudo-words), the rating drawn around the clauses' lean."""
    rng = random.Random(seed)
    good = ["сотрудники вежливые", "всё быстро оформили", "консультант очень помог", "спасибо за помощь"]
    bad = ["не могу дозвониться", "очередь два часа", "пособие задерживают", "сайт не работает", "нагрубили"]
    plain = ["пришла на приём", "подала заявление", "звонила в центр", "записалась через портал"]
    syllables = "ба ве ги до ку ла ме ни по ру са те фи хо цу ча ша кра сто мли".split()
    texts, ratings = [], []
    for i in range(n):
        lean = rng.choice((-1, 0, 1))
        first = {-1: bad, 0: plain, 1: good}[lean]
        words = [rng.choice(first), rng.choice(plain + good + bad)]
        words += ["".join(rng.choice(syllables) for _ in range(3)) for _ in range(rng.randint(1, 4))]
        texts.append(" ".join(words) + f" {i}")
        ratings.append(max(1, min(5, 3 + 2 * lean + rng.choice((-1, 0, 0, 0, 1)))))
    return texts, ratings


def bench_model(argv: list[str]) -> None:
    """Training time of :func:`tasks.text.model_train.train` and texts/s of rules + model."""
    from tasks.text.analyser import analyse
    from tasks.text.model import ModelSettings, apply_model
    from tasks.text.model_train import train

    n = int(argv[0]) if len(argv) > 0 else 100_000
    texts, ratings = synthetic_rated(n)
    analyse(texts[:1000])  # build lexicons outside the clock
    t0 = time.perf_counter()
    model = train(texts, ratings, settings=ModelSettings(min_texts=100))
    dt = time.perf_counter() - t0
    held = model.card["languages"]["ru"]["held_out"]
    acc = {k: held[k]["accuracy_3class"] for k in ("model", "rules")}
    print(
        f"trained on {n:,} rated texts in {dt:.2f} s (held-out 3-class: model {acc['model']:.3f}, "
        f"rules {acc['rules']:.3f})"
    )
    new, _ = synthetic_rated(n, seed=8)
    t0 = time.perf_counter()
    rules = analyse(new)
    t1 = time.perf_counter()
    apply_model(rules, new, model)
    t2 = time.perf_counter()
    print(
        f"{n:,} unseen texts: rules {n / (t1 - t0):,.0f} texts/s; model on top {n / (t2 - t1):,.0f} texts/s; "
        f"learned path (rules + model) {n / (t2 - t0):,.0f} texts/s"
    )


BENCHES = {"analyser": bench_analyser, "topics": bench_topics, "drivers": bench_drivers, "model": bench_model}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in BENCHES:
        print(__doc__)
        return 2
    BENCHES[argv[0]](argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
