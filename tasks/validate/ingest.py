"""Stages 1-2 wired per file: read -> stage -> validate (GE) -> redact and tag text ->
store. One call per received file; the accounting identity
``received = accepted + quarantined + duplicates`` holds for every file and is
checked before anything is committed (re-runs: see :func:`ingest_file`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select
from sqlmodel import Session, col

from cxloop.config import AppConfig
from cxloop.domain import ITEMS, JOURNEY_STAGES, SURVEY_QUESTIONS
from cxloop.quarters import Quarter
from models.db import driver_marks
from models.tables import Feedback, IngestedFile, Quarantine, SurveyAnswer
from tasks.collect.decoding import IntakeError
from tasks.collect.offices import office_regions
from tasks.collect.readers import RawFile, read_channel_file
from tasks.collect.staging import stage_rows
from tasks.text.analyser import analyse_frame
from tasks.validate.dedup import dedup_keys, split_duplicates, split_near_duplicates, text_keys
from tasks.validate.redaction import redact_series
from tasks.validate.suites import SuiteResult, apply_suite

FEEDBACK_COLUMNS = [
    "dedup_key",
    "channel",
    "external_id",
    "source_file",
    "source_row",
    "received_at",
    "quarter",
    "office_code",
    "region_code",
    "client_type",
    "journey_stage",
    "rating",
    "scale",
    "text",
    "language",
    "sentiment",
    "themes",
    "negative_themes",
    "flags",
    "text_key",
]
# SurveyAnswer columns besides feedback_id: the 20 items, then the optional overall questions.
ANSWER_COLUMNS = [*ITEMS, *SURVEY_QUESTIONS]


@dataclass
class IngestSummary:
    path: str
    channel: str
    received: int = 0
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    warnings: int = 0
    near_duplicates: int = 0  # part of duplicates: the same text, same office, other channel, within 7 days
    skipped_blank: int = 0
    skipped_header: int = 0
    status: str = "ingested"  # ingested | already_ingested | repeat | unreadable (a released file is ingested again)
    error: str | None = None

    def check(self) -> None:
        if self.received != self.accepted + self.quarantined + self.duplicates:
            raise AssertionError(
                f"{self.path}: received {self.received} != accepted {self.accepted} + "
                f"quarantined {self.quarantined} + duplicates {self.duplicates}"
            )

    def as_dict(self) -> dict:
        return asdict(self)


DATE_WINDOW_QUARTERS = 1  # a row's date may lie this many quarters before or after the file's quarter


def date_window(quarter: str) -> tuple[date, date]:
    """The plausible dates of a file accounted to ``quarter``: from the start of the
    quarter :data:`DATE_WINDOW_QUARTERS` before it to the end of the one after it
    (2026Q3: 2026-04-01 .. 2026-12-31). Dates after the ingest run's date are refused
    separately (``run_date``)."""
    q = Quarter.parse(quarter)
    return q.shift(-DATE_WINDOW_QUARTERS).start, q.shift(DATE_WINDOW_QUARTERS).end


def validation_parameters(
    office_regions: dict[str, str], quarter: str | None = None, today: date | None = None
) -> dict:
    """Runtime values of the suites' $PARAMETERs: the office registry as stored in the
    database and, given the file's quarter, the date plausibility rule (dates as ISO
    text: no later than ``today``, the run's date; within :func:`date_window`)."""
    params: dict = {
        "known_offices": sorted(office_regions),
        "known_regions": sorted(set(office_regions.values())),
        "journey_stages": list(JOURNEY_STAGES),
    }
    if quarter is not None:
        earliest, latest = date_window(quarter)
        params |= {
            "run_date": (today or date.today()).isoformat(),
            "earliest_date": earliest.isoformat(),
            "latest_date": latest.isoformat(),
            "file_quarter": str(Quarter.parse(quarter)),
        }
    return params


