"""The text stage's steps run once a quarter: the learned sentiment model trained on the
stored rated feedback and the quarter's texts read again with it (:mod:`tasks.text.reread`),
and candidate new themes from the negative feedback no theme matches.

They own the database session; ``flows/quarterly_cycle.py`` wraps them as tasks.
"""

from __future__ import annotations

from cxloop.config import AppConfig
from models import store
from models.db import session_scope
from tasks.text.reread import learn_and_reread, reread_region
from tasks.text.topic_report import topics_markdown
from tasks.text.topics import candidate_filter, emerging_topics


def learn_sentiment(quarter: str, config: AppConfig, region: str | None = None) -> dict:
    """Train the sentiment model on the rated texts up to ``quarter`` and reread the quarter's
    texts with it (the rules' reading stays for languages without enough rated texts).

    ``region``: no training; that region's texts are read again with the model the quarter's
    last whole cycle used (:func:`tasks.text.reread.reread_region`)."""
    with session_scope() as session:
        if region is not None:
            return reread_region(session, quarter, region, config).as_dict()
        return learn_and_reread(session, quarter, config).as_dict()


def find_emerging_topics(quarter: str, lang: str = "ru") -> dict:
    """The quarter's unthemed negative texts, clustered (:mod:`tasks.text.topics`): topics and a markdown summary."""
    with session_scope() as session:
        feedback = store.load_feedback(session, quarter, *candidate_filter())
    topics = emerging_topics(feedback)
    return {
        "topics": [t.as_dict() for t in topics],
        "markdown": topics_markdown(topics, lang=lang if lang in ("ru", "en") else "en"),
    }
