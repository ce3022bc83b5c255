"""Emerging topics: planted unthemed complaints come out as topics, nothing else does.

The synthetic quarter mixes, per language, complaints about a subject no theme covers
(parking in Russian, Finnish and English in several inflections and wordings, Wi-Fi in
English), random one-off complaints (noise), themed complaints and positive texts. The
planted subjects are known by construction, so the tests check the topics against the
construction, not against a copy of the output.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.metrics import silhouette_score

from tasks.text.topic_clusters import silhouette
from tasks.text.topic_report import topics_markdown
from tasks.text.topics import EmergingTopic, candidate_mask, emerging_topics
from tasks.validate.redaction import find_personal_data

OFFICES = {"52": ["52-01", "52-02", "52-03"], "66": ["66-01", "66-02"], "77": ["77-01"]}

# Planted subjects: a first clause naming the subject (in several inflections), an
# optional second clause from a pool shared by the language, and a tail of stop words.
RU_PARKING = [
    "парковка у центра всегда забита",
    "возле здания нет парковки",
    "на парковке нет свободных мест",
    "парковку закрыли на ремонт",
    "парковкой пользуются только сотрудники",
    "до парковки далеко идти",
    "парковка стала платной",
    "с парковкой беда",
]
RU_MORE = [
    "машину оставить негде",
    "опоздал на приём",
    "пришлось стоять во дворе",
    "получил штраф за стоянку",
    "кружил полчаса",
    "с ребёнком неудобно",
    "ставлю машину у магазина",
    "зимой не чистят снег",
    "разметки нет",
    "шлагбаум не открывается",
    "дворы заставлены",
    "приходится ехать на автобусе",
]
FI_PARKING = [
    "pysäköinti on aina täynnä",
    "pysäköintiä ei ole asiakkaille",
    "pysäköinti on maksullista",
    "pysäköinti toimiston pihalla on kielletty",
    "pysäköintiin ei ole tilaa",
    "pysäköinti on kaukana ovesta",
]
FI_MORE = [
    "myöhästyin tapaamisesta",
    "autolle ei löytynyt paikkaa",
    "sain sakon",
    "kiersin korttelia puoli tuntia",
    "lastenvaunujen kanssa hankalaa",
    "talvella piha on auraamatta",
    "jouduin jättämään auton kauppaan",
]
EN_PARKING = [
    "the parking is always full",
    "there is no parking for visitors",
    "no free parking spaces at all",
    "the parking was closed for repairs",
    "parking costs far too much",
    "the parking is reserved for staff only",
]
EN_WIFI = [
    "the wifi does not work",
    "there is no wifi in the waiting area",
    "the wifi keeps dropping",
    "nobody knows the wifi password",
    "the Wi-Fi is too slow to upload my CV",
    "guest wifi asks for a login",
]
EN_MORE = [
    "I was late for my appointment",
    "had to leave the car at the supermarket",
    "got a fine",
    "drove around for half an hour",
    "difficult with a pram",
    "snow is never cleared",
    "my phone had no signal",
    "could not check my email",
    "had to come back the next day",
]
TAILS = {
    "ru": ["", " Ужасно.", " Сколько можно?"],
    "fi": ["", " Huono.", " Todella huono."],
    "en": ["", " Terrible.", " Please fix it."],
}
SURFACE = {  # the planted subject's words, by language (any inflection)
    "ru_parking": re.compile(r"^парковк"),
    "fi_parking": re.compile(r"^pysäköin"),
    "en_parking": re.compile(r"^parking$"),
    "en_wifi": re.compile(r"^wifi$"),
}
SYLLABLES = {
    "ru": "ба ве ги до ку ла ме ни по ру са те фи хо цу ча ша ю кра сто мли зве про гру".split(),
    "fi": "ka ve ri to su la me ni po ru sa te fi ho ju ta lo mi ne pa ko ä ö".split(),
    "en": "ka ve ri to su la me ni po ru sa te fi ho ju ta lo mi ne pa ko".split(),
}
NOISE_TAIL = {"ru": ", плохо", "fi": " huono", "en": " bad"}


def _pseudo_words(rng: random.Random, lang: str, n: int) -> list[str]:
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(SYLLABLES[lang]) for _ in range(rng.randint(3, 4))))
    return sorted(words)


class Quarter:
    """A synthetic quarter's feedback frame and what was planted in it."""

    def __init__(self, seed: int = 0, n: dict[str, int] | None = None, n_noise: int = 60, n_other: int = 30) -> None:
        n = n or {"ru_parking": 40, "fi_parking": 20, "en_parking": 20, "en_wifi": 20}
        self.rng = random.Random(seed)
        self.rows: list[dict] = []
        self.planted: dict[str, list[int]] = {k: [] for k in n}  # subject -> row ids
        pools = {
            "ru_parking": ("ru", RU_PARKING, RU_MORE),
            "fi_parking": ("fi", FI_PARKING, FI_MORE),
            "en_parking": ("en", EN_PARKING, EN_MORE),
            "en_wifi": ("en", EN_WIFI, EN_MORE),
        }
        for subject, count in n.items():
            lang, first, more = pools[subject]
            for _ in range(count):
                if subject == "en_wifi":
                    # Neutral wording, known only by its low rating: a candidate too.
                    rid = self.add(self.compose(lang, first, more), lang, sentiment=0.0, rating=1, scale=5)
                else:
                    rid = self.add(self.compose(lang, first, more), lang, sentiment=-0.5)
                self.planted[subject].append(rid)
        for lang in ("ru", "fi", "en"):
            vocab = _pseudo_words(self.rng, lang, 1000)
            for _ in range(n_noise):
                self.add(" ".join(self.rng.sample(vocab, 4)).capitalize() + NOISE_TAIL[lang], lang, sentiment=-0.3)
        self.excluded: list[int] = []  # rows that are not candidates but would form topics if they were
        for _ in range(n_other):
            # Themed complaints, some about parking too, and positive unthemed texts.
            self.excluded.append(
                self.add(
                    self.compose("ru", RU_PARKING, RU_MORE) + " И очередь огромная.",
                    "ru",
                    sentiment=-0.6,
                    themes="office_comfort,waiting_time",
                )
            )
            self.excluded.append(
                self.add(
                    self.rng.choice(
                        ["Отличный кофе в автомате", "Вкусный кофе в зоне ожидания", "Кофе бесплатный, приятно"]
                    ),
                    "ru",
                    sentiment=0.6,
                )
            )
            self.excluded.append(
                self.add(
                    self.rng.choice(["Great coffee machine in the lobby", "Free coffee, lovely"]),
                    "en",
                    sentiment=0.0,
                    rating=5,
                    scale=5,
                )
            )

    def compose(self, lang: str, first: list[str], more: list[str]) -> str:
        text = self.rng.choice(first)
        if self.rng.random() < 0.7:
            text += ", " + self.rng.choice(more)
        return text[0].upper() + text[1:] + "." + self.rng.choice(TAILS[lang])

    def add(
        self,
        text: str,
        lang: str | None,
        *,
        sentiment: float | None,
        themes: str = "",
        rating=None,
        scale=None,
        office: str | None = None,
    ) -> int:
        if office is None:
            region = self.rng.choice(sorted(OFFICES))
            office = self.rng.choice(OFFICES[region])
        rid = len(self.rows) + 1
        self.rows.append(
            dict(
                id=rid,
                channel="review_book",
                office_code=office,
                region_code=office[:2],
                client_type="citizen",
                journey_stage=None,
                rating=rating,
                scale=scale,
                text=text,
                language=lang,
                sentiment=sentiment,
                themes=themes,
                negative_themes=themes,
            )
        )
        return rid

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


