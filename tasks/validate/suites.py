"""Validate stage (loop step 2), data contracts: the Great Expectations suites in ``expectations/``
(one per channel, plus ``feedback.json`` for the unified table) run on the staging frame of
:func:`tasks.collect.staging.stage_rows`; each row is accepted, quarantined (file, row,
field, rule and a readable reason) or accepted with a field discarded and flagged, as a
:class:`ValidationOutcome`.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from cxloop.paths import EXPECTATIONS_DIR
from tasks.validate.ge_memo import memoised_configurations
from tasks.validate.redaction import redact

# The suites are read by GE as they are. Each expectation carries GE's own ``severity``:
# ``critical`` quarantines the failing rows, ``warning`` keeps the row, discards the
# failing field and flags the row. ``meta.reason`` is the message shown to analysts;
# ``{value}`` is replaced by the offending raw value (never free text, so no personal data
# reaches a reason).
#
# Speed: GE's ``COMPLETE`` result format (needed for row indices) costs seconds per million
# rows and expectation, while ``BASIC`` costs a fraction. So every suite first runs with
# ``BASIC``; only the expectations that failed are rerun with ``COMPLETE`` to find their
# rows. Row-wise expectations are run on the distinct values of their columns and mapped
# back to rows (see :func:`run_suite`; measured in ``make bench``).

_ROW = "_pos"  # positional index GE reports failing rows by

# Opt-in observer of every suite's outcome (to build Data Docs for a run); None = off, no cost.
_result_sink = None


def set_result_sink(sink):
    """Have :func:`run_suite` call ``sink(suite_name, results, {"rows": n, "parameters": params})``
    after every suite, with the list it returns (row-level counts; no row values);
    ``None`` turns it off. Returns the previous sink so a caller can restore it.
    Used to build GE Data Docs for a run (tasks.validate.summary)."""
    global _result_sink
    previous, _result_sink = _result_sink, sink
    return previous


_POS = "cxloop_position"  # meta tag: an expectation's place in its suite

# The date plausibility rules of the unified suite (feedback.json) take the run's date and the file's
# window as parameters (see tasks.validate.ingest.validation_parameters); a caller that
# gives none (a notebook, a benchmark) validates with an open window.
OPEN_DATE_WINDOW = {
    "run_date": "9999-12-31",
    "earliest_date": "0001-01-01",
    "latest_date": "9999-12-31",
    "file_quarter": "?",
}

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@dataclass
class ValidationOutcome:
    accepted: pd.DataFrame
    quarantine: pd.DataFrame  # source_file, source_row, field, rule, reason
    warnings: int = 0
    failed_expectations: dict[str, int] = field(default_factory=dict)  # "rule:column" -> rows


def load_suite_json(name: str, directory: Path | None = None) -> dict:
    path = (directory or EXPECTATIONS_DIR) / f"{name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{path}: expectation suite not found") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc


def quiet_ge_logging() -> None:
    """GE sets some of its loggers to INFO when imported (one announces a temporary
    folder for every ephemeral context); call after importing it."""
    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)


@lru_cache(maxsize=1)
def ge_context():
    """One ephemeral GE context per process, progress bars off (they flood logs)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    quiet_ge_logging()

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    asset = ctx.data_sources.add_pandas("cxloop").add_dataframe_asset("rows")
    return gx, asset.add_batch_definition_whole_dataframe("whole")


def _suite(gx, spec: dict, expectations: list[dict]):
    """A GE suite of the given expectations, each tagged with its position: GE does
    not return results in the order of the suite."""
    from great_expectations.core.expectation_suite import ExpectationSuite

    tagged = [{**e, "meta": {**e.get("meta", {}), _POS: i}} for i, e in enumerate(expectations)]
    return ExpectationSuite(name=spec["name"], expectations=tagged, meta=spec.get("meta", {}))


def _in_suite_order(results) -> list:
    return sorted(results, key=lambda r: r.expectation_config.meta[_POS])