def analyse_text_stage(frame: pd.DataFrame, config: AppConfig) -> pd.DataFrame:
    """Redact personal data first, then language, sentiment and themes on the redacted text."""
    frame = frame.copy()
    frame["text"] = redact_series(frame["text"])
    ratings = frame.get("rating")
    scales = frame.get("scale")
    tagged = analyse_frame(frame["text"], ratings=ratings, scales=scales, config=config)
    for name in ("language", "sentiment", "themes", "negative_themes"):
        frame[name] = tagged[name].values
    return frame


def to_feedback_frame(accepted: pd.DataFrame, config: AppConfig) -> pd.DataFrame:
    frame = analyse_text_stage(accepted, config)
    frame["dedup_key"] = dedup_keys(frame)
    frame["text_key"] = text_keys(frame)
    frame["rating"] = frame["rating"].astype("float64")
    return frame


IN_CHUNK = 900
"""Values per ``IN (...)`` lookup: below SQLite's bound-parameter limit."""


def _select_where_in(session: Session, columns: list, column, values: list) -> list:
    """Rows whose ``column`` is one of ``values``, asked in chunks of :data:`IN_CHUNK`."""
    rows: list = []
    for start in range(0, len(values), IN_CHUNK):
        rows += session.execute(select(*columns).where(column.in_(values[start : start + IN_CHUNK]))).all()
    return rows


def _existing_keys(session: Session, keys: list[str]) -> set[str]:
    """The stored ones among ``keys`` (dedup keys): :func:`_select_where_in` straight through
    the driver, as SQLAlchemy's expansion of the parameters of each chunk cost more than the
    lookups (the rows are plain strings: nothing for SQLAlchemy to convert)."""
    conn = session.connection()
    quote = conn.dialect.identifier_preparer.quote
    column = quote("dedup_key")
    found: set[str] = set()
    for start in range(0, len(keys), IN_CHUNK):
        chunk = keys[start : start + IN_CHUNK]
        marks = ", ".join(driver_marks(conn, len(chunk)))
        sql = f"SELECT {column} FROM {quote(Feedback.__tablename__)} WHERE {column} IN ({marks})"
        found.update(key for (key,) in conn.exec_driver_sql(sql, tuple(chunk)))
    return found


def _stored_text_keys(session: Session, frame: pd.DataFrame) -> pd.DataFrame:
    """Stored rows sharing a text key with ``frame`` (office, date, channel, key)."""
    keys = sorted({k for k in frame["text_key"].tolist() if k}) if "text_key" in frame else []
    columns = [Feedback.office_code, Feedback.received_at, Feedback.channel, Feedback.text_key]
    return pd.DataFrame(
        _select_where_in(session, columns, Feedback.text_key, keys),
        columns=["office_code", "received_at", "channel", "text_key"],
    )


STORE_CHUNK = 50_000


def _bulk_insert(session: Session, table, columns: list[str], rows: list[tuple]) -> None:
    """Rows written straight through the driver, in the session's transaction: SQLAlchemy's
    per-row parameter processing was most of the storing time in the benchmark.

    PostgreSQL: ``COPY ... FROM STDIN`` (psycopg's ``Cursor.copy``, rows adapted by the same
    dumpers as parameters), several times cheaper than an INSERT per row. Others: one
    executemany of INSERT. Names are quoted as the dialect needs (PostgreSQL folds unquoted
    ``F1`` to ``f1``)."""
    conn = session.connection()
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    if conn.dialect.name == "postgresql" and rows:
        driver = conn.connection.driver_connection  # the psycopg connection, in this transaction
        assert driver is not None  # a live connection: the session just handed it out
        with driver.cursor() as cursor, cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join(driver_marks(conn, len(columns)))
    conn.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})", rows)


