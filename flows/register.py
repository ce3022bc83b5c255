"""Register and registry upkeep: load an office registry file, export the measure register.

Small flows the command line and the Prefect UI share, so an analyst's export from
the UI and ``cxloop measures export`` run the same code and leave the same trace.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from cxloop.config import read_offices_csv
from cxloop.quarters import Quarter
from models.db import session_scope, upgrade
from tasks.registry import merge_offices


@flow(name="load-office-registry")
def load_office_registry(path: str) -> dict[str, int]:
    """Merge an office registry CSV (office_code, office_name, region_code, region_name) into the database."""
    offices = read_offices_csv(Path(path))
    upgrade()
    with session_scope() as session:
        return merge_offices(session, offices)


@flow(name="export-measure-register")
def export_measure_register(xlsx: str | None = None, csv: str | None = None, quarter: str | None = None) -> dict[str, str]:
    """Write the measure register as a formatted XLSX and/or CSV (overdue judged at the quarter's cycle date)."""
    from tasks.measures import export_register_csv, export_register_xlsx

    as_of = (Quarter.parse(quarter) if quarter else Quarter.last_complete()).cycle_date
    upgrade()
    out: dict[str, str] = {}
    with session_scope() as session:
        if xlsx:
            Path(xlsx).parent.mkdir(parents=True, exist_ok=True)
            out["xlsx"] = str(export_register_xlsx(session, Path(xlsx), as_of))
        if csv:
            Path(csv).parent.mkdir(parents=True, exist_ok=True)
            out["csv"] = str(export_register_csv(session, Path(csv), as_of))
    return out
