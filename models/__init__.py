"""The feedback store and the measure register: SQLModel tables, sessions, migrations."""

from models.locks import CycleLock  # noqa: F401  (registers cycle_lock for Alembic and the schema tests)
from models.tables import (  # noqa: F401
    Delivery,
    EffectEvaluation,
    Feedback,
    IndexResult,
    IngestedFile,
    Measure,
    MeasureHistory,
    Office,
    PainPoint,
    Quarantine,
    SurveyAnswer,
)