def _subject(topic: EmergingTopic) -> str | None:
    """Which planted subject a topic is about: the one whose word is its first term."""
    for subject, pattern in SURFACE.items():
        if subject.startswith(topic.language) and pattern.match(topic.top_terms[0]):
            return subject
    return None


@pytest.fixture(scope="module")
def quarter() -> Quarter:
    return Quarter(seed=0)


@pytest.fixture(scope="module")
def topics(quarter) -> list[EmergingTopic]:
    return emerging_topics(quarter.frame())


def test_planted_subjects_come_out_as_topics(quarter, topics):
    frame = quarter.frame()
    candidates = int(candidate_mask(frame).sum())
    by_subject = {_subject(t): t for t in topics}
    assert set(by_subject) == set(quarter.planted), [t.top_terms for t in topics]  # no noise topic
    for subject, ids in quarter.planted.items():
        t = by_subject[subject]
        assert t.language == subject[:2]
        # Every planted text names its subject, so every one of them is in the topic.
        assert t.size == len(ids)
        assert t.share_negative_unthemed == pytest.approx(len(ids) / candidates, abs=1e-6)
        planted = frame[frame["id"].isin(ids)]
        assert t.offices == planted["office_code"].nunique()
        assert t.regions == sorted(planted["region_code"].unique())
        assert 1 <= len(t.top_terms) <= 8 and len(set(t.top_terms)) == len(t.top_terms)
        assert len(t.examples) == 3 and len(set(t.examples)) == 3
        for e in t.examples:  # examples are about the subject
            assert any(SURFACE[subject].match(w) for w in _words(e).split()), e
    # The subject's word is shown in a form the clients used.
    surface = {w for text in frame["text"] for w in _words(text).split()}
    for t in topics:
        assert t.top_terms[0] in surface
    # Several words describe a topic with varied wordings.
    assert len(by_subject["ru_parking"].top_terms) >= 5
    # Order: size descending, then terms.
    assert [t.size for t in topics] == sorted((t.size for t in topics), reverse=True)


