"""The emerging topics of the text stage as a markdown block for a Prefect artifact.

:func:`topics_markdown` renders the :class:`tasks.text.topics.EmergingTopic` list
(Russian by default, English on request) as a table and redacted example quotes;
:mod:`tasks.text.step` publishes it with the quarter's run.
"""

from __future__ import annotations

import re
from typing import TypedDict

from tasks.text.topics import SPACES_RE, EmergingTopic
from tasks.validate.redaction import redact

__all__ = ["topics_markdown"]


class _Labels(TypedDict):
    title: str
    intro: str
    redacted: str
    none: str
    cols: tuple[str, ...]
    examples: str
    lang: dict[str, str]


_LABELS: dict[str, _Labels] = {
    "ru": {
        "title": "Кандидаты в новые темы",
        "intro": (
            "Негативные отзывы, не подошедшие ни к одной теме, сгруппированы автоматически по общим словам. "
            "Это кандидаты: решение о новой теме и её ключевых словах принимает аналитик."
        ),
        "redacted": (
            "Примеры приведены после удаления персональных данных: телефоны, e-mail, имена и другие "
            "идентификаторы заменены метками вида [PHONE], [EMAIL], [NAME]."
        ),
        "none": (
            "Кандидатов в новые темы нет: все негативные отзывы отнесены к существующим темам или не образуют групп."
        ),
        "cols": ("№", "Язык", "Отзывов", "Доля негатива без темы", "Ключевые слова", "Офисов", "Регионы"),
        "examples": "Примеры (обезличены)",
        "lang": {"ru": "рус.", "fi": "фин.", "en": "англ."},
    },
    "en": {
        "title": "Candidate new themes",
        "intro": (
            "Negative feedback that matched no theme, grouped automatically by shared words. "
            "These are candidates: the analyst decides whether one becomes a theme and with which keywords."
        ),
        "redacted": (
            "Examples are redacted: phone numbers, e-mail addresses, names and other identifiers are "
            "replaced by placeholders such as [PHONE], [EMAIL], [NAME]."
        ),
        "none": "No candidate new themes: all negative feedback matched an existing theme or formed no group.",
        "cols": ("#", "Language", "Texts", "Share of unthemed negative", "Top terms", "Offices", "Regions"),
        "examples": "Examples (redacted)",
        "lang": {"ru": "Russian", "fi": "Finnish", "en": "English"},
    },
}

_MD_SPECIAL = re.compile(r"([\\`*_<>|~])")


def _md(text: object) -> str:
    """One line of plain text safe inside a table cell or a quote (no markup, no HTML, no links)."""
    s = SPACES_RE.sub(" ", str(text)).strip()
    s = _MD_SPECIAL.sub(r"\\\1", s).replace("](", "]\\(")
    return "\\" + s if s.startswith(("#", "-", "+", "=")) else s


def topics_markdown(topics: list[EmergingTopic], *, lang: str = "ru") -> str:
    """A markdown block "Candidate new themes" for a Prefect artifact.

    A table (language, size, share of negative unthemed feedback, top terms, offices,
    regions), then each topic's examples as quotes, with a note that they are redacted.
    ``lang``: "ru" (default) or "en". Examples are passed through ``redact`` again, so
    even a hand-built topic cannot put personal data into the artifact.
    """
    if lang not in _LABELS:
        raise ValueError(f"lang must be one of {sorted(_LABELS)}, not {lang!r}")
    lab = _LABELS[lang]
    lines = [f"## {lab['title']}", ""]
    if not topics:
        return "\n".join([*lines, lab["none"], ""])
    lines += [lab["intro"], "", f"*{lab['redacted']}*", ""]
    cols = lab["cols"]
    lines += ["| " + " | ".join(cols) + " |", "|---:|---|---:|---:|---|---:|---|"]
    for n, t in enumerate(topics, 1):
        share = f"{100 * t.share_negative_unthemed:.1f} %"
        if lang == "ru":
            share = share.replace(".", ",")  # decimal comma, as in the reports
        lines.append(
            f"| {n} | {lab['lang'].get(t.language, _md(t.language))} | {t.size} | {share} | "
            f"{_md(', '.join(t.top_terms))} | {t.offices} | {_md(', '.join(t.regions)) or '—'} |"
        )
    for n, t in enumerate(topics, 1):
        lines += ["", f"**{n}. {_md(', '.join(t.top_terms[:3]))}** — {lab['examples']}:", ""]
        for ex in t.examples:
            lines += [f"> {_md(redact(ex) or '')}", ""]
    return "\n".join(lines).rstrip("\n") + "\n"
