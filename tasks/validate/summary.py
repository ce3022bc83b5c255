"""Validate stage (loop step 2), the outcome of an ingest run per file: the suites GE ran on it
(:func:`capture_suite_runs`), the line ``cxloop ingest --json`` prints (:func:`file_record`)
and the run's validation summary table (:func:`validation_markdown`). None of these ever
carries a row's content: counts, rules, file names and the (already redacted) reasons only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tasks.validate.ingest import IngestSummary
from tasks.validate.suites import set_result_sink

JSON_KEYS = ("file", "channel", "received", "accepted", "quarantined", "duplicates", "rejected", "error")


@dataclass
class SuiteRun:
    """One GE suite run on one file: row-level counts per expectation (no row values, no positions)."""

    suite: str
    rows: int
    parameters: dict
    results: list[dict]  # type, column, severity, success, unexpected_count


@dataclass
class FileReport:
    summary: IngestSummary
    quarter: str
    suites: list[SuiteRun] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return self.summary.status == "unreadable"


@contextmanager
def capture_suite_runs() -> Iterator[list[SuiteRun]]:
    """Collect every suite :func:`tasks.validate.suites.run_suite` runs inside the block."""
    runs: list[SuiteRun] = []

    def sink(suite: str, results: list[dict], info: dict) -> None:
        kept = [{k: r[k] for k in ("type", "column", "severity", "success", "unexpected_count")} for r in results]
        runs.append(SuiteRun(suite, int(info.get("rows", 0)), dict(info.get("parameters") or {}), kept))

    previous = set_result_sink(sink)
    try:
        yield runs
    finally:
        set_result_sink(previous)


def rejected_summary(path: Path, channel: str | None, error: str) -> IngestSummary:
    return IngestSummary(path=str(path), channel=channel or "", status="unreadable", error=error)


def file_record(summary: IngestSummary | dict) -> dict:
    """The per-file line of ``cxloop ingest --json``: exactly :data:`JSON_KEYS`."""
    s = summary if isinstance(summary, dict) else summary.as_dict()
    rejected = s["status"] == "unreadable"
    return {
        "file": s["path"],
        "channel": s["channel"] or None,
        "received": s["received"],
        "accepted": s["accepted"],
        "quarantined": s["quarantined"],
        "duplicates": s["duplicates"],
        "rejected": rejected,
        "error": s["error"],
    }


def rule_counts(reports: Sequence[FileReport]) -> list[dict]:
    """Per file, suite and rule: rows checked and rows failing (failing rules only)."""
    out = []
    for report in reports:
        for run in report.suites:
            for r in run.results:
                if r["unexpected_count"]:
                    out.append(
                        {
                            "file": report.summary.path,
                            "suite": run.suite,
                            "rule": r["type"],
                            "column": r["column"],
                            "severity": r["severity"],
                            "rows": run.rows,
                            "failing": r["unexpected_count"],
                        }
                    )
    return out


def _md(text: object) -> str:
    """A table cell: backslashes and pipes shown as typed, line breaks as spaces."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def validation_markdown(
    reports: Sequence[FileReport],
    docs_url: str | None = None,
    title: str = "Intake and validation",
    warnings: Sequence[str] = (),
) -> str:
    """The run's validation summary: per file (counts, status, whole-file error) and per rule (counts);
    ``warnings`` (e.g. a side product not produced) are shown right under the totals."""
    rejected = sum(r.rejected for r in reports)
    lines = [f"# {title}", ""]
    total = {
        k: sum(getattr(r.summary, k) for r in reports) for k in ("received", "accepted", "quarantined", "duplicates")
    }
    lines.append(
        f"{len(reports)} files, {rejected} rejected as a whole; rows: {total['received']} received = "
        f"{total['accepted']} accepted + {total['quarantined']} quarantined + {total['duplicates']} duplicates."
    )
    for warning in warnings:
        lines += ["", f"**Warning**: {_md(warning)}"]
    if docs_url:
        lines += ["", f"Great Expectations Data Docs: [{docs_url}]({docs_url})"]
    lines += [
        "",
        "| file | channel | quarter | status | received | accepted | quarantined | duplicates | warnings | error |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in reports:
        s = r.summary
        lines.append(
            f"| {_md(Path(s.path).name)} | {s.channel or '—'} | {r.quarter} | {s.status} | "
            f"{s.received} | {s.accepted} | "
            f"{s.quarantined} | {s.duplicates} | {s.warnings} | {_md(s.error or '')} |"
        )
    rules = rule_counts(reports)
    lines += [
        "",
        "**Failed expectations** (rows failing per rule; critical = quarantined, warning = field discarded):",
        "",
    ]
    if rules:
        lines += [
            "| file | suite | rule | column | severity | rows checked | rows failing |",
            "|---|---|---|---|---|---:|---:|",
        ]
        for x in rules:
            lines.append(
                f"| {_md(Path(x['file']).name)} | {x['suite']} | {x['rule']} | {x['column']} | {x['severity']} | "
                f"{x['rows']} | {x['failing']} |"
            )
    else:
        lines.append("none")
    return "\n".join(lines)
