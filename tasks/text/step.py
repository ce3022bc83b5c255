"""The text stage's step run once a quarter: candidate new themes from the negative feedback no theme matches.

It owns the database session; ``flows/quarterly_cycle.py`` wraps :func:`find_emerging_topics` as a task.
"""

from __future__ import annotations

from models import store
from models.db import session_scope
from tasks.text.topic_report import topics_markdown
from tasks.text.topics import emerging_topics


def find_emerging_topics(quarter: str, lang: str = "ru") -> dict:
    """The quarter's unthemed negative texts, clustered (:mod:`tasks.text.topics`): topics and a markdown summary."""
    with session_scope() as session:
        feedback = store.load_feedback(session, quarter)
    topics = emerging_topics(feedback)
    return {
        "topics": [t.as_dict() for t in topics],
        "markdown": topics_markdown(topics, lang=lang if lang in ("ru", "en") else "en"),
    }