def _words(text: str) -> str:
    return " ".join(re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)*", text.lower().replace("ё", "е"))).replace("-", "")


def test_positive_and_themed_texts_never_appear(quarter, topics):
    frame = quarter.frame()
    excluded = frame[frame["id"].isin(quarter.excluded)]
    assert not candidate_mask(excluded).any()
    shown = " ".join(" ".join(t.top_terms) + " " + " ".join(t.examples) for t in topics).lower()
    assert "кофе" not in shown and "coffee" not in shown
    assert "очередь" not in shown
    assert not any(e in set(excluded["text"]) for t in topics for e in t.examples)
    # Control: the same rows as negative unthemed candidates do form topics, so the
    # assertions above can fail.
    flipped = frame.copy()
    mask = flipped["id"].isin(quarter.excluded)
    flipped.loc[mask, ["themes", "sentiment", "rating"]] = ["", -0.5, None]
    shown = " ".join(" ".join(t.top_terms) for t in emerging_topics(flipped)).lower()
    assert "кофе" in shown and "coffee" in shown


def test_examples_and_terms_carry_no_personal_data():
    q = Quarter(seed=1, n={"en_parking": 8}, n_noise=20, n_other=0)
    contacts = [
        ("+7 912 345-67-89", "ivan.petrov@mail.ru"),
        ("8 (921) 555-44-33", "maria.sidorova@yandex.ru"),
        ("+7 903 111 22 33", "ivan.petrov@mail.ru"),
    ]
    planted = []
    for i in range(9):
        phone, email = contacts[i % 3]
        planted.append(
            q.add(f"Турникет на входе не пропускает, позвоните {phone} или напишите {email}", "ru", sentiment=-0.5)
        )
    frame = q.frame()
    topics = emerging_topics(frame)
    turnstile = [t for t in topics if t.language == "ru"]
    assert len(turnstile) == 1 and turnstile[0].size == len(planted)
    t = turnstile[0]
    md = topics_markdown(topics) + topics_markdown(topics, lang="en")
    shown = [*t.top_terms, *t.examples, *(line for line in md.splitlines() if line.startswith(("> ", "**")))]
    dump = "\n".join(shown) + repr([x.as_dict() for x in topics]) + md
    for phone, email in contacts:
        assert email not in dump and phone not in dump
    # E-mail parts repeated in every text would be top terms if they were not dropped.
    for part in ("ivan", "petrov", "maria", "sidorova", "mail.ru", "yandex"):
        assert part not in dump.lower()
    assert not any(re.search(r"\d{3}", x) for x in shown), "digits of a phone number leaked"
    assert all(find_personal_data(e) == [] for e in t.examples)
    # The examples are the texts with contacts, redacted (not texts that happened to be clean).
    assert all("[PHONE]" in e or "[EMAIL]" in e for e in t.examples)
    assert all(len(e) <= 200 for e in t.examples)
    assert "Примеры приведены после удаления персональных данных" in md
    assert "Examples are redacted" in md