def _ge_frame(frame: pd.DataFrame, columns: set[str]) -> pd.DataFrame:
    """What GE sees: the checked columns with missing values as None/NaN, plus the row position."""
    sub = frame[[c for c in frame.columns if c in columns]].copy()
    sub[_ROW] = np.arange(len(frame))
    return sub


def _row_wise(exp: dict) -> bool:
    """Whether an expectation judges each value on its own (a GE column-map expectation
    without ``mostly`` or a row condition): then judging each distinct value once is
    the same as judging every row."""
    from great_expectations.expectations.expectation import ColumnMapExpectation
    from great_expectations.expectations.registry import get_expectation_impl

    kwargs = exp.get("kwargs", {})
    if kwargs.get("mostly", 1) not in (1, 1.0) or kwargs.get("row_condition"):
        return False
    try:
        return issubclass(get_expectation_impl(exp["type"]), ColumnMapExpectation)
    except Exception:  # unknown type: GE will say so when it runs it on the full frame
        return False


def _distinct_values(series: pd.Series, nullness_only: bool) -> tuple[np.ndarray, list]:
    """(code per row, representative values): rows with equal codes get equal outcomes."""
    if nullness_only:
        isnull = series.isna().to_numpy()
        present = ~isnull
        values = [series[present].iloc[0]] if present.any() else []
        codes = np.where(isnull, len(values), 0)
        if isnull.any():
            values.append(None)
        return codes, values
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    values = list(uniques)
    if (codes == -1).any():
        codes = np.where(codes == -1, len(values), codes)
        values.append(None)
    return codes, values


def _validate(
    gx, batch_definition, spec: dict, expectations: list[dict], ge_frame: pd.DataFrame, params: dict
) -> list[dict]:
    """GE on ``ge_frame``: BASIC for all, COMPLETE only for the failing expectations (row positions)."""
    batch = batch_definition.get_batch(batch_parameters={"dataframe": ge_frame})
    with memoised_configurations():
        basic = batch.validate(_suite(gx, spec, expectations), result_format="BASIC", expectation_parameters=params)
    outcome, failed = [], []
    for exp, res in zip(expectations, _in_suite_order(basic.results), strict=True):
        if res.exception_info and res.exception_info.get("raised_exception"):
            raise RuntimeError(
                f"suite {spec['name']}: {exp['type']} on {exp['kwargs']['column']} failed to run: "
                f"{res.exception_info.get('exception_message')}"
            )
        item = {
            "type": exp["type"],
            "column": exp["kwargs"]["column"],
            "severity": exp.get("severity", "critical"),
            "reason": exp.get("meta", {}).get("reason", exp["type"]),
            "success": bool(res.success),
            "unexpected_count": int(res.result.get("unexpected_count") or 0),
            "rows": np.array([], dtype="int64"),
        }
        outcome.append(item)
        if not res.success:
            failed.append((item, exp))
    if failed:
        with memoised_configurations():
            complete = batch.validate(
                _suite(gx, spec, [exp for _, exp in failed]),
                result_format={
                    "result_format": "COMPLETE",
                    "unexpected_index_column_names": [_ROW],
                    "return_unexpected_index_query": False,
                },
                expectation_parameters=params,
            )
        for (item, _), res in zip(failed, _in_suite_order(complete.results), strict=True):
            idx = res.result.get("unexpected_index_list") or []
            item["rows"] = np.asarray(sorted(int(r[_ROW]) for r in idx), dtype="int64")
    return outcome


def _narrowed(params: dict, expectations: list[dict], frame: pd.DataFrame) -> dict:
    """``params`` with every value-set parameter of ``expect_column_values_to_be_in_set`` cut to the
    values its columns hold (the same verdict for every row: a value is in the set exactly when it is
    in the set's part the frame holds). GE serialises an expectation's whole configuration, value
    set included, many times per validation: with the national office registry (2,400 codes)
    that was ~90 % of the intake's time, paid per file whatever its size."""
    users: dict[str, set[str]] = {}
    for e in expectations:
        value_set = e["kwargs"].get("value_set")
        if e["type"] == "expect_column_values_to_be_in_set" and isinstance(value_set, dict):
            name = value_set.get("$PARAMETER")
            if isinstance(name, str):
                users.setdefault(name, set()).add(e["kwargs"]["column"])
    out = dict(params)
    for name, columns in users.items():
        full = params.get(name)
        if not isinstance(full, (list, tuple)):
            continue
        try:
            present = {v for c in columns for v in pd.unique(frame[c].dropna())}
            kept = [v for v in full if v in present]
        except TypeError:  # an unhashable cell: GE judges the full set
            continue
        out[name] = kept or list(full[:1])  # never empty: the first value stands for "none of these"
    return out


