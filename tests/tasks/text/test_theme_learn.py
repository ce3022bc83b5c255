"""Per-theme classifiers on gold labels, used only where they beat the rules
(tasks/text/theme_learn.py). The data is built so that for some themes the analysts'
labels teach something the rules miss or get wrong, and for others the rules already
agree with the analysts."""

from __future__ import annotations

import itertools
import json

import pytest

from tasks.text.analyser import analyse
from tasks.text.theme_learn import (
    apply_theme_model,
    load_theme_model,
    save_theme_model,
    theme_probabilities,
    train_theme_model,
)
from tests.tasks.text.review_support import comfort_texts, other_texts

_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


def _dataset(config):
    """(texts, rules' themes, gold themes).

    office_comfort: the rules miss wifi and coffee machines; staff_attitude: the rules
    take "nice weather" for a friendly clerk; waiting_time: the rules agree with the
    analysts; benefit_payment: too few labels to learn."""
    caught, missed = comfort_texts()
    weather = [
        f"The weather was {w} on {d}." for w, d in itertools.product(["nice", "lovely", "pleasant", "fine"], _DAYS)
    ]
    rude = [
        f"The {who} was {how} to me on {d}."
        for who, how, d in itertools.product(["consultant", "clerk", "officer", "manager"], ["rude", "impolite"], _DAYS)
    ][::2]
    queue = [f"I waited in the queue for {n} hours on {d}." for n, d in itertools.product([2, 3, 4], _DAYS)]
    texts = caught + missed + weather + rude + queue + other_texts()
    rules = [a.themes for a in analyse(texts, config)]
    gold = []
    for text, found in zip(texts, rules, strict=True):
        labels = set(found)
        if text in missed:
            labels.add("office_comfort")
        if text in weather:
            labels.discard("staff_attitude")
        gold.append(labels)
    return texts, rules, gold


@pytest.fixture(scope="module")
def trained():
    from pathlib import Path

    from cxloop.config import load_config

    config = load_config(Path(__file__).resolve().parents[3] / "config")
    texts, rules, gold = _dataset(config)
    model = train_theme_model(texts, rules, gold, list(config.themes), folds=5, min_positives=15, seed=0)
    return config, texts, rules, gold, model


def test_a_theme_is_learned_only_where_the_model_beats_the_rules(trained):
    _, texts, _, _, model = trained
    card = model.card["themes"]
    assert model.learned == ["office_comfort", "staff_attitude"]
    for theme in ("office_comfort", "staff_attitude"):
        assert card[theme]["used"] and card[theme]["model_f1"] > card[theme]["rules_f1"], card[theme]
        assert card[theme]["positives"] >= 15 and card[theme]["n"] == len(texts)
    # The rules agree with the analysts: F1 1.0, nothing to beat.
    assert card["waiting_time"]["rules_f1"] == 1.0 and card["waiting_time"]["model_f1"] is not None
    assert not card["waiting_time"]["used"] and card["waiting_time"]["why"] == "the rules are at least as good"
    # Too few positive labels: not even tried.
    assert card["benefit_payment"]["positives"] == 5 and card["benefit_payment"]["model_f1"] is None
    assert not card["benefit_payment"]["used"] and "fewer than 15" in card["benefit_payment"]["why"]
    assert set(card) == set(trained[0].themes)


def test_a_higher_bar_keeps_the_rules(trained):
    config, texts, rules, gold, model = trained
    strict = train_theme_model(texts, rules, gold, ["office_comfort"], min_positives=len(texts))
    assert strict.learned == [] and not strict.card["themes"]["office_comfort"]["used"]
    gain = model.card["themes"]["office_comfort"]["model_f1"] - model.card["themes"]["office_comfort"]["rules_f1"]
    assert train_theme_model(texts, rules, gold, ["office_comfort"], min_gain=gain).learned == []


def test_apply_changes_only_the_learned_themes_and_never_the_input(trained):
    config, _, _, _, model = trained
    texts = [
        "The coffee machine was broken on Sunday.",  # rules: nothing; model: office_comfort
        "The weather was nice on Sunday.",  # rules: staff_attitude; model: no
        "I waited in the queue for five hours.",  # waiting_time is not learned: the rules stand
        "The consultant was rude to me on Saturday.",
        "",
    ]
    before = analyse(texts, config)
    snapshot = [(set(a.themes), dict(a.theme_sentiment)) for a in before]
    after = apply_theme_model(before, texts, model)
    assert [(set(a.themes), dict(a.theme_sentiment)) for a in before] == snapshot  # inputs untouched
    assert "office_comfort" not in before[0].themes and "office_comfort" in after[0].themes
    assert after[0].theme_sentiment["office_comfort"] == before[0].sentiment
    assert "staff_attitude" in before[1].themes and "staff_attitude" not in after[1].themes
    assert "staff_attitude" not in after[1].theme_sentiment
    assert after[2] is before[2] and after[3].themes == before[3].themes == {"staff_attitude"}
    assert after[4] is before[4] and after[4].language is None
    probs = theme_probabilities(before, texts, model)
    assert set(probs[0]) == {"office_comfort", "staff_attitude"} and probs[4] == {}
    with pytest.raises(ValueError, match="same length"):
        apply_theme_model(before, texts[:2], model)


def test_training_saving_and_loading_are_deterministic(trained, tmp_path):
    config, texts, rules, gold, model = trained
    again = train_theme_model(texts, rules, gold, list(config.themes), folds=5, min_positives=15, seed=0)
    assert again.card == model.card
    save_theme_model(model, tmp_path / "a")
    save_theme_model(again, tmp_path / "b")
    for name in ("card.json", "themes.joblib"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    card = json.loads((tmp_path / "a" / "card.json").read_text(encoding="utf-8"))
    assert card["learned"] == ["office_comfort", "staff_attitude"] and card["settings"]["seed"] == 0
    assert set(card["themes"]["waiting_time"]) == {"n", "positives", "rules_f1", "model_f1", "used", "why"}
    loaded = load_theme_model(tmp_path / "a")
    analyses = analyse(texts[:20], config)
    assert theme_probabilities(analyses, texts[:20], loaded) == theme_probabilities(analyses, texts[:20], model)


def test_load_refuses_what_it_did_not_write(trained, tmp_path):
    model = trained[4]
    with pytest.raises(ValueError, match="not a theme model folder"):
        load_theme_model(tmp_path / "nothing")
    save_theme_model(model, tmp_path / "m")
    with (tmp_path / "m" / "themes.joblib").open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ValueError, match="sha256 differs"):
        load_theme_model(tmp_path / "m")


def test_input_checks():
    with pytest.raises(ValueError, match="same length"):
        train_theme_model(["a"], [set()], [], ["waiting_time"])
    with pytest.raises(ValueError, match="2 folds"):
        train_theme_model(["a"], [set()], [set()], ["waiting_time"], folds=1)
