"""The validate stage's step: one received file read, validated, redacted, tagged and
stored in its own transaction, with the outcome of its Great Expectations suites.
The flow ``ingest-feedback`` runs one Prefect task per file around :func:`ingest_one_file`;
the work itself is :func:`tasks.validate.ingest.ingest_file` (inside a session the caller
owns), so a broken file never leaves half its rows behind and never stops the other files."""

from __future__ import annotations

from cxloop.config import AppConfig
from cxloop.domain import CHANNELS
from models.db import session_scope
from tasks.collect.discovery import FileInput
from tasks.collect.offices import office_regions
from tasks.validate.ingest import ingest_file
from tasks.validate.summary import FileReport, capture_suite_runs, rejected_summary


def ingest_one_file(item: FileInput, config: AppConfig) -> FileReport:
    """Ingest one file in its own transaction and keep its suites' outcome.

    A file the reader cannot take comes back as ``status="unreadable"`` with the
    reason; so does a file whose name names no channel when none was given."""
    if item.channel is None:
        error = (
            f"{item.path}: the file name does not start with a channel id "
            f"({', '.join(CHANNELS)}); name the channel (--channel)"
        )
        return FileReport(rejected_summary(item.path, None, error), item.quarter)
    with capture_suite_runs() as runs:
        try:
            with session_scope() as session:
                summary = ingest_file(session, item.path, item.channel, item.quarter, config, office_regions(session))
        except OSError as exc:  # vanished or unreadable on disk: a whole-file failure, not a crash
            summary = rejected_summary(
                item.path, item.channel, f"{item.path}: cannot read the file ({exc.strerror or exc})"
            )
    return FileReport(summary, item.quarter, list(runs))