def run_suite(
    frame: pd.DataFrame,
    suite_name: str,
    parameters: dict | None = None,
    directory: Path | None = None,
    distinct: bool = True,
) -> list[dict]:
    """Validate ``frame`` against a JSON suite; one dict per expectation with its failing row positions.

    Returns: [{"type", "column", "severity", "reason", "success", "unexpected_count", "rows": np.ndarray}]

    With ``distinct`` (the default), the row-wise expectations are run by GE on the
    distinct values of their columns instead of on every row (for a not-null check,
    on one present and one missing value), and the failing values are mapped back to
    rows. GE stays the only definition of every rule, while a million rows with a
    few hundred distinct codes, dates and answers validate in a fraction of a second.
    Expectations that are not row-wise (aggregates, ``mostly``) run on the full frame.
    """
    final, params = _run(frame, suite_name, load_suite_json(suite_name, directory), parameters, distinct)
    _report(suite_name, final, len(frame), params)
    return final


def _report(suite_name: str, results: list[dict], rows: int, params: dict) -> None:
    if _result_sink is not None:
        _result_sink(suite_name, results, {"rows": rows, "parameters": params})


def _run(
    frame: pd.DataFrame, suite_name: str, spec: dict, parameters: dict | None, distinct: bool
) -> tuple[list[dict], dict]:
    """:func:`run_suite`'s work without reporting to the sink: (results, the parameters GE got)."""
    expectations = spec["expectations"]
    missing = sorted({e["kwargs"]["column"] for e in expectations} - set(frame.columns))
    if missing:
        raise ValueError(f"suite {suite_name}: frame has no column(s) {missing}")
    gx, batch_definition = ge_context()
    params = _narrowed({**OPEN_DATE_WINDOW, **(parameters or {})}, expectations, frame)
    by_distinct = [e for e in expectations if distinct and len(frame) > 0 and _row_wise(e)]
    on_rows = [e for e in expectations if e not in by_distinct]
    results: dict[int, dict] = {}
    if on_rows:
        ge_frame = _ge_frame(frame, {e["kwargs"]["column"] for e in on_rows})
        for exp, item in zip(on_rows, _validate(gx, batch_definition, spec, on_rows, ge_frame, params), strict=True):
            results[id(exp)] = item
    if by_distinct:
        columns = sorted({e["kwargs"]["column"] for e in by_distinct})
        encoded = {}
        for col in columns:
            types = {e["type"] for e in by_distinct if e["kwargs"]["column"] == col}
            encoded[col] = _distinct_values(frame[col], types == {"expect_column_values_to_not_be_null"})
        for group in _distinct_groups(by_distinct, {c: len(values) for c, (_, values) in encoded.items()}):
            for exp, item in zip(
                group, _validate_distinct(gx, batch_definition, spec, group, encoded, params), strict=True
            ):
                results[id(exp)] = item
    return [results[id(e)] for e in expectations], params


FEW_DISTINCT = 1_000
"""Columns with at most this many distinct values can be judged apart (:func:`_distinct_groups`)."""
SPLIT_SAVES = 250_000
"""Judged values a second GE run must save to be worth its overhead (~0.04 s, about as much)."""


def _distinct_groups(expectations: list[dict], distinct: dict[str, int]) -> list[list[dict]]:
    """The row-wise expectations in one GE run, or two: columns of few distinct values (answers,
    codes, dates) apart from the others (ids, texts: up to one value per row). In one frame
    every column is padded to the longest, and a survey's 20 answer columns, six values each,
    were judged ~40,000 times each per batch."""
    few = [e for e in expectations if distinct[e["kwargs"]["column"]] <= FEW_DISTINCT]
    many = [e for e in expectations if distinct[e["kwargs"]["column"]] > FEW_DISTINCT]

    def cells(group: list[dict]) -> int:
        return len(group) * max((distinct[e["kwargs"]["column"]] for e in group), default=0)

    if few and many and cells(expectations) - cells(few) - cells(many) > SPLIT_SAVES:
        return [few, many]
    return [expectations]


