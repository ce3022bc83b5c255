"""Personal-data redaction (tasks/redaction.py): every kind is removed, nothing else is."""

from __future__ import annotations

import pandas as pd
import pytest

from tasks.redaction import find_personal_data, redact, redact_series

PII_CASES = [
    # (text, secret that must disappear, placeholder, kind)
    ("Звоните +7 (912) 345-67-89 после обеда", "345-67-89", "[PHONE]", "phone"),
    ("мой номер 8 912 345 67 89", "912 345 67 89", "[PHONE]", "phone"),
    ("тел. 89123456789", "89123456789", "[PHONE]", "phone"),
    ("перезвоните на 8-912-345-67-89", "345-67-89", "[PHONE]", "phone"),
    ("Soita minulle +358 40 123 4567", "123 4567", "[PHONE]", "phone"),
    ("numeroni on 040 1234567", "1234567", "[PHONE]", "phone"),
    ("call me on +44 20 7946 0958", "7946 0958", "[PHONE]", "phone"),
    ("пишите на ivan.petrov@mail.ru, жду", "ivan.petrov", "[EMAIL]", "email"),
    ("email: matti.virtanen@example.fi", "matti.virtanen", "[EMAIL]", "email"),
    ("мой СНИЛС 123-456-789 01", "123-456-789", "[SNILS]", "snils"),
    ("СНИЛС: 12345678901, прошу проверить", "12345678901", "[SNILS]", "snils"),
    ("паспорт 45 10 123456 выдан", "123456", "[PASSPORT]", "passport"),
    ("данные 4510 123456 указаны", "4510 123456", "[PASSPORT]", "passport"),
    ("паспорт 4510123456", "4510123456", "[PASSPORT]", "passport"),
    ("паспорт серия 4510 номер 123456", "123456", "[PASSPORT]", "passport"),
    ("карта 4276 1234 5678 9012 не принята", "5678", "[CARD]", "card"),
    ("номер карты 4276123456789012", "4276123456789012", "[CARD]", "card"),
    ("henkilötunnus 010190-123A", "010190-123A", "[ID]", "id"),
    ("Меня зовут Ирина Петрова, помогите", "Петрова", "[NAME]", "name"),
    ("Я, Иванов Иван Иванович, прошу разобраться", "Иванов", "[NAME]", "name"),
    ("С уважением, Петров А.В.", "Петров", "[NAME]", "name"),
    ("Hello, my name is John Smith and I need help", "Smith", "[NAME]", "name"),
    ("Hei, nimeni on Matti Virtanen.", "Virtanen", "[NAME]", "name"),
    ("Специалист Сидорова М.К. нагрубила", "Сидорова", "[NAME]", "name"),
    ("Мне помог И.П. Козлов", "Козлов", "[NAME]", "name"),
    ("Мария Петровна была очень вежлива", "Петровна", "[NAME]", "name"),
]


@pytest.mark.parametrize(("text", "secret", "placeholder", "kind"), PII_CASES)
def test_each_kind_of_personal_data_is_replaced(text: str, secret: str, placeholder: str, kind: str) -> None:
    assert kind in find_personal_data(text)
    out = redact(text)
    assert secret not in out
    assert placeholder in out
    assert find_personal_data(out) == []


@pytest.mark.parametrize(
    "text",
    [
        "Была на приёме 12.03.2026, следующая встреча 01.04.2026 в 10:00",
        "Пособие 5000 рублей, а обещали 12 792 рубля",
        "Офис 52-01 лучше, чем 66-03",
        "Оценка 5 звёзд из 5, ждала 2 часа, третий раз за 2025 год",
        "Меня зовут обратно, но я не пойду",
        "Staff were friendly, rating 9/10, visit on 2026-03-12",
        "Odotin 45 minuuttia, arvosana 4",
    ],
)
def test_dates_amounts_ratings_and_office_codes_survive(text: str) -> None:
    assert redact(text) == text
    assert find_personal_data(text) == []


def test_intro_phrase_is_kept_and_only_the_name_goes() -> None:
    assert redact("Меня зовут Ирина Петрова, помогите") == "Меня зовут [NAME], помогите"
    assert redact("С уважением, Петров А.В.") == "С уважением, [NAME]"


def test_none_passes_through() -> None:
    assert redact(None) is None
    assert find_personal_data(None) == []


def test_series_matches_scalar_and_keeps_missing_values_and_index() -> None:
    texts = [text for text, *_ in PII_CASES] + [None, "Просидела в очереди два часа", "12.03.2026, офис 52-01"]
    s = pd.Series(texts * 3, index=[f"r{i}" for i in range(len(texts) * 3)], dtype="object")
    out = redact_series(s)
    assert list(out.index) == list(s.index)
    for original, redacted in zip(s, out):
        if original is None:
            assert pd.isna(redacted)
        else:
            assert redacted == redact(original)
            assert find_personal_data(redacted) == []


def test_series_of_pandas_string_dtype_with_nan() -> None:
    s = pd.Series(["тел. 89123456789", float("nan"), "без данных"], dtype="str")
    out = redact_series(s)
    assert out.iloc[0] == "тел. [PHONE]"
    assert pd.isna(out.iloc[1])
    assert out.iloc[2] == "без данных"
