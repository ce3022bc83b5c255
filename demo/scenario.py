"""The demo's scenario of measures: the planted SMS measure and the register it starts from.

The SMS-reminder measure acts in the offices :func:`demo.world.build_world` treats, from
the second generated quarter (:data:`SMS_EFFECT` on P3 in :mod:`demo.survey`). The queue
measure is rolled out office by office (``World.rollout``: three offices from the second
quarter, three from the third; :data:`QUEUE_EFFECT` on E2), the case the staggered
estimator is for. :func:`seeded_measures` writes them, with an overdue measure for the
register to flag, into ``register_seed.json`` (what the Measures stage's register is
seeded with).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from demo.world import World

SMS_MEASURE_TITLE = "SMS-напоминания за 24 часа до встречи"
SMS_EFFECT = 0.6  # planted shift of P3 answers (1-5 scale) in treated offices, ~ +15 index points
QUEUE_MEASURE_TITLE = "Предварительная запись и электронная очередь"
QUEUE_EFFECT = 0.5  # planted shift of E2 answers in offices the queue measure reached, ~ +12.5 index points


def seeded_measures(world: World) -> list[dict[str, Any]]:
    first, last = world.quarters[0], world.quarters[-1]
    measures: list[dict[str, Any]] = []
    treated = sorted(world.treated)
    treated_regions = sorted(
        {o.region_code for r in world.regions for o in world.offices[r] if o.office_code in world.treated}
    )
    if world.treat_from is not None:
        start_q = world.quarters[world.treat_from]
        implemented = start_q.start + timedelta(days=10)
        status, implemented_on = "implemented", implemented.isoformat()
        planned_start = start_q.start + timedelta(days=3)
    else:
        start_q = first.next()
        status, implemented_on = "approved", None
        planned_start = start_q.start + timedelta(days=3)
    measures.append(
        {
            "code": f"M-{first}-01",
            "title": SMS_MEASURE_TITLE,
            "description": (
                "Автоматическое СМС-напоминание о назначенной встрече и перерегистрации за 24 часа; "
                "текст напоминания протестирован с клиентами на воркшопе."
            ),
            "theme": "reminders_notifications",
            "journey_stage": "periodic_meetings",
            "type": "new_experience",
            "region_code": treated_regions[0] if len(treated_regions) == 1 else "ALL",
            "offices": treated,
            "owner": "Рабочая группа по клиентоцентричности (пилот напоминаний)",
            "status": status,
            "proposed_quarter": str(first),
            "codesign_date": (first.start + timedelta(days=50)).isoformat(),
            "codesign_form": "workshop",
            "codesign_clients": 12,
            "planned_start": planned_start.isoformat(),
            "due_date": (start_q.start + timedelta(days=30)).isoformat(),
            "implemented_on": implemented_on,
            "kpi_metric": "item:P3",
            "kpi_target_change": 10,
        }
    )
    if world.rollout and len(world.quarters) > min(world.rollout.values()):
        measures.append(_queue_measure(world))
    # An overdue measure, for the register to flag: due inside the last quarter, never implemented.
    region = world.regions[1] if len(world.regions) > 1 else world.regions[0]
    if len(world.quarters) > 1:
        proposed = world.quarters[-2]
        codesign, planned, due = (
            proposed.start + timedelta(days=40),
            proposed.start + timedelta(days=55),
            last.start + timedelta(days=30),
        )
    else:
        proposed = last
        codesign, planned, due = (
            last.start + timedelta(days=10),
            last.start + timedelta(days=20),
            last.start + timedelta(days=60),
        )
    measures.append(
        {
            "code": f"M-{proposed}-02",
            "title": "Упрощение входа и загрузки документов в личном кабинете",
            "description": "Юзабилити-тестирование личного кабинета с клиентами и устранение пяти главных ошибок.",
            "theme": "online_service_usability",
            "journey_stage": "first_contact",
            "type": "process_optimisation",
            "region_code": region,
            "offices": [o.office_code for o in world.offices[region]],
            "owner": f"Рабочая группа по клиентоцентричности (регион {region})",
            "status": "in_progress",
            "proposed_quarter": str(proposed),
            "codesign_date": codesign.isoformat(),
            "codesign_form": "usability_testing",
            "codesign_clients": 8,
            "planned_start": planned.isoformat(),
            "due_date": due.isoformat(),  # before the last quarter ends, never implemented: overdue
            "implemented_on": None,
            "kpi_metric": "item:E4",
            "kpi_target_change": 10,
        }
    )
    return measures


def _queue_measure(world: World) -> dict[str, Any]:
    """The queue measure: implemented in its first wave's quarter, the second wave's offices
    with a start quarter of their own (``office_starts``)."""
    first_wave = min(world.rollout.values())
    first = world.quarters[0]
    start_q = first.shift(first_wave)
    offices = sorted(world.rollout)
    regions = sorted({o.region_code for r in world.regions for o in world.offices[r] if o.office_code in offices})
    return {
        "code": f"M-{first}-03",
        "title": QUEUE_MEASURE_TITLE,
        "description": "Запись на приём на конкретное время и электронная очередь; внедряется волнами по ЦЗН.",
        "theme": "waiting_time",
        "journey_stage": "first_contact",
        "type": "process_optimisation",
        "region_code": regions[0] if len(regions) == 1 else "ALL",
        "offices": offices,
        "owner": "Рабочая группа по клиентоцентричности (электронная очередь)",
        "status": "implemented",
        "proposed_quarter": str(first),
        "codesign_date": (first.start + timedelta(days=45)).isoformat(),
        "codesign_form": "observation",
        "codesign_clients": 15,
        "planned_start": (start_q.start + timedelta(days=3)).isoformat(),
        "due_date": (first.shift(max(world.rollout.values())).start + timedelta(days=30)).isoformat(),
        "implemented_on": (start_q.start + timedelta(days=12)).isoformat(),
        "office_starts": {o: str(first.shift(p)) for o, p in sorted(world.rollout.items()) if p != first_wave},
        "kpi_metric": "item:E2",
        "kpi_target_change": 10,
    }