def _validate_distinct(
    gx, batch_definition, spec: dict, expectations: list[dict], encoded: dict, params: dict
) -> list[dict]:
    """Row-wise ``expectations`` judged by GE on their columns' distinct values (``encoded``:
    column -> codes per row, values), the failing values mapped back to rows."""
    columns = sorted({e["kwargs"]["column"] for e in expectations})
    length = max(len(encoded[col][1]) for col in columns)
    # Pad shorter columns by repeating a value they already have: no new outcome.
    small = pd.DataFrame(
        {col: encoded[col][1] + [encoded[col][1][0]] * (length - len(encoded[col][1])) for col in columns}
    )
    small[_ROW] = np.arange(length)
    out = []
    for exp, item in zip(expectations, _validate(gx, batch_definition, spec, expectations, small, params), strict=True):
        codes, values = encoded[exp["kwargs"]["column"]]
        failing_values = np.unique(np.where(item["rows"] < len(values), item["rows"], 0))
        rows = np.flatnonzero(np.isin(codes, failing_values)) if len(item["rows"]) else np.array([], dtype="int64")
        item["rows"] = rows.astype("int64")
        item["unexpected_count"] = len(rows)
        item["success"] = len(rows) == 0
        out.append(item)
    return out


def _format_reason(template: str, raw_value: object, parameters: dict | None = None) -> str:
    """The reason with the offending value; redacted, since people type phones into any column.
    ``{name}`` of a text parameter of the run (a date, the file's quarter) is replaced too."""
    value = "" if raw_value is None or (isinstance(raw_value, float) and np.isnan(raw_value)) else str(raw_value)
    for name, param in (parameters or {}).items():
        if isinstance(param, str) and "{" + name + "}" in template:
            template = template.replace("{" + name + "}", param)
    return template.replace("{value}", redact(value[:60]) or "")


def _raw_column(frame: pd.DataFrame, column: str) -> str:
    return f"{column}__raw" if f"{column}__raw" in frame.columns else column


@dataclass
class SuiteResult:
    """One frame's results of a suite run on many frames at once (:func:`run_suite_split`):
    what :func:`run_suite` would have returned for that frame alone, and the parameters
    it would have given GE (for the sink)."""

    results: list[dict]
    rows: int
    parameters: dict


def run_suite_split(
    frames: list[pd.DataFrame], suite_name: str, parameters: dict | None = None
) -> list[SuiteResult] | None:
    """Run a suite once over several frames (the files of one channel and quarter) and split its
    results per frame, exactly as :func:`run_suite` on each frame would give them; the sink is
    not called (:func:`apply_suite` with ``result=`` reports each frame's part).

    GE's fixed cost per validation (building the metric graph, serialising every expectation's
    configuration many times) is paid once instead of once per file. Exact because every
    expectation is row-wise (:func:`_row_wise`) and a value set narrowed to the union of the
    frames' values gives each value the verdict the full set gives it. None when a suite has an
    expectation that is not row-wise or a frame lacks a checked column: then validate frame by
    frame, as before."""
    spec = load_suite_json(suite_name)
    expectations = spec["expectations"]
    columns = {e["kwargs"]["column"] for e in expectations}
    if not all(_row_wise(e) for e in expectations) or any(not columns <= set(f.columns) for f in frames):
        return None
    checked = sorted(columns)
    # Frames are joined only where their checked columns have the same dtypes, so GE sees every
    # value as it would in its own frame (an object column joined to a float one would not).
    groups: dict[tuple, list[int]] = {}
    for i, f in enumerate(frames):
        groups.setdefault(tuple(str(f[c].dtype) for c in checked), []).append(i)
    full = {**OPEN_DATE_WINDOW, **(parameters or {})}
    out: list[SuiteResult | None] = [None] * len(frames)
    for members in groups.values():
        parts = [frames[i][checked].reset_index(drop=True) for i in members]
        results, _ = _run(pd.concat(parts, ignore_index=True), suite_name, spec, parameters, distinct=True)
        start = 0
        for i, part in zip(members, parts, strict=True):
            end = start + len(part)
            mine = []
            for item in results:
                rows = item["rows"][(item["rows"] >= start) & (item["rows"] < end)] - start
                mine.append(
                    {**item, "rows": rows.astype("int64"), "unexpected_count": len(rows), "success": not len(rows)}
                )
            out[i] = SuiteResult(mine, len(part), _narrowed(full, expectations, frames[i]))
            start = end
    return [r for r in out if r is not None]