def _column_values(column: pd.Series, iso: bool = False) -> list:
    """A column's values as Python objects, None where missing; ``iso``: dates as ISO text
    (each distinct date formatted once: a quarter's rows share ~90 of them)."""
    if iso:
        codes, uniques = pd.factorize(column.astype(object), use_na_sentinel=True)
        texts = np.array([d.isoformat() for d in uniques] + [None], dtype=object)
        return texts[codes].tolist()  # code -1 (missing) takes the None at the end
    values = column.astype(object)
    missing = values.isna()
    if missing.any():
        values = values.where(~missing, None)
    return values.tolist()


def _tuples(frame: pd.DataFrame, columns: list[str], dialect: str) -> list[tuple]:
    """The rows of ``frame[columns]`` as tuples of Python values, None where missing; on
    SQLite ``received_at`` as ISO text, as SQLAlchemy's Date stores it. Built column by
    column: a frame-wide ``astype``/``where``/``itertuples`` cost twice as much."""
    iso = dialect == "sqlite"
    return list(zip(*(_column_values(frame[c], iso and c == "received_at") for c in columns), strict=True))


def answer_rows(ids: list[int], answers: np.ndarray) -> list[tuple]:
    """``survey_answer`` rows: a feedback id, then each answer as an int or None (NaN: not
    answered), one row per row of ``answers`` (float, one column per answer). The suites let
    only whole numbers through; anything else is a bug upstream and must not be truncated
    silently: ValueError naming the first such value."""
    missing = np.isnan(answers)
    whole = np.isfinite(answers) & (answers == np.trunc(answers))
    bad = ~missing & ~whole
    if bad.any():
        value = float(answers[bad][0])
        raise ValueError(f"survey answer {value!r} is not a whole number: refusing to truncate it")
    values = np.where(missing, 0.0, answers).astype(np.int64).astype(object)
    values[missing] = None
    rows = np.empty((len(ids), answers.shape[1] + 1), dtype=object)
    rows[:, 0] = ids
    rows[:, 1:] = values
    return list(map(tuple, rows.tolist()))


def store_feedback(session: Session, frame: pd.DataFrame) -> int:
    """Insert accepted feedback (and the star-survey answers: items F1..C4 and the
    optional overall, nps, ces) in bulk; returns rows inserted.

    In chunks through the driver (COPY on PostgreSQL, :func:`_bulk_insert`); the new ids of
    survey rows are read back by the unique dedup keys of the rows inserted after the
    previous highest id.
    """
    if frame.empty:
        return 0
    table = Feedback.__table__  # type: ignore[attr-defined]  # set on table=True models; SQLModel doesn't declare it
    dialect = session.connection().dialect.name
    is_survey = frame["channel"].iloc[0] == "star_survey"
    for start in range(0, len(frame), STORE_CHUNK):
        chunk = frame.iloc[start : start + STORE_CHUNK]
        before = session.execute(select(func.max(table.c.id))).scalar_one() or 0
        _bulk_insert(session, table, FEEDBACK_COLUMNS, _tuples(chunk, FEEDBACK_COLUMNS, dialect))
        if not is_survey:
            continue
        wanted = set(chunk["dedup_key"].tolist())
        ids = {
            key: fid
            for fid, key in session.execute(select(table.c.id, table.c.dedup_key).where(table.c.id > before))
            if key in wanted
        }
        # The items must be there; the optional questions are NULL when a frame lacks them.
        answers = chunk[list(ITEMS)].join(chunk.reindex(columns=list(SURVEY_QUESTIONS))).astype("float64").to_numpy()
        ans_rows = answer_rows([ids[key] for key in chunk["dedup_key"].tolist()], answers)
        answer_table = SurveyAnswer.__table__  # type: ignore[attr-defined]  # as Feedback.__table__ above
        _bulk_insert(session, answer_table, ["feedback_id", *ANSWER_COLUMNS], ans_rows)
    return len(frame)


