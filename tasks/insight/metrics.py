"""Loop step 3, *measure*: the satisfaction metrics reported beside the star
index, wherever a channel carries the answers they need.

Definitions (``shared/domain.md``, "Other metrics"):

* **ACSI-style score** of the survey's overall-satisfaction question (1-10): each
  answer becomes (x − 1) / 9 × 100 and the score is their mean (0-100); 95 % t
  interval over respondents (mean ± t(0.975, n − 1) · s / √n), clipped to 0-100.
* **NPS** of the likelihood-to-recommend question (0-10): % promoters (9-10) minus
  % detractors (0-6), −100..100. Margin of error (95 %) by the domain's formula
  1.96 · 100 · √(((p + d) − (p − d)²) / n) with p, d the promoter and detractor
  shares: the standard error of a difference of two shares of one multinomial
  sample (the 1.96 is taken at full precision, :data:`cxloop.domain.Z95`).
* **CES** of "it was easy to get the service" (1-7): the mean answer with a 95 % t
  interval (clipped to 1-7) and the share answering 5-7 ("easy", %).
* **CSAT** of star ratings (contact-centre calls, the office review book, map and
  social reviews): the share of satisfied ratings, 4-5 on a 1-5 scale. A 10-point
  rating counts as satisfied at 9-10: the top two boxes, as on the 5-point scale
  (a linear rescaling would count 8 as satisfied too; the top-box convention is the
  one CSAT users expect). 95 % Wilson score interval, which stays inside 0-100 % and
  behaves at small n and at shares near 0 or 100 %.

Blank answers (NaN) do not count: each metric has its own ``n_*`` (respondents who
answered that question). Client types are reported separately (``citizen``,
``employer``) and pooled (``all``: every respondent once, so unlike the index
composite it is weighted by respondents). Sample sizes: a metric whose ``n_*`` is
below ``min_sample`` (30, as for the index) is flagged in ``<metric>_sufficient``
and must be shown as "insufficient sample", never ranked; its value is still given.
``sufficient_sample`` is the respondent count of the row against the same bound
(the index's rule), for a report that shows one flag per unit.

Output floats are rounded to :data:`DECIMALS` places, so the same answers give
the same numbers however they were ordered or stored (round-trips through JSON
and the database are exact). Functions here are pure (DataFrames in, DataFrames
out) except :func:`load_metric_inputs` and :func:`quarter_metrics`, which read one
quarter from the database.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import stats
from sqlalchemy import select
from sqlmodel import Session, col

from cxloop.domain import COUNTRY_CODE, SURVEY_QUESTIONS, Z95, wilson_interval

MIN_SAMPLE = 30  # as config/thresholds.yaml star.min_sample
DECIMALS = 6
CLIENT_GROUPS = ("citizen", "employer", "all")
CSAT_CHANNELS = ("contact_center", "review_book", "social")
ALL_CHANNELS = "all"

SURVEY_COLUMNS = [
    "n",
    "acsi",
    "acsi_ci_low",
    "acsi_ci_high",
    "n_acsi",
    "acsi_sufficient",
    "nps",
    "nps_moe",
    "promoters",
    "detractors",
    "n_nps",
    "nps_sufficient",
    "ces",
    "ces_ci_low",
    "ces_ci_high",
    "ces_easy_share",
    "n_ces",
    "ces_sufficient",
    "sufficient_sample",
]
CSAT_COLUMNS = ["n", "satisfied", "csat", "csat_ci_low", "csat_ci_high", "sufficient_sample"]
_COUNT_COLUMNS = {"n", "n_acsi", "n_nps", "n_ces", "satisfied"}
_FLAG_COLUMNS = {"acsi_sufficient", "nps_sufficient", "ces_sufficient", "sufficient_sample"}


# --------------------------------------------------------------------------- primitives


def t_interval(values: np.ndarray, low: float = -math.inf, high: float = math.inf) -> tuple[float, float, float]:
    """(mean, ci_low, ci_high) of ``values`` with a 95 % Student t interval, clipped to
    [low, high]. No values: all NaN; one value: the mean and no interval."""
    values = np.asarray(values, dtype="float64")
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    if n == 1:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.975, n - 1)) * float(values.std(ddof=1)) / math.sqrt(n)
    return mean, max(low, mean - half), min(high, mean + half)


def nps_margin(promoters: float, detractors: float, n: int, z: float = Z95) -> float:
    """95 % margin of error of an NPS in points: z · 100 · √(((p + d) − (p − d)²) / n),
    p and d the promoter and detractor shares (0-1). NaN for n = 0."""
    if n == 0:
        return math.nan
    p, d = promoters, detractors
    return z * 100.0 * math.sqrt(max(0.0, (p + d) - (p - d) ** 2) / n)


def _answered(series: pd.Series, name: str) -> np.ndarray:
    """The answered values of one question, checked against its scale."""
    lo, hi = SURVEY_QUESTIONS[name]
    values = pd.to_numeric(series, errors="raise").to_numpy(dtype="float64")
    values = values[~np.isnan(values)]
    bad = values[(values < lo) | (values > hi)]
    if len(bad):
        raise ValueError(f"{name}: {len(bad)} answer(s) outside its scale {lo}-{hi} (e.g. {bad[0]:g})")
    return values


def _survey_row(group: pd.DataFrame, min_sample: int) -> dict:
    overall = _answered(group["overall"], "overall")
    acsi, acsi_low, acsi_high = t_interval((overall - 1.0) / 9.0 * 100.0, 0.0, 100.0)

    recommend = _answered(group["nps"], "nps")
    n_nps = len(recommend)
    p = float((recommend >= 9).mean()) if n_nps else math.nan
    d = float((recommend <= 6).mean()) if n_nps else math.nan

    effort = _answered(group["ces"], "ces")
    ces, ces_low, ces_high = t_interval(effort, 1.0, 7.0)

    return {
        "n": len(group),
        "acsi": acsi,
        "acsi_ci_low": acsi_low,
        "acsi_ci_high": acsi_high,
        "n_acsi": len(overall),
        "acsi_sufficient": len(overall) >= min_sample,
        "nps": 100.0 * (p - d),
        "nps_moe": nps_margin(p, d, n_nps),
        "promoters": 100.0 * p,
        "detractors": 100.0 * d,
        "n_nps": n_nps,
        "nps_sufficient": n_nps >= min_sample,
        "ces": ces,
        "ces_ci_low": ces_low,
        "ces_ci_high": ces_high,
        "ces_easy_share": 100.0 * float((effort >= 5).mean()) if len(effort) else math.nan,
        "n_ces": len(effort),
        "ces_sufficient": len(effort) >= min_sample,
        "sufficient_sample": len(group) >= min_sample,
    }


def _finish(rows: list[dict], keys: list[str], columns: list[str]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=keys + columns)
    for column in columns:
        if column in _COUNT_COLUMNS:
            out[column] = out[column].astype("int64")
        elif column in _FLAG_COLUMNS:
            out[column] = out[column].astype(bool)
        else:
            out[column] = out[column].astype("float64").round(DECIMALS)
    return out


def _groups(frame: pd.DataFrame, by: list[str]) -> Iterable[tuple[tuple, pd.DataFrame]]:
    if not by:
        yield (), frame
        return
    for key, grp in frame.groupby(by, sort=True, dropna=False):
        yield (key if isinstance(key, tuple) else (key,)), grp


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}")


# --------------------------------------------------------------------------- metrics


def survey_metrics(answers: pd.DataFrame, by: Iterable[str] = (), min_sample: int = MIN_SAMPLE) -> pd.DataFrame:
    """ACSI-style score, NPS and CES of the survey's overall questions, per group.

    In: one row per respondent with ``client_type`` (citizen/employer), ``overall``
    (1-10), ``nps`` (0-10), ``ces`` (1-7) — NaN where not answered — and the columns
    ``by``. An answer outside its scale raises ValueError (the ingest quarantines
    them, so this means the input did not come through it).
    Out: per group (sorted), three rows — client_type ``citizen``, ``employer``, ``all``
    — with :data:`SURVEY_COLUMNS`: ``n`` respondents; ``acsi`` (0-100) with
    ``acsi_ci_low``/``acsi_ci_high`` and ``n_acsi``; ``nps`` (−100..100), ``nps_moe``,
    ``promoters`` and ``detractors`` (% of ``n_nps``); ``ces`` (1-7) with its interval,
    ``ces_easy_share`` (% answering 5-7) and ``n_ces``; the ``*_sufficient`` flags
    (metric n ≥ ``min_sample``) and ``sufficient_sample`` (respondents ≥ ``min_sample``).
    A client type without respondents has n = 0 and NaN metrics; nothing raises on
    empty input (an empty frame with ``by`` gives no rows).
    """
    by = list(by)
    _require(answers, ["client_type", *SURVEY_QUESTIONS, *by], "survey_metrics")
    rows = []
    for key, grp in _groups(answers, by):
        for client_type in CLIENT_GROUPS:
            part = grp if client_type == "all" else grp[grp["client_type"] == client_type]
            rows.append(
                {**dict(zip(by, key, strict=True)), "client_type": client_type, **_survey_row(part, min_sample)}
            )
    return _finish(rows, by + ["client_type"], SURVEY_COLUMNS)


def _satisfied(rating: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Whether each rating is satisfied: 4-5 of 5, 9-10 of 10 (ranges are checked)."""
    unknown = sorted(set(np.unique(scale).tolist()) - {5.0, 10.0})
    if unknown:
        raise ValueError(f"csat: rating scale must be 5 or 10, got {unknown}")
    lowest = np.where(scale == 10, 0, 1)
    bad = (rating < lowest) | (rating > scale)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"csat: {int(bad.sum())} rating(s) outside their scale (e.g. {rating[i]:g} of {scale[i]:g})")
    return np.where(scale == 10, rating >= 9, rating >= 4)


