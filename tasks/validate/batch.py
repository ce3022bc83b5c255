"""The validate stage's step for many files: validated together, stored one by one.

Great Expectations costs about the same per validation whatever the number of rows (it
builds its metric graph and serialises every expectation's configuration many times), so
a national quarter of 510 small files paid that cost ~1,000 times. Here the files of one
channel and quarter go through their suite in one GE run, as do all their feedback rows
through the unified ``feedback`` suite (:func:`tasks.validate.suites.run_suite_split`,
which gives each file exactly the results a run on it alone gives). Storing stays one
transaction per file, in the order the files were given, so duplicate decisions are the
ones the file-by-file path makes (:func:`tasks.validate.step.ingest_one_file`), and a
file that fails never leaves half its rows behind.

:func:`prepare_files` reads, stages and validates (no writes); :func:`store_prepared`
stores one file. A file whose content is known already, repeats an earlier file of the
batch, cannot be read, or meets an error while prepared goes the file-by-file way when
stored, so every file ends exactly as it would have alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from cxloop.config import AppConfig
from models.db import session_scope
from tasks.collect.decoding import IntakeError
from tasks.collect.discovery import FileInput
from tasks.collect.offices import office_regions
from tasks.collect.readers import RawFile, read_channel_file
from tasks.validate.ingest import (
    Checked,
    IngestSummary,
    check_channel,
    is_known_content,
    record_known_copy,
    stage_file,
    store_checked,
    validation_parameters,
)
from tasks.validate.step import ingest_one_file, missing_channel_report
from tasks.validate.suites import SuiteResult, run_suite_split
from tasks.validate.summary import FileReport, SuiteRun, capture_suite_runs

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """One file after :func:`prepare_files`: checked against its channel's suite and, for its
    accepted rows, its part of the ``feedback`` suite run; or ``alone`` (stored file by file)."""

    item: FileInput
    raw: RawFile | None = None
    alone: bool = True
    params: dict = field(default_factory=dict)
    staged: pd.DataFrame | None = None
    checked: Checked | None = None
    contract: SuiteResult | None = None
    runs: list[SuiteRun] = field(default_factory=list)
    report: FileReport | None = None  # settled already (no channel in the name)


def prepare_files(items: list[FileInput], config: AppConfig, today: date | None = None) -> list[Prepared]:
    """Read, stage and validate ``items`` (nothing is written): one GE run per channel and
    quarter for the channel suites, one per quarter for the feedback suite."""
    prepared = [Prepared(item) for item in items]
    with session_scope() as session:
        registry = office_regions(session)
        seen: set[str] = set()
        for p in prepared:
            _read(p, session, registry, config, seen, today)
    _check_channels([p for p in prepared if not p.alone], config)
    _check_contracts([p for p in prepared if not p.alone and p.checked is not None])
    for p in prepared:
        if not p.alone and p.checked is not None and p.raw is not None:
            p.raw = p.raw.without_rows()  # stored from the checked frames (store_prepared)
    return prepared


def _read(p: Prepared, session, registry: dict[str, str], config: AppConfig, seen: set[str], today) -> None:
    item = p.item
    if item.channel is None:
        p.report = missing_channel_report(item)
        return
    try:
        p.raw = read_channel_file(item.path, item.channel, config)
    except (IntakeError, OSError):
        return  # alone: the file-by-file path reads it again and reports why it cannot
    if p.raw.sha256 in seen or is_known_content(session, p.raw, item.path):
        return  # alone: a repeat or a rerun, settled when stored, in order
    seen.add(p.raw.sha256)
    p.params = validation_parameters(registry, item.quarter, today)
    p.staged = stage_file(p.raw, registry, p.params)
    p.alone = False


def _split(frames: list[pd.DataFrame], suite: str, params: dict) -> list[SuiteResult] | None:
    """:func:`run_suite_split`, or None (each file validated on its own) when it cannot run."""
    try:
        return run_suite_split(frames, suite, params)
    except Exception as exc:  # a file's values GE cannot take: each file meets it on its own
        log.warning("suite %s on %d files at once failed (%s); validating them one by one", suite, len(frames), exc)
        return None


def _check_channels(prepared: list[Prepared], config: AppConfig) -> None:
    groups: dict[tuple[str, str], list[Prepared]] = {}
    for p in prepared:
        groups.setdefault((str(p.item.channel), p.item.quarter), []).append(p)
    for (channel, _), members in groups.items():
        frames = [p.staged for p in members if p.staged is not None]
        results = _split(frames, channel, members[0].params)
        for i, p in enumerate(members):
            assert p.raw is not None and p.staged is not None  # set together with alone=False
            try:
                with capture_suite_runs() as runs:
                    p.checked = check_channel(
                        p.raw, p.staged, channel, p.params, config, results[i] if results else None
                    )
                p.runs = list(runs)
            except Exception as exc:  # a bug, not bad input: the file-by-file path meets it and says so
                log.warning("%s: could not be checked with its batch (%s)", p.item.path.name, type(exc).__name__)
                p.alone, p.checked, p.runs = True, None, []
            p.staged = None  # no longer needed; memory goes back while the batch is stored


def _check_contracts(prepared: list[Prepared]) -> None:
    groups: dict[str, list[Prepared]] = {}
    for p in prepared:
        if p.checked is not None and not p.checked.feedback.empty:
            groups.setdefault(p.item.quarter, []).append(p)
    for members in groups.values():
        results = _split([p.checked.feedback for p in members if p.checked is not None], "feedback", members[0].params)
        if results is not None:
            for p, result in zip(members, results, strict=True):
                p.contract = result


def store_prepared(p: Prepared, config: AppConfig) -> FileReport:
    """Store one prepared file in its own transaction, with the outcome of its suites."""
    if p.report is not None:
        return p.report
    if p.alone or p.checked is None or p.raw is None:
        return ingest_one_file(p.item, config, raw=p.raw)
    item, raw = p.item, p.raw
    assert item.channel is not None  # a file without one has its report already
    summary = IngestSummary(path=str(item.path), channel=item.channel, received=raw.received)
    summary.skipped_blank, summary.skipped_header = raw.skipped_blank, raw.skipped_header
    with capture_suite_runs() as runs, session_scope() as session:
        if record_known_copy(session, raw, item.path, item.channel, item.quarter, summary):
            return FileReport(summary, item.quarter, [])  # stored meanwhile by another run
        store_checked(session, raw, item.path, item.channel, item.quarter, summary, p.checked, p.params, p.contract)
    return FileReport(summary, item.quarter, [*p.runs, *runs])


def ingest_files(items: list[FileInput], config: AppConfig) -> list[FileReport]:
    """:func:`prepare_files` then :func:`store_prepared` for each file, in order."""
    return [store_prepared(p, config) for p in prepare_files(items, config)]
