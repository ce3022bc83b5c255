"""Texts to stems for the emerging topics of the text stage (:mod:`tasks.text.topics`).

Personal data and identifiers are dropped before tokenising, then stop words (function
words, generic evaluations, words every employment-service text shares) and short
tokens; the rest become Snowball stems, with their most frequent surface word kept
for display.
"""

from __future__ import annotations

import re
from collections import Counter

import snowballstemmer

from tasks.text.normalise import STEMMER_NAMES, normalise

__all__ = ["TopicStemmer"]

# Function words, generic evaluations and words every employment-service text shares.
# Compared with the normalised surface token (lower case, ё→е, hyphens removed).
_STOP: dict[str, frozenset[str]] = {
    "ru": frozenset(
        """
        и а но да или либо то что чтобы как так же ли бы не ни нет нету уже еще вот вон
        это этот эта эти этого этой этим этих этому тот та те того той тем тех том тому
        все весь вся всех всем всего всеми всю всей сам сама сами само самый
        я мы ты вы он она оно они меня мне мной нас нам нами тебя тебе вас вам вами его ее
        ему ей им их ним ней нем них нему себя себе собой мой моя мое мои моего моей
        моих мою наш наша наше наши нашего нашей ваш ваша ваше ваши свой своя свое свои
        своего своей своих свою кто кого кому чем чего чему где куда когда почему зачем какой
        какая какое какие каких каким который которая которое которые которых
        для без при про под над через после перед около между из изза изпод от до по на
        во со ко об обо за у о в с к
        был была было были быть буду будет будут будем есть является
        очень тоже также только даже просто вообще совсем снова опять всегда никогда
        сейчас теперь тогда потом здесь там тут когдато ктото чтото както гдето
        можно нельзя надо нужно было бы хотя если раз два
        плохо плохой плохая плохое плохие ужасно ужасный ужасная ужасное ужасные кошмар
        отвратительно отвратительный безобразие недоволен недовольна недовольны жаль увы
        хорошо спасибо пожалуйста здравствуйте добрый день сколько можно примите меры разберитесь
        центр центра центре центром занятости цзн кадровый кадрового кадровом
        служба службы службе отзыв отзывы
        """.split()
    ),
    "fi": frozenset(
        """
        ja tai mutta sekä että kun jos niin kuin koska vaan vain myös jo vielä enää nyt sitten
        ei en et emme ette eivät eikä ole oli olen olin ollut olla ovat olisi on
        minä mä minun minulle minua minulla minulta sinä sinun hän hänen hänelle se sen sitä
        siitä siihen sillä ne niiden niitä me meidän meille te teidän he heidän heille
        tämä tämän tätä tässä tästä tuo tuon mikä mitä miksi miten missä mistä mihin kuka
        joka jonka jota jossa josta johon mikään mitään kukaan kaikki kaiken aina koskaan
        kanssa ilman kautta mukaan jälkeen ennen yli alle taas ollenkaan yhtään todella tosi
        takia vuoksi asti saakka luona koko voi voin voisi saa sain saanut pitää pitäisi täytyy
        erittäin liian paljon vähän hyvin huono huonoa huonosti surkea surkeaa kamala kamalaa
        kiitos hei moi korjatkaa
        toimisto toimiston toimistossa toimistoon tetoimisto tetoimiston tetoimistossa
        työvoimatoimisto työvoimatoimiston palvelu palvelun palvelussa palvelua
        """.split()
    ),
    "en": frozenset(
        """
        the and but or nor yet so for not no nor any all some none every each this that these
        those there here what which who whom whose when where why how than then too very just
        only also even still again ever never always really quite
        was were are is be been being am has have had having do does did doing done will would
        shall should can could may might must get got gets getting
        you your yours they them their theirs she her hers him his its our ours we me my mine
        itself myself yourself ourselves themselves
        from with without into onto upon about above below under over after before between
        through during against out off again further once
        bad poor terrible awful horrible worst worse disappointed disappointing useless
        please thanks thank hello fix sort
        office centre center employment jobcentre service services staff
        """.split()
    ),
}

# Every language's text is filtered with all three lists: a short text's language is
# sometimes misread ("... bad" taken for Finnish), and the lists hardly collide (the
# Russian one is Cyrillic; the Finnish and English words are not words of the other).
_STOP_ANY = frozenset().union(*_STOP.values())

# Anything that can carry personal data or an identifier: a placeholder left by
# redaction, an e-mail, a link, a chunk holding a digit (phones, codes, dates, ids).
_PERSONAL_CHUNK = re.compile(r"\[[a-z_]+\]|\S*(?:@|://|www\.|\d)\S*")
_TOKEN = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


class TopicStemmer:
    """Tokens → stems for one language, memoised by token (texts repeat the same words)."""

    def __init__(self, language: str) -> None:
        self.stop = _STOP_ANY
        self._stemmer = snowballstemmer.stemmer(STEMMER_NAMES[language])
        self._memo: dict[str, str] = {}
        self.surface: dict[str, Counter[str]] = {}  # stem -> surface token counts

    def stems(self, text: str, weight: int = 1) -> list[str]:
        cleaned = _PERSONAL_CHUNK.sub(" ", normalise(text))
        out: list[str] = []
        for raw in _TOKEN.findall(cleaned):
            tok = raw.replace("-", "")
            if len(tok) < 3 or tok in self.stop:
                continue
            stem = self._memo.get(tok)
            if stem is None:
                stem = self._stemmer.stemWord(tok)
                self._memo[tok] = stem
            out.append(stem)
            self.surface.setdefault(stem, Counter())[tok] += weight
        return out

    def readable(self, stem: str) -> str:
        counts = self.surface.get(stem)
        if not counts:
            return stem
        # Most frequent surface form; ties → the shortest, then alphabetical.
        return min(counts.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))[0]
