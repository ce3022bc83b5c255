"""Theme rules that keep incidental words from tagging a theme (see ``tasks/text/README.md``).

*Idioms* are fixed expressions in which a theme keyword does not mean the theme: "в
первую очередь" (first of all) is no queue, "курс валют" (exchange rate) no course,
"не связывайтесь с ними" (stay away from them) no contact attempt, "first of all" no
queue either. :func:`blank_idioms` removes the theme facts of the tokens of an idiom
(their sentiment stays), so that neither a keyword nor a keyword phrase matches there.

Each idiom is written like a keyword phrase of ``config/themes/`` (``word*`` a prefix,
anything else one exact word); its first word is always exact, so a text without any
idiom's first word costs one set lookup.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from tasks.text.lexicon import TokenInfo
from tasks.text.normalise import normalise

__all__ = [
    "CHANNEL_THEMES",
    "IDIOMS",
    "Idioms",
    "ScoredClause",
    "blank_idioms",
    "channel_needs_failure",
    "compile_idioms",
    "drop_unsupported_weak",
]

# Per language: expressions whose words never name a theme.
IDIOMS: dict[str, tuple[str, ...]] = {
    "ru": (
        "в первую очередь",
        "в свою очередь",
        "в порядке очереди",
        "в курсе",
        "в отношении",
        "по отношению",
        "не связывайтесь",
        "не связывайся",
        "никогда не связывайтесь",
        "курс валют*",
        "курсы валют*",
        "курса валют*",
        "курсу валют*",
        "курс обмен*",
        "курсы обмен*",
        "курс доллар*",
        "курс евро",
        "курс рубл*",
        "выгодный курс",
        "выгодные курсы",
        "выгодным курсом",
        "хороший курс",
        "по курсу",
        "валютный курс",
        "валютные курсы",
        "валютного курса",
    ),
    "en": (
        "first of all",
        "of course",
        "exchange rate*",
    ),
    "fi": (
        "ensi kerran",
        "tietenkin",
    ),
}

# first word -> idioms starting with it, each as (first word, (exact?, text) of the rest)
Idioms = dict[str, tuple[tuple[tuple[bool, str], ...], ...]]


def compile_idioms(language: str) -> Idioms:
    """The idioms of ``language`` indexed by their first word."""
    out: dict[str, list[tuple[tuple[bool, str], ...]]] = {}
    for idiom in IDIOMS.get(language, ()):
        words = normalise(idiom).split()
        rest = tuple((not w.endswith("*"), w.rstrip("*")) for w in words[1:])
        out.setdefault(words[0], []).append(rest)
    # Longer idioms first: "никогда не связывайтесь" before a shorter one.
    return {k: tuple(sorted(v, key=len, reverse=True)) for k, v in out.items()}


def blank_idioms(idioms: Idioms, tokens: Sequence[str], infos: list[TokenInfo]) -> None:
    """Drop the theme facts (keyword ids, single-word themes, phrase starts) of idiom tokens."""
    n = len(tokens)
    for i, tok in enumerate(tokens):
        rests = idioms.get(tok)
        if not rests:
            continue
        for rest in rests:
            end = i + 1 + len(rest)
            if end > n:
                continue
            for k, (exact, word) in enumerate(rest, start=i + 1):
                t = tokens[k]
                if (t != word) if exact else not t.startswith(word):
                    break
            else:
                for k in range(i, end):
                    f = infos[k]
                    if f[0] or f[4] or f[5]:
                        infos[k] = (frozenset(), f[1], f[2], f[3], (), (), f[6], f[7])
                break


# A scored clause as the analyser collects it: (per-theme raw scores, raw score, weight,
# themes named by a strong keyword, sentence number, is a concession).
ScoredClause = tuple[dict[str, float], float, float, Collection[str], int, bool]


def drop_unsupported_weak(results: list[ScoredClause]) -> list[ScoredClause]:
    """Drop the themes that a clause names by weak keywords only and says nothing about.

    A weak keyword (a channel, a document, a generic word such as "быстро" or "money")
    names its theme only in a clause with a problem or an opinion (any sentiment, a
    negation), or a question, or when the clause next to it names no theme and carries
    the sentiment ("Записалась через портал. Ничего не работает."). Clauses whose raw
    score is not 0 are kept as they are; so are themes named by a strong keyword.
    """
    out: list[ScoredClause] = []
    for k, clause in enumerate(results):
        per_theme, raw, weight, named, sentence, concessive = clause
        if raw != 0.0 or len(named) == len(per_theme) or any(per_theme.values()):
            out.append(clause)
            continue
        neighbours = (results[j] for j in (k - 1, k + 1) if 0 <= j < len(results))
        if any(not n[0] and n[1] != 0.0 for n in neighbours):
            out.append(clause)
            continue
        kept = {t: v for t, v in per_theme.items() if t in named}
        if kept:
            out.append((kept, raw, weight, named, sentence, concessive))
    return out


# Themes whose weak keywords are channels (a phone, a call, an e-mail, an operator): a
# channel named in a clause is about reachability only when the clause negates something
# ("не отвечают", "nobody picks up", "ei vastaa"), asks, or praises ("оператор быстро
# помог"); another complaint told around a call ("позвонил уточнить, ошиблись") is not.
CHANNEL_THEMES: frozenset[str] = frozenset({"contact_reachability"})


def channel_needs_failure(per_theme: dict[str, float], named: Collection[str]) -> dict[str, float]:
    """``per_theme`` without the channel themes named by weak keywords only and not
    praised (for a clause with no negator that is no question)."""
    return {t: v for t, v in per_theme.items() if t in named or t not in CHANNEL_THEMES or v > 0.0}
