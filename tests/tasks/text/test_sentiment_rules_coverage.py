"""Sentiment coverage beyond service feedback: informal Russian complaints and praise about
banks and telecoms, general Finnish evaluative vocabulary (through Voikko base forms where
installed), English travel complaints, and praise used as an ironic interjection.

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
    "text",
    [
        "Опять списали деньги за подписку, задолбали",
        "Навязали страховку и заблокировали карту",
        "Приложение тупит, вечно какие-то косяки",
        "Оператор врёт, это грабёж",
        "Ппц, третий день без связи",
        "Мне так грустно и тоскливо",
    ],
)
def test_russian_informal_complaints_are_negative(text, cfg):
    assert score(text, cfg) <= -0.1


@pytest.mark.parametrize(
    "text",
    [
        "Офигенно быстро всё сделали",
        "Клёвое приложение, зачёт",
        "Перевод прошёл моментально, безупречно",
        "Без нареканий, спс",
    ],
)
def test_russian_informal_praise_is_positive(text, cfg):
    assert score(text, cfg) >= 0.1


@pytest.mark.parametrize(
    "text",
    [
        "Olen todella katkera tästä",
        "Kauhistuttava ajatus",
        "Hän on laiska ja röyhkeä",
        "Olin tyytymätön koko juttuun",
    ],
)
def test_finnish_general_complaints_are_negative(text, cfg):
    assert score(text, cfg) <= -0.1


@pytest.mark.parametrize(
    "text",
    [
        "Hän oli viehättävä ja lahjakas",
        "Ilta oli mielettömän hauska",
        "Tunnelma oli kodikas ja rentouttava",
    ],
)
def test_finnish_general_praise_is_positive(text, cfg):
    assert score(text, cfg) >= 0.1


def test_finnish_inflected_forms_meet_their_base_forms(cfg):
    if finnish_base_forms() is None:
        pytest.skip("Voikko is not installed")
    assert score("Hänen röyhkeytensä ja katkeruutensa ärsytti", cfg) <= -0.1
    assert score("Kuulin kauhistuttavia uutisia", cfg) <= -0.1


@pytest.mark.parametrize(
    "text",
    [
        "My flight was cancelled and I am stranded overnight",
        "Overbooked again, they bumped me to tomorrow",
        "Thanks for nothing",
        "Bag misplaced, no apology at all",
    ],
)
def test_english_travel_complaints_are_negative(text, cfg):
    assert score(text, cfg) <= -0.1


def test_english_travel_praise_is_positive(cfg):
    assert score("Upgraded for free, comfy seats, shoutout to the crew", cfg) >= 0.1


@pytest.mark.parametrize(
    "text",
    [
        "Great, another delay",
        "Love how the app crashes every time",
        "Супер, снова списали деньги",
        "Hienoa, taas myöhässä",
    ],
)
def test_praise_opening_a_complaint_is_irony(text, cfg):
    assert score(text, cfg) <= -0.1


@pytest.mark.parametrize(
    "text",
    [
        "Great flight, friendly crew",
        "Хорошо, что приложение работает без сбоев",
        "Отлично, всё быстро и понятно",
    ],
)
def test_praise_without_a_complaint_stays_praise(text, cfg):
    assert score(text, cfg) >= 0.1
