"""SQLModel tables: one class is both the table and the validated type.

Quarter-scoped results (index, pain points, effect evaluations) are replaced
wholesale when a quarter is rerun; feedback is keyed by ``dedup_key`` so
re-ingesting never stores a row twice; measures are never hard-deleted and
every change lands in ``measure_history``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class Office(SQLModel, table=True):
    __tablename__ = "office"

    office_code: str = Field(primary_key=True, max_length=32)
    office_name: str
    region_code: str = Field(index=True, max_length=32)
    region_name: str


class IngestedFile(SQLModel, table=True):
    """One received file, with the accounting identity received = accepted + quarantined + duplicates."""

    __tablename__ = "ingested_file"

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(index=True, max_length=64)
    channel: str = Field(max_length=32)
    path: str
    quarter: str = Field(index=True, max_length=6)
    received: int = 0
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    warnings: int = 0
    repeat_of: int | None = Field(default=None, description="id of the earlier ingest of the same content")


class Feedback(SQLModel, table=True):
    """The unified feedback record, whatever channel it came from. Text is stored redacted."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("dedup_key", name="uq_feedback_dedup_key"),
        Index("ix_feedback_quarter_office", "quarter", "office_code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(max_length=200)
    channel: str = Field(max_length=32)
    external_id: str | None = Field(default=None, max_length=200)
    source_file: str
    source_row: int
    received_at: date
    quarter: str = Field(max_length=6)
    office_code: str | None = Field(default=None, max_length=32)
    region_code: str = Field(max_length=32, index=True)
    client_type: str = Field(max_length=16)
    journey_stage: str | None = Field(default=None, max_length=32)
    rating: float | None = None
    scale: int | None = Field(default=None, description="top of the rating scale: 5 or 10")
    text: str | None = Field(default=None, sa_column=Column(Text))
    language: str | None = Field(default=None, max_length=2)
    sentiment: float | None = None
    themes: str = Field(default="", description="comma-separated theme ids")
    negative_themes: str = Field(default="", description="comma-separated theme ids mentioned negatively")
    flags: str = Field(default="", description="comma-separated warning rules the row tripped")
    text_key: str | None = Field(
        default=None,
        max_length=40,
        index=True,
        description="hash of the normalised text, for near-duplicates across channels",
    )


class SurveyAnswer(SQLModel, table=True):
    """The twenty star-survey items of one respondent (1-5, NULL = not answered)."""

    __tablename__ = "survey_answer"

    feedback_id: int = Field(primary_key=True, foreign_key="feedback.id")
    F1: int | None = None
    F2: int | None = None
    F3: int | None = None
    F4: int | None = None
    U1: int | None = None
    U2: int | None = None
    U3: int | None = None
    U4: int | None = None
    E1: int | None = None
    E2: int | None = None
    E3: int | None = None
    E4: int | None = None
    P1: int | None = None
    P2: int | None = None
    P3: int | None = None
    P4: int | None = None
    C1: int | None = None
    C2: int | None = None
    C3: int | None = None
    C4: int | None = None
    # Optional overall questions (migration 0002); any may be blank.
    overall: int | None = Field(default=None, description="overall satisfaction, 1-10 (ACSI-style)")
    nps: int | None = Field(default=None, description="likelihood to recommend, 0-10")
    ces: int | None = Field(default=None, description="customer effort: 'the office made it easy', 1-7")


class Quarantine(SQLModel, table=True):
    """An input row that was not accepted, with the rule and a human-readable reason."""

    __tablename__ = "quarantine"

    id: int | None = Field(default=None, primary_key=True)
    ingested_file_id: int = Field(foreign_key="ingested_file.id", index=True)
    channel: str = Field(max_length=32)
    source_file: str
    source_row: int
    field: str
    rule: str
    reason: str
    quarter: str = Field(max_length=6, index=True)
    released_at: datetime | None = Field(default=None, description="set when an analyst releases the row for re-ingest")


class IndexResult(SQLModel, table=True):
    """The star index of one unit (office, region, country) and client type in a quarter."""

    __tablename__ = "index_result"
    __table_args__ = (UniqueConstraint("quarter", "level", "unit_code", "client_type", name="uq_index_unit"),)

    id: int | None = Field(default=None, primary_key=True)
    quarter: str = Field(max_length=6, index=True)
    level: str = Field(max_length=8, description="office | region | country")
    unit_code: str = Field(max_length=32)
    region_code: str | None = Field(default=None, max_length=32)
    client_type: str = Field(max_length=16, description="citizen | employer | composite")
    friendliness: float | None = None
    usefulness: float | None = None
    effort: float | None = None
    personalisation: float | None = None
    comfort: float | None = None
    index: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    stars: int | None = None
    sufficient_sample: bool = False
    change: float | None = None
    change_p_value: float | None = None


class PainPoint(SQLModel, table=True):
    """A theme x journey stage x client type in a unit (office, region, country), in one quarter.

    ``priority`` is the product of the ``component_*`` columns (the formula is in
    tasks/painpoints.py and the README); ranks are within the unit.
    """

    __tablename__ = "pain_point"
    __table_args__ = (
        UniqueConstraint(
            "quarter", "level", "unit_code", "client_type", "theme", "journey_stage", name="uq_pain_point_unit"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    quarter: str = Field(max_length=6, index=True)
    level: str = Field(default="region", max_length=8, description="office | region | country")
    unit_code: str = Field(default="", max_length=32, description="office code, region code, or 'ALL'")
    region_code: str = Field(max_length=32, description="region code, or 'ALL' for the country")
    client_type: str = Field(default="citizen", max_length=16)
    theme: str = Field(max_length=48)
    journey_stage: str = Field(max_length=32)
    mentions: int
    negative_mentions: int
    texts_total: int
    negative_share: float = Field(description="negative mentions per 100 texts of the unit in the quarter")
    mean_rating: float | None = Field(default=None, description="mean rating of the rated mentions, 0-100")
    reach_offices: int = 0
    offices_total: int = Field(default=0, description="offices of the unit (1 for an office)")
    reach_clients: int = 0
    ray: str
    ray_score: float | None = None
    trend: float | None = Field(default=None, description="change of negative_share vs previous quarter")
    signal: str | None = Field(default=None, max_length=8, description="p-chart signal: rise | fall")
    p_bar: float | None = None
    ucl: float | None = None
    lcl: float | None = None
    driver_importance: float | None = None
    covered_by: str | None = Field(default=None, description="code of the open measure working on it")
    component_reach: float | None = None
    component_severity: float | None = None
    component_trend: float | None = None
    component_driver: float | None = None
    component_coverage: float | None = None
    priority: float
    rank: int
    recurring: bool = False


class Measure(SQLModel, table=True):
    """A corrective measure in the register. Never hard-deleted."""

    __tablename__ = "measure"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=64)
    title: str
    description: str = Field(default="", sa_column=Column(Text))
    theme: str = Field(max_length=48, index=True)
    journey_stage: str | None = Field(default=None, max_length=32)
    type: str = Field(max_length=32)
    region_code: str = Field(max_length=32, index=True)
    offices: str = Field(default="", description="comma-separated office codes in scope")
    owner: str
    status: str = Field(max_length=16, index=True)
    source_pain_point: str | None = Field(default=None, description="quarter:region:theme:stage it answers")
    proposed_quarter: str = Field(max_length=6)
    codesign_date: date | None = None
    codesign_form: str | None = None
    codesign_clients: int | None = None
    planned_start: date | None = None
    due_date: date | None = None
    implemented_on: date | None = None
    office_starts: str = Field(
        default="",
        description="offices that started in a quarter of their own, 'office:quarter' pairs (tasks.measures.rollout)",
    )
    kpi_metric: str
    kpi_baseline: float | None = None
    kpi_target: float | None = None
    kpi_target_change: float | None = Field(
        default=None, description="aimed change in KPI points; its sign says which way is better"
    )
    effect_verdict: str | None = Field(default=None, max_length=16)
    version: int = 1


class MeasureHistory(SQLModel, table=True):
    __tablename__ = "measure_history"

    id: int | None = Field(default=None, primary_key=True)
    measure_id: int = Field(foreign_key="measure.id", index=True)
    at: datetime
    who: str
    field: str = "status"
    from_value: str | None = None
    to_value: str | None = None
    comment: str = ""


class EffectEvaluation(SQLModel, table=True):
    __tablename__ = "effect_evaluation"
    __table_args__ = (UniqueConstraint("measure_id", "quarter", name="uq_effect_measure_quarter"),)

    id: int | None = Field(default=None, primary_key=True)
    measure_id: int = Field(foreign_key="measure.id", index=True)
    quarter: str = Field(max_length=6, index=True)
    kpi_metric: str
    method: str
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    n_treated_units: int = 0
    n_control_units: int = 0
    n_obs: int = 0
    mde: float | None = Field(default=None, description="minimum detectable effect (80 % power, 5 % level)")
    verdict: str = Field(max_length=16)
    note: str = ""
    # The synthetic-control cross-check of a single-office pilot (tasks.effects.synthetic); empty otherwise.
    synthetic_estimate: float | None = None
    synthetic_pre_rmspe: float | None = Field(default=None, description="fit before the start (root mean square gap)")
    synthetic_p_value: float | None = None
    synthetic_donors: str = Field(default="", description="the largest donor weights, 'office weight' pairs")
    synthetic_note: str = ""


class Delivery(SQLModel, table=True):
    """One report sent (or written to the outbox) to one recipient."""

    __tablename__ = "delivery"

    id: int | None = Field(default=None, primary_key=True)
    quarter: str = Field(max_length=6, index=True)
    scope: str = Field(max_length=32, description="region code or 'national'")
    recipient: str
    report_path: str
    report_sha256: str = Field(max_length=64, description="content hash: the same report is not sent twice")
    transport: str = Field(max_length=8, description="smtp | outbox")
    status: str = Field(max_length=8, description="sent | failed")
    at: datetime
    error: str | None = None


class TextLabel(SQLModel, table=True):
    """An analyst's gold label for one feedback text (``cxloop text review import``).

    One row per text: a re-import of the same text replaces its label, keeping who
    labelled it and when for the latest import only. ``themes`` is the analyst's set
    ("" = the analyst ticked "no theme"); ``sentiment`` is optional.
    """

    __tablename__ = "text_label"

    feedback_id: int = Field(primary_key=True, foreign_key="feedback.id")
    themes: str = Field(default="", description="comma-separated theme ids the analyst ticked ('' = no theme)")
    sentiment: str | None = Field(default=None, max_length=8, description="negative | neutral | positive")
    labelled_by: str = Field(max_length=200)
    labelled_at: datetime
    source_file: str = Field(description="name of the labelled file the label came from")


class TextReading(SQLModel, table=True):
    """How a quarter's feedback texts were read (``learn-sentiment`` step of the cycle): by the
    rules alone, or with the learned sentiment model of ``model_version`` (trained on the
    rated texts stored up to that quarter). ``card`` is the model card as JSON (without its
    wall-clock time), shown in the report's methods note and the run's artifact."""

    __tablename__ = "text_reading"

    quarter: str = Field(primary_key=True, max_length=6)
    method: str = Field(max_length=20, description="rules | rules+model")
    model_version: str | None = Field(default=None, max_length=64)
    rated_texts: int = Field(default=0, description="rated texts the model was trained on")
    texts_read: int = Field(default=0, description="texts of the quarter the model read")
    card: str = Field(default="{}", description="the model card (JSON), '{}' for the rules alone")