def test_long_example_is_redacted_before_it_is_cut():
    q = Quarter(seed=2, n={"en_wifi": 6}, n_noise=10, n_other=0)
    base = "Турникет на входе сломан, охранник не может его открыть и все ждут на улице под дождём "
    for i in range(6):
        # The phone starts at character 190: cut first, redact later would leave "+7 912 3".
        text = (base * 3)[: 190 - len(str(i))] + f"{i} +7 912 345-67-89 и ещё много слов о турникете"
        q.add(text, "ru", sentiment=-0.5)
    topics = [t for t in emerging_topics(q.frame()) if t.language == "ru"]
    assert topics and topics[0].size == 6
    for e in topics[0].examples:
        assert len(e) <= 200 and e.endswith("…")
        assert "+7" not in e and "912" not in e


def test_same_input_same_output_whatever_the_row_order(quarter, topics):
    frame = quarter.frame()
    assert emerging_topics(frame) == topics
    for state in (7, 8, 9):
        assert emerging_topics(frame.sample(frac=1.0, random_state=state)) == topics
    assert emerging_topics(frame.set_index("id")) == topics  # the index plays no part


def test_language_detected_when_the_column_is_missing(quarter, topics):
    frame = quarter.frame()
    # tasks.text.analyser.detect_language decides; the pseudo-word noise "... bad" reads as Finnish,
    # which must not make "bad" a Finnish topic (every stop list applies to every text).
    detected = emerging_topics(frame.drop(columns=["language"]))
    assert {_subject(t): t.size for t in detected} == {_subject(t): t.size for t in topics}
    # pandas' string dtype instead of object columns changes nothing.
    typed = frame.astype({"text": "string", "language": "string", "themes": "string"})
    assert emerging_topics(typed) == topics


def test_tiny_and_empty_inputs_give_no_topics():
    q = Quarter(seed=3, n={"ru_parking": 4}, n_noise=0, n_other=3)
    frame = q.frame()
    assert candidate_mask(frame).sum() == 4
    assert emerging_topics(frame) == []  # fewer than min_cluster candidates
    assert emerging_topics(frame, min_cluster=4) != []  # ... and enough with a lower bar
    assert emerging_topics(frame.iloc[0:0]) == []
    assert emerging_topics(pd.DataFrame(columns=frame.columns)) == []
    no_text = frame.assign(text=None)
    assert emerging_topics(no_text) == []


def test_min_cluster_and_max_topics(quarter, topics):
    frame = quarter.frame()
    # Only the Russian topic (40 rows) has more than 20.
    big = emerging_topics(frame, min_cluster=21)
    assert [_subject(t) for t in big] == ["ru_parking"]
    # Asking for fewer topics gives the largest ones of the full answer.
    two = emerging_topics(frame, max_topics=2)
    assert two == topics[:2]
    with pytest.raises(ValueError):
        emerging_topics(frame, min_cluster=0)


def test_candidates_low_rating_and_empty_themes():
    frame = pd.DataFrame(
        {
            "text": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "", None, "j"],
            "sentiment": [-0.1, 0.0, None, 0.3, 0.0, 0.0, 0.0, 0.0, -0.5, -0.5, -0.5, -0.5],
            "rating": [None, 2, 1, 4, 3, 4, 5, 7, None, None, None, None],
            "scale": [None, 5, 5, 10, 5, 10, 10, None, None, None, None, None],
            "themes": ["", "", "", "", "", "", "", "", "waiting_time", "", "", None],
        }
    )
    expected = [True, True, True, True, False, True, False, False, False, False, False, True]
    #           neg  2/5  1/5  4/10  3/5  4/10  5/10  7/?  themed  ""  None  themes None
    assert candidate_mask(frame).tolist() == expected
    # The same with pandas' string dtype (missing values are pd.NA there).
    typed = frame.astype({"text": "string", "themes": "string"})
    assert candidate_mask(typed).tolist() == expected


def test_fast_silhouette_equals_scikit_learn():
    rng = np.random.default_rng(0)
    X = sparse.random(300, 40, density=0.15, random_state=1, format="csr", dtype=np.float64)
    X = X[np.asarray(X.getnnz(axis=1)) > 0]
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1))).ravel()
    X = sparse.diags(1 / norms) @ X
    S = (X @ X.T).toarray()
    np.fill_diagonal(S, 1.0)
    for k in (2, 3, 5):
        labels = rng.integers(0, k - 1, X.shape[0])
        labels[0] = k - 1  # plus a singleton cluster, whose row scores 0 in both
        assert silhouette(S, labels, k) == pytest.approx(silhouette_score(X, labels, metric="cosine"), abs=1e-9)


