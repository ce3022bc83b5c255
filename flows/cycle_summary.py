"""What a quarterly cycle run returns and shows in the Prefect UI: the intake totals, the
star index of the country and regions, the top pain points, the measures and effects, and
the markdown of the run's summary artifact. Plain functions of the stages' results."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pandas as pd

from tasks.validate.ingest import IngestSummary

_SUMMARY_KEYS = [f.name for f in fields(IngestSummary)]
_COUNTS = ("received", "accepted", "quarantined", "duplicates")


def intake_totals(intake: dict) -> tuple[list[dict], list[dict], dict]:
    """The ingest subflow's per-file rows (in :meth:`IngestSummary.as_dict` shape), the files
    rejected as a whole, and the totals ``received = accepted + quarantined + duplicates``."""
    summaries = [{k: f[k] for k in _SUMMARY_KEYS} for f in intake["files"]]
    unreadable = [s for s in summaries if s["status"] == "unreadable"]
    totals = {k: sum(s[k] for s in summaries) for k in _COUNTS}
    totals["files"] = len(summaries)
    totals["unreadable_files"] = len(unreadable)
    return summaries, unreadable, totals


def index_view(index: pd.DataFrame) -> dict[str, dict[str, str]]:
    """The star index of the country and each region per client type, as display text."""
    view: dict[str, dict[str, str]] = {}
    if not index.empty:
        top = index[index["level"].isin(["country", "region"])]
        for r in top.itertuples(index=False):
            unit = "country" if r.level == "country" else f"region {r.unit_code}"
            view.setdefault(unit, {})[r.client_type] = "—" if r.index != r.index else f"{r.index:.1f}"
    return view


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def cycle_summary(
    q: str,
    *,
    files: list[dict],
    totals: dict,
    index: pd.DataFrame,
    pains: pd.DataFrame,
    proposed: list,
    review: dict | None,
    topics: dict,
    effects: list[dict],
    reports: dict,
    register: dict,
    delivery,
    side_products_failed: list[str] | None = None,
    reading: dict | None = None,
    region: str | None = None,
) -> dict:
    """The run's result: what each stage did this quarter, in loop order; ``side_products_failed``
    names what was not produced (e.g. ``data_docs``) while the cycle went on. ``region``: a
    region's rerun, whose top pain points are the region's and whose national figures
    (``national_refreshed``) were not refreshed."""
    level, unit = ("country", None) if region is None else ("region", region)
    top = pains[pains["level"] == level] if not pains.empty else pains
    if unit is not None and not top.empty:
        top = top[top["unit_code"] == unit]
    national = top.head(3)
    return {
        "quarter": q,
        "region": region,
        "national_refreshed": region is None,
        "files": files,
        "intake": totals,
        "text_reading": {k: v for k, v in (reading or {}).items() if k != "card"},
        "index": index_view(index),
        "top_pain_points": [f"{r.theme}/{r.journey_stage}" for r in national.itertuples(index=False)],
        "measures_proposed": proposed,
        "proposal_review": review,
        "emerging_topics": topics["topics"],
        "effects": [
            {
                "measure": e["measure_code"],
                "verdict": e["verdict"],
                "method": e["method"],
                "estimate": _rounded(e["estimate"]),
                "ci_low": _rounded(e["ci_low"]),
                "ci_high": _rounded(e["ci_high"]),
            }
            for e in effects
        ],
        "reports": [str(r.path) for r in reports.values()],
        "register": {k: str(v) for k, v in register.items()},
        "delivery": None
        if delivery is None
        else {"sent": delivery.sent, "skipped": delivery.skipped, "failed": delivery.failed},
        "side_products_failed": side_products_failed if side_products_failed is not None else [],
    }


def summary_markdown(s: dict) -> str:
    """The markdown of the run's ``cx-cycle-<quarter>`` artifact."""
    t = s["intake"]
    region = s.get("region")
    lines = [f"# Quarterly CX cycle {s['quarter']}" + (f", region {region} only" if region else ""), ""]
    if not s.get("national_refreshed", True):
        lines += [
            f"**National figures were not refreshed by this run**: it recomputed region {region} only "
            "(its offices, the region, its pain points, proposals, effects and report). The country's "
            "index and pain points, the other regions, the emerging topics, the text model and the "
            "national report are as the last whole-quarter cycle left them.",
            "",
        ]
    lines += [
        f"**Intake**: {t['received']} rows received = {t['accepted']} accepted + "
        f"{t['quarantined']} quarantined + {t['duplicates']} duplicates ({t['files']} files).",
        "",
        "| unit | citizens | employers | composite |",
        "|---|---|---|---|",
    ]
    for unit, vals in s["index"].items():
        lines.append(
            f"| {unit} | {vals.get('citizen', '—')} | {vals.get('employer', '—')} | {vals.get('composite', '—')} |"
        )
    where = f"region {region}" if region else "country"
    lines += ["", f"**Top pain points ({where})**: " + (", ".join(s["top_pain_points"]) or "none")]
    lines += [f"**Measures proposed**: {len(s['measures_proposed'])}", f"**Effects evaluated**: {len(s['effects'])}"]
    for e in s["effects"]:
        lines.append(
            f"- {e['measure']}: {e['verdict']} ({e['method']}, {e['estimate']} [{e['ci_low']}; {e['ci_high']}])"
        )
    if s.get("side_products_failed"):
        lines += [
            "",
            "**Warning**: not produced (see the run's log; the cycle went on): " + ", ".join(s["side_products_failed"]),
        ]
    # Links the UI opens on the machine that holds the archive (file:// URIs of the PDFs).
    lines += ["", "**Reports**:"] + [f"- [{Path(p).name}]({Path(p).resolve().as_uri()})" for p in s["reports"]]
    return "\n".join(lines)


def problems(unreadable: list[dict], delivery) -> list[str]:
    """What makes the run "Partial": files rejected as a whole, e-mails not delivered."""
    found = []
    if unreadable:
        found.append(f"{len(unreadable)} file(s) rejected as a whole")
    if delivery is not None and delivery.failed:
        found.append(f"{delivery.failed} e-mail(s) not delivered (the PDFs are in the archive)")
    return found