def _quarantine_rows(ingested_id: int, channel: str, quarter: str, frame: pd.DataFrame) -> list[dict]:
    if frame.empty:
        return []
    out = frame.assign(ingested_file_id=ingested_id, channel=channel, quarter=quarter)
    return out[
        ["ingested_file_id", "channel", "source_file", "source_row", "field", "rule", "reason", "quarter"]
    ].to_dict("records")


def _has_released_rows(session: Session, path: str) -> bool:
    """Whether the latest ingest of ``path`` has quarantined rows an analyst released:
    then the same content is validated again (e.g. after the office registry was fixed)."""
    latest = session.execute(select(func.max(IngestedFile.id)).where(col(IngestedFile.path) == path)).scalar_one()
    if latest is None:
        return False
    return (
        session.execute(
            select(col(Quarantine.id))
            .where(col(Quarantine.ingested_file_id) == latest, col(Quarantine.released_at).is_not(None))
            .limit(1)
        ).first()
        is not None
    )


def ingest_file(
    session: Session,
    path: Path,
    channel: str,
    quarter: str,
    config: AppConfig,
    registry: dict[str, str] | None = None,
    today: date | None = None,
    raw: RawFile | None = None,
) -> IngestSummary:
    """Ingest one file inside the caller's transaction (accounting: see the module docstring).

    Re-running a quarter is a no-op for files already ingested from the same path
    with the same content; the same content arriving under another name is recorded
    with every row counted as a duplicate. When an analyst has released the latest
    ingest's quarantined rows (``cxloop quarantine release``), the same path is
    validated again on the next ingest: rows accepted before count as duplicates,
    rows that pass now are accepted, the rest are quarantined again.

    Every accepted row is filed under ``quarter``, the file's quarter, whatever its
    date; a date after ``today`` (the run's date, default: the system date) or outside
    :func:`date_window` quarantines its row.

    ``registry`` (office_code -> region_code) defaults to the office table; ``raw``, the
    file as read already (:mod:`tasks.validate.batch`), saves reading it again."""
    path = Path(path)
    summary = IngestSummary(path=str(path), channel=channel)
    if raw is None:
        try:
            raw = read_channel_file(path, channel, config)
        except IntakeError as exc:
            summary.status, summary.error = "unreadable", str(exc)
            return summary
    summary.received = raw.received
    summary.skipped_blank, summary.skipped_header = raw.skipped_blank, raw.skipped_header
    if record_known_copy(session, raw, path, channel, quarter, summary):
        return summary
    registry = registry if registry is not None else office_regions(session)
    params = validation_parameters(registry, quarter, today)
    staged = stage_file(raw, registry, params)
    checked = check_channel(raw, staged, channel, params, config)
    return store_checked(session, raw, path, channel, quarter, summary, checked, params)


def is_known_content(session: Session, raw: RawFile, path: Path) -> bool:
    """Whether this content was ingested before and stays settled (see :func:`record_known_copy`)."""
    return _earlier(session, raw) is not None and not _has_released_rows(session, str(path))


def _earlier(session: Session, raw: RawFile) -> IngestedFile | None:
    return (
        session.execute(
            select(IngestedFile).where(col(IngestedFile.sha256) == raw.sha256, col(IngestedFile.repeat_of).is_(None))
        )
        .scalars()
        .first()
    )


def record_known_copy(
    session: Session, raw: RawFile, path: Path, channel: str, quarter: str, summary: IngestSummary
) -> bool:
    """A file whose content was ingested before (and not released since): nothing to do for
    the same path; under another path a ``repeat`` record, every row a duplicate. True when
    the file is settled that way, False when it is to be validated."""
    earlier = _earlier(session, raw)
    if earlier is None or _has_released_rows(session, str(path)):
        return False
    same_path = session.execute(
        select(col(IngestedFile.id)).where(col(IngestedFile.sha256) == raw.sha256, col(IngestedFile.path) == str(path))
    ).first()
    summary.duplicates = summary.received
    if same_path is not None:
        summary.status = "already_ingested"
        return True
    summary.status = "repeat"
    session.add(
        IngestedFile(
            sha256=raw.sha256,
            channel=channel,
            path=str(path),
            quarter=quarter,
            received=summary.received,
            duplicates=summary.duplicates,
            repeat_of=earlier.id,
        )
    )
    session.flush()
    return True


