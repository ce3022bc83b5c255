"""The demo's phrase bank, loaded from ``demo/data/phrases.yaml``, and how clauses are picked.

Theme -> sentiment -> language -> clauses, the employers' own clauses, and the openings,
closings and joints of a text; :mod:`demo.texts` composes free texts from them. The
helpers here pick a clause (keeping one speaker's gender) and fix its first letter's case.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

Bank = dict[str, dict[str, dict[str, tuple[str, ...]]]]


def _frozen(value: Any) -> Any:
    """YAML lists as tuples (at any depth), so the bank reads like the literals it replaced."""
    if isinstance(value, dict):
        return {k: _frozen(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


_BANK: dict[str, Any] = _frozen(
    yaml.safe_load((Path(__file__).resolve().parent / "data" / "phrases.yaml").read_text(encoding="utf-8"))
)

# theme -> sentiment (neg | pos) -> language (ru | fi | en) -> clauses, in the file's order.
PHRASES: Bank = _BANK["themes"]
# Employers' vacancy-posting troubles are told in their own words but belong to the
# effort themes (the posting stage has no theme of its own).
EMPLOYER_PHRASES: dict[str, tuple[str, ...]] = _BANK["employer"]

THEMES: tuple[str, ...] = tuple(PHRASES)

# Survey item -> the theme a respondent complains about when that item is low.
ITEM_THEME: dict[str, str] = {
    "F1": "staff_attitude",
    "F2": "staff_attitude",
    "F3": "staff_attitude",
    "F4": "staff_attitude",
    "U1": "staff_competence",
    "U2": "vacancy_relevance",
    "U3": "staff_competence",
    "U4": "training_offer",
    "E1": "contact_reachability",
    "E2": "waiting_time",
    "E3": "documents_effort",
    "E4": "online_service_usability",
    "P1": "plan_personalisation",
    "P2": "process_clarity",
    "P3": "reminders_notifications",
    "P4": "plan_personalisation",
    "C1": "office_comfort",
    "C2": "office_comfort",
    "C3": "office_comfort",
    "C4": "office_comfort",
}

MONTHS: dict[str, tuple[str, ...]] = _BANK["months"]  # language -> month names in the locative
# (language, client type) -> opening sentences; (language, sentiment) -> closing sentences.
PREFIX: dict[tuple[str, str], tuple[str, ...]] = {
    (lang, client): options for lang, by_client in _BANK["prefix"].items() for client, options in by_client.items()
}
SUFFIX: dict[tuple[str, str], tuple[str, ...]] = {
    (lang, mood): options for lang, by_mood in _BANK["suffix"].items() for mood, options in by_mood.items()
}
BUT: dict[str, tuple[str, ...]] = _BANK["but"]
YET: dict[str, tuple[str, ...]] = _BANK["yet"]
ALSO: dict[str, tuple[str, ...]] = _BANK["also"]

# First-person past tense carries the speaker's gender in Russian; a text keeps one speaker.
_FEMININE = frozenset(
    "была обращалась дозвонилась ждала могла осталась позвонила поняла потеряла приехала "
    "пропустила прошла пыталась узнала указывала сдавала довольна".split()
)
_MASCULINE = frozenset(
    "встал обращался выбрал вышел забыл звонил нашёл оформил опоздал получил понял прождал пропустил смог ушёл".split()
)


def gender_of(text: str) -> str | None:
    words = set(re.findall(r"\w+", text.lower()))
    if words & _FEMININE:
        return "f"
    if words & _MASCULINE:
        return "m"
    return None


def pick_gendered(rng: np.random.Generator, options: Sequence[str], gender: str) -> str:
    fitting = [o for o in options if gender_of(o) in (None, gender)]
    return pick(rng, fitting or options)


def pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def capitalise(s: str) -> str:
    return s[:1].upper() + s[1:]


def decapitalise(s: str) -> str:
    # Keep acronyms and proper nouns ("СМС", "TE-...") as they are.
    if len(s) > 1 and s[1].islower():
        return s[:1].lower() + s[1:]
    return s
