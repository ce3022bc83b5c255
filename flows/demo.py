"""The demo: a realistic year of feedback for three regions, run through the loop.

Generates raw channel exports in the messy formats real systems produce (cp1251
CSV with ``;``, XLSX with Russian headers, JSON, JSON lines, UTF-16), with planted
pain points, personal data typed into comments, duplicates and broken rows, and a
corrective measure implemented in some offices with a real effect on its KPI.
Then it runs the quarterly cycle for each quarter in order, exactly as the
scheduled deployment would.
"""

from __future__ import annotations

import json
from typing import Annotated

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from pydantic import Field

from cxloop.config import get_config
from cxloop.quarters import Quarter, quarter_range
from cxloop.settings import get_settings
from flows.params import QuarterText, Region
from flows.quarterly_cycle import quarterly_cycle
from models.db import session_scope, upgrade
from tasks.collect.offices import merge_offices


@task(name="generate-demo-data", cache_policy=NO_CACHE, persist_result=False)
def generate(seed: int, quarters: list[str], regions: list[str] | None, scale: float) -> dict:
    from demo.generate import generate_demo_data

    settings = get_settings()
    offices = get_config(settings.config_dir).offices
    if regions:
        offices = [o for o in offices if o.region_code in regions]
    manifest = generate_demo_data(
        settings.data_dir, [Quarter.parse(q) for q in quarters], seed=seed, offices=offices, scale=scale
    )
    return {"files": len(manifest.files), "seeded_measures": manifest.seeded_measures}


@task(name="seed-register", cache_policy=NO_CACHE, persist_result=False)
def seed_register(records: list[dict]) -> int:
    from demo.seed_measures import seed_measures

    config = get_config(get_settings().config_dir)
    with session_scope() as session:
        merge_offices(session, config.offices)
        created = seed_measures(session, records)
    return len(created) if created is not None else 0


@flow(name="cx-demo")
def demo(
    seed: int = 7,
    quarters: Annotated[int, Field(ge=1, le=12)] = 4,
    until: QuarterText = "2026Q3",
    regions: list[Region] | None = None,
    send_reports: bool = True,
    scale: Annotated[float, Field(gt=0, le=10)] = 1.0,
) -> list[dict]:
    """Generate demo data for ``quarters`` quarters ending with ``until`` and run each quarter's cycle.

    ``scale`` multiplies the volumes (the tests use a fraction for speed)."""
    span = [str(q) for q in quarter_range(Quarter.parse(until), quarters)]
    upgrade()
    generated = generate(seed, span, regions, scale)
    seed_register(generated["seeded_measures"])
    return [quarterly_cycle(quarter=q, send_reports=send_reports) for q in span]


if __name__ == "__main__":
    print(json.dumps(demo(), ensure_ascii=False, indent=2, default=str))
