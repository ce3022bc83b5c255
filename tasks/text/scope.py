"""How far a negation, a resolver or a past marker reaches in a clause (:mod:`tasks.text.clauses`).

A clause's sentiment entries are ``hits``: ``[start, end, category, negated]``. These
functions change which of them read negated: two negations that affirm ("не могу не"),
a negation carried over "и"/"or" to the next entry, resolvers that are negated themselves
("не решили"), and how it was told against how it is now ("раньше было удобно, а сейчас").
See ``tasks/text/README.md``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from tasks.text.lexicon import END, QEND, Lexicon, TokenInfo

__all__ = [
    "COMPLAINTS",
    "POLAR",
    "PRAISE",
    "negate_coordinated",
    "negated_resolvers",
    "now_follows",
    "phrase_at",
    "reverse_the_past",
    "without_double_negations",
]

COMPLAINTS = frozenset(("negative", "mild_negative"))
PRAISE = frozenset(("positive", "mild_positive"))
POLAR = PRAISE | COMPLAINTS


def without_double_negations(lex: Lexicon, toks: list[str], negators: list[int]) -> list[int]:
    """``negators`` less those of a double negation that affirms ("не могу не отметить":
    I must mention; ``double_negations``)."""
    dropped: set[int] = set()
    for i in negators:
        size = phrase_at(lex.double_negations, toks, i)
        dropped.update(range(i, i + size))
    return [i for i in negators if i not in dropped] if dropped else negators


def phrase_at(phrases: dict[str, tuple[tuple[str, ...], ...]], toks: list[str], k: int) -> int:
    """The length of the longest of ``phrases`` that starts at ``toks[k]``, else 0."""
    for phrase in phrases.get(toks[k], ()):
        if tuple(toks[k : k + len(phrase)]) == phrase:
            return len(phrase)
    return 0


def now_follows(lex: Lexicon, toks: list[str], infos: list[TokenInfo], k: int) -> bool:
    """Whether a "now" marker ("теперь", "now", "nyt") follows ``k`` in its sentence."""
    for j in range(k, len(toks)):
        if infos[j][3] in (END, QEND):
            return False
        if phrase_at(lex.now_markers, toks, j):
            return True
    return False


def reverse_the_past(
    lex: Lexicon,
    toks: list[str],
    infos: list[TokenInfo],
    first: int,
    n: int,
    hits: list[list[Any]],
    barriers: list[int],
) -> None:
    """How it was, told against how it is: "Раньше было удобно, а сейчас …", "It used to be
    easier", "Ennen jonotettiin tuntikausia, nyt …". From a past marker to the next comma,
    "now" marker or the clause's end, praise and complaint read reversed (what was good
    is gone, what was bad is over) and elapsed time counts nothing. Markers that are
    also other words ("раньше срока", "ennen kuin") count only when a "now" marker follows
    in the sentence (``past_markers_with_now``); an entry that holds the marker ("раньше
    было лучше") is read as it is."""
    k = first
    while k < n:
        size = phrase_at(lex.past_markers, toks, k)
        if size and k > 0 and toks[k - 1] in lex.past_not_after:
            size = 0  # "I am used to it": accustomed, not how it was
        if not size:
            size = phrase_at(lex.past_markers_with_now, toks, k)
            if size and not now_follows(lex, toks, infos, k + size):
                size = 0
        if not size:
            k += 1
            continue
        start = k + size
        end = next((c for c in barriers if c >= start), n)
        end = next((j for j in range(start, end) if phrase_at(lex.now_markers, toks, j)), end)
        for h in hits:
            if start <= h[0] < end and (h[2] in POLAR or h[2] == "implicit"):
                h[3] = not h[3]
        k = end


def negated_resolvers(
    toks: list[str],
    negators: list[int],
    resolvers: Collection[str],
    hits: list[list[Any]],
    barriers: list[int],
    first: int,
) -> tuple[list[int], set[int]]:
    """Resolvers with a negator one or two words before them ("не решили", "ei ratkaistu",
    "eivät korjanneet", "never resolved"), and the positions the negation loop leaves out:
    those resolvers (they undo nothing) and their negators (they negate only the resolver).
    A negator inside an entry ("не только решили") is that entry's and negates no resolver,
    except in an elapsed-time cue: "так и не решили" is unresolved."""
    at = set(negators)
    unresolved: list[int] = []
    skip: set[int] = set()
    for i in negators:
        if toks[i] not in resolvers or any(h[0] <= i < h[1] and h[2] in POLAR for h in hits):
            continue  # a resolver that is praise ("помогли", "fixed") is negated as praise
        for j in (i - 1, i - 2):
            if (
                j >= first
                and j in at
                and toks[j] not in resolvers
                and not any(h[0] <= j < h[1] and h[2] != "implicit" for h in hits)
                and not any(j < c < i for c in barriers)
            ):
                unresolved.append(i)
                skip.update((i, j))
                break
    return unresolved, skip


def negate_coordinated(lex: Lexicon, toks: list[str], hits: list[list[Any]], k: int) -> None:
    """Carry the negation of ``hits[k]`` over a coordinator to the entries of the same
    polarity joined to it: "нет очередей и хамства", "not friendly or helpful", "ei jonoa
    tai odottelua" negate both (each joined entry right after the coordinator)."""
    praise = hits[k][2] in PRAISE
    for j in range(k + 1, len(hits)):
        prev, nxt = hits[j - 1], hits[j]
        if nxt[0] != prev[1] + 1 or toks[prev[1]] not in lex.coordinators:
            return
        if nxt[2] not in POLAR or (nxt[2] in PRAISE) != praise:
            return
        nxt[3] = True
