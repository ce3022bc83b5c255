"""Clearly fake personal data for the demo, in the shapes people type it.

Phone numbers, e-mail addresses, names, SNILS and passport numbers that the demo's
free texts carry in ~3 % of cases (and the review book's contact column), so the
Validate stage's redaction has something to find.
"""

from __future__ import annotations

import numpy as np

NAMES_F = ("Ирина Смирнова", "Ольга Иванова", "Наталья Попова", "Елена Лебедева", "Татьяна Волкова")
NAMES_M = ("Алексей Петров", "Сергей Кузнецов", "Дмитрий Соколов", "Андрей Морозов", "Михаил Новиков")
NAMES = NAMES_F + NAMES_M
_MAIL_USERS = ("i.smirnova", "petrov.a", "olga.ivanova", "kuznetsov85", "n.popova", "sokolov.d")


def fake_phone(rng: np.random.Generator) -> str:
    a, b = int(rng.integers(10, 100)), int(rng.integers(10, 100))
    if rng.random() < 0.5:
        return f"+7 912 345-{a:02d}-{b:02d}"
    return f"8(831)123-{a:02d}-{b:02d}"


def fake_email(rng: np.random.Generator) -> str:
    user = _MAIL_USERS[int(rng.integers(len(_MAIL_USERS)))]
    return f"{user}@example.{('com', 'org', 'net')[int(rng.integers(3))]}"


def fake_pii_sentence(rng: np.random.Generator, lang: str, gender: str = "f") -> str:
    kind = int(rng.integers(5))
    names = NAMES_F if gender == "f" else NAMES_M
    if lang == "fi":
        return (
            f"Puhelinnumeroni on {fake_phone(rng)}.",
            f"Sähköpostini on {fake_email(rng)}.",
            f"Nimeni on {NAMES[int(rng.integers(len(NAMES)))]}.",
        )[kind % 3]
    if lang == "en":
        return (
            f"My phone is {fake_phone(rng)}.",
            f"Write to {fake_email(rng)}.",
            f"My name is {NAMES[int(rng.integers(len(NAMES)))]}.",
        )[kind % 3]
    n = int(rng.integers(10, 100))
    return (
        f"Мой телефон {fake_phone(rng)}, перезвоните.",
        f"Пишите на {fake_email(rng)}.",
        f"Мой СНИЛС 123-456-789 {n:02d}, проверьте, пожалуйста.",
        f"Паспорт 4510 1234{n:02d}, данные я уже {'сдавала' if gender == 'f' else 'сдавал'}.",
        f"Меня зовут {names[int(rng.integers(len(names)))]}.",
    )[kind]
