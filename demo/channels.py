"""The demo's offline channels: the office review book, contact-centre calls, follow-up interviews.

Each ``build_*`` function draws one region's file for a quarter from its own random
stream: records with free texts (:mod:`demo.texts`), then planted broken rows and
duplicates (:mod:`demo.rows`). The review book also takes the quarter's emerging-topic
complaints (:func:`demo.emerging.scam_plan`), appended after its own rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np

from cxloop.config import Office
from cxloop.quarters import Quarter
from demo.people import fake_email, fake_phone
from demo.phrases import capitalise, pick
from demo.rows import CLIENT_WORD, Table, broken_date, corrupt, count_broken, excel_serial, plant_duplicates, weekdays
from demo.texts import TextCtx, compose_text, draw_language, draw_mood
from demo.world import World, cell_rng


def _review_rating(rng: np.random.Generator, stars: int, xlsx: bool) -> Any:
    """A review book's rating cell as typed: blank, "3 звезды", "3" or (XLSX) the number 3."""
    u = rng.random()
    if u < 0.2:
        return None
    if u < 0.45:
        return f"{stars} " + ("звезда" if stars == 1 else "звезды" if stars < 5 else "звёзд")
    if u < 0.7 or not xlsx:
        return str(stars)
    return stars


def _review_date(rng: np.random.Generator, d: date, xlsx: bool) -> Any:
    """A review book's date cell. Typed up by hand: the format drifts from row to row."""
    u = rng.random()
    if xlsx and u < 0.4:
        return d
    if xlsx and u < 0.5:
        return excel_serial(d)
    if u < 0.75:
        return d.strftime("%d.%m.%Y")
    return d.strftime("%d.%m.%y")


def build_review_book(world: World, region: str, q: Quarter, emerging: Sequence[tuple[Office, str]] = ()) -> Table:
    """The office review book; ``emerging`` (office, text) pairs are appended after its
    own rows and defects, from their own stream (see :func:`demo.emerging.scam_plan`)."""
    rng = cell_rng(world.seed, "review_book", region, q.index())
    prof = world.profile(region)
    header = ["Дата", "Код ЦЗН", "Категория заявителя", "Текст отзыва", "Оценка", "Контакт"]
    days = weekdays(q)
    n = world.n(int(rng.integers(15, 26)), minimum=3)
    records = []
    pii = 0
    offices = world.offices[region]
    for _ in range(n):
        office = offices[int(rng.integers(len(offices)))]
        client = "employer" if rng.random() < 0.12 else "citizen"
        ctx = TextCtx(world, region, q, office, client)
        mood = draw_mood(rng, 0.55)
        fi = prof.fi_share * 1.5 if prof.review == "xlsx" else 0.0
        text, has_pii, _ = compose_text(rng, ctx, mood, draw_language(rng, ctx, fi_share=fi))
        pii += has_pii
        stars = int(rng.integers(4, 6)) if mood == "pos" else int(rng.integers(1, 4))
        rating = _review_rating(rng, stars, prof.review == "xlsx")
        contact = fake_phone(rng) if rng.random() < 0.6 else fake_email(rng) if rng.random() < 0.8 else None
        records.append((days[int(rng.integers(len(days)))], office.office_code, client, text, rating, contact))
    records.sort(key=lambda rec: (rec[0], rec[1]))
    table = Table(header=header, pii=pii)
    for d, code, client, text, rating, contact in records:
        dval = _review_date(rng, d, prof.review == "xlsx")
        category = CLIENT_WORD["ru"][client]
        if rng.random() < 0.3:
            category = capitalise(category)
        table.rows.append([dval, code, category, text, rating, contact])

    valid = [True] * len(table.rows)

    def unknown_office(row: list[Any]) -> None:
        row[1] = f"{region}-99"

    def missing_office(row: list[Any]) -> None:
        row[1] = None

    def bad_date(row: list[Any]) -> None:
        row[0] = broken_date(rng, q) or None

    def bad_rating(row: list[Any]) -> None:
        row[4] = 7 if rng.random() < 0.5 else "отлично!!"

    def unknown_client(row: list[Any]) -> None:
        row[2] = "неизвестно"

    corrupt(
        rng,
        table,
        valid,
        count_broken(rng, len(table.rows)),
        (unknown_office, missing_office, bad_date, bad_rating, unknown_client),
    )
    if emerging:
        erng = cell_rng(world.seed, "emerging", "review_book", region, q.index())
        planted = []
        for office, text in emerging:
            rating = _review_rating(erng, int(erng.integers(1, 3)), prof.review == "xlsx")
            contact = fake_phone(erng) if erng.random() < 0.6 else fake_email(erng) if erng.random() < 0.8 else None
            planted.append((days[int(erng.integers(len(days)))], office.office_code, text, rating, contact))
        planted.sort(key=lambda rec: (rec[0], rec[1]))
        for d, code, text, rating, contact in planted:
            category = CLIENT_WORD["ru"]["citizen"]
            table.rows.append(
                [
                    _review_date(erng, d, prof.review == "xlsx"),
                    code,
                    capitalise(category) if erng.random() < 0.3 else category,
                    text,
                    rating,
                    contact,
                ]
            )
        table.emerging = len(planted)
    return table


