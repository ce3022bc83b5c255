"""Own test texts and a seeded feedback table for the review / theme-learning tests
(tests/tasks/text/test_text_review.py, test_theme_learn.py, tests/test_cli_text_review.py).

Every sentence here was written for these tests."""

from __future__ import annotations

import itertools
from datetime import date

from models.db import session_scope
from models.tables import Feedback

QUARTER = "2026Q2"

# A mix of channels, languages and regions, with clear and doubtful readings.
MIXED_TEXTS: list[tuple[str, str, str, float | None]] = [
    # (channel, region, text, rating)
    ("contact_centre", "52", "Очередь была огромная, ждала два часа.", 1),
    ("contact_centre", "52", "Сотрудница нагрубила мне на приёме.", 1),
    ("contact_centre", "52", "Спасибо, всё хорошо объяснили.", 5),
    ("contact_centre", "66", "Пособие не пришло уже второй месяц.", 1),
    ("contact_centre", "66", "Отправила письмо на почту.", 3),
    ("contact_centre", "66", "Кофейный автомат опять сломан.", 2),
    ("survey", "52", "The consultant was rude to me.", 1),
    ("survey", "52", "I waited in the queue for two hours.", 2),
    ("survey", "66", "Thank you, everything was fine.", 5),
    ("survey", "66", "The wifi in the lobby does not work.", 2),
    ("survey", "66", "Sent a letter by e-mail, got an answer.", 5),
    ("survey", "52", "Nothing special to say about the visit.", 3),
    ("map_review", "52", "Jonossa piti odottaa kaksi tuntia.", 1),
    ("map_review", "52", "Kiitos, kaikki sujui hyvin.", 5),
    ("map_review", "66", "Virkailija oli töykeä.", 1),
    ("map_review", "66", "Kahviautomaatti ei toimi.", 2),
    ("map_review", "66", "Kävin toimistossa tiistaina.", 3),
]

# Office-comfort complaints the rules catch (parking, toilets, lift) and miss (wifi,
# coffee machine, vending machine): the analysts' labels teach the second kind.
_CAUGHT_OBJECTS = ["parking", "car park", "toilet", "lift", "cloakroom"]
_MISSED_OBJECTS = ["wifi", "coffee machine", "vending machine", "wifi network", "coffee maker"]
_PROBLEMS = ["was broken again", "does not work", "is out of order", "was a disaster"]
_PLACES = ["", " in the lobby", " on the second floor"]
# Other complaints, with what the rules say as the gold labels.
_OTHER = [
    "I waited in the queue for {n} hours.",
    "The consultant was rude to me on {d}.",
    "My benefit has not been paid for {n} months.",
    "The online portal does not work since {d}.",
    "Nobody answers the phone, I called {n} times.",
    "Thank you for the help on {d}.",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


def comfort_texts() -> tuple[list[str], list[str]]:
    """(texts the rules tag office_comfort, texts about the office the rules miss)."""
    caught, missed = [], []
    for obj, problem, place in itertools.product(_CAUGHT_OBJECTS, _PROBLEMS, _PLACES):
        caught.append(f"The {obj}{place} {problem}.")
    for obj, problem, place in itertools.product(_MISSED_OBJECTS, _PROBLEMS, _PLACES):
        missed.append(f"The {obj}{place} {problem}.")
    return caught[::2], missed[::2]


def other_texts() -> list[str]:
    out = []
    for k, template in enumerate(_OTHER):
        for j in range(5):
            out.append(template.format(n=j + 2, d=_DAYS[(j + k) % 5]))
    return out


def seed_feedback(url: str, texts: list[tuple[str, str, str, float | None]], quarter: str = QUARTER) -> list[int]:
    """Store the texts as feedback of ``quarter``; their ids in order."""
    ids = []
    with session_scope(url) as session:
        for k, (channel, region, text, rating) in enumerate(texts):
            row = Feedback(
                dedup_key=f"test:{quarter}:{k}",
                channel=channel,
                source_file="test.csv",
                source_row=k + 2,
                received_at=date(2026, 5, 1),
                quarter=quarter,
                region_code=region,
                client_type="citizen",
                rating=rating,
                scale=5 if rating is not None else None,
                text=text,
            )
            session.add(row)
            session.flush()
            assert row.id is not None
            ids.append(row.id)
    return ids
