"""Validate stage (loop step 2), GE Data Docs for an ingest run: the suite runs of the run's files
rebuilt as GE validation results and rendered as a static site next to the results of
earlier runs (rules, counts and percentages only, never a row value).

A file's page is keyed by :func:`docs_key`, never by its raw name: any name a file system
allows (backslashes, ``..``, 255 bytes, any script) gives a key GE's file store accepts.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from tasks.validate.suites import load_suite_json, quiet_ge_logging
from tasks.validate.summary import FileReport, SuiteRun

# A key is a file name inside the site (``validations/<suite>/<run>/<time>/<key>.html``):
# ASCII letters, digits, ``.``, ``_`` and ``-`` only, at most this many bytes.
MAX_KEY_BYTES = 100
_HASH_CHARS = 12  # 48 bits of SHA-256 of the original name
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def docs_key(name: str, n: int = 1) -> str:
    """The Data Docs key of a file named ``name``: its name made safe and bounded, plus a
    short hash of the original name, so names that read alike never share a key.

    ``contact_center_52.csv`` -> ``contact_center_52.csv-<12 hex>``; ``n`` above 1 (the
    same name twice in one run) adds ``-<n>``. Never contains a path separator, never starts
    with a dot, at most :data:`MAX_KEY_BYTES` bytes."""
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:_HASH_CHARS]
    suffix = f"-{digest}" + (f"-{n}" if n > 1 else "")
    readable = re.sub(r"\.{2,}", ".", _UNSAFE.sub("_", name)).lstrip(".") or "file"
    return readable[: MAX_KEY_BYTES - len(suffix)] + suffix


def _resolve_parameters(value, parameters: dict):
    if isinstance(value, dict) and set(value) == {"$PARAMETER"}:
        return parameters.get(value["$PARAMETER"], value)
    return value


def suite_result_json(run: SuiteRun, run_id, file_name: str | None = None) -> str:
    """One suite run as GE's ``ValidationResultsStore`` stores an ``ExpectationSuiteValidationResult``
    (its schema's JSON, two-space indent, sorted keys), from the suite JSON and GE's row-level
    verdicts (GE may have checked distinct values; the counts here are rows), built from
    plain dicts. Building GE's objects and serialising them deep-copies and re-validates
    every result through marshmallow, about half of a national intake's Data Docs time;
    ``tests/tasks/validate/test_datadocs_json.py`` checks this gives GE's text."""
    spec = load_suite_json(run.suite)
    results = []
    for exp, r in zip(spec["expectations"], run.results, strict=True):
        n, bad = int(run.rows), int(r["unexpected_count"])
        results.append(
            {
                "exception_info": {"exception_message": None, "exception_traceback": None, "raised_exception": False},
                "expectation_config": {
                    "kwargs": {k: _resolve_parameters(v, run.parameters) for k, v in exp["kwargs"].items()},
                    "meta": exp.get("meta", {}),
                    "severity": exp.get("severity", "critical"),
                    "type": exp["type"],
                },
                "meta": {},
                "result": {
                    "element_count": n,
                    "unexpected_count": bad,
                    "unexpected_percent": (100.0 * bad / n) if n else 0.0,
                },
                "success": bool(r["success"]),
            }
        )
    good = sum(1 for x in results if x["success"])
    document = {
        "id": None,
        "meta": {
            "batch_spec": {"data_asset_name": file_name or ""},
            "rows": int(run.rows),
            "run_id": run_id.to_json_dict() if run_id is not None else None,
        },
        "results": results,
        "statistics": {
            "evaluated_expectations": len(results),
            "success_percent": (100.0 * good / len(results)) if results else 100.0,
            "successful_expectations": good,
            "unsuccessful_expectations": len(results) - good,
        },
        "success": good == len(results),
        "suite_name": run.suite,
        "suite_parameters": {},
    }
    return json.dumps(document, indent=2, sort_keys=True)


def _docs_context(site_dir: Path):
    """A GE context of its own (not the validation one, not the process-wide current one) whose
    validation results live next to the site, so the index lists every run, not just the last."""
    from great_expectations.data_context import EphemeralDataContext
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults

    quiet_ge_logging()

    site_dir = Path(site_dir).resolve()  # GE's filesystem stores want absolute folders
    defaults = InMemoryStoreBackendDefaults()
    config = DataContextConfig(store_backend_defaults=defaults)
    config.stores[config.validation_results_store_name] = {
        "class_name": "ValidationResultsStore",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site_dir / ".results")},
    }
    config.data_docs_sites = {
        "cxloop": {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    }
    return EphemeralDataContext(project_config=config)


def build_data_docs(reports: Sequence[FileReport], site_dir: Path, run_name: str, run_time: datetime) -> Path | None:
    """Render the run's suite results as GE Data Docs under ``site_dir``; returns its index.html.

    The pages show rules, counts and percentages only (no row values). Returns None
    when nothing was validated in this run and no earlier site exists."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    site_dir = Path(site_dir).resolve()
    runs = [(r, run) for r in reports for run in r.suites]
    if not runs:
        return site_index(reports, site_dir)
    site_dir.mkdir(parents=True, exist_ok=True)
    context = _docs_context(site_dir)
    run_id = RunIdentifier(run_name=run_name, run_time=run_time)
    keys, used = [], set()
    for report, run in runs:
        name, n = Path(report.summary.path).name, 1
        batch = docs_key(name)
        while (run.suite, batch) in used:  # two files of the same name in one run
            n += 1
            batch = docs_key(name, n)
        used.add((run.suite, batch))
        key = ValidationResultIdentifier(ExpectationSuiteIdentifier(name=run.suite), run_id, batch)
        store = context.validation_results_store
        store.store_backend.set(store.key_to_tuple(key), suite_result_json(run, run_id, batch))
        keys.append(key)
    context.build_data_docs(site_names=["cxloop"], resource_identifiers=_KeyList(keys))
    return site_dir / "index.html"


def site_index(reports: Sequence[FileReport], site_dir: Path) -> Path | None:
    """The index.html :func:`build_data_docs` returns when it succeeds for ``reports``, known
    before it runs: None when nothing was validated and no earlier site exists."""
    index = Path(site_dir).resolve() / "index.html"
    if any(r.suites for r in reports) or index.exists():
        return index
    return None


class _KeyList(list):
    """The run's result keys as GE wants them (a list), looked up in a set: GE's site builder
    asks ``key in resource_identifiers`` for every result its store holds, earlier runs'
    included, which on a list costs stored x new comparisons (1,020 x 1,020 for one national
    intake, ~14 s, and more every quarter)."""

    def __init__(self, keys: list) -> None:
        super().__init__(keys)
        self._lookup = set(keys)

    def __contains__(self, key: object) -> bool:
        return key in self._lookup
