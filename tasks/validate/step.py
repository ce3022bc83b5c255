"""The validate stage's step: one received file read, validated, redacted, tagged and
stored in its own transaction, with the outcome of its Great Expectations suites.
The flow ``ingest-feedback`` validates files in batches (:mod:`tasks.validate.batch`) and stores
each in a task of its own; a file that cannot go with its batch comes here, :func:`ingest_one_file`;
the work itself is :func:`tasks.validate.ingest.ingest_file` (inside a session the caller
owns), so a broken file never leaves half its rows behind and never stops the other files."""

from __future__ import annotations

from cxloop.config import AppConfig
from cxloop.domain import CHANNELS
from models.db import session_scope
from tasks.collect.discovery import FileInput
from tasks.collect.offices import office_regions
from tasks.collect.readers import RawFile
from tasks.validate.ingest import ingest_file
from tasks.validate.summary import FileReport, capture_suite_runs, rejected_summary


def missing_channel_report(item: FileInput) -> FileReport:
    """The report of a file whose name names no channel when none was given: rejected."""
    error = (
        f"{item.path}: the file name does not start with a channel id "
        f"({', '.join(CHANNELS)}); name the channel (--channel)"
    )
    return FileReport(rejected_summary(item.path, None, error), item.quarter)


def ingest_one_file(item: FileInput, config: AppConfig, raw: RawFile | None = None) -> FileReport:
    """Ingest one file in its own transaction and keep its suites' outcome (``raw``: the
    file as read already).

    A file the reader cannot take comes back as ``status="unreadable"`` with the
    reason; so does a file whose name names no channel when none was given."""
    if item.channel is None:
        return missing_channel_report(item)
    with capture_suite_runs() as runs:
        try:
            with session_scope() as session:
                regions = office_regions(session)
                summary = ingest_file(session, item.path, item.channel, item.quarter, config, regions, raw=raw)
        except OSError as exc:  # vanished or unreadable on disk: a whole-file failure, not a crash
            summary = rejected_summary(
                item.path, item.channel, f"{item.path}: cannot read the file ({exc.strerror or exc})"
            )
    return FileReport(summary, item.quarter, list(runs))
