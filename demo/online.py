"""The demo's online channels: the federal feedback platform (``pos``) and social networks.

:func:`build_pos` draws a region's platform messages for a quarter and picks up to two
complaints that :func:`build_social` re-posts among the posts and map reviews (the
cross-channel duplicates). Both append the quarter's emerging-topic complaints
(:func:`demo.emerging.scam_plan`) after their own records, from streams of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np

from cxloop.config import Office
from cxloop.quarters import Quarter
from demo.emerging import SCAM_POS_CATEGORY
from demo.people import NAMES
from demo.phrases import pick
from demo.rows import Table, broken_date, count_broken, weekdays
from demo.texts import TextCtx, compose_text, draw_language, draw_mood
from demo.world import World, cell_rng

_POS_CATEGORY = {
    "contact_reachability": "Обратная связь и консультирование",
    "reminders_notifications": "Запись на приём",
    "process_clarity": "Качество оказания услуг",
    "online_service_usability": "Работа электронных сервисов",
    "waiting_time": "Очереди и сроки",
    "staff_attitude": "Работа сотрудников",
    "staff_competence": "Работа сотрудников",
    "plan_personalisation": "Качество оказания услуг",
    "vacancy_relevance": "Подбор вакансий",
    "benefit_payment": "Пособие по безработице",
    "documents_effort": "Качество оказания услуг",
    "office_comfort": "Доступность помещений",
    "training_offer": "Профессиональное обучение",
    "candidate_quality": "Подбор персонала",
}
_POS_STATUS = ("Ответ направлен", "На рассмотрении", "Зарегистрировано")


def _stamp(rng: np.random.Generator, d: date, tz: str) -> str:
    # Office hours only, so the local date never changes when converted to UTC.
    h, m, s = int(rng.integers(8, 21)), int(rng.integers(60)), int(rng.integers(60))
    return f"{d.isoformat()}T{h:02d}:{m:02d}:{s:02d}{tz}"


def build_pos(
    world: World, region: str, q: Quarter, emerging: Sequence[tuple[Office, str]] = ()
) -> tuple[list[dict[str, Any]], Table, list[tuple[date, str, str]]]:
    """Federal feedback platform messages; also returns complaints re-posted on social networks.

    ``emerging`` (office, text) pairs are appended after the other messages, with ids
    continuing theirs, from their own stream (see :func:`demo.emerging.scam_plan`): never broken,
    never re-posted."""
    rng = cell_rng(world.seed, "pos", region, q.index())
    prof = world.profile(region)
    days = sorted(set(weekdays(q)))
    n = world.n(int(rng.integers(25, 36)), minimum=3)
    offices = world.offices[region]
    table = Table(header=[])
    records = []
    for _ in range(n):
        office = offices[int(rng.integers(len(offices)))]
        client = "employer" if rng.random() < 0.1 else "citizen"
        ctx = TextCtx(world, region, q, office, client)
        mood = draw_mood(rng, 0.85)
        text, has_pii, themes = compose_text(rng, ctx, mood, "ru")
        table.pii += has_pii
        if rng.random() < 0.5:
            text = "Здравствуйте! " + text
        d = days[int(rng.integers(len(days)))]
        rec: dict[str, Any] = {"created_at": _stamp(rng, d, prof.tz), "region_code": region}
        if rng.random() < 0.8:
            rec["office_code"] = office.office_code
        # The category is what the sender picked from the platform's list: their main theme's.
        rec["category"] = _POS_CATEGORY[themes[0]]
        rec["text"] = text
        rec["status"] = pick(rng, _POS_STATUS)
        records.append((rec["created_at"], rec, mood != "pos", d))
    records.sort(key=lambda r: r[0])
    out = [{"id": f"POS-{region}-{q}-{i:04d}", **rec} for i, (_, rec, _, _) in enumerate(records, start=1)]
    broken = {int(x) for x in rng.choice(len(out), size=count_broken(rng, len(out)), replace=False)}
    for i in sorted(broken):
        kind = int(rng.integers(4))
        if kind == 0:
            out[i]["created_at"] = broken_date(rng, q)
        elif kind == 1:
            out[i]["text"] = ""
        elif kind == 2:
            out[i]["region_code"] = None
        else:
            out[i]["office_code"] = f"{region}-99"
        table.broken += 1
    # Up to two intact negative complaints naming an office are re-posted on social networks.
    reposts: list[tuple[date, str, str]] = []
    for i, (_, _rec, negative, d) in enumerate(records):
        if len(reposts) < 2 and negative and i not in broken and "office_code" in out[i]:
            reposts.append((d, out[i]["office_code"], out[i]["text"]))
    if emerging:
        erng = cell_rng(world.seed, "emerging", "pos", region, q.index())
        planted = []
        for office, text in emerging:
            rec = {"created_at": _stamp(erng, days[int(erng.integers(len(days)))], prof.tz), "region_code": region}
            if erng.random() < 0.8:
                rec["office_code"] = office.office_code
            rec["category"] = pick(erng, SCAM_POS_CATEGORY)
            rec["text"] = ("Здравствуйте! " + text) if erng.random() < 0.5 else text
            rec["status"] = pick(erng, _POS_STATUS)
            planted.append(rec)
        planted.sort(key=lambda r: r["created_at"])
        out += [{"id": f"POS-{region}-{q}-{i:04d}", **rec} for i, rec in enumerate(planted, start=len(out) + 1)]
        table.emerging = len(planted)
    return out, table, reposts


_PLATFORMS = ("vk", "ok", "yandex_maps", "2gis")


def build_social(
    world: World,
    region: str,
    q: Quarter,
    reposts: list[tuple[date, str, str]],
    emerging: Sequence[tuple[Office, str]] = (),
) -> tuple[list[dict[str, Any]], Table]:
    """Posts on social networks and map reviews, with ``reposts`` of platform complaints;
    ``emerging`` (office, text) pairs are appended last, from their own stream."""
    rng = cell_rng(world.seed, "social", region, q.index())
    prof = world.profile(region)
    n = world.n(int(rng.integers(20, 31)), minimum=3)
    offices = world.offices[region]
    table = Table(header=[])
    records: list[dict[str, Any]] = []
    all_days = [q.start + timedelta(days=k) for k in range((q.end - q.start).days + 1)]
    for _ in range(n):
        office = offices[int(rng.integers(len(offices)))]
        platform = pick(rng, _PLATFORMS)
        ctx = TextCtx(world, region, q, office, "citizen")
        mood = draw_mood(rng, 0.65)
        text, has_pii, _ = compose_text(rng, ctx, mood, draw_language(rng, ctx))
        table.pii += has_pii
        if rng.random() < 0.1:
            text += " 👍" if mood == "pos" else " 😡"
        rec: dict[str, Any] = {
            "platform": platform,
            "published_at": _stamp(rng, all_days[int(rng.integers(len(all_days)))], prof.tz),
        }
        oid = int(rng.integers(10**9, 10**10))
        if platform == "vk":
            rec["url"] = f"https://vk.com/wall-{oid % 10**8}_{int(rng.integers(1000, 99999))}"
        elif platform == "ok":
            rec["url"] = f"https://ok.ru/group/{oid}/topic/{int(rng.integers(10**6, 10**7))}"
        elif platform == "yandex_maps":
            rec["url"] = f"https://yandex.ru/maps/org/{oid}/reviews/"
        else:
            rec["url"] = f"https://2gis.ru/firm/{oid}"
        # Map reviews are attached to the office; posts on networks name it only sometimes.
        if platform in ("yandex_maps", "2gis") or rng.random() < 0.6:
            rec["office_code"] = office.office_code
        rec["author"] = pick(rng, NAMES)
        rec["text"] = text
        if platform in ("yandex_maps", "2gis") and rng.random() < 0.9:
            rec["stars"] = int(rng.integers(4, 6)) if mood == "pos" else int(rng.integers(1, 4))
        records.append(rec)
    for d, office_code, text in reposts:
        posted = min(q.end, d + timedelta(days=int(rng.integers(1, 4))))
        records.append(
            {
                "platform": "vk",
                "published_at": _stamp(rng, posted, prof.tz),
                "url": f"https://vk.com/wall-{int(rng.integers(10**7, 10**8))}_{int(rng.integers(1000, 99999))}",
                "office_code": office_code,
                "author": pick(rng, NAMES),
                "text": text,
            }
        )
        table.cross_duplicates += 1
    order = sorted(range(len(records)), key=lambda i: (records[i]["published_at"], i))
    out = [
        {"id": f"{records[i]['platform']}_{region}{q.year}{q.q}{k:04d}", **records[i]} for k, i in enumerate(order, 1)
    ]
    n_broken = count_broken(rng, len(out))
    # Never break a planted re-post: it must stay a recognisable duplicate.
    repost_texts = {text for _, _, text in reposts}
    breakable = [i for i, rec in enumerate(out) if rec["text"] not in repost_texts]
    for i in sorted(int(x) for x in rng.choice(breakable, size=min(n_broken, len(breakable)), replace=False)):
        kind = int(rng.integers(3))
        if kind == 0:
            out[i]["published_at"] = broken_date(rng, q)
        elif kind == 1:
            out[i]["text"] = ""
        else:
            out[i]["stars"] = 7
        table.broken += 1
    if emerging:
        erng = cell_rng(world.seed, "emerging", "social", region, q.index())
        planted = []
        for office, text in emerging:
            platform = pick(erng, _PLATFORMS)
            rec = {
                "platform": platform,
                "published_at": _stamp(erng, all_days[int(erng.integers(len(all_days)))], prof.tz),
            }
            oid = int(erng.integers(10**9, 10**10))
            if platform == "vk":
                rec["url"] = f"https://vk.com/wall-{oid % 10**8}_{int(erng.integers(1000, 99999))}"
            elif platform == "ok":
                rec["url"] = f"https://ok.ru/group/{oid}/topic/{int(erng.integers(10**6, 10**7))}"
            elif platform == "yandex_maps":
                rec["url"] = f"https://yandex.ru/maps/org/{oid}/reviews/"
            else:
                rec["url"] = f"https://2gis.ru/firm/{oid}"
            if platform in ("yandex_maps", "2gis") or erng.random() < 0.6:
                rec["office_code"] = office.office_code
            rec["author"] = pick(erng, NAMES)
            rec["text"] = text + (" 😡" if erng.random() < 0.15 else "")
            if platform in ("yandex_maps", "2gis"):
                rec["stars"] = int(erng.integers(1, 3))
            planted.append(rec)
        planted.sort(key=lambda r: r["published_at"])
        out += [
            {"id": f"{rec['platform']}_{region}{q.year}{q.q}{k:04d}", **rec}
            for k, rec in enumerate(planted, start=len(out) + 1)
        ]
        table.emerging = len(planted)
    return out, table
