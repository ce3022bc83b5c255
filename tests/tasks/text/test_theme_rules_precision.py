"""Theme precision rules (``tasks/text/theme_rules.py``): a channel mention is not a
reachability complaint, a weak keyword needs a problem or an opinion in its clause, and
idioms name no theme. The sentences are written for these tests."""

from __future__ import annotations

import pytest

from cxloop.config import load_config
from cxloop.paths import DEFAULT_CONFIG_DIR
from tasks.text.analyser import analyse
from tasks.text.theme_rules import IDIOMS, compile_idioms


@pytest.fixture(scope="module")
def cfg():
    return load_config(DEFAULT_CONFIG_DIR)


def themes(text: str, cfg) -> set[str]:
    return analyse([text], cfg)[0].themes


@pytest.mark.parametrize(
    "text",
    [
        "Позвонила в банк уточнить сумму, в итоге мне насчитали неверный процент.",
        "I called them about the fee and the fee was wrong.",
        "Soitin pankkiin ja sain väärän summan.",
    ],
)
def test_a_call_told_around_another_problem_is_not_reachability(text: str, cfg) -> None:
    assert "contact_reachability" not in themes(text, cfg)


@pytest.mark.parametrize(
    "text",
    [
        "Звоню в колл-центр третий день, никто не отвечает.",
        "I phoned five times and nobody answered.",
        "Soitin monta kertaa, eikä kukaan vastannut.",
        "Оператор на линии ответил быстро и всё решил.",
    ],
)
def test_a_failed_or_praised_channel_is_reachability(text: str, cfg) -> None:
    assert "contact_reachability" in themes(text, cfg)


@pytest.mark.parametrize(
    ("text", "theme"),
    [
        ("Сняла деньги в банкомате, всё хорошо.", "benefit_payment"),
        ("Документы оформили, отдала паспорт.", "documents_effort"),
        ("Зашёл в приложение, перевёл сумму другу.", "online_service_usability"),
        ("I opened the app and sent the money to my sister.", "online_service_usability"),
    ],
)
def test_a_generic_word_without_a_problem_names_no_theme(text: str, theme: str, cfg) -> None:
    assert theme not in themes(text, cfg)


@pytest.mark.parametrize(
    ("text", "theme"),
    [
        ("В первую очередь хочу поблагодарить кассира за вежливость.", "waiting_time"),
        ("Курс валют в этом отделении выгодный, спасибо.", "training_offer"),
        ("Не связывайтесь с этим банком, обманут.", "contact_reachability"),
        ("First of all, the staff were lovely.", "waiting_time"),
        ("Of course the staff were lovely.", "training_offer"),
    ],
)
def test_idioms_name_no_theme(text: str, theme: str, cfg) -> None:
    assert theme not in themes(text, cfg)


@pytest.mark.parametrize(
    ("text", "theme"),
    [
        ("Приложение постоянно глючит, не могу войти.", "online_service_usability"),
        ("The app is useless, it logs me out all the time.", "online_service_usability"),
        ("Карту обещали через неделю, а сделали только через месяц.", "waiting_time"),
        ("Кассир даже голову не подняла и бросила трубку.", "staff_attitude"),
        ("Очень приятная атмосфера в отделении.", "office_comfort"),
        ("Записалась через портал. Ничего не работает.", "online_service_usability"),
        ("Пособие так и не пришло.", "benefit_payment"),
        ("Курсы по бухгалтерии понравились.", "training_offer"),
    ],
)
def test_the_aspect_with_a_problem_or_an_opinion_names_the_theme(text: str, theme: str, cfg) -> None:
    assert theme in themes(text, cfg)


def test_every_idiom_compiles_with_an_exact_first_word() -> None:
    for language, idioms in IDIOMS.items():
        compiled = compile_idioms(language)
        assert sum(len(v) for v in compiled.values()) == len(idioms)
        assert all(not first.endswith("*") for first in compiled)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I will not come back.", set()),
        ("Never coming back here.", set()),
        ("They told me to come back tomorrow with another document.", {"documents_effort"}),
        ("I kept coming back for the same form.", {"documents_effort"}),
        ("Консультант не знал ответа.", {"staff_competence"}),
        ("The advisor did not know the answer.", {"staff_competence"}),
        ("Työpaikat eivät vastaa osaamistani.", {"vacancy_relevance"}),
        ("Kukaan ei vastaa puhelimeen.", {"contact_reachability"}),
    ],
)
def test_words_that_name_another_theme_in_their_phrase(text: str, expected: set[str], cfg) -> None:
    """ "come back" is a second visit only when one was asked for; an answer the advisor did
    not know, or jobs that do not match ("vastaa", also "to answer"), is no reachability."""
    assert themes(text, cfg) == expected
