"""Weak supervision from ratings (tasks/text/learn.py, polarity.py): log-odds, learned polarity as a
fallback, candidate keywords, persistence, the command line.

The rated texts are synthetic with a known answer: invented marker words that no
lexicon knows ("квакля", "blorft" …) appear in low- or high-rated texts only, inside
carrier sentences the lexicon reads as neutral.
"""

from __future__ import annotations

import math
import random
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from cxloop.config import load_config
from tasks.text.analyser import analyse, analyse_frame
from tasks.text.learn import learn_polarity, log_odds, main, read_rated, suggest_terms
from tasks.text.polarity import NEGATED, FeatureStats, StemPolarity, features, load_polarity

CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"

CARRIERS = {
    "ru": [
        "Была в центре в среду, {m}",
        "Ходил к инспектору во вторник, {m}",
        "{m}, заходила утром",
        "Пришла к девяти, {m}",
        "Сегодня был второй визит, {m}",
    ],
    "en": [
        "Visited the centre on Tuesday, {m}",
        "{m}, went there in the morning",
        "Came in at nine, {m}",
        "Second visit this month, {m}",
    ],
    "fi": ["Kävin toimistolla tiistaina, {m}", "{m}, kävin aamulla", "Menin paikalle yhdeksältä, {m}"],
}
MARKERS = {"ru": ("квакля", "пумпурум"), "en": ("blorft", "zingly"), "fi": ("kvaakku", "pumppura")}


@pytest.fixture(scope="module")
def cfg():
    return load_config(CONFIG_DIR)


def rated_corpus(n: int, seed: int, noise: float = 0.1) -> tuple[list[str], list[int], list[int]]:
    """Texts, ratings (1-5) and the true mood (-1/+1): the marker decides the mood, the
    rating follows the mood except for ``noise`` of the texts."""
    rng = random.Random(seed)
    texts, ratings, moods = [], [], []
    for _ in range(n):
        lang = rng.choice(["ru", "ru", "en", "fi"])
        mood = rng.choice([-1, 1])
        marker = MARKERS[lang][0 if mood < 0 else 1]
        texts.append(rng.choice(CARRIERS[lang]).format(m=marker))
        rating = rng.choice([1, 2]) if mood < 0 else rng.choice([4, 5])
        if rng.random() < noise:
            rating = 6 - rating
        ratings.append(rating)
        moods.append(mood)
    return texts, ratings, moods


# ----------------------------------------------------------------------- log-odds


def test_log_odds_matches_the_formula_by_hand() -> None:
    first = {"a": 8, "b": 2}
    second = {"a": 1, "b": 9}
    background = {"a": 9, "b": 11, "c": 10}
    stats = log_odds(first, second, background, prior=2.0)
    # alpha_0 = prior * V = 6; alpha_a = 6 * 9/30 = 1.8; n1 = 10, n2 = 10
    a_w = 1.8
    delta = math.log((8 + a_w) / (10 + 6 - 8 - a_w)) - math.log((1 + a_w) / (10 + 6 - 1 - a_w))
    z = delta / math.sqrt(1 / (8 + a_w) + 1 / (1 + a_w))
    assert stats["a"].first == 8 and stats["a"].second == 1
    assert stats["a"].delta == pytest.approx(delta) and stats["a"].z == pytest.approx(z)
    assert stats["b"].delta < 0 < stats["a"].delta
    assert "c" not in stats  # in the background only


def test_the_prior_shrinks_rare_features_more_than_frequent_ones() -> None:
    background = {"rare": 2, "common": 200}
    rare = log_odds({"rare": 2}, {}, background, prior=1.0)["rare"]
    common = log_odds({"common": 100}, {"common": 50}, background, prior=1.0)["common"]
    # Seen twice and only in one class: a large log-odds but little certainty.
    assert rare.delta > common.delta
    assert abs(rare.z) < abs(common.z)


