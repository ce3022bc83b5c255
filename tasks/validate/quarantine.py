"""Stage 2 of the loop, *validate* — the analyst's desk around an ingest run.

- Which files a run takes (:func:`resolve_inputs`): files, folders and globs, each
  file's channel (from its name unless given) and the quarter it is accounted to.
- The per-file record ``cxloop ingest --json`` prints (:func:`file_record`), the
  validation summary table (:func:`validation_markdown`) and GE Data Docs for the
  run (:func:`build_data_docs`). None of these ever carries a row's content: counts,
  rules, file names and the (already redacted) reasons only.
- The quarantine itself: list, export (CSV, formula text neutralised) and release.

Releasing (:func:`release_rows`) marks the open quarantined rows of a file (or
given ids) with ``released_at``; nothing is deleted. A released row is no longer
listed (``--all`` shows it). The next ingest of that path validates the file
again, even when its content is unchanged (e.g. after the office registry was
fixed): rows accepted before count as duplicates, fixed rows are accepted and
whatever is still wrong is quarantined again, as open rows of the new ingest.
:func:`release_plan` tells without changing anything whether the file on disk
changed since its ingest.
"""

from __future__ import annotations

import csv
import glob
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterator, Sequence

from sqlalchemy import func, select
from sqlmodel import Session

from cxloop.config import AppConfig
from cxloop.domain import CHANNELS
from cxloop.files import file_sha256
from cxloop.quarters import Quarter
from models.tables import IngestedFile, Quarantine
from tasks.validate.ingest import IngestSummary
from tasks.collect.readers import SUPPORTED_EXTENSIONS, channel_of
from cxloop.export_safety import neutralise_formula as neutralise

JSON_KEYS = ("file", "channel", "received", "accepted", "quarantined", "duplicates", "rejected", "error")
_GLOB_CHARS = "*?["


class InputError(ValueError):
    """Bad input for an ingest run (missing path, unknown channel, bad quarter): one clear message."""


# --------------------------------------------------------------------------- which files


@dataclass(frozen=True)
class FileInput:
    path: Path
    channel: str | None  # None: the name does not say, and no channel was given
    quarter: str


def quarter_of_folder(path: Path) -> str | None:
    """The quarter a drop folder is named after (``.../2026Q3/file.csv``), nearest folder first."""
    for parent in Path(path).resolve().parents:
        try:
            return str(Quarter.parse(parent.name))
        except ValueError:
            continue
    return None


def _wanted(path: Path) -> bool:
    """Files a folder or glob contributes: the readable kinds, no hidden or Office lock files."""
    return path.is_file() and path.suffix.lower() in SUPPORTED_EXTENSIONS and not path.name.startswith((".", "~$"))


def _files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if _wanted(p))


def resolve_inputs(paths: Sequence[str] | str, channel: str | None = None, quarter: str | None = None,
                   today=None) -> list[FileInput]:
    """Expand files, folders and globs into the run's files, in a stable order, each once.

    A named file is taken whatever its extension (the reader says if it cannot read
    it); folders and globs contribute the readable kinds only. ``quarter`` default:
    the folder a file sits in when it is named like ``2026Q3``, else the last
    complete quarter. Raises :class:`InputError` for a missing path, an unknown
    channel or a malformed quarter.
    """
    if isinstance(paths, (str, Path)):
        paths = [str(paths)]
    if not paths:
        raise InputError("no path given: name files, folders or globs to ingest")
    if channel is not None and channel not in CHANNELS:
        raise InputError(f"unknown channel {channel!r}: expected one of {', '.join(CHANNELS)}")
    try:
        fixed_quarter = str(Quarter.parse(quarter)) if quarter else None
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    fallback = str(Quarter.last_complete(today))
    found: list[Path] = []
    for given in paths:
        given = str(given)
        path = Path(given)
        if any(c in given for c in _GLOB_CHARS) and not path.exists():
            matches = sorted(Path(m) for m in glob.glob(given, recursive=True))
            if not matches:
                raise InputError(f"{given}: no file matches this pattern")
            for m in matches:
                found.extend(_files_in(m) if m.is_dir() else [m] if _wanted(m) else [])
        elif path.is_dir():
            found.extend(_files_in(path))
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(f"{given}: no such file or folder")
    seen: set[Path] = set()
    out = []
    for path in found:
        key = path.resolve()
        if key in seen:  # the same file named twice (a folder and a glob over it) is ingested once
            continue
        seen.add(key)
        out.append(FileInput(path, channel or channel_of(path), fixed_quarter or quarter_of_folder(path) or fallback))
    return out