def test_markdown_ru_and_en(topics):
    ru = topics_markdown(topics)
    assert ru.startswith("## Кандидаты в новые темы")
    assert "| № | Язык | Отзывов |" in ru
    assert ru.count("\n| ") == len(topics) + 1  # header + one row per topic
    assert sum(line.startswith("> ") for line in ru.splitlines()) == sum(len(t.examples) for t in topics)
    assert "обезличены" in ru
    en = topics_markdown(topics, lang="en")
    assert en.startswith("## Candidate new themes") and "| # | Language | Texts |" in en
    assert "Examples are redacted" in en
    for t in topics:
        assert t.top_terms[0] in ru and t.top_terms[0] in en
    assert "нет" in topics_markdown([]) and "No candidate new themes" in topics_markdown([], lang="en")
    with pytest.raises(ValueError):
        topics_markdown(topics, lang="de")


def test_markdown_redacts_and_escapes_hand_built_topics():
    t = EmergingTopic(
        language="ru",
        size=7,
        top_terms=["турникет", "вход"],
        offices=2,
        regions=["52"],
        examples=["Звоните +7 912 345-67-89 | <script>alert(1)</script> [ссылка](http://x.ru)"],
        share_negative_unthemed=0.5,
    )
    md = topics_markdown([t])
    assert "345-67-89" not in md and "[PHONE]" in md
    assert "<script>" not in md and "\\<script\\>" in md
    assert "](http" not in md
    quote = [line for line in md.splitlines() if line.startswith("> ")][0]
    assert "\\|" in quote


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_the_sql_prefilter_keeps_every_candidate(engine, request):
    """find_emerging_topics reads only the rows candidate_filter lets through: on both engines
    they hold every row candidate_mask picks from the whole quarter, and fewer rows in all."""
    from datetime import date

    from sqlmodel import Session

    from models import store
    from models.db import get_engine
    from models.tables import Feedback
    from tasks.text.topics import candidate_filter

    url = request.getfixturevalue("db_url" if engine == "sqlite" else "pg_url")
    texts = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "", None, "j", "k", "l", "m", "n"]
    sentiments = [-0.1, 0.0, None, 0.3, 0.0, 0.0, 0.0, 0.0, -0.5, -0.5, -0.5, -0.5, -0.2, -0.2, -0.2, 0.4]
    ratings = [None, 2, 1, 4, 3, 4, 5, 7, None, None, None, None, None, None, None, None]
    scales = [None, 5, 5, 10, 5, 10, 10, None, None, None, None, None, None, None, None, None]
    themes = ["", "", "", "", "", "", "", "", "waiting_time", "", "", "", " , ", "\t,\n", "queue, ", ""]
    with Session(get_engine(url)) as session:
        for k, (t, s, r, sc, th) in enumerate(zip(texts, sentiments, ratings, scales, themes, strict=True)):
            session.add(
                Feedback(
                    dedup_key=f"k{k}", channel="social", source_file="f.csv", source_row=k + 2,
                    received_at=date(2026, 8, 1), quarter="2026Q3", office_code="52-01", region_code="52",
                    client_type="citizen", rating=r, scale=sc, text=t, sentiment=s, themes=th,
                )
            )  # fmt: skip
        session.add(
            Feedback(
                dedup_key="other", channel="social", source_file="f.csv", source_row=99, received_at=date(2026, 5, 1),
                quarter="2026Q2", office_code="52-01", region_code="52", client_type="citizen", text="x", sentiment=-1,
            )
        )  # fmt: skip
        session.commit()
        whole = store.load_feedback(session, "2026Q3")
        read = store.load_feedback(session, "2026Q3", *candidate_filter())
    picked = whole.loc[candidate_mask(whole), "id"].tolist()
    assert len(picked) == 8  # the mask has candidates to lose
    assert read.loc[candidate_mask(read), "id"].tolist() == picked
    assert len(read) < len(whole)
