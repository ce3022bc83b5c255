"""Sentiment rules of the second round: Finnish base forms (Voikko), English words from
VADER's rated lexicon, thanks that sign off a complaint, summaries and minor drawbacks.

Every sentence here was written for this test."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxloop.config import load_config
from tasks.text.analyser import analyse
from tasks.text.sentiment_morph import finnish_base_forms
from tasks.text.sentiment_vader import read_vader_lexicon, vader_entries

CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"
needs_voikko = pytest.mark.skipif(finnish_base_forms() is None, reason="Voikko not installed (make system-deps)")
needs_vader = pytest.mark.skipif(not read_vader_lexicon(), reason="vaderSentiment not installed")


@pytest.fixture(scope="module")
def cfg():
    return load_config(CONFIG_DIR)


def score(text: str, cfg) -> float:
    return analyse([text], cfg)[0].sentiment


@needs_voikko
def test_voikko_gives_base_forms():
    base = finnish_base_forms()
    assert base is not None
    assert "odottaa" in base("odotin")
    assert "tyly" in base("tylyn")


@needs_voikko
@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Pelkäsin, että hakemus katoaa.", -1),  # pelätä
        ("Virkailija loukkasi minua.", -1),  # loukata
        ("Palvelu oli huonompaa kuin ennen.", -1),  # huono (comparative)
        ("Hän kehui neuvojaa vuolaasti.", 1),  # kehua
        ("Kurssi oli laadukkaampi kuin luulin.", 1),  # laadukas
    ],
)
def test_finnish_inflected_forms_meet_base_form_entries(cfg, text, sign):
    assert score(text, cfg) * sign > 0


@pytest.mark.parametrize("text", ["Palvelu oli hyvä.", "Ruoka oli hyvää.", "Se oli kiva.", "Neuvonta oli parempi."])
def test_was_good_is_praise_not_the_conditional_suggestion(cfg, text):
    """The words "oli" (was) and "olisi" (would be) share their Snowball stem "oli": the neutral
    suggestion "olisi hyvä" must not swallow "oli hyvä"."""
    assert score(text, cfg) >= 0.1


@pytest.mark.parametrize("text", ["Olisi hyvä saada lisää tietoa.", "Olisi kiva, jos soittaisitte."])
def test_would_be_good_is_a_suggestion(cfg, text):
    assert abs(score(text, cfg)) < 0.1


@needs_vader
def test_vader_entries_map_ratings_and_leave_known_and_skipped_words():
    spec = {"positive": 2.0, "mild_positive": 1.0, "mild_negative": -1.0, "negative": -2.0, "skip": ["like"]}
    out = vader_entries(spec, covered=lambda w: w == "great")
    assert "=wonderful" in out["positive"]
    assert "=great" not in out["positive"]  # the hand lexicon knows it
    assert not any(e == "=like" for entries in out.values() for e in entries)
    assert "=horrible" in out["negative"]


@needs_vader
@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("The clerk was incompetent and arrogant.", -1),
        ("What a dreadful morning at the office.", -1),
        ("Such a cheerful and generous advisor.", 1),
    ],
)
def test_english_words_from_vader(cfg, text, sign):
    assert score(text, cfg) * sign > 0


@pytest.mark.parametrize(
    "text",
    [
        "Третий месяц жду ответа по пособию. Спасибо.",
        "Waited three hours and nobody called me back. Thanks.",
        "Odotin kolme tuntia eikä kukaan vastannut. Kiitos.",
    ],
)
def test_thanks_signing_off_a_complaint_do_not_offset_it(cfg, text):
    assert score(text, cfg) < 0


def test_thanks_alone_are_still_praise(cfg):
    assert score("Спасибо за помощь с резюме.", cfg) > 0
    assert score("Thanks for the help.", cfg) > 0


@pytest.mark.parametrize(
    "text",
    [
        "Сайт иногда тормозит. В целом доволен.",
        "The queue was long. Overall a good service.",
        "Jono oli pitkä. Kaiken kaikkiaan hyvä palvelu.",
    ],
)
def test_a_summary_gives_the_verdict(cfg, text):
    assert score(text, cfg) > 0


def test_a_minor_drawback_weighs_less(cfg):
    plain = score("Консультант вежливый. Минус: очередь.", cfg)
    minor = score("Консультант вежливый. Единственный минус: очередь.", cfg)
    assert minor > plain