# --------------------------------------------------------------------------- one file, with its validation outcome


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
    from tasks.validate import suites as validation

    runs: list[SuiteRun] = []

    def sink(suite: str, results: list[dict], info: dict) -> None:
        kept = [{k: r[k] for k in ("type", "column", "severity", "success", "unexpected_count")} for r in results]
        runs.append(SuiteRun(suite, int(info.get("rows", 0)), dict(info.get("parameters") or {}), kept))

    previous = validation.set_result_sink(sink)
    try:
        yield runs
    finally:
        validation.set_result_sink(previous)


def rejected_summary(path: Path, channel: str | None, error: str) -> IngestSummary:
    return IngestSummary(path=str(path), channel=channel or "", status="unreadable", error=error)


def file_record(summary: IngestSummary | dict) -> dict:
    """The per-file line of ``cxloop ingest --json``: exactly :data:`JSON_KEYS`."""
    s = summary if isinstance(summary, dict) else summary.as_dict()
    rejected = s["status"] == "unreadable"
    return {
        "file": s["path"], "channel": s["channel"] or None, "received": s["received"], "accepted": s["accepted"],
        "quarantined": s["quarantined"], "duplicates": s["duplicates"], "rejected": rejected, "error": s["error"],
    }


def rule_counts(reports: Sequence[FileReport]) -> list[dict]:
    """Per file, suite and rule: rows checked and rows failing (failing rules only)."""
    out = []
    for report in reports:
        for run in report.suites:
            for r in run.results:
                if r["unexpected_count"]:
                    out.append({"file": report.summary.path, "suite": run.suite, "rule": r["type"], "column": r["column"],
                                "severity": r["severity"], "rows": run.rows, "failing": r["unexpected_count"]})
    return out


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def validation_markdown(reports: Sequence[FileReport], docs_url: str | None = None, title: str = "Intake and validation") -> str:
    """The run's validation summary: per file (counts, status, whole-file error) and per rule (counts)."""
    rejected = sum(r.rejected for r in reports)
    lines = [f"# {title}", ""]
    total = {k: sum(getattr(r.summary, k) for r in reports) for k in ("received", "accepted", "quarantined", "duplicates")}
    lines.append(f"{len(reports)} files, {rejected} rejected as a whole; rows: {total['received']} received = "
                 f"{total['accepted']} accepted + {total['quarantined']} quarantined + {total['duplicates']} duplicates.")
    if docs_url:
        lines += ["", f"Great Expectations Data Docs: [{docs_url}]({docs_url})"]
    lines += ["", "| file | channel | quarter | status | received | accepted | quarantined | duplicates | warnings | error |",
              "|---|---|---|---|---:|---:|---:|---:|---:|---|"]
    for r in reports:
        s = r.summary
        lines.append(f"| {_md(Path(s.path).name)} | {s.channel or '—'} | {r.quarter} | {s.status} | {s.received} | {s.accepted} | "
                     f"{s.quarantined} | {s.duplicates} | {s.warnings} | {_md(s.error or '')} |")
    rules = rule_counts(reports)
    lines += ["", "**Failed expectations** (rows failing per rule; critical = quarantined, warning = field discarded):", ""]
    if rules:
        lines += ["| file | suite | rule | column | severity | rows checked | rows failing |", "|---|---|---|---|---|---:|---:|"]
        for x in rules:
            lines.append(f"| {_md(Path(x['file']).name)} | {x['suite']} | {x['rule']} | {x['column']} | {x['severity']} | {x['rows']} | {x['failing']} |")
    else:
        lines.append("none")
    return "\n".join(lines)


# --------------------------------------------------------------------------- GE Data Docs


def _resolve_parameters(value, parameters: dict):
    if isinstance(value, dict) and set(value) == {"$PARAMETER"}:
        return parameters.get(value["$PARAMETER"], value)
    return value


def suite_validation_result(run: SuiteRun, run_id=None, file_name: str | None = None):
    """GE's ``ExpectationSuiteValidationResult`` for one suite run, from the suite JSON and GE's
    row-level verdicts (GE may have checked distinct values; the counts here are rows)."""
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult, ExpectationValidationResult)
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    from tasks.validate.suites import load_suite_json

    spec = load_suite_json(run.suite)
    results = []
    for exp, r in zip(spec["expectations"], run.results):
        kwargs = {k: _resolve_parameters(v, run.parameters) for k, v in exp["kwargs"].items()}
        config = ExpectationConfiguration(type=exp["type"], kwargs=kwargs, meta=exp.get("meta", {}),
                                          severity=exp.get("severity", "critical"))
        n, bad = run.rows, r["unexpected_count"]
        results.append(ExpectationValidationResult(
            success=bool(r["success"]), expectation_config=config,
            result={"element_count": n, "unexpected_count": bad, "unexpected_percent": (100.0 * bad / n) if n else 0.0},
        ))
    good = sum(1 for x in results if x.success)
    return ExpectationSuiteValidationResult(
        success=good == len(results), results=results, suite_name=run.suite,
        statistics={"evaluated_expectations": len(results), "successful_expectations": good,
                    "unsuccessful_expectations": len(results) - good,
                    "success_percent": (100.0 * good / len(results)) if results else 100.0},
        # what the page header shows: run name and time, and the file as the "data asset"
        meta={"run_id": run_id, "batch_spec": {"data_asset_name": file_name or ""}, "rows": run.rows},
    )


