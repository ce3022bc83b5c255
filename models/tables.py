"""SQLModel tables: one class is both the table and the validated type.

Quarter-scoped results (index, pain points, effect evaluations) are replaced
wholesale when a quarter is rerun; feedback is keyed by ``dedup_key`` so
re-ingesting never stores a row twice; measures are never hard-deleted and
every change lands in ``measure_history``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

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

    id: Optional[int] = Field(default=None, primary_key=True)
    sha256: str = Field(index=True, max_length=64)
    channel: str = Field(max_length=32)
    path: str
    quarter: str = Field(index=True, max_length=6)
    received: int = 0
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    warnings: int = 0
    repeat_of: Optional[int] = Field(default=None, description="id of the earlier ingest of the same content")


class Feedback(SQLModel, table=True):
    """The unified feedback record, whatever channel it came from. Text is stored redacted."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("dedup_key", name="uq_feedback_dedup_key"),
        Index("ix_feedback_quarter_office", "quarter", "office_code"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    dedup_key: str = Field(max_length=200)
    channel: str = Field(max_length=32)
    external_id: Optional[str] = Field(default=None, max_length=200)
    source_file: str
    source_row: int
    received_at: date
    quarter: str = Field(max_length=6)
    office_code: Optional[str] = Field(default=None, max_length=32)
    region_code: str = Field(max_length=32, index=True)
    client_type: str = Field(max_length=16)
    journey_stage: Optional[str] = Field(default=None, max_length=32)
    rating: Optional[float] = None
    scale: Optional[int] = Field(default=None, description="top of the rating scale: 5 or 10")
    text: Optional[str] = Field(default=None, sa_column=Column(Text))
    language: Optional[str] = Field(default=None, max_length=2)
    sentiment: Optional[float] = None
    themes: str = Field(default="", description="comma-separated theme ids")
    negative_themes: str = Field(default="", description="comma-separated theme ids mentioned negatively")
    flags: str = Field(default="", description="comma-separated warning rules the row tripped")
    text_key: Optional[str] = Field(default=None, max_length=40, index=True,
                                    description="hash of the normalised text, for near-duplicates across channels")


class SurveyAnswer(SQLModel, table=True):
    """The twenty star-survey items of one respondent (1-5, NULL = not answered)."""

    __tablename__ = "survey_answer"

    feedback_id: int = Field(primary_key=True, foreign_key="feedback.id")
    F1: Optional[int] = None
    F2: Optional[int] = None
    F3: Optional[int] = None
    F4: Optional[int] = None
    U1: Optional[int] = None
    U2: Optional[int] = None
    U3: Optional[int] = None
    U4: Optional[int] = None
    E1: Optional[int] = None
    E2: Optional[int] = None
    E3: Optional[int] = None
    E4: Optional[int] = None
    P1: Optional[int] = None
    P2: Optional[int] = None
    P3: Optional[int] = None
    P4: Optional[int] = None
    C1: Optional[int] = None
    C2: Optional[int] = None
    C3: Optional[int] = None
    C4: Optional[int] = None
    # Optional overall questions (migration 0002); any may be blank.
    overall: Optional[int] = Field(default=None, description="overall satisfaction, 1-10 (ACSI-style)")
    nps: Optional[int] = Field(default=None, description="likelihood to recommend, 0-10")
    ces: Optional[int] = Field(default=None, description="customer effort: 'the office made it easy', 1-7")


class Quarantine(SQLModel, table=True):
    """An input row that was not accepted, with the rule and a human-readable reason."""

    __tablename__ = "quarantine"

    id: Optional[int] = Field(default=None, primary_key=True)
    ingested_file_id: int = Field(foreign_key="ingested_file.id", index=True)
    channel: str = Field(max_length=32)
    source_file: str
    source_row: int
    field: str
    rule: str
    reason: str
    quarter: str = Field(max_length=6, index=True)
    released_at: Optional[datetime] = Field(default=None, description="set when an analyst releases the row for re-ingest")


class IndexResult(SQLModel, table=True):
    """The star index of one unit (office, region, country) and client type in a quarter."""

    __tablename__ = "index_result"
    __table_args__ = (UniqueConstraint("quarter", "level", "unit_code", "client_type", name="uq_index_unit"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    quarter: str = Field(max_length=6, index=True)
    level: str = Field(max_length=8, description="office | region | country")
    unit_code: str = Field(max_length=32)
    region_code: Optional[str] = Field(default=None, max_length=32)
    client_type: str = Field(max_length=16, description="citizen | employer | composite")
    friendliness: Optional[float] = None
    usefulness: Optional[float] = None
    effort: Optional[float] = None
    personalisation: Optional[float] = None
    comfort: Optional[float] = None
    index: Optional[float] = None
    ci_low: Optional[float] = None
    ci_high: Optional[float] = None
    n: int = 0
    stars: Optional[int] = None
    sufficient_sample: bool = False
    change: Optional[float] = None
    change_p_value: Optional[float] = None


class PainPoint(SQLModel, table=True):
    """A theme x journey stage x client type in a unit (office, region, country), in one quarter.

    ``priority`` is the product of the ``component_*`` columns (the formula is in
    tasks/painpoints.py and the README); ranks are within the unit.
    """

    __tablename__ = "pain_point"
    __table_args__ = (
        UniqueConstraint("quarter", "level", "unit_code", "client_type", "theme", "journey_stage", name="uq_pain_point_unit"),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
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
    mean_rating: Optional[float] = Field(default=None, description="mean rating of the rated mentions, 0-100")
    reach_offices: int = 0
    offices_total: int = Field(default=0, description="offices of the unit (1 for an office)")
    reach_clients: int = 0
    ray: str
    ray_score: Optional[float] = None
    trend: Optional[float] = Field(default=None, description="change of negative_share vs previous quarter")
    signal: Optional[str] = Field(default=None, max_length=8, description="p-chart signal: rise | fall")
    p_bar: Optional[float] = None
    ucl: Optional[float] = None
    lcl: Optional[float] = None
    driver_importance: Optional[float] = None
    covered_by: Optional[str] = Field(default=None, description="code of the open measure working on it")
    component_reach: Optional[float] = None
    component_severity: Optional[float] = None
    component_trend: Optional[float] = None
    component_driver: Optional[float] = None
    component_coverage: Optional[float] = None
    priority: float
    rank: int
    recurring: bool = False


class Measure(SQLModel, table=True):
    """A corrective measure in the register. Never hard-deleted."""

    __tablename__ = "measure"

    id: Optional[int] = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=64)
    title: str
    description: str = Field(default="", sa_column=Column(Text))
    theme: str = Field(max_length=48, index=True)
    journey_stage: Optional[str] = Field(default=None, max_length=32)
    type: str = Field(max_length=32)
    region_code: str = Field(max_length=32, index=True)
    offices: str = Field(default="", description="comma-separated office codes in scope")
    owner: str
    status: str = Field(max_length=16, index=True)
    source_pain_point: Optional[str] = Field(default=None, description="quarter:region:theme:stage it answers")
    proposed_quarter: str = Field(max_length=6)
    codesign_date: Optional[date] = None
    codesign_form: Optional[str] = None
    codesign_clients: Optional[int] = None
    planned_start: Optional[date] = None
    due_date: Optional[date] = None
    implemented_on: Optional[date] = None
    kpi_metric: str
    kpi_baseline: Optional[float] = None
    kpi_target: Optional[float] = None
    kpi_target_change: Optional[float] = Field(default=None, description="aimed change in KPI points; its sign says which way is better")
    effect_verdict: Optional[str] = Field(default=None, max_length=16)
    version: int = 1


class MeasureHistory(SQLModel, table=True):
    __tablename__ = "measure_history"

    id: Optional[int] = Field(default=None, primary_key=True)
    measure_id: int = Field(foreign_key="measure.id", index=True)
    at: datetime
    who: str
    field: str = "status"
    from_value: Optional[str] = None
    to_value: Optional[str] = None
    comment: str = ""


class EffectEvaluation(SQLModel, table=True):
    __tablename__ = "effect_evaluation"
    __table_args__ = (UniqueConstraint("measure_id", "quarter", name="uq_effect_measure_quarter"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    measure_id: int = Field(foreign_key="measure.id", index=True)
    quarter: str = Field(max_length=6, index=True)
    kpi_metric: str
    method: str
    estimate: Optional[float] = None
    ci_low: Optional[float] = None
    ci_high: Optional[float] = None
    p_value: Optional[float] = None
    n_treated_units: int = 0
    n_control_units: int = 0
    n_obs: int = 0
    mde: Optional[float] = Field(default=None, description="minimum detectable effect (80 % power, 5 % level)")
    verdict: str = Field(max_length=16)
    note: str = ""


class Delivery(SQLModel, table=True):
    """One report sent (or written to the outbox) to one recipient."""

    __tablename__ = "delivery"

    id: Optional[int] = Field(default=None, primary_key=True)
    quarter: str = Field(max_length=6, index=True)
    scope: str = Field(max_length=32, description="region code or 'national'")
    recipient: str
    report_path: str
    report_sha256: str = Field(max_length=64, description="content hash: the same report is not sent twice")
    transport: str = Field(max_length=8, description="smtp | outbox")
    status: str = Field(max_length=8, description="sent | failed")
    at: datetime
    error: Optional[str] = None
