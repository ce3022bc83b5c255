"""Demo data for the loop's first stage, **Collect**: raw channel exports as they arrive.

``generate_demo_data`` writes, for every region and quarter, one file per feedback
channel in the messy shapes real exports have (XLSX with Russian headers, cp1251
CSV with ``;`` and dd.mm.yyyy dates, UTF-8-with-BOM CSV with English headers,
UTF-16 tab-separated text, JSON and JSON lines), plus ``register_seed.json`` (measures
implemented earlier) and ``manifest.json`` (what was planted where).

The data tells a story the rest of the loop must find:

* offices differ (a few strong, a few weak); survey answers hang on an office level,
  per-ray offsets, a respondent "halo" and noise, so indices land around 70-90;
* planted pain points, told consistently by survey items and free text: missed
  appointments for lack of reminders (``reminders_notifications``, low P3) in the
  first two regions, unclear next steps (``process_clarity``, low P2) everywhere, and
  a hard online service (``online_service_usability``, low E4) growing quarter by
  quarter in the second region; background mentions of every other theme and praise;
* one corrective measure ("SMS reminders 24 h before the meeting") implemented in
  three offices from the second generated quarter: P3 rises by about +0.6 on the 1-5
  scale there and reminder complaints drop by ~70 %, while a time trend shared by all
  offices makes a naive before/after comparison biased (difference-in-differences is not);
* personal data typed into ~3 % of free texts, broken rows (~1-2 % per file), blank
  and repeated-header rows, exact duplicates within files, one repeated block of calls
  and the same complaint posted on two channels;
* an emerging problem no theme covers, for the analyst's "candidate new themes": from
  the third generated quarter on, fraudsters pose as employment-centre staff and ask
  clients for confirmation codes and card or passport data; complaints about it arrive
  through the platform, social networks and the review book of three offices of the
  first region, then also two of the second, growing 0 → 0 → 15 → 40 texts a quarter
  (:data:`SCAM_WAVE`), worded so that no theme lexicon tags them and every one reads
  negative;
* the survey's optional overall questions (overall satisfaction 1-10, likelihood to
  recommend 0-10, "it was easy to get the service" 1-7), answered by ~85 / 80 / 75 %
  of respondents, driven by the respondent's own ray scores with the unequal weights
  of :data:`OVERALL_DRIVERS` (effort and personalisation most, comfort least) plus
  noise, so a key-driver analysis has a known answer to recover.

Everything is drawn from ``numpy.random.default_rng`` seeded per (seed, quarter,
region, channel), so the same seed and quarters give byte-identical files, and
adding a quarter at the end leaves the files of the earlier quarters unchanged.
The overall questions have a stream of their own (seed, "overall", region, quarter):
adding them left every other value of the files as it was. So do the emerging-topic
complaints ((seed, "emerging", ...), see :func:`_scam_plan`): they are appended after a
file's other records (ids continuing theirs), blank and repeated-header rows are placed
among the other records only, and none of them is broken, duplicated or carries
personal data, so the planted defect counts are those of the other records.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from openpyxl import Workbook

from cxloop.config import Office
from cxloop.domain import ITEMS, RAYS
from cxloop.quarters import Quarter

__all__ = ["DemoManifest", "generate_demo_data", "SMS_MEASURE_TITLE", "SMS_EFFECT", "OVERALL_DRIVERS", "SCAM_WAVE"]

SMS_MEASURE_TITLE = "SMS-напоминания за 24 часа до встречи"
SMS_EFFECT = 0.6  # planted shift of P3 answers (1-5 scale) in treated offices, ~ +15 index points
# Planted drivers of the overall questions: the weight of each ray's mean answer (1-5)
# in a respondent's latent satisfaction. Effort and personalisation matter most,
# comfort least; the weights sum to 1.
OVERALL_DRIVERS: dict[str, float] = {
    "effort": 0.38, "personalisation": 0.28, "usefulness": 0.18, "friendliness": 0.11, "comfort": 0.05,
}
# Share of respondents who leave each overall question blank (a few say "затрудняюсь ответить").
_OVERALL_MISSING = {"overall": 0.15, "nps": 0.20, "ces": 0.25}

# --------------------------------------------------------------------------------------
# Phrase bank: theme -> sentiment -> language -> clauses.
# Clauses carry no final punctuation so they can be joined with contrast ("..., но ...").
# Russian negatives come in many inflected variants, so the text stage's stemmed
# lexicons are exercised on natural language rather than on one canned sentence.
# --------------------------------------------------------------------------------------

Bank = dict[str, dict[str, dict[str, tuple[str, ...]]]]

PHRASES: Bank = {
    "contact_reachability": {
        "neg": {
            "ru": (
                "не дозвониться в центр занятости, телефон постоянно занят",
                "я три дня не могла дозвониться до своего инспектора",
                "дозвониться невозможно, трубку никто не берёт",
                "на электронные письма никто не отвечает уже вторую неделю",
                "звонил несколько раз, никто не ответил",
                "на горячей линии висишь на ожидании по полчаса, а потом связь обрывается",
                "на сообщения в личном кабинете ответа так и не получил",
                "не смог дозвониться, чтобы перенести встречу",
                "телефон центра занятости вечно занят",
                "ни до кого не дозвонишься, приходится ехать лично",
                "на моё письмо так никто и не ответил",
            ),
            "fi": (
                "työvoimakeskukseen on mahdoton saada yhteyttä puhelimitse",
                "soitin monta kertaa, mutta kukaan ei vastannut",
                "sähköpostiini ei vastattu kahteen viikkoon",
            ),
            "en": (
                "it is impossible to get through by phone",
                "nobody answers e-mails",
            ),
        },
        "pos": {
            "ru": (
                "дозвонилась с первого раза, на все вопросы ответили",
                "на письмо ответили в тот же день",
                "оператор быстро ответил и всё объяснил",
            ),
            "fi": ("sain heti yhteyden virkailijaan",),
            "en": ("they answered the phone right away",),
        },
    },
    "reminders_notifications": {
        "neg": {
            "ru": (
                "пропустила встречу, потому что мне никто не напомнил",
                "никаких напоминаний о встрече не приходит, а потом снимают с учёта",
                "пропустил перерегистрацию — ни СМС, ни звонка не было",
                "о дате следующего визита не сообщили, узнала случайно",
                "забыл про приём, хотя могли бы прислать смс-напоминание",
                "напоминание пришло уже после встречи",
                "о переносе встречи никто не предупредил, приехала зря",
                "не напомнили о собеседовании, в итоге опоздал",
                "хотелось бы получать напоминания по СМС, а не узнавать всё в последний момент",
                "из-за того, что не было напоминания, пропустила явку и осталась без пособия на месяц",
                "дату явки пишут на бумажке, которая теряется, никаких уведомлений",
                "уведомления на почту не приходят, хотя адрес я указывала",
                "про назначенную встречу не напоминают, приходится держать всё в голове",
            ),
            "fi": (
                "en saanut muistutusta tapaamisesta ja se jäi väliin",
                "tekstiviestimuistutus olisi auttanut, nyt unohdin ajan",
                "kukaan ei ilmoittanut, että tapaaminen siirtyi",
            ),
            "en": (
                "I missed my appointment because nobody reminded me",
                "there was no SMS reminder before the meeting",
            ),
        },
        "pos": {
            "ru": (
                "за день до встречи пришло СМС-напоминание, очень удобно",
                "теперь присылают напоминания о встрече, ни одной не пропустил",
                "напомнили о приёме сообщением накануне, спасибо",
            ),
            "fi": ("sain tekstiviestin päivää ennen tapaamista, tosi kätevää",),
            "en": ("I got a text reminder a day before, very helpful",),
        },
    },
    "process_clarity": {
        "neg": {
            "ru": (
                "непонятно, что будет дальше и когда со мной свяжутся",
                "после встречи так и не поняла, какие следующие шаги",
                "никто не объяснил, что от меня требуется дальше",
                "ушёл с приёма с ощущением, что ничего не понял",
                "сказали ждать звонка, но когда — неизвестно",
                "не знаю, какие документы донести и к какому сроку",
                "порядок действий никто не объясняет, всё приходится выяснять самому",
                "не понимаю, на каком этапе моё дело",
                "обещали сообщить решение, прошёл месяц — и тишина",
                "объяснили очень путано, что делать после постановки на учёт",
                "так и не ясно, когда следующая встреча и что к ней подготовить",
            ),
            "fi": (
                "en tiedä, mitä seuraavaksi tapahtuu",
                "kukaan ei kertonut, milloin minuun otetaan yhteyttä",
                "seuraavat askeleet jäivät epäselviksi",
            ),
            "en": (
                "it is not clear what happens next",
                "nobody told me when they would contact me",
            ),
        },
        "pos": {
            "ru": (
                "всё понятно объяснили: что делать дальше и когда прийти",
                "дали памятку со следующими шагами, стало понятно",
                "инспектор расписал план действий по шагам",
            ),
            "fi": ("sain selkeät ohjeet siitä, mitä seuraavaksi tapahtuu",),
            "en": ("they explained the next steps clearly",),
        },
    },
    "online_service_usability": {
        "neg": {
            "ru": (
                "личный кабинет постоянно зависает",
                "на портале «Работа России» невозможно загрузить документы",
                "не могу войти в личный кабинет, пишет ошибку",
                "электронная запись не работает, сайт выдаёт ошибку",
                "онлайн-заявление заполнять очень сложно, всё непонятно",
                "сайт вылетает при загрузке резюме",
                "в личном кабинете ничего не найти, интерфейс запутанный",
                "три раза пыталась подать заявление через Госуслуги — ошибка",
                "приложение не открывается на телефоне",
                "пароль от личного кабинета сбрасывается каждый раз",
            ),
            "fi": (
                "verkkopalveluun ei pääse kirjautumaan",
                "liitteiden lataaminen verkkopalveluun ei onnistu",
                "sivusto kaatuu koko ajan",
            ),
            "en": (
                "the online portal keeps crashing",
                "I cannot upload documents to my account",
            ),
        },
        "pos": {
            "ru": (
                "через личный кабинет всё оформил за десять минут",
                "онлайн-запись удобная, выбрал время сам",
            ),
            "fi": ("verkkopalvelu toimi hyvin",),
            "en": ("the online application was easy",),
        },
    },
    "waiting_time": {
        "neg": {
            "ru": (
                "огромная очередь, прождал больше часа",
                "запись на приём только через три недели",
                "в очереди сидели по два часа",
                "решение по заявлению ждём уже больше месяца",
                "даже по записи приходится долго ждать",
                "очень долгое ожидание, электронная очередь не помогает",
                "пришлось отпрашиваться с подработки на полдня из-за очереди",
            ),
            "fi": ("jonotin yli tunnin", "aikaa sai vasta kolmen viikon päähän"),
            "en": ("I waited over an hour in the queue",),
        },
        "pos": {
            "ru": ("приняли сразу, без очереди", "ждать почти не пришлось"),
            "fi": ("pääsin heti sisään",),
            "en": ("there was no wait at all",),
        },
    },
    "staff_attitude": {
        "neg": {
            "ru": (
                "сотрудник разговаривал грубо и пренебрежительно",
                "специалисту было всё равно, она смотрела в телефон",
                "нахамили на ресепшене",
                "отношение равнодушное, будто делают одолжение",
                "инспектор повысила голос, было очень неприятно",
                "чувствуешь себя просителем, а не клиентом",
            ),
            "fi": ("virkailija oli töykeä", "minua kohdeltiin välinpitämättömästi"),
            "en": ("the staff member was rude",),
        },
        "pos": {
            "ru": (
                "сотрудники вежливые и внимательные",
                "спасибо инспектору за терпение и доброжелательность",
                "очень приветливый персонал",
                "специалист выслушала и вникла в мою ситуацию",
                "отношение человеческое, спасибо",
                "консультант был очень доброжелателен",
            ),
            "fi": ("henkilökunta oli ystävällistä ja auttavaista", "virkailija kuunteli minua"),
            "en": ("the staff were friendly and helpful",),
        },
    },
    "staff_competence": {
        "neg": {
            "ru": (
                "в разных кабинетах говорят разное",
                "консультант сам не знал правил и дал неверную информацию",
                "неправильно рассчитали стаж, пришлось переделывать",
                "на вопросы про пособие толком не ответили",
                "дали противоречивые советы, из-за этого потеряла время",
                "специалист не разобрался в моём случае",
            ),
            "fi": ("sain ristiriitaisia neuvoja",),
            "en": ("I got contradictory advice",),
        },
        "pos": {
            "ru": ("грамотная консультация, всё по делу", "специалист хорошо знает законодательство"),
            "fi": ("neuvonta oli asiantuntevaa",),
            "en": ("the advice was competent",),
        },
    },
    "plan_personalisation": {
        "neg": {
            "ru": (
                "план составили по шаблону, мою ситуацию не учли",
                "предлагают то, что мне совсем не подходит",
                "в индивидуальном плане ничего индивидуального",
                "не учли, что у меня маленький ребёнок и я не могу работать в ночные смены",
                "меня даже не спросили, чем я хочу заниматься",
                "план занятости подписали не глядя, обсуждения не было",
            ),
            "fi": ("suunnitelma oli kaavamainen eikä huomioinut tilannettani",),
            "en": ("the plan was one-size-fits-all",),
        },
        "pos": {
            "ru": (
                "план составили вместе со мной, учли мои пожелания",
                "предложения подобрали под мою ситуацию",
            ),
            "fi": ("suunnitelma tehtiin yhdessä kanssani",),
            "en": ("the plan was made together with me",),
        },
    },
    "vacancy_relevance": {
        "neg": {
            "ru": (
                "вакансии неактуальные, половина уже закрыта",
                "направляют на вакансии не по моей специальности",
                "позвонила по трём вакансиям — везде уже нашли сотрудника",
                "предлагают только низкооплачиваемую работу",
                "вакансии в базе устаревшие",
                "отправили на собеседование, а там вакансии давно нет",
            ),
            "fi": ("työpaikkailmoitukset olivat vanhentuneita",),
            "en": ("the vacancies were outdated",),
        },
        "pos": {
            "ru": (
                "подобрали хорошую вакансию, уже вышел на работу",
                "предложили несколько подходящих вакансий",
            ),
            "fi": ("löysin sopivan työpaikan",),
            "en": ("they found me a suitable job",),
        },
    },
    "benefit_payment": {
        "neg": {
            "ru": (
                "пособие задерживают второй месяц",
                "начислили пособие меньше, чем положено",
                "непонятно, почему отказали в пособии",
                "выплату приостановили без объяснений",
                "пособие пришло с опозданием на три недели",
                "решение по пособию никто не объяснил",
            ),
            "fi": ("työttömyysetuuden maksu viivästyi",),
            "en": ("my benefit payment is late",),
        },
        "pos": {
            "ru": ("пособие начислили вовремя",),
            "fi": ("etuus maksettiin ajallaan",),
            "en": ("the benefit was paid on time",),
        },
    },
    "documents_effort": {
        "neg": {
            "ru": (
                "требуют кучу справок, которые у них и так есть",
                "пришлось приходить четыре раза из-за одной бумажки",
                "одни и те же документы просят заново каждый визит",
                "заставили заново заполнять анкету, хотя всё есть в системе",
                "справку из налоговой пришлось нести лично",
                "слишком много бумаг для постановки на учёт",
            ),
            "fi": ("jouduin toimittamaan samat paperit monta kertaa",),
            "en": ("too much paperwork and repeated visits",),
        },
        "pos": {
            "ru": (
                "документы запросили сами, мне ничего не пришлось нести",
                "всё оформили за один визит",
            ),
            "fi": ("kaikki hoitui yhdellä käynnillä",),
            "en": ("everything was done in one visit",),
        },
    },
    "office_comfort": {
        "neg": {
            "ru": (
                "в здании нет пандуса, с коляской не подняться",
                "в зале ожидания душно и не хватает стульев",
                "непонятно, в какой кабинет идти, навигации никакой",
                "неудобный график работы, после работы не успеть",
                "офис далеко от остановки",
                "туалет для посетителей закрыт",
            ),
            "fi": ("toimistoon ei ole esteetöntä sisäänkäyntiä",),
            "en": ("there is no wheelchair access",),
        },
        "pos": {
            "ru": ("в центре чисто и уютно", "удобное расположение, рядом с остановкой"),
            "fi": ("toimisto on viihtyisä",),
            "en": ("the office is clean and comfortable",),
        },
    },
    "training_offer": {
        "neg": {
            "ru": (
                "на курсы записаться невозможно, мест нет",
                "предлагают только устаревшие курсы",
                "обучения ждала полгода",
                "курсы по моей профессии не предлагают",
                "качество обучения низкое, преподаватель читал с листа",
            ),
            "fi": ("koulutuspaikkoja ei ole tarjolla",),
            "en": ("no courses are available",),
        },
        "pos": {
            "ru": (
                "прошла курсы бухгалтеров, очень довольна",
                "отличные курсы по программированию, спасибо",
                "после обучения сразу нашёл работу",
                "хорошие курсы повышения квалификации",
            ),
            "fi": ("kurssi oli erinomainen",),
            "en": ("the training course was excellent",),
        },
    },
    "candidate_quality": {
        "neg": {
            "ru": (
                "присылают кандидатов, которые не соответствуют требованиям вакансии",
                "кандидаты не приходят на собеседование",
                "из десяти направленных кандидатов никто не подошёл",
                "соискатели приходят только за отметкой об отказе",
                "направляют кандидатов без нужной квалификации",
                "половина кандидатов не отвечает на звонки",
            ),
            "fi": ("ehdokkaat eivät vastanneet vaatimuksia",),
            "en": ("the candidates did not match the job requirements",),
        },
        "pos": {
            "ru": ("быстро подобрали подходящих кандидатов", "закрыли две вакансии через центр занятости"),
            "fi": ("saimme sopivia hakijoita nopeasti",),
            "en": ("we quickly got suitable candidates",),
        },
    },
}

# Employers' vacancy-posting troubles are told in their own words but belong to the
# effort themes (the posting stage has no theme of its own).
EMPLOYER_PHRASES: dict[str, tuple[str, ...]] = {
    "online_service_usability": (
        "разместить вакансию на портале «Работа России» — целый квест",
        "вакансия неделю висит на модерации на портале",
        "личный кабинет работодателя постоянно выдаёт ошибку при публикации вакансии",
    ),
    "documents_effort": (
        "для размещения вакансии требуют слишком много сведений",
        "каждый месяц заново сдаём одни и те же отчёты о вакансиях",
    ),
}

THEMES: tuple[str, ...] = tuple(PHRASES)

# Survey item -> the theme a respondent complains about when that item is low.
ITEM_THEME: dict[str, str] = {
    "F1": "staff_attitude", "F2": "staff_attitude", "F3": "staff_attitude", "F4": "staff_attitude",
    "U1": "staff_competence", "U2": "vacancy_relevance", "U3": "staff_competence", "U4": "training_offer",
    "E1": "contact_reachability", "E2": "waiting_time", "E3": "documents_effort", "E4": "online_service_usability",
    "P1": "plan_personalisation", "P2": "process_clarity", "P3": "reminders_notifications", "P4": "plan_personalisation",
    "C1": "office_comfort", "C2": "office_comfort", "C3": "office_comfort", "C4": "office_comfort",
}

_MONTHS = {
    "ru": ("январе", "феврале", "марте", "апреле", "мае", "июне", "июле", "августе", "сентябре",
           "октябре", "ноябре", "декабре"),
    "fi": ("tammikuussa", "helmikuussa", "maaliskuussa", "huhtikuussa", "toukokuussa", "kesäkuussa",
           "heinäkuussa", "elokuussa", "syyskuussa", "lokakuussa", "marraskuussa", "joulukuussa"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
}

_PREFIX = {
    ("ru", "citizen"): (
        "Обращалась в {office} в {month}. ",
        "Обращался в {office}. ",
        "Была на приёме на прошлой неделе. ",
        "Хожу на перерегистрацию уже полгода. ",
        "Встал на учёт после сокращения. ",
        "Ищу работу третий месяц. ",
        "Была в центре занятости в {month}. ",
    ),
    ("ru", "employer"): (
        "Мы как работодатель сотрудничаем с {office}. ",
        "Размещаем вакансии через центр занятости. ",
        "Ищем сотрудников на производство. ",
    ),
    ("fi", "citizen"): ("Kävin työvoimakeskuksessa {month}. ", "Olen ollut työttömänä puoli vuotta. "),
    ("fi", "employer"): ("Olemme työnantaja ja haemme työntekijöitä. ",),
    ("en", "citizen"): ("I visited the employment centre in {month}. ", "I have been looking for work for months. "),
    ("en", "employer"): ("We are an employer looking for staff. ",),
}
_SUFFIX = {
    ("ru", "neg"): (" Прошу разобраться.", " Примите меры!", " Очень неприятно.", " Надеюсь, что-то изменится."),
    ("ru", "pos"): (" Спасибо!", " Спасибо большое!", " Так держать."),
    ("fi", "neg"): (" Toivottavasti asia korjataan.",),
    ("fi", "pos"): (" Kiitos!",),
    ("en", "neg"): (" Please fix this.",),
    ("en", "pos"): (" Thanks!",),
}
_BUT = {"ru": (", но ", ", однако "), "fi": (", mutta ",), "en": (", but ",)}
_YET = {"ru": (", зато ",), "fi": (", mutta toisaalta ",), "en": (", but at least ",)}
_ALSO = {"ru": (". Кроме того, ", ", а ещё "), "fi": (". Lisäksi ",), "en": (". Also, ",)}

# Clearly fake personal data, in the shapes people type it.
_NAMES_F = ("Ирина Смирнова", "Ольга Иванова", "Наталья Попова", "Елена Лебедева", "Татьяна Волкова")
_NAMES_M = ("Алексей Петров", "Сергей Кузнецов", "Дмитрий Соколов", "Андрей Морозов", "Михаил Новиков")
_NAMES = _NAMES_F + _NAMES_M
_MAIL_USERS = ("i.smirnova", "petrov.a", "olga.ivanova", "kuznetsov85", "n.popova", "sokolov.d")


def _fake_phone(rng: np.random.Generator) -> str:
    a, b = int(rng.integers(10, 100)), int(rng.integers(10, 100))
    if rng.random() < 0.5:
        return f"+7 912 345-{a:02d}-{b:02d}"
    return f"8(831)123-{a:02d}-{b:02d}"


def _fake_email(rng: np.random.Generator) -> str:
    user = _MAIL_USERS[int(rng.integers(len(_MAIL_USERS)))]
    return f"{user}@example.{('com', 'org', 'net')[int(rng.integers(3))]}"


def _fake_pii_sentence(rng: np.random.Generator, lang: str, gender: str = "f") -> str:
    kind = int(rng.integers(5))
    names = _NAMES_F if gender == "f" else _NAMES_M
    if lang == "fi":
        return (f"Puhelinnumeroni on {_fake_phone(rng)}.", f"Sähköpostini on {_fake_email(rng)}.",
                f"Nimeni on {_NAMES[int(rng.integers(len(_NAMES)))]}.")[kind % 3]
    if lang == "en":
        return (f"My phone is {_fake_phone(rng)}.", f"Write to {_fake_email(rng)}.",
                f"My name is {_NAMES[int(rng.integers(len(_NAMES)))]}.")[kind % 3]
    n = int(rng.integers(10, 100))
    return (
        f"Мой телефон {_fake_phone(rng)}, перезвоните.",
        f"Пишите на {_fake_email(rng)}.",
        f"Мой СНИЛС 123-456-789 {n:02d}, проверьте, пожалуйста.",
        f"Паспорт 4510 1234{n:02d}, данные я уже {'сдавала' if gender == 'f' else 'сдавал'}.",
        f"Меня зовут {names[int(rng.integers(len(names)))]}.",
    )[kind]


# First-person past tense carries the speaker's gender in Russian; a text keeps one speaker.
_FEMININE = frozenset("была обращалась дозвонилась ждала могла осталась позвонила поняла потеряла приехала "
                      "пропустила прошла пыталась узнала указывала сдавала довольна".split())
_MASCULINE = frozenset("встал обращался выбрал вышел забыл звонил нашёл оформил опоздал получил понял прождал "
                       "пропустил смог ушёл".split())


def _gender_of(text: str) -> str | None:
    words = set(re.findall(r"\w+", text.lower()))
    if words & _FEMININE:
        return "f"
    if words & _MASCULINE:
        return "m"
    return None


def _pick_gendered(rng: np.random.Generator, options: Sequence[str], gender: str) -> str:
    fitting = [o for o in options if _gender_of(o) in (None, gender)]
    return _pick(rng, fitting or options)


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _low(s: str) -> str:
    # Keep acronyms and proper nouns ("СМС", "TE-...") as they are.
    if len(s) > 1 and s[1].islower():
        return s[:1].lower() + s[1:]
    return s


# --------------------------------------------------------------------------------------
# Region profiles: how each region exports, and which pain points it has.
# Assigned by the region's position in the office registry (52, 66, 10 in the shipped
# config), so the code names no region.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Profile:
    star: str  # xlsx_ru | csv_cp1251 | csv_bom_en
    review: str  # xlsx | csv_cp1251
    interview: str  # csv_utf8 | csv_utf16
    reminder_pain: bool
    online_growth: bool
    fi_share: float
    tz: str


_PROFILES = (
    _Profile("xlsx_ru", "xlsx", "csv_utf8", reminder_pain=True, online_growth=False, fi_share=0.0, tz="+03:00"),
    _Profile("csv_cp1251", "csv_cp1251", "csv_utf8", reminder_pain=True, online_growth=True, fi_share=0.0, tz="+05:00"),
    _Profile("csv_bom_en", "xlsx", "csv_utf16", reminder_pain=False, online_growth=False, fi_share=0.10, tz="+03:00"),
)

_STAR_HEADERS = {
    "xlsx_ru": ["ID респондента", "Дата анкеты", "Код ЦЗН", "Тип клиента"],
    "csv_cp1251": ["Номер анкеты", "Дата", "Код офиса", "Тип клиента"],
    "csv_bom_en": ["respondent_id", "survey_date", "office_code", "client_type"],
}
_STAR_COMMENT = {"xlsx_ru": "Комментарий", "csv_cp1251": "Комментарий", "csv_bom_en": "comment"}
# The overall questions (overall, nps, ces), in each export's header language.
_STAR_OVERALL = {
    "xlsx_ru": ["Общая удовлетворенность", "Готовность рекомендовать", "Легкость получения услуги"],
    "csv_cp1251": ["Удовлетворенность в целом", "Вероятность рекомендации", "Легко получить услугу"],
    "csv_bom_en": ["overall", "nps", "ces"],
}
_CLIENT_WORD = {
    "ru": {"citizen": "гражданин", "employer": "работодатель"},
    "en": {"citizen": "citizen", "employer": "employer"},
}


# --------------------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------------------


@dataclass
class DemoManifest:
    """What was written. ``files`` rows: path (relative to out_dir, posix), channel,
    region_code, quarter, format, encoding, delimiter, rows_written (data records incl.
    broken rows and duplicate copies), noise_rows (blank and repeated-header rows, not
    records), planted_broken, planted_duplicates (extra exact copies within the file),
    planted_cross_channel_duplicates (social posts copying a ``pos`` complaint),
    planted_pii (free texts carrying typed-in personal data), planted_emerging (the
    emerging-topic complaints: the file's last records, included in rows_written)."""

    files: list[dict[str, Any]] = field(default_factory=list)
    seeded_measures: list[dict[str, Any]] = field(default_factory=list)
    seed: int = 7
    quarters: list[str] = field(default_factory=list)
    scale: float = 1.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n"


@dataclass
class _Table:
    """Records of one file before writing; ``rows`` are lists in ``header`` order."""

    header: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    broken: int = 0
    duplicates: int = 0
    cross_duplicates: int = 0
    pii: int = 0
    emerging: int = 0  # planted emerging-topic rows, the last ones of ``rows`` (see _scam_plan)


# --------------------------------------------------------------------------------------
# The world the data is drawn from
# --------------------------------------------------------------------------------------


@dataclass
class _World:
    seed: int
    quarters: list[Quarter]
    scale: float
    regions: list[str]
    offices: dict[str, list[Office]]
    office_level: dict[str, float]
    ray_offset: dict[str, np.ndarray]
    common_shift: dict[Quarter, float]
    treated: frozenset[str]
    treat_from: int | None  # position in ``quarters`` from which the SMS measure acts

    def profile(self, region: str) -> _Profile:
        return _PROFILES[self.regions.index(region) % len(_PROFILES)]

    def pos(self, q: Quarter) -> int:
        return self.quarters.index(q)

    def is_treated(self, office_code: str, q: Quarter) -> bool:
        return self.treat_from is not None and office_code in self.treated and self.pos(q) >= self.treat_from

    def n(self, base: float, minimum: int = 1) -> int:
        return max(minimum, int(round(base * self.scale)))


def _rng(seed: int, *parts: str | int) -> np.random.Generator:
    """A generator for one (quarter, region, channel, ...) cell, independent of the others."""
    key = [seed] + [p if isinstance(p, int) else zlib.crc32(p.encode("utf-8")) for p in parts]
    return np.random.default_rng(key)


def _build_world(seed: int, quarters: list[Quarter], scale: float, offices: list[Office]) -> _World:
    regions: list[str] = []
    by_region: dict[str, list[Office]] = {}
    for o in offices:
        if o.region_code not in by_region:
            regions.append(o.region_code)
            by_region[o.region_code] = []
        by_region[o.region_code].append(o)
    for r in regions:
        by_region[r].sort(key=lambda o: o.office_code)
    codes = sorted(o.office_code for o in offices)

    rng = _rng(seed, "offices")
    levels = rng.normal(0.0, 0.15, size=len(codes))
    # A visible spread: two strong and two weak offices, chosen by the seed.
    order = rng.permutation(len(codes))
    for k, bump in zip(order[:4], (0.35, 0.25, -0.40, -0.25)):
        levels[k] += bump
    ray_off = rng.normal(0.0, 0.12, size=(len(codes), len(RAYS)))

    common: dict[Quarter, float] = {}
    for t, q in enumerate(quarters):
        # A trend shared by every office: what makes naive before/after comparisons lie.
        common[q] = 0.07 * t + float(_rng(seed, "time", q.index()).normal(0.0, 0.03))

    treated: list[str] = [o.office_code for o in by_region[regions[0]][:2]]
    if len(regions) > 1:
        treated.append(by_region[regions[1]][0].office_code)
    return _World(
        seed=seed,
        quarters=quarters,
        scale=scale,
        regions=regions,
        offices=by_region,
        office_level={c: float(v) for c, v in zip(codes, levels)},
        ray_offset={c: ray_off[i] for i, c in enumerate(codes)},
        common_shift=common,
        treated=frozenset(treated),
        treat_from=1 if len(quarters) > 1 else None,
    )


# --------------------------------------------------------------------------------------
# Free text
# --------------------------------------------------------------------------------------


@dataclass
class _TextCtx:
    world: _World
    region: str
    quarter: Quarter
    office: Office | None
    client: str  # citizen | employer


def _neg_weights(ctx: _TextCtx, low_items: Sequence[str] = (), extra: dict[str, float] | None = None) -> dict[str, float]:
    """How likely each theme is to be complained about here and now."""
    w = ctx.world
    prof = w.profile(ctx.region)
    t = w.pos(ctx.quarter)
    if ctx.client == "employer":
        weights = {th: 0.0 for th in THEMES}
        weights.update(candidate_quality=4.0, online_service_usability=1.5, documents_effort=1.2,
                       process_clarity=1.0, contact_reachability=0.8, staff_attitude=0.5,
                       staff_competence=0.5, waiting_time=0.4)
    else:
        weights = {th: 1.0 for th in THEMES}
        weights.update(staff_competence=0.8, plan_personalisation=0.8, benefit_payment=0.8,
                       documents_effort=0.8, office_comfort=0.6, training_offer=0.6, candidate_quality=0.0)
        if prof.reminder_pain:
            weights["reminders_notifications"] *= 4.5
        weights["process_clarity"] *= 3.0
    if prof.online_growth:
        weights["online_service_usability"] *= 1.5 + 2.0 * t
    for item in low_items:
        theme = ITEM_THEME[item]
        if ctx.client == "employer" and item == "U2":
            theme = "candidate_quality"
        if weights[theme] > 0:
            weights[theme] *= 3.0
    for th, f in (extra or {}).items():
        weights[th] *= f
    if ctx.office is not None and w.is_treated(ctx.office.office_code, ctx.quarter):
        weights["reminders_notifications"] *= 0.25  # the SMS measure works (with higher P3, ~70 % fewer complaints)
    return weights


def _pos_weights(ctx: _TextCtx) -> dict[str, float]:
    weights = {th: 0.5 for th in THEMES}
    if ctx.client == "employer":
        weights = {th: 0.0 for th in THEMES}
        weights.update(staff_attitude=3.0, candidate_quality=2.0, staff_competence=1.0, process_clarity=0.5)
    else:
        weights.update(staff_attitude=4.0, training_offer=2.0, staff_competence=1.5, vacancy_relevance=1.0,
                       office_comfort=0.8, reminders_notifications=0.1, candidate_quality=0.0)
    if ctx.office is not None and ctx.world.is_treated(ctx.office.office_code, ctx.quarter):
        weights["reminders_notifications"] = 2.0  # people notice the new SMS
    return weights


def _draw(rng: np.random.Generator, weights: dict[str, float], exclude: str | None = None) -> str:
    names = [k for k in THEMES if weights.get(k, 0) > 0 and k != exclude]
    p = np.array([weights[k] for k in names], dtype=float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _clause(rng: np.random.Generator, theme: str, sentiment: str, lang: str, client: str, gender: str) -> str:
    if lang == "ru" and sentiment == "neg" and client == "employer" and theme in EMPLOYER_PHRASES:
        return _pick(rng, EMPLOYER_PHRASES[theme])
    return _pick_gendered(rng, PHRASES[theme][sentiment][lang], gender)


def _language(rng: np.random.Generator, ctx: _TextCtx, fi_share: float | None = None) -> str:
    share = ctx.world.profile(ctx.region).fi_share if fi_share is None else fi_share
    u = rng.random()
    if u < share:
        return "fi"
    if u < share + 0.03:
        return "en"
    return "ru"


def _compose(rng: np.random.Generator, ctx: _TextCtx, mood: str, lang: str,
             low_items: Sequence[str] = (), extra: dict[str, float] | None = None,
             pii_rate: float = 0.03) -> tuple[str, bool, list[str]]:
    """One free text. ``mood``: neg | pos | mixed | neg2. Returns (text, carries_pii, themes in order)."""
    neg_w = _neg_weights(ctx, low_items, extra)
    pos_w = _pos_weights(ctx)
    client = ctx.client
    gender = "f" if rng.random() < 0.6 else "m"  # women are the majority of PES clients
    if mood == "pos":
        theme = _draw(rng, pos_w)
        body = _cap(_clause(rng, theme, "pos", lang, client, gender))
        sentiment, themes = "pos", [theme]
    elif mood == "mixed":
        good = _draw(rng, pos_w)
        bad = _draw(rng, neg_w, exclude=good)
        g, b = _clause(rng, good, "pos", lang, client, gender), _clause(rng, bad, "neg", lang, client, gender)
        if rng.random() < 0.6:
            body = _cap(g) + _pick(rng, _BUT[lang]) + _low(b)
        else:
            body = _cap(b) + _pick(rng, _YET[lang]) + _low(g)
        sentiment, themes = "neg", [bad, good]
    elif mood == "neg2":
        first = _draw(rng, neg_w)
        second = _draw(rng, neg_w, exclude=first)
        body = (_cap(_clause(rng, first, "neg", lang, client, gender)) + _pick(rng, _ALSO[lang])
                + _low(_clause(rng, second, "neg", lang, client, gender)))
        sentiment, themes = "neg", [first, second]
    else:
        theme = _draw(rng, neg_w)
        body = _cap(_clause(rng, theme, "neg", lang, client, gender))
        sentiment, themes = "neg", [theme]
    text = body + "."
    if rng.random() < 0.35:
        office = ctx.office.office_name if ctx.office is not None else "центр занятости"
        # The quarter's first month: never later than the date the text is filed under.
        month = _MONTHS[lang][ctx.quarter.start.month - 1]
        text = _pick_gendered(rng, _PREFIX[(lang, client)], gender).format(office=office, month=month) + text
    if rng.random() < 0.3:
        text += _pick(rng, _SUFFIX[(lang, sentiment)])
    pii = bool(rng.random() < pii_rate)
    if pii:
        sentence = _fake_pii_sentence(rng, lang, gender)
        text = f"{sentence} {text}" if sentence.startswith(("Меня", "Nimeni", "My name")) else f"{text} {sentence}"
    return text, pii, themes


def _mood(rng: np.random.Generator, p_neg: float) -> str:
    """neg / neg2 / mixed / pos, with a fixed share of contrasts among negatives."""
    if rng.random() >= p_neg:
        return "pos"
    u = rng.random()
    return "mixed" if u < 0.2 else "neg2" if u < 0.3 else "neg"


# --------------------------------------------------------------------------------------
# Shared helpers for rows
# --------------------------------------------------------------------------------------


def _weekdays(q: Quarter) -> list[date]:
    d, out = q.start, []
    while d <= q.end:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def _bad_date(rng: np.random.Generator, q: Quarter) -> str:
    return f"32.13.{q.year}" if rng.random() < 0.6 else ""


def _plant_duplicates(rng: np.random.Generator, table: _Table, valid: list[bool], k: int) -> None:
    """Insert ``k`` exact copies of valid rows a little after their originals."""
    for _ in range(k):
        candidates = [i for i, ok in enumerate(valid) if ok]
        if not candidates:
            return
        i = candidates[int(rng.integers(len(candidates)))]
        j = min(len(table.rows), i + 1 + int(rng.integers(0, 15)))
        table.rows.insert(j, list(table.rows[i]))
        valid.insert(j, False)  # a copy is never copied again
        table.duplicates += 1


def _corrupt(rng: np.random.Generator, table: _Table, valid: list[bool], n: int,
             corruptors: Sequence[Callable[[list[Any]], None]]) -> None:
    """Break ``n`` distinct rows, one defect each."""
    idx = rng.choice(len(table.rows), size=min(n, len(table.rows)), replace=False)
    for i in sorted(int(x) for x in idx):
        corruptors[int(rng.integers(len(corruptors)))](table.rows[i])
        valid[i] = False
        table.broken += 1


def _n_broken(rng: np.random.Generator, n_rows: int) -> int:
    if n_rows < 5:
        return 0
    return max(1, int(round(n_rows * rng.uniform(0.01, 0.02))))


def _excel_serial(d: date) -> int:
    return (d - date(1899, 12, 30)).days


# --------------------------------------------------------------------------------------
# Channels
# --------------------------------------------------------------------------------------


def _overall_answers(rng: np.random.Generator, answers: np.ndarray) -> list[list[Any]]:
    """The overall questions of ``n`` respondents from their 1-5 item answers (n x 20).

    A respondent's latent satisfaction s = sum_r w_r (ray mean_r - 3) with the weights
    of OVERALL_DRIVERS; overall (1-10) = 5.3 + 2.6 s + N(0, 1.0), nps (0-10) =
    4.4 + 2.9 s + N(0, 1.4), ces (1-7) = 3.2 + 1.6 (effort mean - 3) + 0.6 s + N(0, 0.9),
    each rounded and clipped to its scale; then blanked at the rates of _OVERALL_MISSING
    (one blank in ten is "затрудняюсь ответить"). With seed 7 a quarter lands at
    ACSI 76-79, NPS -3..+8 (about 30 % promoters and 30 % detractors) and CES 5.3-5.5
    with ~75 % answering 5-7. Uses ``rng`` only (its own stream)."""
    n = len(answers)
    rays = answers.reshape(n, len(RAYS), len(ITEMS) // len(RAYS)).mean(axis=2)  # ITEMS run ray by ray
    weights = np.array([OVERALL_DRIVERS[r] for r in RAYS])
    s = (rays - 3.0) @ weights
    effort = rays[:, RAYS.index("effort")]
    values = np.column_stack([
        np.clip(np.rint(5.3 + 2.6 * s + rng.normal(0.0, 1.0, n)), 1, 10),
        np.clip(np.rint(4.4 + 2.9 * s + rng.normal(0.0, 1.4, n)), 0, 10),
        np.clip(np.rint(3.2 + 1.6 * (effort - 3.0) + 0.6 * s + rng.normal(0.0, 0.9, n)), 1, 7),
    ]).astype(int)
    u = rng.random((n, len(_OVERALL_MISSING)))
    missing = np.array(list(_OVERALL_MISSING.values()))
    return [
        [None if u[i, k] < missing[k] * 0.9 else "затрудняюсь ответить" if u[i, k] < missing[k] else int(values[i, k])
         for k in range(len(missing))]
        for i in range(n)
    ]


def _star_survey(world: _World, region: str, q: Quarter) -> _Table:
    rng = _rng(world.seed, "star_survey", region, q.index())
    overall_rng = _rng(world.seed, "overall", region, q.index())  # its own stream: `rng` draws as before
    prof = world.profile(region)
    t = world.pos(q)
    lang_values = "en" if prof.star == "csv_bom_en" else "ru"
    header = _STAR_HEADERS[prof.star] + list(ITEMS) + _STAR_OVERALL[prof.star] + [_STAR_COMMENT[prof.star]]
    days = _weekdays(q)
    records: list[tuple[date, str, str, list[Any], list[Any], str]] = []
    pii = 0
    item_idx = {it: i for i, it in enumerate(ITEMS)}
    base_item = np.zeros(len(ITEMS))
    for it, shift in (("F1", 0.15), ("F2", 0.1), ("E2", -0.15), ("U2", -0.15), ("U4", -0.25), ("C4", -0.1),
                      ("P2", -0.45)):
        base_item[item_idx[it]] += shift
    base_item[item_idx["P3"]] += -0.55 if prof.reminder_pain else -0.1
    if prof.online_growth:
        base_item[item_idx["E4"]] += -(0.2 + 0.18 * t)

    for office in world.offices[region]:
        code = office.office_code
        for client, lo, hi, base in (("citizen", 55, 76, 4.2), ("employer", 12, 19, 4.1)):
            n = world.n(int(rng.integers(lo, hi)), minimum=2)
            mu = base + world.office_level[code] + world.common_shift[q] + base_item.copy()
            mu += np.repeat(world.ray_offset[code], len(ITEMS) // len(RAYS))  # ITEMS run ray by ray
            if client == "employer":
                mu[item_idx["U2"]] -= 0.3
            halo = rng.normal(0.0, 0.45, size=(n, 1))
            raw = mu + halo + rng.normal(0.0, 0.65, size=(n, len(ITEMS)))
            answers = np.clip(np.rint(raw), 1, 5).astype(int)
            bump = rng.random((3, n))
            if world.is_treated(code, q):
                # The SMS measure: +0.6 on the answer scale in expectation. Applied on the
                # observed scale (answers below 5 step up, in up to three passes) so that the
                # ceiling at 5 does not eat the effect in offices that already score high.
                p3 = answers[:, item_idx["P3"]].copy()
                remaining = SMS_EFFECT
                for step in range(3):
                    room = p3 < 5
                    if remaining <= 1e-9 or not room.any():
                        break
                    p_up = min(1.0, remaining / float(room.mean()))
                    up = room & (bump[step] < p_up)
                    p3 = np.where(up, p3 + 1, p3)
                    remaining -= p_up * float(room.mean())
                answers[:, item_idx["P3"]] = p3
            blank = rng.random((n, len(ITEMS)))
            overall = _overall_answers(overall_rng, answers)
            ctx = _TextCtx(world, region, q, office, client)
            for r in range(n):
                cells: list[Any] = []
                for k in range(len(ITEMS)):
                    if blank[r, k] < 0.05:
                        cells.append(None)
                    elif blank[r, k] < 0.07:
                        cells.append("не знаю")
                    else:
                        cells.append(int(answers[r, k]))
                comment = ""
                if rng.random() < 0.25:
                    row_mean = float(answers[r].mean())
                    low = [ITEMS[k] for k in range(len(ITEMS)) if answers[r, k] <= 2]
                    p_neg = float(np.clip((4.7 - row_mean) / 1.5, 0.2, 0.9))
                    mood = _mood(rng, p_neg)
                    comment, has_pii, _ = _compose(rng, ctx, mood, _language(rng, ctx), low_items=low)
                    pii += has_pii
                records.append((days[int(rng.integers(len(days)))], code, client, cells, overall[r], comment))

    records.sort(key=lambda rec: (rec[0], rec[1]))
    table = _Table(header=header, pii=pii)
    for i, (d, code, client, cells, extra, comment) in enumerate(records, start=1):
        rid = f"{q}-{region}-{i:05d}"
        if prof.star == "xlsx_ru":
            dval: Any = d
        elif prof.star == "csv_cp1251":
            dval = d.strftime("%d.%m.%Y")
        else:
            dval = d.isoformat()
        table.rows.append([rid, dval, code, _CLIENT_WORD[lang_values][client], *cells, *extra, comment or None])

    valid = [True] * len(table.rows)
    first_item = 4

    def unknown_office(row: list[Any]) -> None:
        row[2] = f"{region}-99"

    def missing_office(row: list[Any]) -> None:
        row[2] = None

    def bad_date(row: list[Any]) -> None:
        row[1] = _bad_date(rng, q) or None

    def item_out_of_range(row: list[Any]) -> None:
        row[first_item + int(rng.integers(len(ITEMS)))] = 6 if rng.random() < 0.6 else 0

    def unknown_client(row: list[Any]) -> None:
        row[3] = "неизвестно"

    _corrupt(rng, table, valid, _n_broken(rng, len(table.rows)),
             (unknown_office, missing_office, bad_date, item_out_of_range, unknown_client))
    _plant_duplicates(rng, table, valid, world.n(int(rng.integers(2, 5)), minimum=1))
    return table


def _review_rating(rng: np.random.Generator, stars: int, xlsx: bool) -> Any:
    """A review book's rating cell as typed: blank, "3 звезды", "3" or (XLSX) the number 3."""
    u = rng.random()
    if u < 0.2:
        return None
    if u < 0.45:
        return f"{stars} " + ("звезда" if stars == 1 else "звезды" if stars < 5 else "звёзд")
    if u < 0.7 or not xlsx:
        return str(stars)
    return stars


def _review_date(rng: np.random.Generator, d: date, xlsx: bool) -> Any:
    """A review book's date cell. Typed up by hand: the format drifts from row to row."""
    u = rng.random()
    if xlsx and u < 0.4:
        return d
    if xlsx and u < 0.5:
        return _excel_serial(d)
    if u < 0.75:
        return d.strftime("%d.%m.%Y")
    return d.strftime("%d.%m.%y")


def _review_book(world: _World, region: str, q: Quarter, emerging: Sequence[tuple[Office, str]] = ()) -> _Table:
    """The office review book; ``emerging`` (office, text) pairs are appended after its
    own rows and defects, from their own stream (see :func:`_scam_plan`)."""
    rng = _rng(world.seed, "review_book", region, q.index())
    prof = world.profile(region)
    header = ["Дата", "Код ЦЗН", "Категория заявителя", "Текст отзыва", "Оценка", "Контакт"]
    days = _weekdays(q)
    n = world.n(int(rng.integers(15, 26)), minimum=3)
    records = []
    pii = 0
    offices = world.offices[region]
    for _ in range(n):
        office = offices[int(rng.integers(len(offices)))]
        client = "employer" if rng.random() < 0.12 else "citizen"
        ctx = _TextCtx(world, region, q, office, client)
        mood = _mood(rng, 0.55)
        fi = prof.fi_share * 1.5 if prof.review == "xlsx" else 0.0
        text, has_pii, _ = _compose(rng, ctx, mood, _language(rng, ctx, fi_share=fi))
        pii += has_pii
        stars = int(rng.integers(4, 6)) if mood == "pos" else int(rng.integers(1, 4))
        rating = _review_rating(rng, stars, prof.review == "xlsx")
        contact = _fake_phone(rng) if rng.random() < 0.6 else _fake_email(rng) if rng.random() < 0.8 else None
        records.append((days[int(rng.integers(len(days)))], office.office_code, client, text, rating, contact))
    records.sort(key=lambda rec: (rec[0], rec[1]))
    table = _Table(header=header, pii=pii)
    for d, code, client, text, rating, contact in records:
        dval = _review_date(rng, d, prof.review == "xlsx")
        category = _CLIENT_WORD["ru"][client]
        if rng.random() < 0.3:
            category = _cap(category)
        table.rows.append([dval, code, category, text, rating, contact])

    valid = [True] * len(table.rows)

    def unknown_office(row: list[Any]) -> None:
        row[1] = f"{region}-99"

    def missing_office(row: list[Any]) -> None:
        row[1] = None

    def bad_date(row: list[Any]) -> None:
        row[0] = _bad_date(rng, q) or None

    def bad_rating(row: list[Any]) -> None:
        row[4] = 7 if rng.random() < 0.5 else "отлично!!"

    def unknown_client(row: list[Any]) -> None:
        row[2] = "неизвестно"

    _corrupt(rng, table, valid, _n_broken(rng, len(table.rows)),
             (unknown_office, missing_office, bad_date, bad_rating, unknown_client))
    if emerging:
        erng = _rng(world.seed, "emerging", "review_book", region, q.index())
        planted = []
        for office, text in emerging:
            rating = _review_rating(erng, int(erng.integers(1, 3)), prof.review == "xlsx")
            contact = _fake_phone(erng) if erng.random() < 0.6 else _fake_email(erng) if erng.random() < 0.8 else None
            planted.append((days[int(erng.integers(len(days)))], office.office_code, text, rating, contact))
        planted.sort(key=lambda rec: (rec[0], rec[1]))
        for d, code, text, rating, contact in planted:
            category = _CLIENT_WORD["ru"]["citizen"]
            table.rows.append([_review_date(erng, d, prof.review == "xlsx"), code,
                               _cap(category) if erng.random() < 0.3 else category, text, rating, contact])
        table.emerging = len(planted)
    return table


def _contact_center(world: _World, region: str, q: Quarter) -> _Table:
    rng = _rng(world.seed, "contact_center", region, q.index())
    prof = world.profile(region)
    word = "en" if prof.star == "csv_bom_en" else "ru"
    header = ["call_id", "call_date", "office_code", "client_type", "rating", "comment"]
    days = _weekdays(q)
    n = world.n(int(rng.integers(135, 166)), minimum=5)
    offices = world.offices[region]
    pii = 0
    records = []
    for _ in range(n):
        office = offices[int(rng.integers(len(offices)))]
        client = "employer" if rng.random() < 0.15 else "citizen"
        level = 4.0 + world.office_level[office.office_code] + world.common_shift[q]
        rating = int(np.clip(np.rint(level + rng.normal(0.0, 1.0)), 1, 5))
        comment = ""
        if rng.random() < 0.3:
            ctx = _TextCtx(world, region, q, office, client)
            mood = _mood(rng, 0.9 if rating <= 3 else 0.25)
            comment, has_pii, _ = _compose(rng, ctx, mood, _language(rng, ctx),
                                        extra={"contact_reachability": 3.0, "waiting_time": 1.5})
            pii += has_pii
        records.append((days[int(rng.integers(len(days)))], office.office_code, client, rating, comment))
    records.sort(key=lambda rec: (rec[0], rec[1]))
    table = _Table(header=header, pii=pii)
    for i, (d, code, client, rating, comment) in enumerate(records, start=1):
        table.rows.append([f"CC{region}-{q}-{i:05d}", d.isoformat(), code, _CLIENT_WORD[word][client],
                           str(rating), comment])

    valid = [True] * len(table.rows)

    def unknown_office(row: list[Any]) -> None:
        row[2] = f"{region}-99"

    def missing_office(row: list[Any]) -> None:
        row[2] = ""

    def bad_date(row: list[Any]) -> None:
        row[1] = _bad_date(rng, q)

    def bad_rating(row: list[Any]) -> None:
        row[4] = "7" if rng.random() < 0.5 else "отлично!!"

    _corrupt(rng, table, valid, _n_broken(rng, len(table.rows)),
             (unknown_office, missing_office, bad_date, bad_rating))
    _plant_duplicates(rng, table, valid, 1)
    # Once in the demo, an export glitch repeats a whole block of calls.
    if len(world.regions) > 1 and region == world.regions[1] and world.pos(q) == min(1, len(world.quarters) - 1):
        size = min(world.n(12, minimum=3), len(table.rows))
        # A block of intact rows, so every copy is a plain duplicate and nothing else.
        starts = [s for s in range(len(table.rows) // 3, len(table.rows) - size + 1) if all(valid[s:s + size])]
        if starts:
            start = starts[0]
            block = [list(r) for r in table.rows[start:start + size]]
            table.rows[start + size:start + size] = block
            table.duplicates += size
    return table


_POS_CATEGORY = {
    "contact_reachability": "Обратная связь и консультирование",
    "reminders_notifications": "Запись на приём",
    "process_clarity": "Качество оказания услуг",
    "online_service_usability": "Работа электронных сервисов",
    "waiting_time": "Очереди и сроки",
    "staff_attitude": "Работа сотрудников",
    "staff_competence": "Работа сотрудников",
    "plan_personalisation": "Качество оказания услуг",
    "vacancy_relevance": "Подбор вакансий",
    "benefit_payment": "Пособие по безработице",
    "documents_effort": "Качество оказания услуг",
    "office_comfort": "Доступность помещений",
    "training_offer": "Профессиональное обучение",
    "candidate_quality": "Подбор персонала",
}
_POS_STATUS = ("Ответ направлен", "На рассмотрении", "Зарегистрировано")


def _stamp(rng: np.random.Generator, d: date, tz: str) -> str:
    # Office hours only, so the local date never changes when converted to UTC.
    h, m, s = int(rng.integers(8, 21)), int(rng.integers(60)), int(rng.integers(60))
    return f"{d.isoformat()}T{h:02d}:{m:02d}:{s:02d}{tz}"


def _pos(world: _World, region: str, q: Quarter, emerging: Sequence[tuple[Office, str]] = ()
         ) -> tuple[list[dict[str, Any]], _Table, list[tuple[date, str, str]]]:
    """Federal feedback platform messages; also returns complaints re-posted on social networks.

    ``emerging`` (office, text) pairs are appended after the other messages, with ids
    continuing theirs, from their own stream (see :func:`_scam_plan`): never broken,
    never re-posted."""
    rng = _rng(world.seed, "pos", region, q.index())
    prof = world.profile(region)
    days = sorted(set(_weekdays(q)))
    n = world.n(int(rng.integers(25, 36)), minimum=3)
    offices = world.offices[region]
    table = _Table(header=[])
    records = []
    for _ in range(n):
        office = offices[int(rng.integers(len(offices)))]
        client = "employer" if rng.random() < 0.1 else "citizen"
        ctx = _TextCtx(world, region, q, office, client)
        mood = _mood(rng, 0.85)
        text, has_pii, themes = _compose(rng, ctx, mood, "ru")
        table.pii += has_pii
        if rng.random() < 0.5:
            text = "Здравствуйте! " + text
        d = days[int(rng.integers(len(days)))]
        rec: dict[str, Any] = {"created_at": _stamp(rng, d, prof.tz), "region_code": region}
        if rng.random() < 0.8:
            rec["office_code"] = office.office_code
        # The category is what the sender picked from the platform's list: their main theme's.
        rec["category"] = _POS_CATEGORY[themes[0]]
        rec["text"] = text
        rec["status"] = _pick(rng, _POS_STATUS)
        records.append((rec["created_at"], rec, mood != "pos", d))
    records.sort(key=lambda r: r[0])
    out = [{"id": f"POS-{region}-{q}-{i:04d}", **rec} for i, (_, rec, _, _) in enumerate(records, start=1)]
    broken = {int(x) for x in rng.choice(len(out), size=_n_broken(rng, len(out)), replace=False)}
    for i in sorted(broken):
        kind = int(rng.integers(4))
        if kind == 0:
            out[i]["created_at"] = _bad_date(rng, q)
        elif kind == 1:
            out[i]["text"] = ""
        elif kind == 2:
            out[i]["region_code"] = None
        else:
            out[i]["office_code"] = f"{region}-99"
        table.broken += 1
    # Up to two intact negative complaints naming an office are re-posted on social networks.
    reposts: list[tuple[date, str, str]] = []
    for i, (_, rec, negative, d) in enumerate(records):
        if len(reposts) < 2 and negative and i not in broken and "office_code" in out[i]:
            reposts.append((d, out[i]["office_code"], out[i]["text"]))
    if emerging:
        erng = _rng(world.seed, "emerging", "pos", region, q.index())
        planted = []
        for office, text in emerging:
            rec = {"created_at": _stamp(erng, days[int(erng.integers(len(days)))], prof.tz), "region_code": region}
            if erng.random() < 0.8:
                rec["office_code"] = office.office_code
            rec["category"] = _pick(erng, _SCAM_POS_CATEGORY)
            rec["text"] = ("Здравствуйте! " + text) if erng.random() < 0.5 else text
            rec["status"] = _pick(erng, _POS_STATUS)
            planted.append(rec)
        planted.sort(key=lambda r: r["created_at"])
        out += [{"id": f"POS-{region}-{q}-{i:04d}", **rec} for i, rec in enumerate(planted, start=len(out) + 1)]
        table.emerging = len(planted)
    return out, table, reposts


_PLATFORMS = ("vk", "ok", "yandex_maps", "2gis")


def _social(world: _World, region: str, q: Quarter, reposts: list[tuple[date, str, str]],
            emerging: Sequence[tuple[Office, str]] = ()) -> tuple[list[dict[str, Any]], _Table]:
    """Posts on social networks and map reviews, with ``reposts`` of platform complaints;
    ``emerging`` (office, text) pairs are appended last, from their own stream."""
    rng = _rng(world.seed, "social", region, q.index())
    prof = world.profile(region)
    n = world.n(int(rng.integers(20, 31)), minimum=3)
    offices = world.offices[region]
    table = _Table(header=[])
    records: list[dict[str, Any]] = []
    all_days = [q.start + timedelta(days=k) for k in range((q.end - q.start).days + 1)]
    for _ in range(n):
        office = offices[int(rng.integers(len(offices)))]
        platform = _pick(rng, _PLATFORMS)
        ctx = _TextCtx(world, region, q, office, "citizen")
        mood = _mood(rng, 0.65)
        text, has_pii, _ = _compose(rng, ctx, mood, _language(rng, ctx))
        table.pii += has_pii
        if rng.random() < 0.1:
            text += " 👍" if mood == "pos" else " 😡"
        rec: dict[str, Any] = {"platform": platform,
                               "published_at": _stamp(rng, all_days[int(rng.integers(len(all_days)))], prof.tz)}
        oid = int(rng.integers(10**9, 10**10))
        if platform == "vk":
            rec["url"] = f"https://vk.com/wall-{oid % 10**8}_{int(rng.integers(1000, 99999))}"
        elif platform == "ok":
            rec["url"] = f"https://ok.ru/group/{oid}/topic/{int(rng.integers(10**6, 10**7))}"
        elif platform == "yandex_maps":
            rec["url"] = f"https://yandex.ru/maps/org/{oid}/reviews/"
        else:
            rec["url"] = f"https://2gis.ru/firm/{oid}"
        # Map reviews are attached to the office; posts on networks name it only sometimes.
        if platform in ("yandex_maps", "2gis") or rng.random() < 0.6:
            rec["office_code"] = office.office_code
        rec["author"] = _pick(rng, _NAMES)
        rec["text"] = text
        if platform in ("yandex_maps", "2gis") and rng.random() < 0.9:
            rec["stars"] = int(rng.integers(4, 6)) if mood == "pos" else int(rng.integers(1, 4))
        records.append(rec)
    for d, office_code, text in reposts:
        posted = min(q.end, d + timedelta(days=int(rng.integers(1, 4))))
        records.append({"platform": "vk", "published_at": _stamp(rng, posted, prof.tz),
                        "url": f"https://vk.com/wall-{int(rng.integers(10**7, 10**8))}_{int(rng.integers(1000, 99999))}",
                        "office_code": office_code, "author": _pick(rng, _NAMES), "text": text})
        table.cross_duplicates += 1
    order = sorted(range(len(records)), key=lambda i: (records[i]["published_at"], i))
    out = [{"id": f"{records[i]['platform']}_{region}{q.year}{q.q}{k:04d}", **records[i]} for k, i in enumerate(order, 1)]
    n_broken = _n_broken(rng, len(out))
    # Never break a planted re-post: it must stay a recognisable duplicate.
    repost_texts = {text for _, _, text in reposts}
    breakable = [i for i, rec in enumerate(out) if rec["text"] not in repost_texts]
    for i in sorted(int(x) for x in rng.choice(breakable, size=min(n_broken, len(breakable)), replace=False)):
        kind = int(rng.integers(3))
        if kind == 0:
            out[i]["published_at"] = _bad_date(rng, q)
        elif kind == 1:
            out[i]["text"] = ""
        else:
            out[i]["stars"] = 7
        table.broken += 1
    if emerging:
        erng = _rng(world.seed, "emerging", "social", region, q.index())
        planted = []
        for office, text in emerging:
            platform = _pick(erng, _PLATFORMS)
            rec = {"platform": platform, "published_at": _stamp(erng, all_days[int(erng.integers(len(all_days)))], prof.tz)}
            oid = int(erng.integers(10**9, 10**10))
            if platform == "vk":
                rec["url"] = f"https://vk.com/wall-{oid % 10**8}_{int(erng.integers(1000, 99999))}"
            elif platform == "ok":
                rec["url"] = f"https://ok.ru/group/{oid}/topic/{int(erng.integers(10**6, 10**7))}"
            elif platform == "yandex_maps":
                rec["url"] = f"https://yandex.ru/maps/org/{oid}/reviews/"
            else:
                rec["url"] = f"https://2gis.ru/firm/{oid}"
            if platform in ("yandex_maps", "2gis") or erng.random() < 0.6:
                rec["office_code"] = office.office_code
            rec["author"] = _pick(erng, _NAMES)
            rec["text"] = text + (" 😡" if erng.random() < 0.15 else "")
            if platform in ("yandex_maps", "2gis"):
                rec["stars"] = int(erng.integers(1, 3))
            planted.append(rec)
        planted.sort(key=lambda r: r["published_at"])
        out += [{"id": f"{rec['platform']}_{region}{q.year}{q.q}{k:04d}", **rec}
                for k, rec in enumerate(planted, start=len(out) + 1)]
        table.emerging = len(planted)
    return out, table


_STAGE_EXTRA = {
    "periodic_meetings": {"reminders_notifications": 3.0, "process_clarity": 2.0},
    "profiling_plan": {"plan_personalisation": 4.0, "process_clarity": 1.5},
    "job_matching": {"vacancy_relevance": 4.0, "training_offer": 1.5},
}


def _interview_followup(world: _World, region: str, q: Quarter) -> _Table:
    rng = _rng(world.seed, "interview_followup", region, q.index())
    prof = world.profile(region)
    header = ["response_id", "date", "office_code", "stage", "q_useful", "q_clear_next_steps", "q_confident", "comment"]
    days = _weekdays(q)
    n = world.n(int(rng.integers(50, 71)), minimum=5)
    offices = world.offices[region]
    stages = tuple(_STAGE_EXTRA)
    records = []
    pii = 0
    for _ in range(n):
        office = offices[int(rng.integers(len(offices)))]
        stage = _pick(rng, stages)
        level = 3.9 + world.office_level[office.office_code] + world.common_shift[q]
        halo = rng.normal(0.0, 0.5)
        # Unclear next steps are a pain everywhere: q_clear_next_steps sits lowest.
        means = (level + 0.1, level - 0.45, level - 0.1)
        qs = [int(np.clip(np.rint(m + halo + rng.normal(0.0, 0.6)), 1, 5)) for m in means]
        comment = ""
        if rng.random() < 0.35:
            ctx = _TextCtx(world, region, q, office, "citizen")
            mood = _mood(rng, 0.8 if min(qs) <= 3 else 0.35)
            fi = 0.25 if prof.interview == "csv_utf16" else 0.0
            low = ["P2"] if qs[1] <= 2 else []
            comment, has_pii, _ = _compose(rng, ctx, mood, _language(rng, ctx, fi_share=fi), low_items=low,
                                        extra=_STAGE_EXTRA[stage])
            pii += has_pii
        records.append((days[int(rng.integers(len(days)))], office.office_code, stage, qs, comment))
    records.sort(key=lambda rec: (rec[0], rec[1]))
    table = _Table(header=header, pii=pii)
    for i, (d, code, stage, qs, comment) in enumerate(records, start=1):
        dval = d.strftime("%d.%m.%Y") if prof.star == "csv_cp1251" else d.isoformat()
        table.rows.append([f"IF{region}-{q}-{i:04d}", dval, code, stage, *map(str, qs), comment])

    valid = [True] * len(table.rows)

    def unknown_office(row: list[Any]) -> None:
        row[2] = f"{region}-99"

    def bad_date(row: list[Any]) -> None:
        row[1] = _bad_date(rng, q)

    def out_of_range(row: list[Any]) -> None:
        row[4 + int(rng.integers(3))] = "6" if rng.random() < 0.5 else "0"

    _corrupt(rng, table, valid, _n_broken(rng, len(table.rows)), (unknown_office, bad_date, out_of_range))
    _plant_duplicates(rng, table, valid, 1)
    return table


# --------------------------------------------------------------------------------------
# Emerging topic: a new problem that no theme covers
# --------------------------------------------------------------------------------------
# Fraudsters pose as employment-centre staff and ask clients for confirmation codes,
# card details or passport data. It starts in a few offices of the first region in the
# third generated quarter and spreads to two offices of the second region in the next.
# The texts are worded so that no theme lexicon tags them (no "звонок"/"позвонили",
# which name contact_reachability, no "СМС", which names reminders_notifications, no
# "снять с учёта"/"деньги", which name benefit_payment, no "неизвестные", which names
# process_clarity) and every one carries a complaint word
# ("обман", "ужас", "безобразие"...), so the text stage reads them as negative feedback
# without a theme: the input of tasks.text.topics.emerging_topics.

# Planted texts per quarter at scale 1, by position from the first generated quarter;
# later quarters keep the last value. With the demo's four quarters: 0 → 0 → 15 → 40.
SCAM_WAVE: tuple[int, ...] = (0, 0, 15, 40)
# The text channels the complaints arrive through, and their shares.
_SCAM_CHANNELS: dict[str, float] = {"pos": 0.45, "social": 0.35, "review_book": 0.20}
# Offices hit (picked by the seed) and their shares within the region; from the second
# wave quarter on, the second region gets _SCAM_SPREAD of the texts.
_SCAM_OFFICE_SHARES: tuple[tuple[float, ...], tuple[float, ...]] = ((0.45, 0.33, 0.22), (0.6, 0.4))
_SCAM_SPREAD = 0.35
_SCAM_POS_CATEGORY = ("Иное", "Иное", "Работа сотрудников")

# (clause naming the impostor, grammatical number of its subject: pl | m | f)
_SCAM_OPENERS: tuple[tuple[str, str], ...] = (
    ("Мошенники представились сотрудниками центра занятости", "pl"),
    ("Мне набрали мошенники, представились специалистами ЦЗН", "pl"),
    ("Какие-то мошенники представлялись сотрудниками кадрового центра", "pl"),
    ("На этой неделе мне дважды набирали мошенники якобы из центра занятости", "pl"),
    ("Мне написали в мессенджер мошенники от имени центра занятости", "pl"),
    ("Мошенники выдавали себя за сотрудников центра занятости", "pl"),
    ("Аферисты представились сотрудниками центра занятости", "pl"),
    ("Незнакомые люди выдавали себя за специалистов ЦЗН", "pl"),
    ("Мошенник назвался моим инспектором из центра занятости", "m"),
    ("Какой-то мошенник представился начальником отдела центра занятости", "m"),
    ("Мошенница представилась специалистом центра занятости", "f"),
    ("Мошенница назвалась моим куратором из ЦЗН", "f"),
)
# (past-tense plural verb, the rest): what they were after.
_SCAM_ACTIONS: tuple[tuple[str, str], ...] = (
    ("просили", "продиктовать код подтверждения"),
    ("требовали", "назвать код, который только что пришёл"),
    ("выспрашивали", "данные банковской карты"),
    ("спрашивали", "срок действия и три цифры на обороте карты"),
    ("пытались", "выманить паспортные данные и СНИЛС"),
    ("уговаривали", "перевести сбережения на «безопасный счёт»"),
    ("угрожали", "лишить статуса безработного, если не назову код"),
    ("просили", "назвать код для «подтверждения статуса безработного»"),
)
# Each carries a complaint word, so every text reads negative.
_SCAM_OUTCOMES: tuple[str, ...] = (
    "Это обман, будьте бдительны.",
    "Ужас, откуда у мошенников мои данные?",
    "Возмутительно, что данные клиентов утекли к мошенникам.",
    "Соседку так обманули на двадцать тысяч.",
    "У знакомой после такого разговора списали все сбережения, это кошмар.",
    "Пожилых людей так обманывают, это безобразие.",
    "Это уже не первый такой случай, безобразие.",
    "Самое неприятное — они знали мою фамилию и дату постановки на учёт.",
    "Страшно представить, скольких людей уже обманули.",
)
_SCAM_DEMANDS: tuple[str, ...] = (
    "Проверьте, откуда утечка базы клиентов.",
    "Разберитесь, кто слил наши данные.",
    "Расскажите людям о мошенниках.",
    "Обратитесь в полицию.",
    "Сделайте объявление, что сотрудники центра никогда не просят коды.",
)


def _past(verb: str, number: str) -> str:
    """A plural past-tense verb ("просили", "пытались") in the subject's number and gender."""
    if number == "pl":
        return verb
    if verb.endswith("лись"):
        return verb[:-4] + ("лся" if number == "m" else "лась")
    return verb[:-2] + ("л" if number == "m" else "ла")


def _scam_text(rng: np.random.Generator, used: set[str]) -> str:
    """One complaint about the impostors, not in ``used`` (then added to it).

    "<opener> и <action>[, а потом <action>]." with an outcome sentence before or after
    and, for half of them, a demand: about 83,000 combinations, so the quarter's texts
    differ (equal texts from one office would be taken for duplicates by the intake)."""
    text = ""
    for _ in range(100):
        opener, number = _SCAM_OPENERS[int(rng.integers(len(_SCAM_OPENERS)))]
        first, second = (int(k) for k in rng.choice(len(_SCAM_ACTIONS), size=2, replace=False))
        body = f"{opener} и {_past(_SCAM_ACTIONS[first][0], number)} {_SCAM_ACTIONS[first][1]}"
        if rng.random() < 0.25:
            body += f", а потом {_past(_SCAM_ACTIONS[second][0], number)} {_SCAM_ACTIONS[second][1]}"
        outcome = _pick(rng, _SCAM_OUTCOMES)
        text = f"{body}. {outcome}" if rng.random() < 0.75 else f"{outcome} {body}."
        if rng.random() < 0.5:
            text += " " + _pick(rng, _SCAM_DEMANDS)
        if text not in used:
            break
    used.add(text)
    return text


def _scam_offices(world: _World) -> list[list[tuple[Office, float]]]:
    """The offices the fraudsters' calls reach: three of the first region, two of the
    second (fewer when a region has fewer), with their shares; drawn by the seed alone."""
    rng = _rng(world.seed, "emerging", "offices")
    out: list[list[tuple[Office, float]]] = []
    for region, shares in zip(world.regions, _SCAM_OFFICE_SHARES):
        offices = world.offices[region]
        picked = rng.choice(len(offices), size=min(len(shares), len(offices)), replace=False)
        weights = np.array(shares[:len(picked)], dtype=float)
        out.append([(offices[int(i)], float(w)) for i, w in zip(picked, weights / weights.sum())])
    return out


def _scam_plan(world: _World, q: Quarter) -> dict[tuple[str, str], list[tuple[Office, str]]]:
    """The quarter's planted emerging-topic texts: (region, channel) -> [(office, text)].

    ``round(SCAM_WAVE[t] × scale)`` texts in quarter position ``t``; each goes to an
    office (first region only in the first wave quarter, then _SCAM_SPREAD to the second)
    and a channel by the shares above. Drawn from streams of their own, (seed,
    "emerging", quarter) here and (seed, "emerging", channel, region, quarter) in the
    channels, so every other value of the files is the same as without the wave; the
    channels append these rows after their own, never break or duplicate them, and
    count them in ``planted_emerging``."""
    t = world.pos(q)
    base = SCAM_WAVE[min(t, len(SCAM_WAVE) - 1)] if SCAM_WAVE else 0
    if base <= 0:
        return {}
    first_wave = next(k for k, v in enumerate(SCAM_WAVE) if v > 0)
    targets = _scam_offices(world)
    region_share = [1.0] if t == first_wave or len(targets) == 1 else [1.0 - _SCAM_SPREAD, _SCAM_SPREAD]
    pool = [(office, r_share * share) for r_share, offices in zip(region_share, targets) for office, share in offices]
    p_office = np.array([w for _, w in pool]) / sum(w for _, w in pool)
    channels = list(_SCAM_CHANNELS)
    p_channel = np.array([_SCAM_CHANNELS[c] for c in channels])
    rng = _rng(world.seed, "emerging", q.index())
    used: set[str] = set()
    plan: dict[tuple[str, str], list[tuple[Office, str]]] = {}
    for _ in range(world.n(base)):
        office = pool[int(rng.choice(len(pool), p=p_office))][0]
        channel = channels[int(rng.choice(len(channels), p=p_channel))]
        plan.setdefault((office.region_code, channel), []).append((office, _scam_text(rng, used)))
    return plan


# --------------------------------------------------------------------------------------
# Writers (byte-stable)
# --------------------------------------------------------------------------------------


@dataclass
class _Noise:
    blank_rows: int = 0
    blank_as_delimiters: bool = False  # ";;;;" lines as Excel writes them, instead of empty lines
    repeated_header: bool = False
    trailing_empty_cols: int = 0


def _noise_positions(rng: np.random.Generator, n_rows: int, noise: _Noise) -> dict[int, str]:
    """Row index -> 'blank' | 'header', inserted before that data row."""
    slots: dict[int, str] = {}
    if n_rows < 4:
        return slots
    if noise.repeated_header:
        slots[int(rng.integers(n_rows // 3, 2 * n_rows // 3 + 1))] = "header"
    free = [k for k in range(1, n_rows) if k not in slots]
    for k in rng.choice(free, size=min(noise.blank_rows, len(free)), replace=False):
        slots[int(k)] = "blank"
    return slots


def _csv_bytes(table: _Table, encoding: str, delimiter: str, noise: _Noise, rng: np.random.Generator,
               bom: bytes = b"") -> tuple[bytes, int]:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    tail = [""] * noise.trailing_empty_cols
    width = len(table.header) + len(tail)
    # Placed among the rows that came before the emerging ones, so that appending those
    # rows moves no blank or repeated-header row and draws nothing else from ``rng``.
    slots = _noise_positions(rng, len(table.rows) - table.emerging, noise)
    writer.writerow(table.header + tail)
    for i, row in enumerate(table.rows):
        kind = slots.get(i)
        if kind == "header":
            writer.writerow(table.header + tail)
        elif kind == "blank":
            if noise.blank_as_delimiters:
                writer.writerow([""] * width)
            else:
                buf.write("\r\n")
        writer.writerow(["" if v is None else v for v in row] + tail)
    return bom + buf.getvalue().encode(encoding), len(slots)


_FIXED_TIME = datetime(2020, 1, 1, 0, 0, 0)
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
_CORE_STAMP = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:(?:created|modified)>)")


def _xlsx_bytes(table: _Table, sheet: str, noise: _Noise, rng: np.random.Generator) -> tuple[bytes, int]:
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    wb.properties.creator = "cxloop demo"
    wb.properties.created = _FIXED_TIME
    wb.properties.modified = _FIXED_TIME
    slots = _noise_positions(rng, len(table.rows) - table.emerging, noise)  # as in _csv_bytes
    ws.append(table.header)
    r = 1
    for i, row in enumerate(table.rows):
        kind = slots.get(i)
        if kind is not None:
            r += 1
            if kind == "header":
                for c, v in enumerate(table.header, start=1):
                    ws.cell(row=r, column=c, value=v)
        r += 1
        for c, v in enumerate(row, start=1):
            if v is None:
                continue
            cell = ws.cell(row=r, column=c, value=v)
            if isinstance(v, date):
                cell.number_format = "DD.MM.YYYY"
    raw = io.BytesIO()
    wb.save(raw)
    return _normalise_zip(raw.getvalue()), len(slots)


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite an XLSX with fixed timestamps and sorted entries, so equal content gives equal bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for name in sorted(src.namelist()):
            content = src.read(name)
            if name == "docProps/core.xml":
                # openpyxl stamps "modified" with the wall clock on save.
                content = _CORE_STAMP.sub(rb"\g<1>2020-01-01T00:00:00Z\g<2>", content)
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, content)
    return out.getvalue()


def _json_bytes(records: list[dict[str, Any]]) -> bytes:
    return (json.dumps(records, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _jsonl_bytes(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


# --------------------------------------------------------------------------------------
# Seeded register
# --------------------------------------------------------------------------------------


def _seeded_measures(world: _World) -> list[dict[str, Any]]:
    first, last = world.quarters[0], world.quarters[-1]
    measures: list[dict[str, Any]] = []
    treated = sorted(world.treated)
    treated_regions = sorted({o.region_code for r in world.regions for o in world.offices[r] if o.office_code in world.treated})
    if world.treat_from is not None:
        start_q = world.quarters[world.treat_from]
        implemented = start_q.start + timedelta(days=10)
        status, implemented_on = "implemented", implemented.isoformat()
        planned_start = start_q.start + timedelta(days=3)
    else:
        start_q = first.next()
        status, implemented_on = "approved", None
        planned_start = start_q.start + timedelta(days=3)
    measures.append({
        "code": f"M-{first}-01",
        "title": SMS_MEASURE_TITLE,
        "description": ("Автоматическое СМС-напоминание о назначенной встрече и перерегистрации за 24 часа; "
                        "текст напоминания протестирован с клиентами на воркшопе."),
        "theme": "reminders_notifications",
        "journey_stage": "periodic_meetings",
        "type": "new_experience",
        "region_code": treated_regions[0] if len(treated_regions) == 1 else "ALL",
        "offices": treated,
        "owner": "Рабочая группа по клиентоцентричности (пилот напоминаний)",
        "status": status,
        "proposed_quarter": str(first),
        "codesign_date": (first.start + timedelta(days=50)).isoformat(),
        "codesign_form": "workshop",
        "codesign_clients": 12,
        "planned_start": planned_start.isoformat(),
        "due_date": (start_q.start + timedelta(days=30)).isoformat(),
        "implemented_on": implemented_on,
        "kpi_metric": "item:P3",
        "kpi_target_change": 10,
    })
    # An overdue measure, for the register to flag: due inside the last quarter, never implemented.
    region = world.regions[1] if len(world.regions) > 1 else world.regions[0]
    if len(world.quarters) > 1:
        proposed = world.quarters[-2]
        codesign, planned, due = proposed.start + timedelta(days=40), proposed.start + timedelta(days=55), last.start + timedelta(days=30)
    else:
        proposed = last
        codesign, planned, due = last.start + timedelta(days=10), last.start + timedelta(days=20), last.start + timedelta(days=60)
    measures.append({
        "code": f"M-{proposed}-02",
        "title": "Упрощение входа и загрузки документов в личном кабинете",
        "description": "Юзабилити-тестирование личного кабинета с клиентами и устранение пяти главных ошибок.",
        "theme": "online_service_usability",
        "journey_stage": "first_contact",
        "type": "process_optimisation",
        "region_code": region,
        "offices": [o.office_code for o in world.offices[region]],
        "owner": f"Рабочая группа по клиентоцентричности (регион {region})",
        "status": "in_progress",
        "proposed_quarter": str(proposed),
        "codesign_date": codesign.isoformat(),
        "codesign_form": "usability_testing",
        "codesign_clients": 8,
        "planned_start": planned.isoformat(),
        "due_date": due.isoformat(),  # before the last quarter ends, never implemented: overdue
        "implemented_on": None,
        "kpi_metric": "item:E4",
        "kpi_target_change": 10,
    })
    return measures


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------


def generate_demo_data(out_dir: Path, quarters: list[Quarter], seed: int = 7,
                       offices: list[Office] | None = None, scale: float = 1.0) -> DemoManifest:
    """Write demo channel exports for every region x quarter into ``out_dir``.

    In: the quarters to cover (any order, no duplicates), a seed, the office registry
    (default: ``config/offices.csv``) and a volume multiplier. Out: files
    ``out_dir/<quarter>/<channel>_<region_code>.<ext>``, ``register_seed.json``,
    ``manifest.json``; the returned :class:`DemoManifest` lists them with what was planted.
    """
    if not quarters:
        raise ValueError("at least one quarter is needed")
    qs = sorted(set(quarters))
    if len(qs) != len(quarters):
        raise ValueError("quarters must not repeat")
    if not scale > 0:
        raise ValueError("scale must be positive")
    if offices is None:
        from cxloop.config import get_config

        offices = get_config().offices
    if not offices:
        raise ValueError("no offices to generate data for")
    out_dir = Path(out_dir)
    world = _build_world(seed, qs, scale, list(offices))
    manifest = DemoManifest(seed=seed, quarters=[str(q) for q in qs], scale=scale)

    def emit(q: Quarter, channel: str, region: str, ext: str, payload: bytes, table: _Table, *,
             fmt: str, encoding: str, delimiter: str | None, rows: int, noise_rows: int = 0) -> None:
        rel = Path(str(q)) / f"{channel}_{region}.{ext}"
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
        manifest.files.append({
            "path": rel.as_posix(), "channel": channel, "region_code": region, "quarter": str(q),
            "format": fmt, "encoding": encoding, "delimiter": delimiter,
            "rows_written": rows, "noise_rows": noise_rows,
            "planted_broken": table.broken, "planted_duplicates": table.duplicates,
            "planted_cross_channel_duplicates": table.cross_duplicates, "planted_pii": table.pii,
            "planted_emerging": table.emerging,
        })

    for q in qs:
        scam = _scam_plan(world, q)
        for region in world.regions:
            prof = world.profile(region)
            noise_rng = _rng(seed, "noise", region, q.index())

            star = _star_survey(world, region, q)
            if prof.star == "xlsx_ru":
                payload, k = _xlsx_bytes(star, "Анкеты", _Noise(blank_rows=1, repeated_header=True), noise_rng)
                emit(q, "star_survey", region, "xlsx", payload, star, fmt="xlsx", encoding="xlsx", delimiter=None,
                     rows=len(star.rows), noise_rows=k)
            elif prof.star == "csv_cp1251":
                payload, k = _csv_bytes(star, "cp1251", ";", _Noise(blank_rows=2, blank_as_delimiters=True), noise_rng)
                emit(q, "star_survey", region, "csv", payload, star, fmt="csv", encoding="cp1251", delimiter=";",
                     rows=len(star.rows), noise_rows=k)
            else:
                payload, k = _csv_bytes(star, "utf-8", ",", _Noise(), noise_rng, bom=b"\xef\xbb\xbf")
                emit(q, "star_survey", region, "csv", payload, star, fmt="csv", encoding="utf-8-sig", delimiter=",",
                     rows=len(star.rows), noise_rows=k)

            review = _review_book(world, region, q, scam.get((region, "review_book"), ()))
            if prof.review == "xlsx":
                payload, k = _xlsx_bytes(review, "Книга отзывов", _Noise(), noise_rng)
                emit(q, "review_book", region, "xlsx", payload, review, fmt="xlsx", encoding="xlsx", delimiter=None,
                     rows=len(review.rows), noise_rows=k)
            else:
                payload, k = _csv_bytes(review, "cp1251", ";", _Noise(repeated_header=True), noise_rng)
                emit(q, "review_book", region, "csv", payload, review, fmt="csv", encoding="cp1251", delimiter=";",
                     rows=len(review.rows), noise_rows=k)

            calls = _contact_center(world, region, q)
            pos_in_regions = world.regions.index(region) % len(_PROFILES)
            cc_noise = (_Noise(blank_rows=2) if pos_in_regions == 0
                        else _Noise(trailing_empty_cols=3) if pos_in_regions == 2 else _Noise())
            payload, k = _csv_bytes(calls, "utf-8", ";", cc_noise, noise_rng)
            emit(q, "contact_center", region, "csv", payload, calls, fmt="csv", encoding="utf-8", delimiter=";",
                 rows=len(calls.rows), noise_rows=k)

            pos_records, pos_table, reposts = _pos(world, region, q, scam.get((region, "pos"), ()))
            emit(q, "pos", region, "json", _json_bytes(pos_records), pos_table, fmt="json", encoding="utf-8",
                 delimiter=None, rows=len(pos_records))

            social_records, social_table = _social(world, region, q, reposts, scam.get((region, "social"), ()))
            emit(q, "social", region, "jsonl", _jsonl_bytes(social_records), social_table, fmt="jsonl",
                 encoding="utf-8", delimiter=None, rows=len(social_records))

            interviews = _interview_followup(world, region, q)
            if prof.interview == "csv_utf16":
                # Explicit little-endian with BOM: Python's "utf-16" would follow the host's byte order.
                payload, k = _csv_bytes(interviews, "utf-16-le", "\t", _Noise(), noise_rng, bom=b"\xff\xfe")
                emit(q, "interview_followup", region, "csv", payload, interviews, fmt="csv", encoding="utf-16",
                     delimiter="\t", rows=len(interviews.rows), noise_rows=k)
            else:
                payload, k = _csv_bytes(interviews, "utf-8", ",", _Noise(), noise_rng)
                emit(q, "interview_followup", region, "csv", payload, interviews, fmt="csv", encoding="utf-8",
                     delimiter=",", rows=len(interviews.rows), noise_rows=k)

    manifest.files.sort(key=lambda f: f["path"])
    manifest.seeded_measures = _seeded_measures(world)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "register_seed.json").write_bytes(
        (json.dumps(manifest.seeded_measures, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    (out_dir / "manifest.json").write_bytes(manifest.to_json().encode("utf-8"))
    return manifest