def _csat_row(satisfied: np.ndarray, min_sample: int) -> dict:
    n, k = len(satisfied), int(satisfied.sum())
    low, high = wilson_interval(k, n)
    return {
        "n": n,
        "satisfied": k,
        "csat": 100.0 * k / n if n else math.nan,
        "csat_ci_low": 100.0 * low,
        "csat_ci_high": 100.0 * high,
        "sufficient_sample": n >= min_sample,
    }


def csat(
    feedback: pd.DataFrame,
    by: Iterable[str] = (),
    channels: Iterable[str] = CSAT_CHANNELS,
    min_sample: int = MIN_SAMPLE,
) -> pd.DataFrame:
    """CSAT (% satisfied ratings) with its 95 % Wilson interval per group and channel.

    In: feedback rows with ``channel``, ``rating`` (NaN = not rated) and ``scale``
    (5 or 10; missing = 5, the scale every rated channel is staged with), plus the
    columns ``by``. Only rated rows of ``channels`` count (by default contact-centre
    calls, the review book and social/map reviews; the interview follow-up's rating
    is a mean of agreement items, not a satisfaction rating, so it is left out).
    Out: per group of the input (sorted), one row per channel of ``channels`` (in
    that order, n = 0 and NaN when the group has none) and one ``all`` row pooling
    them, with :data:`CSAT_COLUMNS`: ``n`` ratings, ``satisfied``, ``csat``,
    ``csat_ci_low``, ``csat_ci_high`` (all %) and ``sufficient_sample`` (n ≥ ``min_sample``).
    """
    by, channels = list(by), list(channels)
    _require(feedback, ["channel", "rating", *by], "csat")
    rating = pd.to_numeric(feedback["rating"], errors="raise").astype("float64")
    scale = (
        pd.to_numeric(feedback["scale"], errors="raise").astype("float64")
        if "scale" in feedback
        else pd.Series(np.nan, index=feedback.index)
    ).fillna(5.0)
    counted = feedback["channel"].isin(channels).to_numpy() & rating.notna().to_numpy()
    sat = np.zeros(len(feedback), dtype=bool)
    sat[counted] = _satisfied(rating.to_numpy()[counted], scale.to_numpy()[counted])
    frame = feedback[by + ["channel"]].assign(_counted=counted, _sat=sat)
    rows = []
    for key, grp in _groups(frame, by):
        grp = grp[grp["_counted"]]
        keys = dict(zip(by, key, strict=True))
        for channel in channels:
            rows.append(
                {
                    **keys,
                    "channel": channel,
                    **_csat_row(grp.loc[grp["channel"] == channel, "_sat"].to_numpy(), min_sample),
                }
            )
        rows.append({**keys, "channel": ALL_CHANNELS, **_csat_row(grp["_sat"].to_numpy(), min_sample)})
    return _finish(rows, by + ["channel"], CSAT_COLUMNS)