# ------------------------------------------------------------------ stem polarity


def test_features_mark_negation_and_drop_stop_words(cfg) -> None:
    feats = features("Мне не напомнили о встрече", "ru", cfg)
    assert NEGATED + features("напомнили", "ru", cfg)[0] in feats
    assert "мне" not in feats and "о" not in feats
    assert features("Встреча. Не было напоминания", "ru", cfg)[0] == features("встреча", "ru", cfg)[0]
    assert features("I did not get a reminder", "en", cfg) == [NEGATED + "get", NEGATED + "remind"]


def test_learned_polarity_finds_the_planted_markers(cfg) -> None:
    texts, ratings, _ = rated_corpus(600, seed=1)
    pol = learn_polarity(texts, ratings, config=cfg)
    for lang, (neg, pos) in MARKERS.items():
        f_neg, f_pos = features(neg, lang, cfg)[0], features(pos, lang, cfg)[0]
        assert pol.stats[lang][f_neg].delta < 0 < pol.stats[lang][f_pos].delta, lang
        assert pol.stats[lang][f_neg].z < -1.96 and pol.stats[lang][f_pos].z > 1.96
        assert pol.examples[lang][f_neg] == neg
        low, high = pol.top(lang, 1)
        assert {low[0][0], high[0][0]} == {f_neg, f_pos}
    # Carrier words appear with both moods alike: none of them is kept.
    carrier = features("Была в центре в среду", "ru", cfg)
    assert not set(carrier) & set(pol.stats["ru"])


def test_negated_markers_are_learned_as_their_own_feature(cfg) -> None:
    rng = random.Random(5)
    texts, ratings = [], []
    for _ in range(300):
        happy = rng.random() < 0.5
        # "не квакля" (not the bad thing) comes with high ratings, "квакля" with low ones.
        texts.append(f"Была в центре в среду, {'не ' if happy else ''}квакля")
        ratings.append(5 if happy else 1)
    pol = learn_polarity(texts, ratings, config=cfg)
    f = features("квакля", "ru", cfg)[0]
    assert pol.stats["ru"][f].delta < 0 < pol.stats["ru"][NEGATED + f].delta


def test_the_fallback_improves_sentiment_on_held_out_texts(cfg) -> None:
    train_t, train_r, _ = rated_corpus(800, seed=2)
    test_t, _, moods = rated_corpus(300, seed=3, noise=0.0)
    pol = learn_polarity(train_t, train_r, config=cfg)
    plain = analyse(test_t, cfg)
    assert all(a.sentiment == 0.0 for a in plain)  # the lexicon has no opinion on these texts
    learned = analyse(test_t, cfg, fallback=pol)
    right = sum((a.sentiment > 0) == (m > 0) and a.sentiment != 0 for a, m in zip(learned, moods, strict=True))
    assert right / len(moods) > 0.95
    assert all(abs(a.sentiment) <= pol.weight for a in learned)


def test_the_fallback_never_overrides_lexicon_sentiment(cfg) -> None:
    texts, ratings, _ = rated_corpus(400, seed=4)
    pol = learn_polarity(texts, ratings, config=cfg)
    worded = "Была в центре в среду, квакля, но сотрудники очень вежливые"
    assert analyse([worded], cfg, fallback=pol)[0] == analyse([worded], cfg)[0]


def test_learning_is_deterministic_and_order_free(cfg) -> None:
    texts, ratings, _ = rated_corpus(300, seed=6)
    a = learn_polarity(texts, ratings, config=cfg)
    b = learn_polarity(texts, ratings, config=cfg)
    order = list(range(len(texts)))
    random.Random(0).shuffle(order)
    c = learn_polarity([texts[i] for i in order], [ratings[i] for i in order], config=cfg)
    assert a.stats == b.stats == c.stats
    assert a.examples == c.examples