def apply_suite(
    frame: pd.DataFrame, suite_name: str, parameters: dict | None = None, result: SuiteResult | None = None
) -> ValidationOutcome:
    """Run a suite and split the frame: critical failures -> quarantine, warnings -> field discarded + flag.

    ``result``: this frame's part of a :func:`run_suite_split` run, used instead of running the
    suite again (and reported to the sink as :func:`run_suite` would)."""
    frame = frame.reset_index(drop=True)
    if result is None:
        results = run_suite(frame, suite_name, parameters)
    else:
        results = result.results
        _report(suite_name, results, result.rows, result.parameters)
    params = {**OPEN_DATE_WINDOW, **(parameters or {})}
    quarantined_rows: dict[int, list[tuple[str, str, str]]] = {}
    flags: dict[int, list[str]] = {}
    accepted = frame.copy()
    warnings = 0
    failed: dict[str, int] = {}
    for res in results:
        if res["success"] or len(res["rows"]) == 0:
            continue
        col, rows = res["column"], res["rows"]
        failed[f"{res['type']}:{col}"] = len(rows)
        raw_values = frame[_raw_column(frame, col)].to_numpy()[rows]
        reasons: dict[object, str] = {}  # one formatted (and redacted) reason per distinct value
        for pos, raw in zip(rows.tolist(), raw_values.tolist(), strict=True):
            key = (type(raw).__name__, raw) if raw is not None and raw == raw else None
            if key not in reasons:
                reasons[key] = _format_reason(res["reason"], raw, params)
            if res["severity"] == "critical":
                quarantined_rows.setdefault(pos, []).append((col, res["type"], reasons[key]))
            else:
                flags.setdefault(pos, []).append(f"{res['type']}:{col}")
        if res["severity"] != "critical":
            warnings += len(rows)
            accepted.loc[rows, col] = None
    files = frame["source_file"].to_numpy()
    source_rows = frame["source_row"].to_numpy()
    # Rows of an XLSX carry their sheet: the reason names it, as the row number is on that sheet.
    sheets = frame["source_sheet"].to_numpy() if "source_sheet" in frame.columns else np.full(len(frame), None)
    q_records = [
        {
            "source_file": files[pos],
            "source_row": int(source_rows[pos]),
            "field": "; ".join(f for f, _, _ in problems),
            "rule": "; ".join(r for _, r, _ in problems),
            "reason": (f"sheet '{sheets[pos]}', " if isinstance(sheets[pos], str) else "")
            + "; ".join(m for _, _, m in problems),
        }
        for pos, problems in sorted(quarantined_rows.items())
    ]
    keep = np.ones(len(frame), dtype=bool)
    keep[list(quarantined_rows)] = False
    all_flags = (
        frame["flags"].fillna("").to_numpy(dtype=object).copy()
        if "flags" in frame.columns
        else np.full(len(frame), "", dtype=object)
    )
    for pos, new in flags.items():
        all_flags[pos] = ",".join([all_flags[pos], *new] if all_flags[pos] else new)
    accepted["flags"] = all_flags
    accepted = accepted[keep].reset_index(drop=True)
    quarantine = pd.DataFrame.from_records(q_records, columns=["source_file", "source_row", "field", "rule", "reason"])
    return ValidationOutcome(accepted, quarantine, warnings, failed)
