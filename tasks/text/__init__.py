"""Stage *text* (serves loop step 4, detect): takes redacted feedback texts (with their
ratings) and gives the feedback table's ``language``, ``sentiment``, ``themes`` and
``negative_themes`` columns; once a quarter, it gives candidate new themes from the
negative texts no theme matches (methods: ``README.md``).

Modules in reading order: ``normalise``, ``language``, ``lexicon``, ``clauses``, ``analyser``
(reading a text); ``polarity``, ``learn`` (learning from ratings); ``model``, ``model_train``,
``model_store`` (the learned sentiment model); ``topic_stems``,
``topic_clusters``, ``topics``, ``topic_report`` (emerging topics); ``step`` (the quarter's step).
"""

from typing import Any

__all__ = ["analyse"]


def __getattr__(name: str) -> Any:
    """``tasks.text.analyse`` (notebooks, scripts): :func:`tasks.text.analyser.analyse`, loaded
    on first use so that importing one module of the stage does not load the analyser."""
    if name == "analyse":
        from tasks.text.analyser import analyse

        return analyse
    raise AttributeError(f"module 'tasks.text' has no attribute {name!r}")