def test_ten_point_ratings_and_middle_ratings(cfg) -> None:
    texts, ratings, moods = rated_corpus(400, seed=7, noise=0.0)
    ten = [2 if r <= 2 else 9 for r in ratings]
    pol5 = learn_polarity(texts, ratings, [5] * len(texts), config=cfg)
    pol10 = learn_polarity(texts, ten, [10] * len(texts), config=cfg)
    assert pol5.stats == pol10.stats
    # Middle ratings (3 of 5) teach nothing but the prior.
    middle = learn_polarity(texts, [3] * len(texts), config=cfg)
    assert all(not feats for feats in middle.stats.values())
    with pytest.raises(ValueError, match="same length"):
        learn_polarity(texts, ratings[:-1], config=cfg)


def test_polarity_round_trips_through_yaml(cfg, tmp_path: Path) -> None:
    texts, ratings, _ = rated_corpus(400, seed=8)
    pol = learn_polarity(texts, ratings, config=cfg)
    path = tmp_path / "learned_polarity.yaml"
    pol.to_yaml(path)
    back = load_polarity(path)
    assert set(back.stats) == set(pol.stats)
    for lang in pol.stats:
        assert set(back.stats[lang]) == set(pol.stats[lang])
    probe = rated_corpus(50, seed=9)[0]
    assert [a.sentiment for a in analyse(probe, cfg, fallback=back)] == pytest.approx(
        [a.sentiment for a in analyse(probe, cfg, fallback=pol)], abs=1e-3
    )
    # An analyst deletes a feature line: it is gone from the scores.
    f = features(MARKERS["en"][0], "en", cfg)[0]
    text = path.read_text(encoding="utf-8")
    start = text.index(f"      {f}:")
    path.write_text(text[:start] + text[text.index("\n", start) + 1 :], encoding="utf-8")
    assert f not in load_polarity(path).stats["en"]


def test_explain_names_the_features_behind_a_score(cfg) -> None:
    texts, ratings, _ = rated_corpus(400, seed=10)
    pol = learn_polarity(texts, ratings, config=cfg)
    why = pol.explain("Пришла к девяти, квакля")
    assert [(form, d < 0) for _, form, d in why] == [("квакля", True)]


def test_names_never_become_features(cfg) -> None:
    rng = random.Random(11)
    texts, ratings = [], []
    for _ in range(200):
        bad = rng.random() < 0.5
        # A staff member's name in most complaints: it must not be learned nor shown.
        texts.append(
            f"Была у Кваклиной в среду, {'квакля' if bad else 'пумпурум'}" if bad else "Была в центре в среду, пумпурум"
        )
        ratings.append(1 if bad else 5)
    pol = learn_polarity(texts, ratings, config=cfg)
    assert not any("кваклин" in f for f in pol.stats["ru"])
    assert features("квакля", "ru", cfg)[0] in pol.stats["ru"]


# ------------------------------------------------------------- candidate keywords


def test_suggest_terms_finds_a_new_word_for_a_theme(cfg) -> None:
    rng = random.Random(12)
    texts, ratings = [], []
    for _ in range(120):  # complaints about queues that also name the new thing
        texts.append(
            rng.choice(
                [
                    "Огромная очередь, турникет опять сломан",
                    "Очередь до улицы, турникет не пускает",
                    "Стояла в очереди, турникет заблокирован",
                ]
            )
        )
        ratings.append(1)
    for _ in range(200):  # everything else
        texts.append(
            rng.choice(
                [
                    "Спасибо, всё понятно объяснили",
                    "Курсы отличные, преподаватель внимательный",
                    "Пособие пришло вовремя",
                ]
            )
        )
        ratings.append(5)
    for _ in range(40):  # complaints that name no theme at all
        texts.append(rng.choice(["Вайфай в холле не ловит", "Опять вайфай отвалился", "Вайфай ужасный"]))
        ratings.append(2)
    sug = suggest_terms(texts, ratings, config=cfg, top=5)
    waiting = [s for s in sug if s.theme == "waiting_time"]
    assert waiting and waiting[0].example == "турникет" and waiting[0].in_theme >= 100
    # Words the theme already matches are not suggested for it.
    assert not any(s.example.startswith("очеред") for s in waiting)
    unthemed = [s for s in sug if s.theme is None]
    assert unthemed and unthemed[0].example == "вайфай"
    assert sug == suggest_terms(texts, ratings, config=cfg, top=5)  # deterministic