# --------------------------------------------------------------------------- one quarter from the database


def load_metric_inputs(session: Session, quarter: str, region: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(answers, feedback) of a quarter for the metrics; ``region``: only that region's rows (read in SQL).

    answers: :func:`models.answers.load_answers` — one row per star-survey respondent
    with office_code, region_code, client_type, F1..C4, overall, nps, ces.
    feedback: :func:`load_rated_feedback`.
    """
    from models import answers as answers_store

    answers = answers_store.load_answers(session, quarter, region=region)
    return answers, load_rated_feedback(session, quarter, region)


def load_rated_feedback(session: Session, quarter: str, region: str | None = None) -> pd.DataFrame:
    """The quarter's rated rows of :data:`CSAT_CHANNELS` (office_code, region_code,
    client_type, channel, rating, scale), in id order; no texts are read. ``region``:
    only that region's rows (read in SQL)."""
    from models import store
    from models.tables import Feedback

    cols = ["office_code", "region_code", "client_type", "channel", "rating", "scale"]
    stmt = (
        select(*[getattr(Feedback, c) for c in cols])
        .where(
            col(Feedback.quarter) == quarter,
            col(Feedback.channel).in_(CSAT_CHANNELS),
            col(Feedback.rating).is_not(None),
        )
        .order_by(col(Feedback.id))
    )
    if region is not None:
        stmt = stmt.where(col(Feedback.region_code) == region)
    return store.query_frame(session, stmt, cols, ["rating", "scale"])


