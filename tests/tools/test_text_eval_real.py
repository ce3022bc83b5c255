"""tools.text_eval_real: the look/score split and the figures, on made-up items and on the
real dev set in ../shared (read in place, never copied)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tools.text_eval_real import (
    RealItem,
    cross_validate_learned,
    fold_for,
    format_cv,
    load_real_dev,
    part_for,
    score_real,
)


def _item(i: int, sentiment: str, themes: frozenset[str] | None = None, lang: str = "ru") -> RealItem:
    return RealItem(id=f"x-{i}", lang=lang, text=f"t{i}", sentiment=sentiment, themes=themes, rating=None, part="look")


def test_part_is_a_fixed_function_of_the_id():
    ids = [f"ru-myfin-{n}" for n in range(2000)]
    parts = [part_for(i) for i in ids]
    assert parts == [part_for(i) for i in ids]
    assert 0.45 < parts.count("look") / len(parts) < 0.55


def test_figures_of_a_known_prediction():
    items = [
        _item(1, "negative", frozenset({"waiting_time"})),
        _item(2, "positive", frozenset()),
        _item(3, "neutral", frozenset({"staff_attitude"})),
        _item(4, "negative"),
    ]
    predicted = {
        "t1": (-0.5, {"waiting_time", "staff_attitude"}),  # right sentiment, one extra theme
        "t2": (0.0, set()),  # polar scored 0: neutral, wrong
        "t3": (0.05, {"staff_attitude"}),
        "t4": (-0.05, set()),  # neutral in 3 classes, negative by s < 0
    }

    def analyse(texts):
        return [SimpleNamespace(sentiment=predicted[t][0], themes=predicted[t][1]) for t in texts]

    s = score_real(items, analyse)
    assert s.sentiment_3class == pytest.approx(2 / 4)
    assert s.negative_vs_not == pytest.approx(4 / 4)
    assert s.polar_scored_zero == pytest.approx(1 / 3)
    assert s.theme_n == 3
    assert s.theme_micro_precision == pytest.approx(2 / 3)
    assert s.theme_micro_recall == pytest.approx(2 / 2)
    assert s.theme_f1["staff_attitude"]["precision"] == pytest.approx(1 / 2)
    # gold -> read negative / neutral / positive: t1 right, t4 neutral, t2 neutral, t3 right
    assert s.confusion == {"ru": {"negative": [1, 1, 0], "neutral": [0, 1, 0], "positive": [0, 1, 0]}}


def test_real_dev_set_loads_with_both_parts_and_every_language():
    """CI has ../shared too: a missing set fails here (CXLOOP_REAL_DEV_DIR points elsewhere)."""
    items = load_real_dev()
    assert len(items) >= 900
    assert {i.lang for i in items} == {"ru", "fi", "en"}
    assert {i.part for i in items} == {"look", "score"}
    assert sum(i.themes is not None for i in items) >= 170


def test_cross_validation_scores_every_rated_text_once_by_a_model_that_never_saw_it():
    """Made-up reviews whose rating follows a word the rules do not know: the learned model
    must find it (so the comparison can show a gain), and every rated text of the language
    is tested exactly once; other languages and unrated texts stay out."""
    words = {1: "брякс", 3: "фумпс", 5: "зоркс"}
    label = {1: "negative", 3: "neutral", 5: "positive"}
    items = [
        RealItem(
            id=f"cv-{n}",
            lang="ru",
            text=f"Отделение номер {n % 7} на улице {n % 11}: {words[r]} {words[r]} сегодня",
            sentiment=label[r],
            themes=None,
            rating=r,
            part=part_for(f"cv-{n}"),
        )
        for n in range(300)
        for r in [(1, 3, 5)[n % 3]]
    ]
    items.append(RealItem("en-1", "en", "great app", "positive", None, 5, "look"))
    items.append(RealItem("ru-unrated", "ru", "зоркс", "positive", None, None, "look"))
    scores = cross_validate_learned(items, 3)
    assert [f.fold for f in scores] == [0, 1, 2]
    assert sum(f.tested_on for f in scores) == 300
    assert all(f.trained_on + f.tested_on == 300 for f in scores)
    assert sorted(fold_for(f"cv-{n}", 3) for n in range(300)) == sorted(
        k for f in scores for k in [f.fold] * f.tested_on
    )
    rules = sum(f.rules * f.tested_on for f in scores) / 300
    learned = sum(f.learned * f.tested_on for f in scores) / 300
    assert rules < 0.5 < 0.9 < learned
    assert "gain +" in format_cv(scores)
