"""The loop's stages as whole-quarter steps: each opens a short-lived session, reads
what it needs, calls the pure functions of its module and writes its results in one
transaction. Flows wrap these in Prefect tasks; a notebook can call them directly.
"""

from __future__ import annotations

from datetime import datetime, time, timezone
from pathlib import Path

import pandas as pd

from cxloop.config import AppConfig
from cxloop.quarters import Quarter
from cxloop.settings import Settings
from models.db import session_scope
from tasks import store
from tasks.index import add_change, quarter_index
from tasks.ingest import IngestSummary, ingest_file, office_regions
from tasks.painpoints import prioritise_pain_points
from tasks.registry import merge_offices


def cycle_time(quarter: str) -> datetime:
    """The logical timestamp of automated register actions in a quarter's cycle."""
    return datetime.combine(Quarter.parse(quarter).cycle_date, time(6, 0), tzinfo=timezone.utc)


def sync_registry(config: AppConfig) -> dict[str, int]:
    with session_scope() as session:
        return merge_offices(session, config.offices)


def ingest_one(path: Path, channel: str, quarter: str, config: AppConfig) -> IngestSummary:
    """One file in one transaction: a broken file never leaves half its rows behind."""
    with session_scope() as session:
        return ingest_file(session, path, channel, quarter, config, office_regions(session))


def measure_star(quarter: str, config: AppConfig) -> pd.DataFrame:
    with session_scope() as session:
        answers = store.load_answers(session, quarter)
        if answers.empty:
            store.replace_index_results(session, quarter, pd.DataFrame())
            return pd.DataFrame()
        current = quarter_index(answers, config.thresholds.star)
        previous = store.load_index(session, str(Quarter.parse(quarter).prev()))
        if not previous.empty:
            previous = previous.assign(se=store.index_se(previous))
        result = add_change(current, previous)
        store.replace_index_results(session, quarter, result)
        return result


def detect_pain_points(quarter: str, config: AppConfig) -> pd.DataFrame:
    """Pain points of the quarter at office, region and country level (tasks/painpoints.py).

    Reads the quarter's and the ``history_quarters`` earlier quarters' texts as counted
    groups (no text leaves the database), the star index, the key drivers of the
    quarter's survey answers, and the measures open / closed at the cycle time; replaces
    the quarter's pain points. A rerun gives the same rows."""
    from tasks.drivers import drivers_for_quarter

    q = Quarter.parse(quarter)
    history_quarters = [str(q.shift(-i)) for i in range(1, config.thresholds.pain_points.history_quarters + 1)]
    with session_scope() as session:
        groups = store.load_text_groups(session, str(q), history_quarters)
        current = groups[groups["quarter"] == str(q)]
        history = groups[groups["quarter"] != str(q)]
        answers = store.load_answers(session, str(q))
        drivers = drivers_for_quarter(answers) if not answers.empty else None
        result = prioritise_pain_points(
            current, config, store.load_index(session, str(q)), quarter=str(q), history=history, drivers=drivers,
            open_measures=store.open_measures(session, cycle_time(str(q))),
            closed_measures=store.closed_measure_scopes(session, cycle_time(str(q))),
        )
        store.replace_pain_points(session, str(q), result)
        return result


def propose_measures(quarter: str, config: AppConfig) -> list[str]:
    from tasks.measures import propose_measures as propose

    with session_scope() as session:
        pains = store.load_pain_points(session, quarter)
        if pains.empty:
            return []
        regional = pains[pains["level"] == "region"]
        created = propose(session, quarter, regional, config, cycle_time(quarter))
        return [m.code for m in created]


def evaluate_effects(quarter: str, config: AppConfig) -> list[dict]:
    from tasks.effects import evaluate_measures

    from models.tables import Measure

    with session_scope() as session:
        evaluations = evaluate_measures(session, quarter, config)
        codes = {e.measure_id: session.get(Measure, e.measure_id).code for e in evaluations}
        return [{**e.model_dump(exclude={"id"}), "measure_code": codes[e.measure_id]} for e in evaluations]


def write_reports(quarter: str, config: AppConfig, settings: Settings, lang: str = "ru", scopes: list[str] | None = None) -> dict:
    from tasks.reporting import write_reports as write

    with session_scope() as session:
        return write(session, quarter, config, settings.out_dir, scopes=scopes, lang=lang)


def deliver_reports(quarter: str, reports: dict, config: AppConfig, settings: Settings, force: bool = False):
    from tasks.delivery import deliver_reports as deliver

    with session_scope() as session:
        return deliver(session, quarter, reports, config, settings, force=force)


def export_register(quarter: str, settings: Settings) -> dict[str, Path]:
    from tasks.measures import export_register_csv, export_register_xlsx

    as_of = Quarter.parse(quarter).cycle_date
    folder = settings.out_dir / "register"
    folder.mkdir(parents=True, exist_ok=True)
    with session_scope() as session:
        xlsx = export_register_xlsx(session, folder / f"measures_{quarter}.xlsx", as_of)
        csv = export_register_csv(session, folder / f"measures_{quarter}.csv", as_of)
    return {"xlsx": xlsx, "csv": csv}


def pain_point_artifact_rows(pains: pd.DataFrame, config: AppConfig, lang: str = "ru") -> list[dict]:
    """The top pain points per region and the country, with their priority components, for a table artifact."""
    from tasks.painpoints import pain_points_artifact_rows

    return pain_points_artifact_rows(pains, config, lang=lang) if not pains.empty else []


def emerging_topics(quarter: str, lang: str = "ru") -> dict:
    """Candidate new themes: the quarter's negative feedback that no theme matches, clustered (tasks/topics.py)."""
    from tasks.topics import emerging_topics as find, topics_markdown

    with session_scope() as session:
        feedback = store.load_feedback(session, quarter)
    topics = find(feedback)
    return {
        "topics": [t.as_dict() for t in topics],
        "markdown": topics_markdown(topics, lang=lang if lang in ("ru", "en") else "en"),
    }
