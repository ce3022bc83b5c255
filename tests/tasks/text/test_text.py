"""Text analytics (tasks/text.py): language, themes, negation, contrast, sentiment, frame."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cxloop.config import ConfigError, load_config
from tasks.text.analyser import analyse, analyse_frame
from tasks.text.language import detect_language
from tasks.text.normalise import normalise

CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"


@pytest.fixture(scope="module")
def cfg():
    return load_config(CONFIG_DIR)


def one(text: str, cfg):
    return analyse([text], cfg)[0]


# One realistic complaint (or praise) per theme and language: (text, theme, negative?).
THEME_CASES = [
    ("Не могу дозвониться до центра занятости уже неделю", "contact_reachability", True),
    ("Nobody answers the phone", "contact_reachability", True),
    ("Puhelimeen ei vastata koskaan", "contact_reachability", True),
    ("Никто не напомнил о встрече, пропустила перерегистрацию и сняли с учёта", "reminders_notifications", True),
    ("No reminder before the appointment", "reminders_notifications", True),
    ("Ei muistutusta tapaamisesta", "reminders_notifications", True),
    ("Непонятно, что делать дальше и когда со мной свяжутся", "process_clarity", True),
    ("I don't know what happens next", "process_clarity", True),
    ("En tiedä mitä seuraavaksi tapahtuu", "process_clarity", True),
    ("Личный кабинет постоянно выдаёт ошибку, не могу загрузить документы", "online_service_usability", True),
    ("I could not log in to the portal", "online_service_usability", True),
    ("Verkkopalvelu ei toimi", "online_service_usability", True),
    ("Просидела в очереди два часа", "waiting_time", True),
    ("The queue was terribly long", "waiting_time", True),
    ("Jonossa odotin kaksi tuntia", "waiting_time", True),
    ("Сотрудница нагрубила", "staff_attitude", True),
    ("The staff were rude and unhelpful", "staff_attitude", True),
    ("Virkailija oli todella tyly", "staff_attitude", True),
    ("Консультант дал неверную информацию о пособии", "staff_competence", True),
    ("The adviser gave me wrong information", "staff_competence", True),
    ("Sain väärää tietoa asiantuntijalta", "staff_competence", True),
    ("План составили для галочки, мою ситуацию не учли", "plan_personalisation", True),
    ("My employment plan is a generic template", "plan_personalisation", True),
    ("Suunnitelma on kaavamainen eikä huomioi tilannettani", "plan_personalisation", True),
    ("Предлагают вакансии, которые давно закрыты", "vacancy_relevance", True),
    ("The vacancies offered were outdated", "vacancy_relevance", True),
    ("Työpaikkailmoitukset olivat vanhentuneita", "vacancy_relevance", True),
    ("Пособие задерживают второй месяц", "benefit_payment", True),
    ("The benefit payment was late again", "benefit_payment", True),
    ("Päiväraha on myöhässä jo kuukauden", "benefit_payment", True),
    ("Требуют одни и те же справки каждый раз", "documents_effort", True),
    ("I had to bring the same documents three times", "documents_effort", True),
    ("Liian monta paperia ja käyntiä", "documents_effort", True),
    ("В здании нет пандуса", "office_comfort", True),
    ("There is no ramp at the entrance", "office_comfort", True),
    ("Toimistossa ei ole luiskaa", "office_comfort", True),
    ("Курсы переподготовки отличные", "training_offer", False),
    ("The course was excellent", "training_offer", False),
    ("Koulutus oli erinomainen", "training_offer", False),
    ("Кандидаты не приходят на собеседования", "candidate_quality", True),
    ("Candidates did not show up for interviews", "candidate_quality", True),
    ("Hakijat eivät tulleet haastatteluun", "candidate_quality", True),
]


@pytest.mark.parametrize(("text", "theme", "negative"), THEME_CASES)
def test_theme_and_its_sign_in_every_language(text: str, theme: str, negative: bool, cfg) -> None:
    a = one(text, cfg)
    assert theme in a.themes, (text, a)
    assert (a.theme_sentiment[theme] < 0) is negative, (text, a)
    assert (theme in a.negative_themes) is negative


def test_every_theme_has_keywords_in_every_language(cfg) -> None:
    for tid, theme in cfg.themes.items():
        for lang in ("ru", "en", "fi"):
            assert len(theme.keywords.get(lang, [])) >= 10, (tid, lang)
    covered = {theme for _, theme, _ in THEME_CASES}
    assert covered == set(cfg.themes)


@pytest.mark.parametrize(
    "text",
    [
        "Не могу дозвониться",
        "Так и не дозвонилась",
        "Сплошной недозвон",
        "Дозвониться невозможно",
        "Не дозвон, а издевательство",
    ],
)
def test_single_keyword_matches_any_inflection_ru(text: str, cfg) -> None:
    a = one(text, cfg)
    assert "contact_reachability" in a.negative_themes, a


@pytest.mark.parametrize(
    "text", ["Ei muistutusta", "Muistutus puuttui", "En saanut muistutuksia", "Tekstiviestimuistutus ei tullut"]
)
def test_single_keyword_matches_any_inflection_fi(text: str, cfg) -> None:
    a = one(text, cfg)
    assert a.language == "fi"
    assert "reminders_notifications" in a.negative_themes, a


def test_negated_complaint_is_a_mention_but_not_negative(cfg) -> None:
    a = one("Сотрудники не хамили", cfg)
    assert "staff_attitude" in a.themes
    assert "staff_attitude" not in a.negative_themes
    assert a.sentiment > 0
    b = one("Ei ollut jonoa", cfg)
    assert "waiting_time" in b.themes and b.theme_sentiment["waiting_time"] > 0
    c = one("Очереди не было, специалист вежливая", cfg)
    assert c.negative_themes == set() and c.sentiment > 0
    d = one("There was no queue at all", cfg)
    assert "waiting_time" in d.themes and "waiting_time" not in d.negative_themes


@pytest.mark.parametrize(
    "text",
    [
        "Staff were friendly but the portal kept crashing",
        "Сотрудники вежливые, но сайт не работает",
        "Henkilökunta oli ystävällistä mutta verkkopalvelu kaatui",
    ],
)
def test_contrast_splits_clauses(text: str, cfg) -> None:
    a = one(text, cfg)
    assert a.theme_sentiment["staff_attitude"] > 0
    assert a.theme_sentiment["online_service_usability"] < 0
    assert a.negative_themes == {"online_service_usability"}
    # The clause after "but" weighs more: the text as a whole reads negative.
    assert a.sentiment < 0


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Не могу дозвониться", "ru"),
        ("Сайт Работа России не работает", "ru"),
        ("Ei muistutusta tapaamisesta", "fi"),
        ("Verkkopalvelu ei toimi", "fi"),
        ("Puhelimeen ei vastata koskaan", "fi"),
        ("Odotin kaksi tuntia", "fi"),
        ("No reminder before the appointment", "en"),
        ("Nobody answers the phone", "en"),
        ("The office in Jyväskylä was great", "en"),
        ("   ", None),
        ("12.03.2026 5/5", None),
        (None, None),
    ],
)
def test_detect_language(text, lang) -> None:
    assert detect_language(text) == lang


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Спасибо, всё отлично, очень вежливые сотрудники", 1),
        ("Ужасное обслуживание, хамство и очереди", -1),
        ("Great service, very helpful staff", 1),
        ("Terrible experience, nobody helped", -1),
        ("Kiitos, palvelu oli erinomaista", 1),
        ("Todella huono palvelu", -1),
        ("Пришла в центр занятости во вторник", 0),
    ],
)
def test_sentiment_sign(text: str, sign: int, cfg) -> None:
    s = one(text, cfg).sentiment
    assert -1.0 <= s <= 1.0
    assert (s > 0) - (s < 0) == sign, s


def test_intensifier_strengthens(cfg) -> None:
    assert one("Сотрудница очень грубая", cfg).sentiment < one("Сотрудница грубая", cfg).sentiment < 0


def test_analyse_keeps_order_and_handles_empty(cfg) -> None:
    texts = ["Сотрудница нагрубила", "", "Koulutus oli erinomainen", "Сотрудница нагрубила"]
    out = analyse(texts, cfg)
    assert [a.language for a in out] == ["ru", None, "fi", "ru"]
    assert out[1].themes == set() and out[1].sentiment == 0.0
    assert out[0] == out[3]


def test_analyse_frame_columns_index_and_empty_text(cfg) -> None:
    texts = pd.Series(
        ["Сотрудница нагрубила, и в очереди два часа", None, "", "Курсы отличные", "Nobody answers the phone"],
        index=[10, 11, 12, 13, 14],
    )
    df = analyse_frame(texts, config=cfg)
    assert list(df.columns) == ["language", "sentiment", "themes", "negative_themes"]
    assert list(df.index) == [10, 11, 12, 13, 14]
    assert df.loc[10, "themes"] == "staff_attitude,waiting_time"
    assert df.loc[10, "negative_themes"] == "staff_attitude,waiting_time"
    assert df.loc[10, "sentiment"] < 0
    for empty in (11, 12):
        assert df.loc[empty, "language"] is None
        assert math.isnan(df.loc[empty, "sentiment"])
        assert df.loc[empty, "themes"] == "" and df.loc[empty, "negative_themes"] == ""
    assert df.loc[13, "negative_themes"] == "" and df.loc[13, "themes"] == "training_offer"
    assert df.loc[14, "language"] == "en"


def test_rating_decides_when_the_wording_is_neutral(cfg) -> None:
    neutral = "Обращалась по поводу пособия"
    assert one(neutral, cfg).theme_sentiment == {"benefit_payment": 0.0}
    texts = pd.Series([neutral] * 6 + ["Пособие пришло вовремя, спасибо"])
    ratings = pd.Series([1, 5, 2, 9, 3, None, 1])
    scales = pd.Series([5, 5, 10, 10, 5, 5, 5])
    df = analyse_frame(texts, ratings, scales, config=cfg)
    assert df["negative_themes"].tolist() == [
        "benefit_payment",  # 1 of 5: low
        "",  # 5 of 5: high
        "benefit_payment",  # 2 of 10: low
        "",  # 9 of 10: high
        "",  # 3 of 5: middle, wording neutral -> not negative
        "",  # no rating
        "",  # the wording is positive: a low rating does not override it
    ]
    assert (df["themes"] == "benefit_payment").all()


def test_keywords_come_from_configuration(cfg, tmp_path: Path) -> None:
    themes = {tid: t.model_copy(deep=True) for tid, t in cfg.themes.items()}
    themes["office_comfort"].keywords["ru"] = ["=квантовый", "кофемашин*", "*батаре*"]
    custom = cfg.model_copy(update={"themes": themes})
    out = analyse(["Сломалась кофемашина", "Квантовый пандус", "Холодные батареи"], custom)
    assert ["office_comfort" in a.themes for a in out] == [True, True, True]
    assert "office_comfort" not in one("Квантовая физика", custom).themes


def test_invalid_sentiment_lexicon_is_a_config_error(cfg, tmp_path: Path) -> None:
    bad = tmp_path / "sentiment.yaml"
    text = (CONFIG_DIR / "sentiment.yaml").read_text(encoding="utf-8").replace('[not, "no", never', "[not, no, never")
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="quote"):
        analyse(["x"], cfg, sentiment_path=bad)


def test_many_repeated_texts_are_consistent(cfg) -> None:
    base = [text for text, _, _ in THEME_CASES]
    texts = pd.Series(base * 50)
    df = analyse_frame(texts, config=cfg)
    first = df.iloc[: len(base)].reset_index(drop=True)
    for k in range(1, 50):
        chunk = df.iloc[k * len(base) : (k + 1) * len(base)].reset_index(drop=True)
        pd.testing.assert_frame_equal(chunk, first)


# ------------------------------------------------------------------ hard cases
# Each case is a linguistic phenomenon, written for these tests (not taken from the
# labelled evaluation set).


@pytest.mark.parametrize(
    ("text", "theme"),
    [
        # negation before the word
        ("Сотрудники не хамили", "staff_attitude"),
        ("Nobody was rude to me", "staff_attitude"),
        ("Ei ollut jonoa", "waiting_time"),
        # negation after the word
        ("Хамства не было", "staff_attitude"),
        ("Очереди не было вообще", "waiting_time"),
        ("Jonoa ei ollut lainkaan", "waiting_time"),
    ],
)
def test_a_negated_complaint_is_a_positive_mention(text: str, theme: str, cfg) -> None:
    a = one(text, cfg)
    assert theme in a.themes, a
    assert a.theme_sentiment[theme] > 0 and a.sentiment > 0, a


@pytest.mark.parametrize(
    ("text", "theme"),
    [
        ("В здании нет пандуса", "office_comfort"),
        ("Так и не дозвонилась", "contact_reachability"),
        ("Дозвониться невозможно", "contact_reachability"),
        ("Напоминаний никто не присылает", "reminders_notifications"),
        ("Muistutusta ei tullut", "reminders_notifications"),
        ("Verkkopalveluun ei pääse kirjautumaan", "online_service_usability"),
        ("The portal doesn't work", "online_service_usability"),
        ("I never got a reminder", "reminders_notifications"),
        ("They didn't answer the phone", "contact_reachability"),
    ],
)
def test_expected_service_that_did_not_happen_is_a_complaint(text: str, theme: str, cfg) -> None:
    a = one(text, cfg)
    assert theme in a.negative_themes, a
    assert a.sentiment < 0


@pytest.mark.parametrize(
    ("text", "positive", "negative"),
    [
        ("Staff were friendly but the portal kept crashing", "staff_attitude", "online_service_usability"),
        ("Консультант вежливая, но пособие задерживают второй месяц", "staff_attitude", "benefit_payment"),
        ("Virkailija oli ystävällinen, mutta päiväraha on yhä myöhässä", "staff_attitude", "benefit_payment"),
        # concessive: the clause after "хотя"/"although"/"vaikka" weighs less than the main one
        ("Хотя сотрудники вежливые, пособие задерживают уже месяц", "staff_attitude", "benefit_payment"),
        ("Although the adviser was polite, my benefit payment is still late", "staff_attitude", "benefit_payment"),
        ("Pääsin heti sisään, vaikka virkailija oli tyly", "waiting_time", "staff_attitude"),
        # praise and complaint in one clause, no contrast word: nearest theme wins
        ("Сотрудники вежливые и сайт постоянно зависает", "staff_attitude", "online_service_usability"),
        ("The queue was short and the toilets were dirty", "waiting_time", "office_comfort"),
    ],
)
def test_mixed_praise_and_complaint_get_their_own_sentiment(text: str, positive: str, negative: str, cfg) -> None:
    a = one(text, cfg)
    assert a.theme_sentiment[positive] > 0, a
    assert a.theme_sentiment[negative] < 0, a
    assert a.negative_themes == {negative}


def test_the_main_clause_decides_the_text_sentiment(cfg) -> None:
    # "but": what comes after counts more; "although": what comes after counts less.
    assert one("Staff were friendly but the portal kept crashing", cfg).sentiment < 0
    assert one("The portal kept crashing but staff were friendly and helpful", cfg).sentiment > 0
    assert one("Хотя сотрудники вежливые, пособие задерживают уже месяц", cfg).sentiment < 0
    assert one("Pääsin heti sisään, vaikka virkailija oli tyly", cfg).sentiment > 0


@pytest.mark.parametrize(
    ("texts", "theme"),
    [
        (
            [
                "Не могу дозвониться",
                "Так и не дозвонилась",
                "Сплошной недозвон",
                "Дозвониться невозможно",
                "Дозвонились только с пятой попытки",
            ],
            "contact_reachability",
        ),
        (
            [
                "Очередь огромная",
                "В очереди простояла два часа",
                "Очереди бесконечные",
                "Электронная очередь не работает",
            ],
            "waiting_time",
        ),
        (
            ["Ei muistutusta", "Muistutus puuttui", "En saanut muistutuksia", "Muistutuksen olisi pitänyt tulla"],
            "reminders_notifications",
        ),
        (
            [
                "Kurssi oli hyvä",
                "Kursseja ei ole tarjolla",
                "Kursseilla on liian vähän paikkoja",
                "Kurssista ei ollut hyötyä",
            ],
            "training_offer",
        ),
        (["Puhelimeen ei vastata", "Puhelimella ei saa yhteyttä", "Puhelinpalvelu ei vastaa"], "contact_reachability"),
    ],
)
def test_inflected_forms_name_the_theme(texts: list[str], theme: str, cfg) -> None:
    for a in analyse(texts, cfg):
        assert theme in a.themes, a


@pytest.mark.parametrize(
    ("text", "theme"),
    [
        ("Tekstiviestimuistutus ei tullut", "reminders_notifications"),
        ("Asiointipalvelu kaatuu jatkuvasti", "online_service_usability"),
        ("Puhelinpalvelussa jonotin puoli tuntia", "contact_reachability"),
        ("Työttömyysturvan käsittely kestää", "benefit_payment"),
        ("Odotusaika oli pitkä", "waiting_time"),
        ("Työvoimakoulutukseen ei päässyt", "training_offer"),
        ("Työllistymissuunnitelma on kaavamainen", "plan_personalisation"),
    ],
)
def test_finnish_compounds_name_the_theme(text: str, theme: str, cfg) -> None:
    a = one(text, cfg)
    assert a.language == "fi"
    assert theme in a.themes, a


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("The staff weren't rude", 1),
        ("I can't log in to my account", -1),
        ("They won't answer my emails", -1),
        ("It isn't clear what happens next", -1),
        ("I don't know when they'll contact me", -1),
        ("I didn’t get a reminder", -1),  # typographic apostrophe
    ],
)
def test_english_contractions_are_negations(text: str, sign: int, cfg) -> None:
    s = one(text, cfg).sentiment
    assert (s > 0) - (s < 0) == sign, (text, s)


def test_contractions_are_spelled_out_before_matching(cfg) -> None:
    # "they'll" is "they will": the process_clarity phrase "when they will contact" matches.
    assert "process_clarity" in one("Nobody told me when they'll contact me", cfg).themes
    assert normalise("I can't, they won't, it's") == "i can not, they will not, it"


@pytest.mark.parametrize(
    ("text", "themes"),
    [
        # A channel word is weak: it does not name contact_reachability next to another theme...
        ("Please send reminders by email as well", {"reminders_notifications"}),
        ("Muistutuksia tulee nykyään sähköpostina", {"reminders_notifications"}),
        ("Напоминание пришло на почту", {"reminders_notifications"}),
        # ...but it does when it is the only theme in its clause.
        ("I sent two emails and got no reply", {"contact_reachability"}),
        ("Пишу на почту уже месяц, ответа нет", {"contact_reachability"}),
        # A longer keyword of another theme hides the words inside it.
        ("The waiting area was clean and comfortable", {"office_comfort"}),
        ("В зале ожидания душно", {"office_comfort"}),
    ],
)
def test_weak_keywords_and_longer_matches(text: str, themes: set[str], cfg) -> None:
    assert one(text, cfg).themes == themes


@pytest.mark.parametrize(
    "text",
    [
        "Спасибо!",
        "ok",
        "Kiitos!",
        "Fine.",
        "Всё хорошо, спасибо",
        "Thank you",
        "Был сегодня на приёме",
        "Kävin tänään toimistolla",
    ],
)
def test_texts_without_a_theme(text: str, cfg) -> None:
    a = one(text, cfg)
    assert a.themes == set() and a.theme_sentiment == {}, a


def test_thanks_are_positive_plain_statements_neutral(cfg) -> None:
    assert one("Спасибо!", cfg).sentiment > 0
    assert one("Kiitos!", cfg).sentiment > 0
    assert one("Был сегодня на приёме", cfg).sentiment == 0.0
    assert one("I visited the office today.", cfg).sentiment == 0.0


def test_a_request_is_not_praise_but_a_rhetorical_question_is_a_complaint(cfg) -> None:
    request = one("Поможете с трудоустройством после курсов?", cfg)
    assert request.sentiment == 0.0 and "training_offer" in request.themes
    assert one("Could you help me with my benefit application?", cfg).sentiment == 0.0
    assert one("Почему никто не отвечает на звонки?", cfg).sentiment < 0
    assert one("Why is the portal always broken?", cfg).sentiment < 0


def test_negation_softens_rather_than_amplifies_an_intensified_word(cfg) -> None:
    plain = one("The staff were not helpful", cfg).sentiment
    softened = one("The staff were not very helpful", cfg).sentiment
    assert plain < softened < 0
    # "hyvin" before a word is "very", not "well": "hyvin vähän apua" is a complaint.
    assert one("Sain hyvin vähän apua", cfg).sentiment < 0
    assert one("Palvelu oli hyvin huono", cfg).sentiment < one("Palvelu oli huono", cfg).sentiment < 0


def test_a_theme_takes_the_sentiment_of_the_next_sentence(cfg) -> None:
    a = one("Записалась через портал. Ничего не работает.", cfg)
    assert a.theme_sentiment["online_service_usability"] < 0
    b = one("Kävin kurssilla. Todella hyödyllinen!", cfg)
    assert b.theme_sentiment["training_offer"] > 0


def test_redaction_placeholders_are_not_words(cfg) -> None:
    a = one("Перезвоните мне [PHONE], [NAME]", cfg)
    assert a.language == "ru" and "contact_reachability" in a.themes
    assert one("[PHONE] [EMAIL]", cfg).language is None
    assert detect_language("Звоню на [PHONE] [PHONE] [PHONE]") == "ru"


class _ConstantFallback:
    """A stand-in learned fallback: says ``value`` about any text it is asked about."""

    def __init__(self, value: float) -> None:
        self.value = value
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    def score(self, language, tokens):
        self.asked.append((language, tuple(tokens)))
        return self.value


def test_a_fallback_scores_only_texts_without_lexicon_sentiment(cfg) -> None:
    fb = _ConstantFallback(-0.4)
    neutral, worded = "Обращалась по поводу пособия", "Пособие пришло вовремя, спасибо"
    out = analyse([neutral, worded], cfg, fallback=fb)
    assert out[0].sentiment == -0.4 and out[0].theme_sentiment == {"benefit_payment": -0.4}
    assert out[1].sentiment > 0 and out[1].negative_themes == set()
    assert [lang for lang, _ in fb.asked] == ["ru"]  # not asked about the worded text
    assert "пособия" in fb.asked[0][1]
    df = analyse_frame(pd.Series([neutral, worded]), config=cfg, fallback=fb)
    assert df["negative_themes"].tolist() == ["benefit_payment", ""]
    # Without the fallback the neutral text stays neutral (the memo does not leak it).
    assert one(neutral, cfg).sentiment == 0.0


def test_analysis_is_deterministic_and_independent_of_batch(cfg) -> None:
    texts = [t for t, _, _ in THEME_CASES]
    together = analyse(texts, cfg)
    alone = [analyse([t], cfg)[0] for t in reversed(texts)][::-1]
    assert together == alone


# ------------------------------------------------ rules added with the tuning corpus
# Texts written for these tests (not taken from the evaluation set or the tuning corpus).


def _with_keywords(cfg, lang: str, **keywords: list[str]):
    """A copy of the configuration whose themes have only the given ``lang`` keywords."""
    themes = {tid: t.model_copy(deep=True) for tid, t in cfg.themes.items()}
    for tid in themes:
        themes[tid].keywords[lang] = list(keywords.get(tid, []))
        themes[tid].weak_keywords[lang] = []
    return cfg.model_copy(update={"themes": themes})


def test_on_one_word_the_longer_keyword_of_another_theme_wins(cfg) -> None:
    custom = _with_keywords(cfg, "fi", waiting_time=["*jono*"], contact_reachability=["*puhelinjono*"])
    phone_queue, office_queue = analyse(["Puhelinjonossa meni koko aamupäivä", "Jonossa meni koko aamupäivä"], custom)
    assert phone_queue.themes == {"contact_reachability"}
    assert office_queue.themes == {"waiting_time"}
    # A keyword that is not written inside the other one does not give way.
    both = _with_keywords(cfg, "fi", waiting_time=["*jono*"], contact_reachability=["*puhelin*"])
    assert analyse(["Puhelinjonossa meni koko aamupäivä"], both)[0].themes == {"contact_reachability", "waiting_time"}
    # The shipped lexicons: a queue on the phone line is contact_reachability (guidelines).
    assert one("Puhelinjonossa meni koko aamupäivä", cfg).themes == {"contact_reachability"}


@pytest.mark.parametrize(
    "text",
    [
        "Документы в центр отнесла три недели назад",
        "My claim went in five weeks ago",
        "Hakemus lähti kolme viikkoa sitten",
        "Опять то же самое",
        "Vieläkään ei kuulu mitään",
        "And again nothing",
    ],
)
def test_elapsed_time_still_and_again_are_implicit_complaints(text: str, cfg) -> None:
    assert one(text, cfg).sentiment <= -0.1


def test_implicit_cues_are_weaker_than_praise_and_silent_in_questions(cfg) -> None:
    # Praise outweighs a duration ("weeks" is -0.5, "useful" +1).
    assert one("The course took six weeks and was really useful", cfg).sentiment > 0
    assert one("Курсы шли три месяца, очень полезные", cfg).sentiment > 0
    # A question about durations is no complaint.
    for question in (
        "Сколько недель обычно рассматривают заявление?",
        "How many weeks does a decision usually take?",
        "Montako viikkoa käsittely yleensä kestää?",
    ):
        assert one(question, cfg).sentiment == 0.0, question


def test_implicit_cues_are_not_what_a_negation_negates(cfg) -> None:
    # "нет" after "до сих пор" negates the answer; "не" before "неделю" negates publishing.
    assert one("Написал в чат, ответа до сих пор нет", cfg).sentiment < 0
    a = one("Вакансию не публикуют уже неделю", cfg)
    assert a.sentiment < 0 and "waiting_time" in a.negative_themes


def test_a_nobody_that_negates_nothing_is_a_complaint(cfg) -> None:
    for text in ("Вакансии в базе никто не проверяет", "Nobody ever picks up", "Kukaan ei päivitä ilmoituksia"):
        assert one(text, cfg).sentiment < 0, text
    # When it negates an entry, that entry decides: "никто не хамил" is praise.
    assert one("Никто не хамил", cfg).sentiment > 0
    assert one("Nobody was impatient with me", cfg).sentiment > 0


def test_a_negation_without_an_entry_in_a_clause_with_a_theme_is_a_complaint(cfg, tmp_path: Path) -> None:
    for text, theme in (
        ("Пособие за апрель не начислили", "benefit_payment"),
        ("Kurssi ei alkanut", "training_offer"),
        ("The training never started", "training_offer"),
    ):
        a = one(text, cfg)
        assert theme in a.negative_themes and a.sentiment < 0, text
    # Not in a question, not without a theme, not when the negator belongs to an entry.
    assert one("Вы не работаете в субботу?", cfg).sentiment == 0.0
    assert one("Я сегодня туда не ходила.", cfg).sentiment == 0.0
    assert one("I do not always check my phone", cfg).sentiment == 0.0
    # The weight is configuration: 0 switches the rule off.
    data = yaml.safe_load((CONFIG_DIR / "sentiment.yaml").read_text(encoding="utf-8"))
    data["scoring"]["theme_negation"] = 0.0
    off = tmp_path / "sentiment.yaml"
    off.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert analyse(["Пособие за апрель не начислили"], cfg, sentiment_path=off)[0].sentiment == 0.0


def test_the_most_specific_sentiment_entry_of_a_word_wins(cfg, tmp_path: Path) -> None:
    data = yaml.safe_load((CONFIG_DIR / "sentiment.yaml").read_text(encoding="utf-8"))
    data["languages"]["en"]["positive"].append("blorf*")
    data["languages"]["en"]["negative"].append("=blorfy")
    path = tmp_path / "sentiment.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    blorfy, blorfing = analyse(["It was blorfy", "It was blorfing"], cfg, sentiment_path=path)
    assert blorfy.sentiment < 0 < blorfing.sentiment
    # The shipped lexicon: "=vasta" (only as late as) is a complaint, "vasta*" (to answer) is not.
    assert one("Muistutus tuli vasta illalla", cfg).sentiment < 0


def test_a_weak_keyword_in_a_concession_gives_way_to_the_sentence(cfg) -> None:
    a = one("Напоминания о встречах не приходят, хотя номер телефона указан правильно", cfg)
    assert a.themes == {"reminders_notifications"}, a
    b = one("Muistutuksia ei tule, vaikka puhelinnumero on oikein", cfg)
    assert b.themes == {"reminders_notifications"}, b
    # Without a strong keyword of another theme in the sentence the weak one still counts,
    # and after "но" (contrast, not concession) it is a statement of its own.
    assert "contact_reachability" in one("Хотя звонила много раз, ответа нет", cfg).themes
    assert "contact_reachability" in one("Сотрудники вежливые, но на письма не отвечают", cfg).themes


@pytest.mark.parametrize("text", ["Ihan ok.", "Kysyin kirjeitse"])
def test_colloquial_finnish_is_finnish(text: str) -> None:
    assert detect_language(text) == "fi"


def test_void_negators_must_be_quoted_text(cfg, tmp_path: Path) -> None:
    text = (
        (CONFIG_DIR / "sentiment.yaml")
        .read_text(encoding="utf-8")
        .replace('void_negators: [nobody, noone, "no one"', "void_negators: [nobody, noone, no")
    )
    assert "void_negators: [nobody, noone, no," in text
    bad = tmp_path / "sentiment.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="void_negators.*quote"):
        analyse(["x"], cfg, sentiment_path=bad)


TUNE = Path(__file__).resolve().parents[2] / "data" / "text_tune" / "tune.jsonl"


def test_the_tuning_corpus_is_well_formed_and_trilingual() -> None:
    """tests/data/text_tune/tune.jsonl (README there): format, numbering, 30 % validation."""
    from tools.text_eval import SENTIMENT_LABELS, THEME_IDS

    rows = [json.loads(line) for line in TUNE.read_text(encoding="utf-8").splitlines() if line.strip()]
    numbers: dict[str, list[int]] = {"ru": [], "fi": [], "en": []}
    for r in rows:
        assert set(r) == {"id", "lang", "text", "themes", "sentiment", "split"}, r
        m = re.fullmatch(r"t(ru|fi|en)-(\d{3})", r["id"])
        assert m and m.group(1) == r["lang"], r["id"]
        numbers[r["lang"]].append(int(m.group(2)))
        assert r["text"].strip() and r["split"] == "tune" and r["sentiment"] in SENTIMENT_LABELS, r["id"]
        assert set(r["themes"]) <= set(THEME_IDS) and len(set(r["themes"])) == len(r["themes"]), r["id"]
    for lang, nums in numbers.items():
        assert nums == list(range(1, len(nums) + 1)) and len(nums) >= 150, lang
    validation = [r for r in rows if int(r["id"][-3:]) % 10 in (2, 5, 8)]
    assert 0.28 <= len(validation) / len(rows) <= 0.32
    for theme in THEME_IDS:
        assert sum(theme in r["themes"] for r in validation) >= 6, theme
