"""The demo's star survey: 20 items on five rays, the optional overall questions, comments.

Answers hang on an office level, per-ray offsets, a respondent "halo" and noise (see
:mod:`demo.world`); the SMS measure lifts P3 in treated offices (:data:`SMS_EFFECT`),
and the overall questions follow :data:`OVERALL_DRIVERS` from a random stream of their
own. :func:`build_star_survey` returns the region's :class:`~demo.rows.Table` for a quarter.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from cxloop.domain import ITEMS, RAYS
from cxloop.quarters import Quarter
from demo.rows import CLIENT_WORD, Table, broken_date, corrupt, count_broken, plant_duplicates, weekdays
from demo.scenario import QUEUE_EFFECT, SMS_EFFECT
from demo.texts import TextCtx, compose_text, draw_language, draw_mood
from demo.world import World, cell_rng

# Planted drivers of the overall questions: the weight of each ray's mean answer (1-5)
# in a respondent's latent satisfaction. Effort and personalisation matter most,
# comfort least; the weights sum to 1.
OVERALL_DRIVERS: dict[str, float] = {
    "effort": 0.38,
    "personalisation": 0.28,
    "usefulness": 0.18,
    "friendliness": 0.11,
    "comfort": 0.05,
}
# Share of respondents who leave each overall question blank (a few say "затрудняюсь ответить").
_OVERALL_MISSING = {"overall": 0.15, "nps": 0.20, "ces": 0.25}

_STAR_HEADERS = {
    "xlsx_ru": ["ID респондента", "Дата анкеты", "Код ЦЗН", "Тип клиента"],
    "csv_cp1251": ["Номер анкеты", "Дата", "Код офиса", "Тип клиента"],
    "csv_bom_en": ["respondent_id", "survey_date", "office_code", "client_type"],
}
_STAR_COMMENT = {"xlsx_ru": "Комментарий", "csv_cp1251": "Комментарий", "csv_bom_en": "comment"}
# The overall questions (overall, nps, ces), in each export's header language.
_STAR_OVERALL = {
    "xlsx_ru": ["Общая удовлетворенность", "Готовность рекомендовать", "Легкость получения услуги"],
    "csv_cp1251": ["Удовлетворенность в целом", "Вероятность рекомендации", "Легко получить услугу"],
    "csv_bom_en": ["overall", "nps", "ces"],
}


def overall_answers(rng: np.random.Generator, answers: np.ndarray) -> list[list[Any]]:
    """The overall questions of ``n`` respondents from their 1-5 item answers (n x 20).

    A respondent's latent satisfaction s = sum_r w_r (ray mean_r - 3) with the weights
    of OVERALL_DRIVERS; overall (1-10) = 5.3 + 2.6 s + N(0, 1.0), nps (0-10) =
    4.4 + 2.9 s + N(0, 1.4), ces (1-7) = 3.2 + 1.6 (effort mean - 3) + 0.6 s + N(0, 0.9),
    each rounded and clipped to its scale; then blanked at the rates of _OVERALL_MISSING
    (one blank in ten is "затрудняюсь ответить"). With seed 7 a quarter lands at
    ACSI 76-79, NPS -3..+8 (about 30 % promoters and 30 % detractors) and CES 5.3-5.5
    with ~75 % answering 5-7. Uses ``rng`` only (its own stream)."""
    n = len(answers)
    rays = answers.reshape(n, len(RAYS), len(ITEMS) // len(RAYS)).mean(axis=2)  # ITEMS run ray by ray
    weights = np.array([OVERALL_DRIVERS[r] for r in RAYS])
    s = (rays - 3.0) @ weights
    effort = rays[:, RAYS.index("effort")]
    values = np.column_stack(
        [
            np.clip(np.rint(5.3 + 2.6 * s + rng.normal(0.0, 1.0, n)), 1, 10),
            np.clip(np.rint(4.4 + 2.9 * s + rng.normal(0.0, 1.4, n)), 0, 10),
            np.clip(np.rint(3.2 + 1.6 * (effort - 3.0) + 0.6 * s + rng.normal(0.0, 0.9, n)), 1, 7),
        ]
    ).astype(int)
    u = rng.random((n, len(_OVERALL_MISSING)))
    missing = np.array(list(_OVERALL_MISSING.values()))
    return [
        [
            None
            if u[i, k] < missing[k] * 0.9
            else "затрудняюсь ответить"
            if u[i, k] < missing[k]
            else int(values[i, k])
            for k in range(len(missing))
        ]
        for i in range(n)
    ]


def lift_answers(answers: np.ndarray, effect: float, bump: np.ndarray) -> np.ndarray:
    """Answers (1-5) lifted by ``effect`` on the answer scale in expectation.

    Applied on the observed scale (answers below 5 step up, in up to three passes, each
    answer when its ``bump`` draw falls under the pass's probability) so that the ceiling
    at 5 does not eat the effect in offices that already score high."""
    lifted = answers.copy()
    remaining = effect
    for step in range(3):
        room = lifted < 5
        if remaining <= 1e-9 or not room.any():
            break
        p_up = min(1.0, remaining / float(room.mean()))
        up = room & (bump[step] < p_up)
        lifted = np.where(up, lifted + 1, lifted)
        remaining -= p_up * float(room.mean())
    return lifted


def build_star_survey(world: World, region: str, q: Quarter) -> Table:
    rng = cell_rng(world.seed, "star_survey", region, q.index())
    overall_rng = cell_rng(world.seed, "overall", region, q.index())  # its own stream: `rng` draws as before
    prof = world.profile(region)
    t = world.pos(q)
    lang_values = "en" if prof.star == "csv_bom_en" else "ru"
    header = _STAR_HEADERS[prof.star] + list(ITEMS) + _STAR_OVERALL[prof.star] + [_STAR_COMMENT[prof.star]]
    days = weekdays(q)
    records: list[tuple[date, str, str, list[Any], list[Any], str]] = []
    pii = 0
    item_idx = {it: i for i, it in enumerate(ITEMS)}
    base_item = np.zeros(len(ITEMS))
    for it, shift in (
        ("F1", 0.15),
        ("F2", 0.1),
        ("E2", -0.15),
        ("U2", -0.15),
        ("U4", -0.25),
        ("C4", -0.1),
        ("P2", -0.45),
    ):
        base_item[item_idx[it]] += shift
    base_item[item_idx["P3"]] += -0.55 if prof.reminder_pain else -0.1
    if prof.online_growth:
        base_item[item_idx["E4"]] += -(0.2 + 0.18 * t)

    for office in world.offices[region]:
        code = office.office_code
        for client, lo, hi, base in (("citizen", 55, 76, 4.2), ("employer", 12, 19, 4.1)):
            n = world.n(int(rng.integers(lo, hi)), minimum=2)
            mu = base + world.office_level[code] + world.common_shift[q] + base_item.copy()
            mu += np.repeat(world.ray_offset[code], len(ITEMS) // len(RAYS))  # ITEMS run ray by ray
            if client == "employer":
                mu[item_idx["U2"]] -= 0.3
            halo = rng.normal(0.0, 0.45, size=(n, 1))
            raw = mu + halo + rng.normal(0.0, 0.65, size=(n, len(ITEMS)))
            answers = np.clip(np.rint(raw), 1, 5).astype(int)
            bump = rng.random((3, n))
            if world.is_treated(code, q):
                # The SMS measure: +0.6 on the answer scale in expectation.
                answers[:, item_idx["P3"]] = lift_answers(answers[:, item_idx["P3"]], SMS_EFFECT, bump)
            if world.is_rolled_out(code, q):
                # The queue measure, rolled out office by office: its own draws, so that the
                # rest of the generated data does not depend on the rollout.
                queue_bump = cell_rng(world.seed, "queue", q.index(), code, client).random((3, n))
                answers[:, item_idx["E2"]] = lift_answers(answers[:, item_idx["E2"]], QUEUE_EFFECT, queue_bump)
            blank = rng.random((n, len(ITEMS)))
            overall = overall_answers(overall_rng, answers)
            ctx = TextCtx(world, region, q, office, client)
            for r in range(n):
                cells: list[Any] = []
                for k in range(len(ITEMS)):
                    if blank[r, k] < 0.05:
                        cells.append(None)
                    elif blank[r, k] < 0.07:
                        cells.append("не знаю")
                    else:
                        cells.append(int(answers[r, k]))
                comment = ""
                if rng.random() < 0.25:
                    row_mean = float(answers[r].mean())
                    low = [ITEMS[k] for k in range(len(ITEMS)) if answers[r, k] <= 2]
                    p_neg = float(np.clip((4.7 - row_mean) / 1.5, 0.2, 0.9))
                    mood = draw_mood(rng, p_neg)
                    comment, has_pii, _ = compose_text(rng, ctx, mood, draw_language(rng, ctx), low_items=low)
                    pii += has_pii
                records.append((days[int(rng.integers(len(days)))], code, client, cells, overall[r], comment))

    records.sort(key=lambda rec: (rec[0], rec[1]))
    table = Table(header=header, pii=pii)
    for i, (d, code, client, cells, extra, comment) in enumerate(records, start=1):
        rid = f"{q}-{region}-{i:05d}"
        if prof.star == "xlsx_ru":
            dval: Any = d
        elif prof.star == "csv_cp1251":
            dval = d.strftime("%d.%m.%Y")
        else:
            dval = d.isoformat()
        table.rows.append([rid, dval, code, CLIENT_WORD[lang_values][client], *cells, *extra, comment or None])

    valid = [True] * len(table.rows)
    first_item = 4

    def unknown_office(row: list[Any]) -> None:
        row[2] = f"{region}-99"

    def missing_office(row: list[Any]) -> None:
        row[2] = None

    def bad_date(row: list[Any]) -> None:
        row[1] = broken_date(rng, q) or None

    def item_out_of_range(row: list[Any]) -> None:
        row[first_item + int(rng.integers(len(ITEMS)))] = 6 if rng.random() < 0.6 else 0

    def unknown_client(row: list[Any]) -> None:
        row[3] = "неизвестно"

    corrupt(
        rng,
        table,
        valid,
        count_broken(rng, len(table.rows)),
        (unknown_office, missing_office, bad_date, item_out_of_range, unknown_client),
    )
    plant_duplicates(rng, table, valid, world.n(int(rng.integers(2, 5)), minimum=1))
    return table