def build_contact_center(world: World, region: str, q: Quarter) -> Table:
    rng = cell_rng(world.seed, "contact_center", region, q.index())
    prof = world.profile(region)
    word = "en" if prof.star == "csv_bom_en" else "ru"
    header = ["call_id", "call_date", "office_code", "client_type", "rating", "comment"]
    days = weekdays(q)
    n = world.n(int(rng.integers(135, 166)), minimum=5)
    offices = world.offices[region]
    pii = 0
    records = []
    for _ in range(n):
        office = offices[int(rng.integers(len(offices)))]
        client = "employer" if rng.random() < 0.15 else "citizen"
        level = 4.0 + world.office_level[office.office_code] + world.common_shift[q]
        rating = int(np.clip(np.rint(level + rng.normal(0.0, 1.0)), 1, 5))
        comment = ""
        if rng.random() < 0.3:
            ctx = TextCtx(world, region, q, office, client)
            mood = draw_mood(rng, 0.9 if rating <= 3 else 0.25)
            comment, has_pii, _ = compose_text(
                rng, ctx, mood, draw_language(rng, ctx), extra={"contact_reachability": 3.0, "waiting_time": 1.5}
            )
            pii += has_pii
        records.append((days[int(rng.integers(len(days)))], office.office_code, client, rating, comment))
    records.sort(key=lambda rec: (rec[0], rec[1]))
    table = Table(header=header, pii=pii)
    for i, (d, code, client, rating, comment) in enumerate(records, start=1):
        table.rows.append(
            [f"CC{region}-{q}-{i:05d}", d.isoformat(), code, CLIENT_WORD[word][client], str(rating), comment]
        )

    valid = [True] * len(table.rows)

    def unknown_office(row: list[Any]) -> None:
        row[2] = f"{region}-99"

    def missing_office(row: list[Any]) -> None:
        row[2] = ""

    def bad_date(row: list[Any]) -> None:
        row[1] = broken_date(rng, q)

    def bad_rating(row: list[Any]) -> None:
        row[4] = "7" if rng.random() < 0.5 else "отлично!!"

    corrupt(
        rng, table, valid, count_broken(rng, len(table.rows)), (unknown_office, missing_office, bad_date, bad_rating)
    )
    plant_duplicates(rng, table, valid, 1)
    # Once in the demo, an export glitch repeats a whole block of calls.
    if len(world.regions) > 1 and region == world.regions[1] and world.pos(q) == min(1, len(world.quarters) - 1):
        size = min(world.n(12, minimum=3), len(table.rows))
        # A block of intact rows, so every copy is a plain duplicate and nothing else.
        starts = [s for s in range(len(table.rows) // 3, len(table.rows) - size + 1) if all(valid[s : s + size])]
        if starts:
            start = starts[0]
            block = [list(r) for r in table.rows[start : start + size]]
            table.rows[start + size : start + size] = block
            table.duplicates += size
    return table


_STAGE_EXTRA = {
    "periodic_meetings": {"reminders_notifications": 3.0, "process_clarity": 2.0},
    "profiling_plan": {"plan_personalisation": 4.0, "process_clarity": 1.5},
    "job_matching": {"vacancy_relevance": 4.0, "training_offer": 1.5},
}


def build_interview_followup(world: World, region: str, q: Quarter) -> Table:
    rng = cell_rng(world.seed, "interview_followup", region, q.index())
    prof = world.profile(region)
    header = ["response_id", "date", "office_code", "stage", "q_useful", "q_clear_next_steps", "q_confident", "comment"]
    days = weekdays(q)
    n = world.n(int(rng.integers(50, 71)), minimum=5)
    offices = world.offices[region]
    stages = tuple(_STAGE_EXTRA)
    records = []
    pii = 0
    for _ in range(n):
        office = offices[int(rng.integers(len(offices)))]
        stage = pick(rng, stages)
        level = 3.9 + world.office_level[office.office_code] + world.common_shift[q]
        halo = rng.normal(0.0, 0.5)
        # Unclear next steps are a pain everywhere: q_clear_next_steps sits lowest.
        means = (level + 0.1, level - 0.45, level - 0.1)
        qs = [int(np.clip(np.rint(m + halo + rng.normal(0.0, 0.6)), 1, 5)) for m in means]
        comment = ""
        if rng.random() < 0.35:
            ctx = TextCtx(world, region, q, office, "citizen")
            mood = draw_mood(rng, 0.8 if min(qs) <= 3 else 0.35)
            fi = 0.25 if prof.interview == "csv_utf16" else 0.0
            low = ["P2"] if qs[1] <= 2 else []
            comment, has_pii, _ = compose_text(
                rng, ctx, mood, draw_language(rng, ctx, fi_share=fi), low_items=low, extra=_STAGE_EXTRA[stage]
            )
            pii += has_pii
        records.append((days[int(rng.integers(len(days)))], office.office_code, stage, qs, comment))
    records.sort(key=lambda rec: (rec[0], rec[1]))
    table = Table(header=header, pii=pii)
    for i, (d, code, stage, qs, comment) in enumerate(records, start=1):
        dval = d.strftime("%d.%m.%Y") if prof.star == "csv_cp1251" else d.isoformat()
        table.rows.append([f"IF{region}-{q}-{i:04d}", dval, code, stage, *map(str, qs), comment])

    valid = [True] * len(table.rows)

    def unknown_office(row: list[Any]) -> None:
        row[2] = f"{region}-99"

    def bad_date(row: list[Any]) -> None:
        row[1] = broken_date(rng, q)

    def out_of_range(row: list[Any]) -> None:
        row[4 + int(rng.integers(3))] = "6" if rng.random() < 0.5 else "0"

    corrupt(rng, table, valid, count_broken(rng, len(table.rows)), (unknown_office, bad_date, out_of_range))
    plant_duplicates(rng, table, valid, 1)
    return table