def _docs_context(site_dir: Path):
    """A GE context of its own (not the validation one, not the process-wide current one) whose
    validation results live next to the site, so the index lists every run, not just the last."""
    from great_expectations.data_context import EphemeralDataContext
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults

    from tasks.validate.suites import quiet_ge_logging

    quiet_ge_logging()

    site_dir = Path(site_dir).resolve()  # GE's filesystem stores want absolute folders
    defaults = InMemoryStoreBackendDefaults()
    config = DataContextConfig(store_backend_defaults=defaults)
    config.stores[config.validation_results_store_name] = {
        "class_name": "ValidationResultsStore",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site_dir / ".results")},
    }
    config.data_docs_sites = {"cxloop": {
        "class_name": "SiteBuilder", "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }}
    return EphemeralDataContext(project_config=config)


def build_data_docs(reports: Sequence[FileReport], site_dir: Path, run_name: str, run_time: datetime) -> Path | None:
    """Render the run's suite results as GE Data Docs under ``site_dir``; returns its index.html.

    The pages show rules, counts and percentages only (no row values). Returns None
    when nothing was validated in this run and no earlier site exists."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier, ValidationResultIdentifier)

    site_dir = Path(site_dir).resolve()
    index = site_dir / "index.html"
    runs = [(r, run) for r in reports for run in r.suites]
    if not runs:
        return index if index.exists() else None
    site_dir.mkdir(parents=True, exist_ok=True)
    context = _docs_context(site_dir)
    run_id = RunIdentifier(run_name=run_name, run_time=run_time)
    keys, used = [], set()
    for report, run in runs:
        batch = Path(report.summary.path).name
        n = 2
        while (run.suite, batch) in used:  # two files of the same name in one run
            batch = f"{Path(report.summary.path).name}-{n}"
            n += 1
        used.add((run.suite, batch))
        key = ValidationResultIdentifier(ExpectationSuiteIdentifier(name=run.suite), run_id, batch)
        context.validation_results_store.set(key, suite_validation_result(run, run_id, batch))
        keys.append(key)
    context.build_data_docs(site_names=["cxloop"], resource_identifiers=keys)
    return index


# --------------------------------------------------------------------------- the quarantine table


def _path_variants(path: str | Path) -> list[str]:
    """How a file may have been recorded: as given, absolute, or relative to the working directory."""
    p = Path(path)
    variants = {str(path), str(p), str(p.resolve())}
    try:
        variants.add(str(p.resolve().relative_to(Path.cwd())))
    except ValueError:
        pass
    return sorted(variants)


def _filtered(stmt, quarter: str | None, file: str | Path | None, channel: str | None, include_released: bool = False):
    if quarter:
        stmt = stmt.where(Quarantine.quarter == str(Quarter.parse(quarter)))
    if file:
        stmt = stmt.where(Quarantine.source_file.in_(_path_variants(file)))
    if channel:
        stmt = stmt.where(Quarantine.channel == channel)
    if not include_released:
        stmt = stmt.where(Quarantine.released_at.is_(None))
    return stmt


def count_quarantine(session: Session, quarter: str | None = None, file: str | Path | None = None,
                     channel: str | None = None, include_released: bool = False) -> int:
    stmt = _filtered(select(func.count()).select_from(Quarantine), quarter, file, channel, include_released)
    return session.execute(stmt).scalar_one()


QUARANTINE_COLUMNS = ("id", "quarter", "channel", "file", "row", "field", "rule", "reason")


def list_quarantine(session: Session, quarter: str | None = None, file: str | Path | None = None,
                    channel: str | None = None, limit: int | None = None, include_released: bool = False) -> list[dict]:
    """Open quarantined rows (all with ``include_released``), oldest ingest first, then by row:
    id, quarter, channel, file, row, field, rule, reason."""
    stmt = _filtered(select(Quarantine), quarter, file, channel, include_released).order_by(Quarantine.id)
    if limit:
        stmt = stmt.limit(limit)
    return [
        {"id": q.id, "quarter": q.quarter, "channel": q.channel, "file": q.source_file, "row": q.source_row,
         "field": q.field, "rule": q.rule, "reason": q.reason}
        for q in session.execute(stmt).scalars()
    ]


def export_quarantine_csv(session: Session, path: Path, quarter: str | None = None, file: str | Path | None = None,
                          channel: str | None = None) -> int:
    """Write the (filtered) quarantine as CSV, UTF-8 with BOM so Excel reads Cyrillic; text that a
    spreadsheet would run as a formula (= + - @) gets a leading apostrophe. Returns rows written."""
    rows = list_quarantine(session, quarter, file, channel)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(QUARANTINE_COLUMNS)
        for row in rows:
            writer.writerow([neutralise(row[c]) for c in QUARANTINE_COLUMNS])
    return len(rows)


@dataclass
class ReleaseItem:
    path: str
    quarter: str
    channel: str
    ingested_file_id: int
    quarantined_rows: int
    status: str  # ready | unchanged | missing | superseded | released
    message: str


def release_plan(session: Session, file: str | Path | None = None, ids: Sequence[int] = ()) -> list[ReleaseItem]:
    """What releasing the quarantined rows of a file (or of the given quarantine ids) means now.

    Nothing is changed in the database (see the module docstring): per ingested
    file, ``ready`` = the file on disk differs from what was ingested, so
    ``cxloop ingest PATH`` accepts the fixed rows; ``unchanged`` = fix the source
    first; ``missing`` = the file is no longer there; ``superseded`` = a newer version
    of the file was ingested already (its quarantine is the one that counts)."""
    if file is None and not ids:
        raise InputError("name a file (--file PATH) or quarantine ids (--id N)")
    stmt = select(Quarantine.ingested_file_id, func.count()).group_by(Quarantine.ingested_file_id)
    if file is not None:
        stmt = stmt.where(Quarantine.source_file.in_(_path_variants(file)))
    if ids:
        stmt = stmt.where(Quarantine.id.in_(list(ids)))
    counts = dict(session.execute(stmt).all())
    items = []
    for file_id in sorted(counts):
        rec = session.get(IngestedFile, file_id)
        newer = session.execute(
            select(func.count()).select_from(IngestedFile).where(IngestedFile.path == rec.path, IngestedFile.id > rec.id)
        ).scalar_one()
        disk = Path(rec.path)
        if newer:
            status, message = "superseded", "a newer version of this file was ingested since; its quarantine is the current one"
        elif not disk.is_file():
            status, message = "missing", "the file is no longer at this path: put the fixed file there and run cxloop ingest on it"
        elif file_sha256(disk) == rec.sha256:
            status, message = "unchanged", "the file is unchanged since it was ingested: fix the source rows first (re-ingesting the same content is a no-op)"
        else:
            status, message = "ready", (f"the file changed since it was ingested: `cxloop ingest {rec.path} --quarter {rec.quarter}` "
                                        "accepts the fixed rows; rows accepted before count as duplicates")
        items.append(ReleaseItem(rec.path, rec.quarter, rec.channel, rec.id, counts[file_id], status, message))
    return items



def release_rows(session: Session, at: datetime, file: str | Path | None = None, ids: Sequence[int] = ()) -> list[ReleaseItem]:
    """Release the open quarantined rows of a file (or the given ids) for re-ingest.

    Returns, per ingested file, how many rows were released and what to do next."""
    plan = release_plan(session, file, ids)
    stmt = select(Quarantine).where(Quarantine.released_at.is_(None))
    if file is not None:
        stmt = stmt.where(Quarantine.source_file.in_(_path_variants(file)))
    if ids:
        stmt = stmt.where(Quarantine.id.in_(list(ids)))
    released: dict[int, int] = {}
    for row in session.execute(stmt).scalars():
        row.released_at = at
        released[row.ingested_file_id] = released.get(row.ingested_file_id, 0) + 1
    session.flush()
    out = []
    for item in plan:
        n = released.get(item.ingested_file_id, 0)
        if item.status == "superseded" or n == 0:
            out.append(item)
            continue
        how = "the changed file" if item.status == "ready" else "the same file (it is validated again)"
        out.append(ReleaseItem(item.path, item.quarter, item.channel, item.ingested_file_id, n, "released",
                               f"{n} rows released: `cxloop ingest {item.path} --quarter {item.quarter}` takes {how}; "
                               "rows accepted before count as duplicates"))
    return out