def _plain(value: object) -> object:
    """A JSON-ready scalar: None for NaN, Python int/float/bool for numpy ones."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    return value


def _records(frame: pd.DataFrame, key: str, columns: list[str]) -> dict[str, dict]:
    return {str(row[key]): {c: _plain(row[c]) for c in columns} for _, row in frame.iterrows()}


def _unit_entry(survey: pd.DataFrame, rated: pd.DataFrame) -> dict:
    """One unit's entry from its :func:`survey_metrics` rows and :func:`csat` rows."""
    return {"survey": _records(survey, "client_type", SURVEY_COLUMNS), "csat": _records(rated, "channel", CSAT_COLUMNS)}


def survey_entry(answers: pd.DataFrame, min_sample: int = MIN_SAMPLE) -> dict[str, dict]:
    """One unit's survey metrics from its own respondents: client type -> :data:`SURVEY_COLUMNS`
    (``scope_metrics(...)["survey"]``)."""
    return _records(survey_metrics(answers, min_sample=min_sample), "client_type", SURVEY_COLUMNS)


def csat_entry(feedback: pd.DataFrame, min_sample: int = MIN_SAMPLE) -> dict[str, dict]:
    """One unit's CSAT from its own rated rows: channel -> :data:`CSAT_COLUMNS`
    (``scope_metrics(...)["csat"]``)."""
    return _records(csat(feedback, min_sample=min_sample), "channel", CSAT_COLUMNS)


def quarter_metrics(session: Session, quarter: str, level: str = "region", min_sample: int = MIN_SAMPLE) -> dict:
    """Survey metrics and CSAT of a quarter per unit, ready for a report template.

    ``level``: ``region`` (units are region codes) or ``office`` (office codes, each
    with its ``region_code``); the country is always there as ``ALL``, first, then
    the units sorted. Rows without a unit code count for the country only.
    Returns::

        {"quarter": "2026Q1", "level": "region", "min_sample": 30,
         "units": {"ALL": {"survey": {"citizen": {...}, "employer": {...}, "all": {...}},
                           "csat": {"contact_center": {...}, "review_book": {...},
                                    "social": {...}, "all": {...}}},
                   "52": {...}, ...}}

    where a survey entry holds the :data:`SURVEY_COLUMNS` and a CSAT entry the
    :data:`CSAT_COLUMNS` (None for a metric that has no answers). Plain Python
    values only, so the dict serialises to JSON as it is.
    """
    unit_col = {"region": "region_code", "office": "office_code"}.get(level)
    if unit_col is None:
        raise ValueError(f"level must be 'region' or 'office', not {level!r}")
    answers, feedback = load_metric_inputs(session, quarter)
    survey_units = survey_metrics(answers, by=[unit_col], min_sample=min_sample)
    csat_units = csat(feedback, by=[unit_col], min_sample=min_sample)
    empty_survey = survey_metrics(answers.iloc[0:0], min_sample=min_sample)
    empty_csat = csat(feedback.iloc[0:0], min_sample=min_sample)

    region_of: dict[str, str] = {}
    if level == "office":
        for frame in (answers, feedback):
            for office, region in (
                frame[["office_code", "region_code"]].dropna().drop_duplicates().itertuples(index=False)
            ):
                region_of.setdefault(str(office), str(region))

    units: dict[str, dict] = {COUNTRY_CODE: scope_metrics(answers, feedback, min_sample)}
    codes = sorted({str(c) for c in pd.concat([survey_units[unit_col], csat_units[unit_col]]).dropna()})
    for code in codes:
        survey = survey_units[survey_units[unit_col].astype(str) == code]
        rated = csat_units[csat_units[unit_col].astype(str) == code]
        entry = _unit_entry(survey if not survey.empty else empty_survey, rated if not rated.empty else empty_csat)
        if level == "office":
            entry = {"region_code": region_of.get(code), **entry}
        units[code] = entry
    return {"quarter": quarter, "level": level, "min_sample": min_sample, "units": units}


def scope_metrics(answers: pd.DataFrame, feedback: pd.DataFrame, min_sample: int = MIN_SAMPLE) -> dict:
    """One unit's metrics from its own rows (as :func:`load_metric_inputs` reads them for a
    region, or for the whole country): ``{"survey": {...}, "csat": {...}}``, the same
    entry :func:`quarter_metrics` gives that unit, without computing every other unit."""
    return {"survey": survey_entry(answers, min_sample), "csat": csat_entry(feedback, min_sample)}