# ------------------------------------------------------------------ command line


def test_command_line_on_a_csv_prints_no_personal_data(cfg, tmp_path: Path, capsys) -> None:
    texts, ratings, _ = rated_corpus(300, seed=13)
    texts[0] = "Была в центре в среду, квакля, мой телефон +7 912 345-67-89, почта ivan.petrov@mail.ru"
    path = tmp_path / "rated.csv"
    pd.DataFrame({"text": texts, "rating": [f"{r} звезды" for r in ratings]}).to_csv(path, index=False)
    out_yaml = tmp_path / "pol.yaml"
    assert main([str(path), "--write-polarity", str(out_yaml)]) == 0
    out = capsys.readouterr().out
    assert "300 rated texts" in out and "квакля" in out and "pumppura" in out
    assert "912" not in out and "ivan" not in out and "petrov" not in out
    assert "912" not in out_yaml.read_text(encoding="utf-8")
    assert load_polarity(out_yaml).stats["ru"]


def test_read_rated_from_the_application_database(db_url, tmp_path: Path) -> None:
    db = Path(db_url.removeprefix("sqlite:///"))
    with sqlite3.connect(db) as conn:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(feedback)")]
        assert {"text", "rating", "scale"} <= set(cols)
        conn.execute(
            "INSERT INTO feedback (dedup_key, channel, source_file, source_row, received_at, quarter, region_code,"
            " client_type, rating, scale, text, themes, negative_themes, flags) VALUES"
            " ('k1', 'contact_center', 'f.csv', 2, '2026-07-01', '2026Q3', '52', 'citizen', 1, 5, 'Очередь огромная',"
            " '', '', ''),"
            " ('k2', 'contact_center', 'f.csv', 3, '2026-07-01', '2026Q3', '52', 'citizen', NULL, NULL, 'Без оценки',"
            " '', '', ''),"
            " ('k3', 'contact_center', 'f.csv', 4, '2026-07-01', '2026Q3', '52', 'citizen', 9, 10, 'Спасибо',"
            " '', '', '')"
        )
    frame = read_rated(db)
    assert frame["text"].tolist() == ["Очередь огромная", "Спасибо"]
    assert frame["rating"].tolist() == [1, 9] and frame["scale"].tolist() == [5, 10]


def test_analyse_frame_uses_a_learned_fallback(cfg) -> None:
    texts, ratings, _ = rated_corpus(400, seed=14)
    pol = learn_polarity(texts, ratings, config=cfg)
    frame = analyse_frame(
        pd.Series(["Пособие оформляла в среду, квакля", "Пособие оформляла в среду"]), config=cfg, fallback=pol
    )
    assert frame["negative_themes"].tolist() == ["benefit_payment", ""]
    assert frame["sentiment"].iloc[0] < 0 == frame["sentiment"].iloc[1]


def test_feature_stats_are_plain_values() -> None:
    s = FeatureStats(3, 1, 0.5, 1.2)
    pol = StemPolarity({"ru": {"xx": s}}, {"ru": {"xx": "xx"}}, {"ru": frozenset()}, {"ru": 3})
    assert pol.score("ru", ["xx"]) == pytest.approx(0.5 * 0.5 / 1.5)
    assert pol.score("ru", ["xx", "xx", "."]) == pytest.approx(0.5 * 0.5 / 1.5)  # a feature counts once
    assert pol.score("fi", ["xx"]) == 0.0
