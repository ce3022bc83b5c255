"""The measures stage's steps: propose measures for the quarter's worst pain points,
and export the register as the working groups edit it (XLSX and CSV)."""

from __future__ import annotations

from pathlib import Path

from cxloop.config import AppConfig
from cxloop.quarters import Quarter
from cxloop.settings import Settings
from models import store
from models.db import session_scope


def propose_measures(quarter: str, config: AppConfig, region: str | None = None) -> list[str]:
    """Proposed measures for the quarter's regional pain points not yet covered; their codes.

    ``region``: only from that region's pain points (proposals are made per region)."""
    from tasks.measures.proposals import create_proposals

    with session_scope() as session:
        pains = store.load_pain_points(session, quarter)
        if pains.empty:
            return []
        regional = pains[pains["level"] == "region"]
        if region is not None:
            regional = regional[regional["region_code"] == region]
        created = create_proposals(session, quarter, regional, config, Quarter.parse(quarter).cycle_time)
        return [m.code for m in created]


def export_register(quarter: str, settings: Settings) -> dict[str, Path]:
    """The register as of the quarter's cycle date: ``out/register/measures_<q>.xlsx`` and ``.csv``."""
    from tasks.measures.export import export_register_csv, export_register_xlsx

    as_of = Quarter.parse(quarter).cycle_date
    folder = settings.out_dir / "register"
    folder.mkdir(parents=True, exist_ok=True)
    with session_scope() as session:
        xlsx = export_register_xlsx(session, folder / f"measures_{quarter}.xlsx", as_of)
        csv = export_register_csv(session, folder / f"measures_{quarter}.csv", as_of)
    return {"xlsx": xlsx, "csv": csv}