def stage_file(raw: RawFile, registry: dict[str, str], params: dict) -> pd.DataFrame:
    """The file's rows in staging columns, filed under the file's quarter (not the one of the row's date)."""
    staged = stage_rows(raw, registry)
    staged["quarter"] = params["file_quarter"]
    return staged


@dataclass
class Checked:
    """A file past its channel's suite: the rows it accepted as feedback rows (redacted and
    tagged), the quarantine so far, and the warnings."""

    feedback: pd.DataFrame
    quarantine: pd.DataFrame
    warnings: int


def check_channel(
    raw: RawFile,
    staged: pd.DataFrame,
    channel: str,
    params: dict,
    config: AppConfig,
    result: SuiteResult | None = None,
) -> Checked:
    """The channel's suite on the staged rows (``result``: its part of a run on many files),
    unreadable rows quarantined, accepted rows redacted and tagged as feedback rows."""
    outcome = apply_suite(staged, channel, params, result=result)
    quarantine = outcome.quarantine
    if raw.unreadable:
        unreadable = pd.DataFrame(
            [
                {"source_file": str(raw.path), "source_row": row, "field": "(row)", "rule": "parse", "reason": reason}
                for row, reason in raw.unreadable
            ]
        )
        quarantine = pd.concat([quarantine, unreadable], ignore_index=True)
    feedback = to_feedback_frame(outcome.accepted, config) if not outcome.accepted.empty else outcome.accepted
    return Checked(feedback, quarantine, outcome.warnings)


def store_checked(
    session: Session,
    raw: RawFile,
    path: Path,
    channel: str,
    quarter: str,
    summary: IngestSummary,
    checked: Checked,
    params: dict,
    contract_result: SuiteResult | None = None,
) -> IngestSummary:
    """The unified ``feedback`` suite (``contract_result``: its part of a run on many files),
    duplicates against what is stored, the accounting checked, then the file's record, its
    quarantine and its new rows written in the caller's transaction."""
    quarantine, feedback = checked.quarantine, checked.feedback
    contract = apply_suite(feedback, "feedback", params, result=contract_result) if not feedback.empty else None
    if contract is not None:
        quarantine = pd.concat([quarantine, contract.quarantine], ignore_index=True)
        feedback = contract.accepted
    existing = _existing_keys(session, feedback["dedup_key"].tolist()) if not feedback.empty else set()
    new_rows, dupes = split_duplicates(feedback, existing) if not feedback.empty else (feedback, 0)
    new_rows, near = split_near_duplicates(new_rows, _stored_text_keys(session, new_rows))
    dupes += near
    summary.near_duplicates = near

    summary.quarantined = len(quarantine)
    summary.duplicates = dupes
    summary.accepted = len(new_rows)
    summary.warnings = checked.warnings + (contract.warnings if contract else 0)
    summary.check()

    record = IngestedFile(
        sha256=raw.sha256,
        channel=channel,
        path=str(path),
        quarter=quarter,
        received=summary.received,
        accepted=summary.accepted,
        quarantined=summary.quarantined,
        duplicates=summary.duplicates,
        warnings=summary.warnings,
    )
    session.add(record)
    session.flush()
    assert record.id is not None  # assigned by the flush
    if not quarantine.empty:
        quarantine_table = Quarantine.__table__  # type: ignore[attr-defined]  # as Feedback.__table__ above
        session.execute(insert(quarantine_table), _quarantine_rows(record.id, channel, quarter, quarantine))
    store_feedback(session, new_rows)
    return summary
