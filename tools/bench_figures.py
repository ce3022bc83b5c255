"""The national benchmark's figures as JSON, and the floor it measures them against.

``make bench-national`` (:mod:`tools.bench_national`) writes
``$CXLOOP_OUT_DIR/bench/national.json`` (default ``out/bench/national.json``) with: ``rows``,
``files``, ``stages`` (name -> seconds, the cycle's data stages), ``data_seconds``,
``reports_seconds`` (all 86 reports fanned out; estimated from a sample with
``--report-scopes``), ``total_seconds``, ``floor_seconds``, ``floor`` (its parts),
``data_over_floor``, ``peak_rss_mb``, ``workers``, ``database`` (sqlite / postgresql) and
``measured_at``.

**The floor** is what the same input costs with nothing but bare reading and the text
analysis: every file of the quarter read with ``pandas.read_csv`` / ``read_excel`` /
``read_json`` (encoding and delimiter given, no checks), plus ``tasks.text.analyse`` on the
quarter's distinct texts. The data stages are held to at most three times that.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path("out")


def _read_bare(path: Path) -> int:
    """Rows of one export read with bare pandas (the encoding and delimiter looked up, nothing checked)."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return sum(len(frame) for frame in pd.read_excel(path, sheet_name=None, dtype=str).values())
    if suffix == ".jsonl":
        return len(pd.read_json(path, lines=True, dtype=False))
    if suffix == ".json":
        return len(pd.read_json(path, dtype=False))
    head = path.read_bytes()[:4096]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encoding = "utf-16"
        first = head.decode("utf-16", errors="replace").split("\n", 1)[0].encode()
    else:
        try:
            head.decode("utf-8")
            encoding = "utf-8-sig"
        except UnicodeDecodeError:
            encoding = "cp1251"
        first = head.split(b"\n", 1)[0]
    sep = ";" if first.count(b";") > first.count(b",") else ","
    # Planted broken lines are skipped: the floor is the cost of reading, not of judging rows.
    frame = pd.read_csv(
        path,
        sep=sep,
        encoding=encoding,
        encoding_errors="replace",
        dtype=str,
        keep_default_na=False,
        on_bad_lines="skip",
    )
    return len(frame)


def measure_floor(folder: Path, texts: list[str], config: Any) -> dict[str, Any]:
    """The floor for the files in ``folder`` and the quarter's distinct ``texts``: seconds of each part."""
    from tasks.text.analyser import analyse

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".csv", ".xlsx", ".json", ".jsonl"})
    start = time.perf_counter()
    rows = sum(_read_bare(p) for p in files)
    read_seconds = time.perf_counter() - start
    start = time.perf_counter()
    analyse(texts, config)
    text_seconds = time.perf_counter() - start
    return {
        "read_seconds": round(read_seconds, 2),
        "text_seconds": round(text_seconds, 2),
        "seconds": round(read_seconds + text_seconds, 2),
        "files": len(files),
        "rows_read": rows,
        "distinct_texts": len(texts),
        "note": "pandas read_csv (C parser) / read_excel (openpyxl) / read_json; tasks.text.analyse",
    }


def distinct_texts(session: Any, quarter: str) -> list[str]:
    """The quarter's distinct stored texts, in a fixed order."""
    from sqlalchemy import select
    from sqlmodel import col

    from models.tables import Feedback

    query = select(col(Feedback.text)).where(col(Feedback.quarter) == quarter, col(Feedback.text).is_not(None))
    return sorted({t for (t,) in session.execute(query) if t})


def national_figures(
    *,
    rows: int,
    files: int,
    stages: dict[str, float],
    data_seconds: float,
    reports_seconds: float,
    floor: dict[str, Any],
    peak_rss_mb: float,
    workers: int,
    database_url: str,
) -> dict[str, Any]:
    """The JSON document of one run (keys in the module docstring)."""
    return {
        "rows": rows,
        "files": files,
        "stages": {name: round(secs, 2) for name, secs in stages.items()},
        "data_seconds": round(data_seconds, 2),
        "reports_seconds": round(reports_seconds, 2),
        "total_seconds": round(data_seconds + reports_seconds, 2),
        "floor_seconds": floor["seconds"],
        "floor": floor,
        "data_over_floor": round(data_seconds / floor["seconds"], 2) if floor["seconds"] else None,
        "peak_rss_mb": round(peak_rss_mb),
        "workers": workers,
        "database": "postgresql" if database_url.startswith("postgresql") else database_url.split(":", 1)[0],
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def figures_path() -> Path:
    """``$CXLOOP_OUT_DIR/bench/national.json`` (``out/bench/national.json`` by default)."""
    return Path(os.environ.get("CXLOOP_OUT_DIR") or DEFAULT_OUT) / "bench" / "national.json"


def write_figures(figures: dict[str, Any], path: Path | None = None) -> Path:
    path = path or figures_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
