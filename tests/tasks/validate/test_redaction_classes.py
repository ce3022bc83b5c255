"""Issue 14 row 3: the personal-data classes the first redaction missed (other phone
separators, bare SNILS and passports, lower-case henkilötunnus, IBANs, Russian account
numbers, street addresses, obfuscated e-mails, names without a trigger word) are redacted
in Russian, Finnish and English, and the check digits keep ordinary numbers intact."""

from __future__ import annotations

import pandas as pd
import pytest

from tasks.validate.redaction import _pipeline, find_personal_data, redact, redact_series
from tasks.validate.redaction_rules import hetu_valid, iban_valid, snils_valid

PLANTED = [
    # (text, secret that must disappear, kind)
    ("звоните 8.912.345.67.84 вечером", "345.67.84", "phone"),
    ("звоните 8–912–345–67–83 вечером", "345–67–83", "phone"),
    ("мобильный +7.912.345.67.85", "345.67.85", "phone"),
    ("номер 123 456 789 64 указан", "789 64", "snils"),
    ("номер 123-456-789-64 указан", "789-64", "snils"),
    ("документ 4511-223344 утерян", "223344", "passport"),
    ("паспорт 4511 – 223344", "223344", "passport"),
    ("hetu 010101-123n", "010101-123n", "id"),
    ("henkilötunnukseni on 010101a123n", "010101a123n", "id"),
    ("IBAN FI21 1234 5600 0007 85 tilille", "5600 0007", "iban"),
    ("transfer to GB82 WEST 1234 5698 7654 32 please", "5698 7654", "iban"),
    ("счёт DE89370400440532013000", "DE89370400440532013000", "iban"),
    ("счёт 40817810099910004312 в Сбербанке", "40817810099910004312", "account"),
    ("р/с 40817 810 0 9991 0004312", "0004312", "account"),
    ("живу ул. Ленина, д. 5, кв. 12, рядом", "Ленина", "address"),
    ("адрес: улица Садовая 17-3", "Садовая 17", "address"),
    ("живу ул Ленина 5", "Ленина", "address"),
    ("пр-т Мира, д. 10, корп. 2", "Мира, д. 10", "address"),
    ("Asun osoitteessa Mannerheimintie 12 B 5, Helsinki", "Mannerheimintie 12", "address"),
    ("Osoite Hämeenkatu 3 A 7", "Hämeenkatu 3", "address"),
    ("I live at 12 Baker Street, London", "Baker Street", "address"),
    ("send it to 221B Baker St.", "Baker St", "address"),
    ("пишите name(at)mail.ru", "name(at)mail", "email"),
    ("пишите name [at] mail [dot] ru", "name [at] mail", "email"),
    ("write to matti.v (at) example (dot) fi", "matti.v", "email"),
    ("спасибо, Ирина Смирнова очень помогла", "Смирнова", "name"),
    ("Петров Иван принял документы", "Петров", "name"),
    ("Kiitos, Matti Meikäläinen auttoi paljon", "Meikäläinen", "name"),
    ("Thanks to Emily Johnson for the help", "Johnson", "name"),
    ("огромное спасибо Смирновой за помощь", "Смирновой", "name"),
    ("документы передал Петрову, он потерял", "Петрову", "name"),
    ("благодарю Ирину Смирнову и Анну", "Смирнову", "name"),
]


@pytest.mark.parametrize(("text", "secret", "kind"), PLANTED)
def test_planted_personal_data_is_redacted(text: str, secret: str, kind: str) -> None:
    assert kind in find_personal_data(text)
    out = redact(text)
    assert secret not in out
    assert find_personal_data(out) == []
    assert redact(out) == out
    assert _pipeline(text, None, gated=False) == out


@pytest.mark.parametrize(
    "text",
    [
        # Check digits fail: not a SNILS, IBAN or henkilötunnus.
        "номер 123 456 789 65 указан",
        "IBAN FI21 1234 5600 0007 86",
        "koodi 010101-123a",
        # Ordinary numbers, dates and amounts with dots and dashes.
        "Приём 12.03.2026, сумма 1.250.000 руб., версия 8.1.2",
        "Период 2024–2025, офис 52-01, 10–15 минут",
        "Заявка № 2024-123456 закрыта",  # a numbered reference, not "4511-223344"
        # Streets without a house number, office vocabulary, sentence-initial capitals.
        "Офис на улице Ленина закрыт, очередь на Садовой",
        "Spasibo! Отделение работает хорошо. Надежда есть. Вера в людей.",
        "Сотрудник ЦЗН помог, Центр занятости работает. Москва, Санкт-Петербург.",
        "Kiitos, palvelu oli hyvä. TE-toimisto Helsinki. Työmarkkinatori toimii.",
        "Great Service, Very Good App. The Customer Support was slow.",
        "Odotin 45 minuuttia, arvosana 4, linja 12",
        "I waited 12 minutes at the office",
        "look at mail dot ru",
        # A table header hyphenated across lines in a PDF's text ("Прио" is a name in OpenCorpora).
        "Динамика Прио\u2010\nритет",
        "Динамика Прио-\nритет",
    ],
)
def test_ordinary_text_survives(text: str) -> None:
    assert redact(text) == text
    assert find_personal_data(text) == []


def test_check_digits() -> None:
    assert snils_valid("12345678964") and not snils_valid("12345678965")
    assert iban_valid("FI2112345600000785") and iban_valid("GB82WEST12345698765432")
    assert not iban_valid("FI2112345600000786")
    assert hetu_valid("010101-123N") and hetu_valid("010101-123n") and not hetu_valid("010101-123A")


def test_column_equals_scalar_on_the_planted_corpus() -> None:
    texts = [t for t, *_ in PLANTED] * 2 + [None, "без данных"]
    out = redact_series(pd.Series(texts, dtype="object"))
    assert list(out) == [redact(t) if t is not None else None for t in texts]
