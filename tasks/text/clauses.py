"""Clauses of a text for the text stage: where a text is cut, and what each clause says.

:func:`split_clauses` cuts a tokenised text at sentence ends and contrast words;
:func:`score_clause` finds a clause's themes and scores its sentiment with the rules
of the :class:`tasks.text.lexicon.Lexicon` (see ``tasks/text/README.md``).
:mod:`tasks.text.analyser` sums the clauses into a text's themes and sentiment.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from tasks.text.lexicon import BAR, BUT, CONCESSIVE, END, QEND, Lexicon, TokenInfo
from tasks.text.scope import (
    COMPLAINTS,
    POLAR,
    PRAISE,
    negate_coordinated,
    negated_resolvers,
    reverse_the_past,
    without_double_negations,
)

__all__ = ["Clause", "score_clause", "split_clauses"]

_NO_POSITIONS: list[int] = []
_NO_THEMES_SET: frozenset[str] = frozenset()
# After "Хорошо," / "Good," these words make a statement of fact, not an interjection.
_FACT_WORDS = frozenset(("что", "чтобы", "если", "когда", "that", "if", "when", "että", "jos", "kun"))
# "love how the app crashes", "love when they cancel": praise that introduces a complaint.
_IRONY_NEXT = frozenset(("how", "when"))

# A clause: (first token, end, weight in the text's score, is a question, positions of
# tokens with lexicon facts, of negators, of barriers, number of its sentence, is a
# concession).
Clause = tuple[int, int, float, bool, list[int], list[int], list[int], int, bool]


def split_clauses(lex: Lexicon, infos: list[TokenInfo], marks: list[int], n: int) -> list[Clause]:
    """Cut a text into clauses at sentence ends and contrast words (see ``tasks/text/README.md``).

    Only the positions in ``marks`` (tokens with any lexicon fact, punctuation included)
    are visited; clauses without a single lexicon token are left out.
    """
    clauses: list[Clause] = []
    first = 0
    weight = 1.0
    concessive = False
    sentence = 0
    cm: list[int] = []
    ng: list[int] = []
    bs: list[int] = []
    concedes = False
    for i in marks:
        info = infos[i]
        kind = info[3]
        if not kind:
            cm.append(i)
            if info[1]:
                ng.append(i)
            elif "concede" in info[7]:
                concedes = True
            continue
        if kind == BAR and not (concessive and cm):
            bs.append(i)  # barriers stay in the clause as limits for phrases and negation
            continue
        if cm:
            w = weight
            if kind == BUT and concedes:
                # "Спасибо, конечно, но ждать пришлось долго": what is granted before the
                # "but" weighs like a concession.
                w *= lex.concessive_weight
            elif info[2] != 1.0:
                w *= info[2]  # "!!!" says it more strongly
            clauses.append((first, i, w, kind == QEND, cm, ng, bs, sentence, concessive))
        cm, ng, bs = [], [], []
        concedes = False
        first = i + 1
        if kind in (END, QEND):
            sentence += 1
        if kind in (BUT, BAR):
            # After "но"/"but", and after the comma that ends a concession ("Хотя
            # очереди не было, толку ноль"), comes the statement that counts.
            weight, concessive = lex.contrast_weight, False
        elif kind == CONCESSIVE:
            weight, concessive = lex.concessive_weight, True
        else:
            weight, concessive = 1.0, False
    if cm:
        clauses.append((first, n, weight, False, cm, ng, bs, sentence, concessive))
    return clauses


def _ironic_praise(
    toks: list[str], infos: list[TokenInfo], first: int, n: int, hits: list[list[Any]], barriers: list[int]
) -> set[int]:
    """Starts of the praise words that open a clause as an interjection: a single praise word
    (not negated) among the clause's first three tokens, with no lexicon word before it,
    followed by a comma or dash ("Great, …", "Отлично — …") or by "how"/"when" ("love how
    …"); "Хорошо, что …", "good that …" state a fact and are kept."""
    out: set[int] = set()
    for start, end, cat, negated in hits:
        if start > first + 2:
            break
        if negated or cat not in PRAISE or end != start + 1 or end + 1 >= n:
            continue
        if any(infos[j][6] for j in range(first, start)):
            break
        nxt = toks[end]
        if (end in barriers and toks[end + 1] not in _FACT_WORDS) or nxt in _IRONY_NEXT:
            out.add(start)
        break
    return out


def score_clause(
    lex: Lexicon,
    toks: list[str],
    infos: list[TokenInfo],
    first: int,
    n: int,
    question: bool,
    marks: list[int],
    negators: list[int],
    barriers: list[int],
) -> tuple[dict[str, float], float, Collection[str], float, float, bool]:
    """Themes of the clause ``toks[first:n]`` with their raw scores, its raw score, the
    themes a strong keyword names in it (the others are named by weak keywords only), the
    part of the raw score that is thanks, and the clause's weight factor: ``summary_weight``
    with a summary ("в целом", "overall"), ``minor_weight`` with a minor-drawback marker
    ("единственный минус", "the only downside"), else 1.

    ``marks`` are the positions of its tokens with any lexicon fact, ``negators`` and
    ``barriers`` the positions of its negators and of commas/dashes. The last item says
    whether the clause holds a resolver that undid nothing after it ("…, но всё решили"):
    the text's analysis lets it undo the complaints told before the clause.
    """
    multi = lex.multi
    theme_m: list[tuple[int, int, str, bool]] = []  # (start, end, theme, strong)
    sent_m: list[tuple[int, int, str]] = []  # (start, end, category)
    for i in marks:
        info = infos[i]
        for tid, is_strong in info[4]:
            theme_m.append((i, i + 1, tid, is_strong))
        for cat in info[7]:
            sent_m.append((i, i + 1, cat))
        if info[5] and i + 1 < n:
            # Phrases are indexed by their first two elements, so a position only looks
            # at phrases whose first two words are actually here.
            nxt = infos[i + 1][0]
            if not nxt:
                continue
            for eid in info[5]:
                for eid2 in nxt:
                    for rest, p in multi.get((eid, eid2), ()):
                        end = i + 2 + len(rest)
                        if rest:
                            if end > n:
                                continue
                            k = i + 2
                            for r in rest:
                                if r not in infos[k][0]:
                                    break
                                k += 1
                            else:
                                k = -1
                            if k != -1:
                                continue
                        if p[0] == "t":
                            theme_m.append((i, end, p[1], p[2]))
                        else:
                            sent_m.append((i, end, p[1]))
    if negators and lex.double_negations:
        negators = without_double_negations(lex, toks, negators)
    # "Nobody" words (``void_negators``) that negate no entry are a complaint of their own.
    void_at = lex.void_negators
    voids = [i for i in negators if toks[i] in void_at] if void_at and negators else _NO_POSITIONS
    # A resolver among the negators may be negated itself ("Ничего не исправили").
    resolving = bool(negators) and not lex.resolver_tokens.isdisjoint([toks[i] for i in negators])
    if not theme_m and not sent_m and not voids and not resolving:
        return {}, 0.0, _NO_THEMES_SET, 0.0, 1.0, False
    # A negation that negates no entry in a clause that names a theme: "Пособие не
    # начислили", "Kurssi ei alkanut" (not in a question: "Вы не работаете в субботу?").
    theme_negation = lex.theme_negation if theme_m and negators and not question else 0.0

    # Themes: drop matches inside a longer match of another theme, then weak matches
    # when another theme is named by a strong keyword in the clause.
    themes = {m[2] for m in theme_m}
    if len(themes) > 1:
        spans = [(a, b, t) for a, b, t, _ in theme_m if b - a > 1]
        if spans:
            kept = []
            for m in theme_m:
                ms, me, mt = m[0], m[1], m[2]
                for a, b, t in spans:
                    if t != mt and a <= ms and me <= b and b - a > me - ms:
                        break
                else:
                    kept.append(m)
            theme_m = kept
        strong = {t for _, _, t, st in theme_m if st}
        if len(strong) > 1 or len(strong) < len(themes):
            theme_m = [m for m in theme_m if m[3] or not (strong - {m[2]})]
        themes = {m[2] for m in theme_m}
        named: Collection[str] = strong
    elif theme_m:
        named = themes if any(m[3] for m in theme_m) else _NO_THEMES_SET
    else:
        named = _NO_THEMES_SET

    if not sent_m and not voids and not theme_negation and not resolving:
        return dict.fromkeys(themes, 0.0), 0.0, named, 0.0, 1.0, False
    # Longest match wins where sentiment entries overlap ("одни и те же" over "те").
    if len(sent_m) > 1:
        sent_m.sort(key=lambda m: (m[0], m[0] - m[1]))
    hits: list[list[Any]] = []  # [start, end, category, negated]
    last_end = -1
    for start, end, cat in sent_m:
        if start >= last_end:
            hits.append([start, end, cat, False])
            last_end = end
    # A word that is both an intensifier and a sentiment entry right before another
    # entry is an intensifier there ("hyvin vähän", "pretty bad"), not praise.
    if len(hits) > 1:
        drop = [
            k
            for k in range(len(hits) - 1)
            if infos[hits[k][0]][2] != 1.0 and hits[k][1] - hits[k][0] == 1 and hits[k + 1][0] == hits[k][1]
        ]
        if drop:
            hits = [h for k, h in enumerate(hits) if k not in drop]
    # Negation: a negator flips the first sentiment entry within its scope after it
    # ("не хамили", "ei ollut jonoa", "nobody answers"); a post-negation phrase right
    # after an entry flips that entry instead ("очереди не было", "jonoa ei ollut").
    # Barriers (commas, dashes) bound both directions: "очереди не было, специалист вежливая".
    unattached: list[int] = []
    unresolved: list[int] = []  # resolvers under negation: "не решили", "ei korjattu"
    idle = -1  # the first resolver with no complaint after it to undo: "ошибка была, исправили"
    if negators:
        scope = lex.scope
        post = lex.post_by_first
        resolvers = lex.resolver_tokens
        negator_at = set(negators)
        skip: set[int] = set()
        if resolving:
            unresolved, skip = negated_resolvers(toks, negators, resolvers, hits, barriers, first)
        for i in negators:
            if i in skip:
                continue  # a negated resolver resolves nothing, and its negator negates only it
            before = None
            # A resolver ("решили", "fixed", "korjattiin") undoes only a complaint.
            resolver = toks[i] in resolvers
            for phrase in post.get(toks[i], ()):
                if tuple(toks[i : i + len(phrase)]) == phrase:
                    for h in reversed(hits):
                        if h[2] == "implicit" or (resolver and h[2] not in COMPLAINTS):
                            continue  # "ответа до сих пор нет" negates the answer, not "до сих пор"
                        if i - 2 <= h[1] <= i and not (barriers and any(h[1] <= c < i for c in barriers)):
                            before = h
                        if h[1] <= i:
                            break
                    break
            if before is not None:
                before[3] = True
                continue
            if not resolver and any(h[0] <= i < h[1] and h[2] in POLAR for h in hits):
                continue  # a negator inside a praise or complaint is that entry's ("без проблем")
            for k, h in enumerate(hits):
                if h[2] == "implicit" or (resolver and h[2] not in COMPLAINTS):
                    continue  # "не публикуют уже неделю": elapsed time is not what is negated
                if toks[h[0]] not in resolvers and not negator_at.isdisjoint(range(h[0], h[1])):
                    # An entry with its own negation: "ни разу не пожалела" is "не пожалела",
                    # "ничего хуже не видел" is "хуже не видел". A resolver is no negation of
                    # its own: "не помогли" negates "помогли".
                    continue
                # Degree words (at most two) do not use up the scope: "ei ollut yhtään niin hankalaa".
                reach = scope
                if i + scope < h[0] <= i + scope + 2:
                    reach += sum(1 for j in range(i + 1, h[0]) if infos[j][2] != 1.0)
                if i < h[0] <= i + reach and not (barriers and any(i < c < h[0] for c in barriers)):
                    h[3] = not h[3] if resolver else True  # "никто не напомнил" negates it once
                    if not resolver and k + 1 < len(hits):
                        # The verb chain goes on: praise right after the negated word is
                        # negated with it ("ei osannut auttaa", "en saanut apua").
                        chained = hits[k + 1]
                        if chained[0] == h[1] and chained[2] in PRAISE:
                            chained[3] = True
                        elif h[2] in POLAR:
                            negate_coordinated(lex, toks, hits, k)
                    break
            else:
                if resolver:
                    if idle < 0 and not question and not any(h[0] <= i < h[1] and (h[3] or h[0] < i) for h in hits):
                        # Not "не помогли" (negated as praise) nor "не разобрался" (a
                        # complaint that holds the resolver): those undid nothing.
                        idle = i
                    continue
                # A negator inside an entry ("not always", "без задержек") is that entry's.
                if (voids or theme_negation) and not any(h[0] <= i < h[1] for h in hits):
                    unattached.append(i)
    if lex.schedule_words and any(h[2] == "implicit" for h in hits):
        # "за последние три месяца", "Next one is in four weeks", "ensi viikolla": a time
        # ahead or a length is a schedule, not a wait ("went in five weeks ago" is one).
        sched = lex.schedule_words
        hits = [
            h
            for h in hits
            if h[2] != "implicit"
            or (h[1] < len(toks) and toks[h[1]] in lex.ago_words)
            or not any(
                j >= first and toks[j] in sched and not any(j < c < h[0] for c in barriers)
                for j in (h[0] - 1, h[0] - 2)
            )
        ]
    if hits and (lex.past_markers or lex.past_markers_with_now):
        reverse_the_past(lex, toks, infos, first, n, hits, barriers)
    weights, negated_w = lex.weights, lex.negated
    values: list[tuple[int, int, float]] = []
    thanks_at = {h[0] for h in hits if h[2] == "thanks"}
    clause_factor = 1.0
    for start, end, cat, negated in hits:
        value = negated_w[cat] if negated else weights[cat]
        if value == 0.0:
            if cat == "summary":
                clause_factor = lex.summary_weight
            elif cat == "minor":
                clause_factor = lex.minor_weight
            continue
        for j in (start - 1, start - 2):
            if j >= first and infos[j][2] != 1.0:
                factor = infos[j][2]
                # "not very helpful" is milder than "not helpful": under negation an
                # amplifier weakens the entry instead.
                value *= 1.0 / factor if negated and factor > 1.0 else factor
                break
        if question and (value > 0 or cat == "implicit"):
            # A request is not praise, and "how many days does it take?" is no complaint.
            value *= lex.question_positive if value > 0 else lex.question_implicit
            if value == 0.0:
                continue
        values.append((start, end, value))
    if unresolved:
        # "Проблему так и не решили", "Vikaa ei korjattu": an unresolved problem is a complaint
        # (unless the resolver is praise itself and was negated as such: "не помогли").
        complaint = negated_w["expected"]
        values.extend(
            (i, i + 1, complaint) for i in unresolved if not any(h[0] <= i < h[1] and h[2] in POLAR for h in hits)
        )
    if unattached:
        # "никто их не обновляет", "nobody ever picks up", "kukaan ei kertonu": a "nobody"
        # that negates no entry still says that somebody did not do their job.
        other = -1
        for i in unattached:
            for phrase in void_at.get(toks[i], ()):
                if tuple(toks[i : i + len(phrase)]) == phrase:
                    values.append((i, i + len(phrase), lex.void_negation))
                    break
            else:
                other = i if other < 0 else other
        if theme_negation and other >= 0:
            values.append((other, other + 1, theme_negation))  # once per clause
    if idle >= 0 and values:
        # "Пособие не пришло, оказалась ошибка в реквизитах, исправили за день": what went
        # wrong before a resolver that undid nothing after it is the problem it solved, back
        # to a colon ("Не знает правил: сказала, что не положено, потом всё исправили").
        since = max((c for c in barriers if c < idle and toks[c] == ":"), default=-1)
        values = [t for t in values if t[0] < since or t[0] >= idle or t[2] > 0]
    if values and any(v < 0 for _, _, v in values):
        # "Great, another delay", "Супер, опять списали", "love how you lost my bag": praise
        # opening the clause as an interjection before a complaint is irony, like thanks.
        ironic = _ironic_praise(toks, infos, first, n, hits, barriers)
        if ironic:
            values = [t for t in values if t[0] not in ironic]
    if thanks_at and any(v < 0 for _, _, v in values):
        # "Спасибо, что отменили рейс", "thanks for cancelling my flight": thanks next to
        # a complaint are politeness or sarcasm, not praise.
        values = [t for t in values if t[0] not in thanks_at]
        thanks = 0.0
    else:
        thanks = sum([t[2] for t in values if t[0] in thanks_at]) if thanks_at else 0.0
    raw = sum([t[2] for t in values])
    if not themes:
        return {}, raw, named, thanks, clause_factor, idle >= 0
    if not values or all(v > 0 for _, _, v in values) or all(v < 0 for _, _, v in values):
        return dict.fromkeys(themes, raw), raw, named, thanks, clause_factor, idle >= 0
    # Praise and complaint in one clause: each scored entry goes to the nearest theme
    # mention (tokens in between, a barrier counting as three), ties to all of them.
    per_theme = dict.fromkeys(themes, 0.0)
    for hs, he, v in values:
        best: list[str] = []
        best_d = None
        for ts, te, tid, _ in theme_m:
            if ts < he and hs < te:
                d = -1
            else:
                lo, hi = (te, hs) if te <= hs else (he, ts)
                d = hi - lo + 3 * sum(1 for c in barriers if lo <= c < hi)
            if best_d is None or d < best_d:
                best, best_d = [tid], d
            elif d == best_d and tid not in best:
                best.append(tid)
        for tid in best:
            per_theme[tid] += v
    return per_theme, raw, named, thanks, clause_factor, idle >= 0
