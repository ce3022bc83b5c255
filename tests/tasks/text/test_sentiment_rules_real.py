"""Sentiment rules for reviews and everyday speech (issue 13): a review's headline verdict,
Finnish base forms, general evaluative words of each language.

Every sentence here was written for this test."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxloop.config import load_config
from tasks.text.analyser import analyse
from tasks.text.sentiment_morph import finnish_base_forms

CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"


@pytest.fixture(scope="module")
def cfg():
    return load_config(CONFIG_DIR)


def score(text: str, cfg) -> float:
    return analyse([text], cfg)[0].sentiment


@pytest.mark.parametrize(
    ("headline", "tail"),
    [
        ("Great app.", "Sometimes it is slow."),
        ("Отличный банк.", "Банкоматов мало."),
        ("Hyvä palvelu.", "Sovellus kaatuu joskus."),
    ],
)
def test_a_short_opening_sentence_is_the_verdict(headline, tail, cfg):
    # The same two sentences: opening the review, the praise is its verdict and outweighs
    # one drawback; after it, the praise is one remark among others.
    assert score(f"{headline} {tail}", cfg) >= 0.1
    assert score(f"{tail} {headline}", cfg) < 0.1


def test_a_single_sentence_is_no_headline(cfg):
    assert score("Great app.", cfg) == pytest.approx(0.5)


def test_finnish_base_forms_skip_names_and_rare_readings():
    base_forms = finnish_base_forms()
    if base_forms is None:
        pytest.skip("Voikko is not installed")
    assert "autto" not in base_forms("auton")  # a car's, not the surname
    assert base_forms("kuin") == ()  # a word of its own, not a form of "kuu"
    assert "huono" in base_forms("huonompaa")


@pytest.mark.parametrize(
    "text",
    [
        "Minulla on teille yllätys, ihastuttava lahja",
        "Hän hurmasi meidät kaikki",
        "Tervetulleita olette aina",
        "Autan mielelläni",
    ],
)
def test_finnish_general_praise(text, cfg):
    assert score(text, cfg) >= 0.1


@pytest.mark.parametrize(
    "text",
    [
        "Pääset hengestäsi ja menetät auton",
        "Hän on petollinen ja kiero",
        "Häpeän tätä, se satuttaa",
    ],
)
def test_finnish_general_complaint(text, cfg):
    assert score(text, cfg) <= -0.1


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Банк довольно удобный", 1),
        ("Деньги пришли меньше чем за час", 1),
        ("Кредит на 12 месяцев, условия устраивали", 1),
        ("Доступный остаток не отображается", -1),
        ("Звоню в отделение, никто не снимает трубку", -1),
    ],
)
def test_russian_general_vocabulary(text, sign, cfg):
    assert score(text, cfg) * sign >= 0.1


def test_a_summary_outweighs_the_headline(cfg):
    assert score("Сайт иногда тормозит. В целом доволен.", cfg) > 0


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("I like this app", 1),
        ("Details like the user name are missing", -1),
        ("I have no words to appreciate this service", 1),
    ],
)
def test_english_like_is_a_verb_of_praise(text, sign, cfg):
    assert score(text, cfg) * sign >= 0.1


def test_sometimes_softens_a_complaint(cfg):
    assert score("The app sometimes crashes", cfg) > score("The app crashes", cfg)
    assert score("Sovellus joskus kaatuu", cfg) > score("Sovellus kaatuu", cfg)


def test_good_until_is_a_complaint(cfg):
    assert score("It was good until the update, now it crashes", cfg) <= -0.1


@pytest.mark.parametrize(
    "text",
    [
        "Было бы удобно, если бы добавили оплату телефоном.",
        "It would be nice to have a dark mode.",
        "Olisi kiva, jos sovelluksessa olisi tumma tila.",
    ],
)
def test_a_suggestion_is_no_praise(text, cfg):
    assert score(text, cfg) == 0.0
