"""Replacing one region's quarter results (a region's rerun): its office and region rows go,
the other regions', the country's and other quarters' rows stay, ids and all."""

import pandas as pd
from sqlalchemy import text

from models import store
from models.db import session_scope
from tasks.insight.painpoints import COMPONENTS

UNITS = [  # level, unit_code, region_code
    ("country", "ALL", None),
    ("region", "52", "52"),
    ("office", "52-01", "52"),
    ("region", "66", "66"),
    ("office", "66-01", "66"),
]


def _index_frame(value: float, units=UNITS) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "level": lvl,
                "unit_code": u,
                "region_code": r,
                "client_type": "composite",
                "index": value,
                "n": 40,
                "stars": 3,
                "sufficient_sample": True,
            }
            for lvl, u, r in units
        ]
    )


def _pain_frame(priority: float, units=UNITS) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "level": lvl,
                "unit_code": u,
                "region_code": r or "ALL",
                "theme": "waiting_time",
                "journey_stage": "first_contact",
                "mentions": 5,
                "negative_mentions": 4,
                "texts_total": 50,
                "priority": priority,
                "negative_share": 8.0,
                "offices_total": 1,
                "ray": "effort",
                **dict.fromkeys(COMPONENTS, 1.0),
                "rank": 1,
            }
            for lvl, u, r in units
        ]
    )


def _rows(url: str, table: str) -> list[tuple]:
    with session_scope(url) as s:
        cols = "id, quarter, level, unit_code, region_code, " + ('"index"' if table == "index_result" else "priority")
        return sorted(map(tuple, s.execute(text(f"SELECT {cols} FROM {table}")).all()), key=repr)


def test_a_region_replaces_only_its_own_rows(any_db_url):
    with session_scope(any_db_url) as s:
        for quarter in ("2026Q1", "2026Q2"):
            store.replace_index_results(s, quarter, _index_frame(50.0))
            store.replace_pain_points(s, quarter, _pain_frame(2.0))
    before = {t: _rows(any_db_url, t) for t in ("index_result", "pain_point")}
    own = [u for u in UNITS if u[2] == "52"]
    with session_scope(any_db_url) as s:
        assert store.replace_index_results(s, "2026Q2", _index_frame(70.0, own), region="52") == 2
        assert store.replace_pain_points(s, "2026Q2", _pain_frame(3.0, own), region="52") == 2
    for table, old, new in (("index_result", 50.0, 70.0), ("pain_point", 2.0, 3.0)):
        after = _rows(any_db_url, table)
        mine = [r for r in after if r[1] == "2026Q2" and r[4] == "52"]
        assert sorted(r[3] for r in mine) == ["52", "52-01"] and {r[5] for r in mine} == {new}
        rest = [r for r in before[table] if not (r[1] == "2026Q2" and r[4] == "52")]
        assert rest == [r for r in after if not (r[1] == "2026Q2" and r[4] == "52")]
        assert len(rest) == 8 and {r[5] for r in rest} == {old}
