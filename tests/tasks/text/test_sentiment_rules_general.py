"""Sentiment rules beyond the service lexicon: general evaluative words, thanks next to a
complaint, resolved problems, "no problems arose", concessions, emoticons and "!!!".

Every sentence here was written for this test."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxloop.config import load_config
from tasks.text.analyser import analyse
from tasks.text.normalise import TOKEN_RE, normalise

CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"


@pytest.fixture(scope="module")
def cfg():
    return load_config(CONFIG_DIR)


def score(text: str, cfg) -> float:
    return analyse([text], cfg)[0].sentiment


@pytest.mark.parametrize(
    "text",
    [
        "Обожаю этот сервис, всё классно",
        "I really like this app, awesome",
        "Rakastan tätä, ihanaa",
        "Tykkään tästä paikasta",
    ],
)
def test_general_praise_is_positive(text, cfg):
    assert score(text, cfg) >= 0.1


@pytest.mark.parametrize(
    "text",
    [
        "Самые негативные впечатления от посещения",
        "I hate this, what a stupid mess",
        "Tämä on ihan paskaa",
        "Vihaan tätä typerää sovellusta",
        "Olen pahoillani, tämä meni pieleen ja olen surullinen",
        "Ei kannata.",
    ],
)
def test_general_complaint_is_negative(text, cfg):
    assert score(text, cfg) <= -0.1


def test_thanks_next_to_a_complaint_is_not_praise(cfg):
    assert score("Thanks for losing my documents again", cfg) < 0
    assert score("Спасибо, что потеряли мои документы", cfg) < 0
    assert score("Спасибо за помощь", cfg) > 0


def test_a_concession_before_but_weighs_less(cfg):
    assert score("Спасибо, конечно, но ждать пришлось очень долго", cfg) < 0


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Несмотря на очереди, работают отлично.", 1),
        ("Despite the queues, the staff were great.", 1),
        ("The staff were great despite the long queue.", 1),
        ("Несмотря на вежливость сотрудников, ждать пришлось два часа.", -1),
        ("Despite being polite, the staff could not answer anything.", -1),
    ],
)
def test_despite_concedes_like_although(cfg, text, sign):
    """Concessions by "несмотря на" / "despite" weigh less than the statement, as "хотя" ones do."""
    assert score(text, cfg) * sign >= 0.1


@pytest.mark.parametrize("text", ["Kukaan ei osannut auttaa.", "En saanut apua.", "Ei osannut vastata kysymyksiin."])
def test_negation_carries_along_the_verb_chain(cfg, text):
    """ "could not help": the praise word right after the negated verb is negated with it."""
    assert score(text, cfg) <= -0.1


def test_negation_does_not_carry_over_a_comma(cfg):
    assert score("Не хамили, вежливые.", cfg) >= 0.1


@pytest.mark.parametrize(
    "text",
    [
        "Очередь была короткая.",
        "Ждать пришлось недолго.",
        "Очередь небольшая, обслужили быстро.",
        "Odotusaika oli lyhyt.",
        "Jonottaa ei tarvinnut.",
        "Lyhyt jono.",
        "Palvelu toimi moitteettomasti.",
    ],
)
def test_a_short_wait_and_flawless_service_are_praise(cfg, text):
    assert score(text, cfg) >= 0.1


@pytest.mark.parametrize("text", ["Недолго думая, закрыли мой счёт.", "Очередь была длинная."])
def test_short_is_praise_only_of_a_wait(cfg, text):
    assert score(text, cfg) < 0.1


@pytest.mark.parametrize(
    "text",
    [
        "Ни разу не пожалела.",  # "ни" does not negate "не пожалела" again
        "Без проблем получила справку.",  # "без" belongs to "без проблем", it negates nothing after
        "Консультант был компетентен.",
        "Всё прошло гладко.",
        "Ответили на все вопросы.",
        "Записалась онлайн за 5 минут.",
        "Написала в чат, ответили через минуту.",
    ],
)
def test_russian_praise_that_read_as_nothing_or_a_complaint(cfg, text):
    assert score(text, cfg) >= 0.1


@pytest.mark.parametrize(
    "text",
    [
        "Больше не приду.",
        "Not always helpful.",
        "Не всегда вежливы.",
        "За 40 минут так никто и не принял.",
        "Приняли только через 40 минут.",
    ],
)
def test_complaints_next_to_those_rules(cfg, text):
    """A hedge ("не всегда", "not always") still negates what follows; a never-accepted
    wait of minutes stays a complaint."""
    assert score(text, cfg) <= -0.1


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Couldn't be happier.", 1),
        ("Could not ask for more.", 1),
        ("It could not be worse.", -1),
        ("I could not be more disappointed.", -1),
        ("They couldn't be bothered to reply.", -1),
        ("They sent me from one desk to another.", -1),
    ],
)
def test_english_set_phrases_whose_negation_is_not_a_flip(cfg, text, sign):
    assert score(text, cfg) * sign >= 0.1


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Раньше было лучше.", -1),
        ("Ennen oli parempi.", -1),
        ("It used to be better.", -1),
        ("Ожидала большего.", -1),
        ("Odotin enemmän.", -1),
        ("I expected more.", -1),
        ("Palvelu on parantunut paljon.", 1),
        ("Стало лучше, чем раньше.", 1),
    ],
)
def test_better_before_and_expected_more_are_complaints(cfg, text, sign):
    """Praise words about the past or about what was hoped for say things got worse."""
    assert score(text, cfg) * sign >= 0.1


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Kaikki meni niin kuin piti.", 1),
        ("Sain kattavat vastaukset kysymyksiini.", 1),
        ("Ei mitään moitittavaa.", 1),
        ("Homma toimi.", 1),
        ("Ei toiminut kuten piti.", -1),
        ("Homma ei toiminut.", -1),
    ],
)
def test_finnish_it_worked_as_it_should(cfg, text, sign):
    assert score(text, cfg) * sign >= 0.1


@pytest.mark.parametrize(
    ("text", "sign"), [("Хуже не бывает.", -1), ("Хуже некуда.", -1), ("Лучше не бывает.", 1), ("Лучше некуда!", 1)]
)
def test_nothing_worse_and_nothing_better(cfg, text, sign):
    assert score(text, cfg) * sign >= 0.1


@pytest.mark.parametrize(
    ("text", "sign"),
    [("@USER great, another delay", -1), ("@united love the new app!", 1), ("@USER thanks for nothing", -1)],
)
def test_a_mention_opening_a_post_is_not_a_word_of_it(cfg, text, sign):
    assert score(text, cfg) * sign >= 0.1


def test_mentions_go_and_addresses_stay():
    assert TOKEN_RE.findall(normalise("@USER ok, write to anna@example.org")) == [
        "ok",
        ",",
        "write",
        "to",
        "anna",
        "example",
        ".",
        "org",
    ]


def test_a_solved_problem_is_no_complaint(cfg):
    assert score("Специалист помогла решить мою проблему", cfg) > 0
    assert score("The issue was fixed the same day", cfg) > 0
    assert score("Ongelma ratkaistiin nopeasti", cfg) > 0
    # a request to fix something is still a complaint
    assert score("Please fix this error", cfg) < 0


def test_no_problems_arose_is_praise(cfg):
    assert score("Пользуюсь картой давно, проблем не возникало", cfg) >= 0
    assert score("Долго не ждали, всё оформили", cfg) >= 0


def test_emoticons_and_emoji(cfg):
    assert TOKEN_RE.findall(normalise("ok :) (да)")) == ["ok", ":)", "(", "да", ")"]
    assert score("Всё пришло вовремя 👍", cfg) > score("Всё пришло вовремя", cfg)
    assert score("Опять никто не ответил 😡", cfg) < score("Опять никто не ответил", cfg)
    assert score("Получила ответ )))", cfg) > 0
    assert score("Got the answer :(", cfg) < 0


def test_exclamations_amplify_their_clause(cfg):
    assert score("Очень плохо!!!", cfg) < score("Очень плохо.", cfg) < 0


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Нет очередей и хамства.", 1),  # both negated: praise
        ("Никаких задержек или ошибок.", 1),
        ("No delays or errors.", 1),
        ("The staff were not friendly or helpful.", -1),
        ("Henkilökunta ei ollut ystävällinen ja avulias.", -1),
        ("Ei jonoa tai odottelua.", 1),
        # The negation stops at an entry of the other polarity and at a non-polar word.
        ("Нет очередей и вежливые сотрудники.", 1),
        ("Не работает и хамят.", -1),
    ],
)
def test_a_negation_reaches_over_and_or(cfg, text, sign):
    assert score(text, cfg) * sign >= 0.1, text


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Хотелось бы побыстрее.", -1),
        ("Можно было бы повежливее.", -1),
        ("Замечаний нет.", 1),
        ("Есть замечания по работе сайта.", -1),
        ("Замечательно!", 1),  # not a form of "замечание"
        ("Could be faster.", -1),
        ("Could have been better.", -1),
        ("The app needs improvement.", -1),
        ("There is room for improvement.", -1),
        ("Palvelu voisi olla nopeampaa.", -1),
        ("Olisi voinut olla parempi.", -1),
        ("Parannettavaa on paljon.", -1),
        ("Ei parannettavaa.", 1),
        ("Приняли без записи.", 1),
    ],
)
def test_what_it_should_have_been_is_a_mild_complaint(cfg, text, sign):
    assert score(text, cfg) * sign >= 0.1, text


@pytest.mark.parametrize(
    "text", ["Please improve the app.", "Без записи не принимают?", "Pyysivät anteeksi.", "Olisi parempi soittaa."]
)
def test_requests_and_apologies_are_no_complaint(cfg, text):
    assert score(text, cfg) >= 0.0, text


def test_a_semicolon_typed_for_an_apostrophe_is_one(cfg):
    assert normalise("I can;t log in; it doesn;t open") == "i can not log in; it does not open"
    assert [t for t in TOKEN_RE.findall(normalise("it;s fine")) if t.isalpha()] == ["it", "fine"]
    assert score("I can;t log in, it doesn;t open", cfg) <= -0.1
    assert normalise("Отлично;стоит") == "отлично;стоит"


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Не помогли.", -1),
        ("Консультант не помогла.", -1),
        ("Мне ничем не помогли.", -1),
        ("Не помогли решить проблему.", -1),
        ("I was not helped.", -1),
        ("They never helped.", -1),
        ("Помогли решить проблему.", 1),
        ("Помогли.", 1),
    ],
)
def test_a_resolver_that_is_praise_is_negated_like_praise(cfg, text, sign):
    """Words such as "помогли" and "helped" are praise and resolvers ("помогли решить проблему" undoes the
    problem); a resolver is no negation of its own, so "не помогли" is not read as an entry
    with its own negation ("не пожалела") that "не" leaves alone."""
    assert score(text, cfg) * sign >= 0.1, text


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Не могу не отметить вежливость сотрудников.", 1),  # two negations affirm
        ("Нельзя не отметить хамство охранника.", -1),
        ("Не могу не поблагодарить консультанта.", 1),
        ("Хочу поблагодарить консультанта.", 1),
        ("Не могу дозвониться.", -1),  # one negation still negates
        ("Работают на отвали.", -1),
        ("Ни рыба ни мясо.", -1),
        ("Всё норм.", 1),  # like "всё ок": slang approval, mild praise
    ],
)
def test_double_negation_and_russian_colloquial_verdicts(cfg, text, sign):
    assert score(text, cfg) * sign >= 0.1, text


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Ongelmaa ei ratkaistu.", -1),
        ("Vikaa ei korjattu.", -1),
        ("He eivät korjanneet vikaa.", -1),
        ("Ошибку не устранили.", -1),
        ("Ничего не исправили.", -1),
        ("Проблему так и не решили.", -1),
        ("Не решили проблему.", -1),
        ("The problem was never resolved.", -1),
        ("Ongelma ratkaistiin nopeasti.", 1),
        ("Ошибку устранили быстро.", 1),
        ("Сайт не работал, но быстро исправили.", 1),
    ],
)
def test_a_negated_resolver_resolves_nothing(cfg, text, sign):
    """A fix that did not happen ("не устранили", "ei korjattu") that did not happen leaves the problem and is a
    complaint itself; it never turns the problem into praise."""
    assert score(text, cfg) * sign >= 0.1, text


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Kurssi oli täyttä ajanhukkaa.", -1),
        ("Virkailija kohteli minua kuin ilmaa.", -1),
        ("Virkailija kuunteli minua ja otti huomioon toiveeni.", 1),
        ("The advisor really listened to me.", 1),
        ("They treated me like I was invisible.", -1),
        ("I was told different things by different people.", -1),
        ("Answered within a day.", 1),
        ("Ответили в тот же день.", 1),
    ],
)
def test_being_heard_or_ignored_and_answers_within_a_day(cfg, text, sign):
    assert score(text, cfg) * sign >= 0.1, text


def test_information_hard_to_find_is_process_clarity_not_the_premises(cfg):
    assert analyse(["Hard to find information on the website."], cfg)[0].themes == {"process_clarity"}
    assert analyse(["The office is hard to find."], cfg)[0].themes == {"office_comfort"}


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Virkailija piti huolta, että kaikki hoituu.", 1),  # took care of it
        ("Pidä niistä hyvää huolta.", 1),
        ("Minulla on huolta toimeentulosta.", -1),  # a worry
        ("Olen huolissani.", -1),
    ],
)
def test_finnish_taking_care_is_not_a_worry(cfg, text, sign):
    assert score(text, cfg) * sign >= 0.1, text


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Никогда ничего хуже не видел.", -1),  # never seen worse: a superlative
        ("Ничего лучше не встречала.", 1),
        ("Будьте осторожны с этим банком.", -1),
        ("Обслуживание клиентов очень длительное.", -1),
        ("Ни разу не пожалела.", 1),
        ("Не всегда вежливы.", -1),
    ],
)
def test_never_seen_worse_and_warnings(cfg, text, sign):
    assert score(text, cfg) * sign >= 0.1, text


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("@JetBlue where is my bag???", -1),  # something of the client's is missing
        ("Где мои деньги?", -1),
        ("Приложение так и не починили.", -1),
        ("У Билайна самый дешевый интернет", 1),
    ],
)
def test_missing_things_unfixed_apps_and_cheap_prices(cfg, text, sign):
    assert score(text, cfg) * sign >= 0.1, text


@pytest.mark.parametrize("text", ["Where is the office?", "Где находится отделение?"])
def test_asking_the_way_is_no_complaint(cfg, text):
    assert score(text, cfg) == 0.0, text


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Оператор контакт-центра просто положил трубку посреди разговора.", -1),
        ("Это не центр занятости, а центр отписок.", -1),
        ("ну такое себе... пришел, посидел, ушел ни с чем", -1),
        ("Нареканий не имею, всё объяснили доступно.", 1),
        ("Была проблема с перерасчётом, но после обращения всё пересчитали и доплатили разницу.", 1),
        ("Лучше бы сама искала.", -1),
        ("Got a hotel voucher and a new flight. cant complain tbh", 1),
        ("The CV workshop made a real difference, I've had three interviews since.", 1),
        ("Ive had better customer service from a vending machine.", -1),
        ("Lost my letter and they reissued it the same day, no fuss.", 1),
        ("Puhelinpalvelussa vastattiin muutamassa minuutissa ja asia selvisi saman tien.", 1),
        ("Virkailija soitti itse takaisin kuten lupasi, ja asia oli jo hoidettu.", 1),
        ("Päätöksessä luki että etuus evätään.", -1),
    ],
)
def test_phrases_of_service_feedback_written_apart(cfg, text, sign):
    """Sentences written by a separate writer who saw neither the analyser nor its lexicons."""
    assert score(text, cfg) * sign >= 0.1, text


@pytest.mark.parametrize(
    "text",
    [
        "When is the unemployment benefit usually paid each month?",
        "I need a letter confirming my benefit amount for my landlord.",
        "How do I change my bank details for the unemployment benefit?",
    ],
)
def test_the_service_s_own_words_are_no_sentiment(cfg, text):
    assert score(text, cfg) == 0.0, text


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Раньше можно было прийти и спокойно решить вопрос, теперь без записи даже не пускают.", -1),
        ("Раньше приходилось ждать неделями, теперь всё быстро.", 1),
        ("Раньше было удобно.", -1),
        ("It used to be so much easier when you could just walk in and speak to someone.", -1),
        ("Used to get paid on the same day every month, now it's random.", -1),
        ("I used to hate this app but now I love it.", 1),
        ("Ennen jonotettiin tuntikausia, nyt sain ajan netistä ja pääsin sisään minuutilleen.", 1),
        ("Aikaisemmin on ollut ongelmia, mutta tällä kertaa kaikki meni nappiin.", 1),
        # not a comparison: "раньше срока" (ahead of time), "not used to" (unaccustomed),
        # "ennen kuin" (before doing), an entry that holds the marker
        ("Выплатили раньше срока, спасибо!", 1),
        ("Пришла раньше и сразу приняли.", 1),
        ("I'm not used to such good service.", 1),
        ("Ennen kuin pääsin sisään, jonotin tunnin.", -1),
        ("Раньше было лучше.", -1),
        ("Ennen oli parempi.", -1),
    ],
)
def test_how_it_was_told_against_how_it_is(cfg, text, sign):
    assert score(text, cfg) * sign >= 0.1, text


@pytest.mark.parametrize(
    "text",
    [
        "Прошу выдать справку о размере пособия за последние три месяца.",
        "Как долго длятся курсы по программе переобучения?",
        "Had my appointment today at 10. Next one is in four weeks.",
        "How long does it take to get a decision?",
        "Ensimmäinen tapaaminen on sovittu ensi viikolle.",  # "sovittu" (agreed) holds no "vittu"
        "Kurssi kestää kahdeksan viikkoa ja alkaa maanantaina.",
        "Kuinka kauan päätöksen saaminen kestää?",
    ],
)
def test_a_time_ahead_or_a_length_is_no_wait(cfg, text):
    assert score(text, cfg) == 0.0, text


@pytest.mark.parametrize(
    "text",
    [
        "Жду ответа уже три недели.",
        "Waited three weeks for a reply.",
        "Päätös kesti kolme viikkoa.",
        "Деньги зачисляют через сутки.",
        "Vitun huono palvelu.",
        "Vituttaa tämä jonottaminen.",
    ],
)
def test_waits_and_swearing_stay_complaints(cfg, text):
    assert score(text, cfg) <= -0.1, text


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        # a problem told, then solved: the solution is what the text says
        ("Сначала пособие не пришло, позвонила — оказалось ошибка в реквизитах, исправили за день. Спасибо!", 1),
        ("Была проблема, но всё решили. Молодцы!", 1),
        ("Долго не могла дозвониться, но в итоге мне помогли.", 1),
        ("The app kept crashing but they fixed it within a day.", 1),
        ("Sovellus kaatui, mutta vika korjattiin nopeasti.", 1),
        # ... but not what the solution does not reach
        ("Девушка не знает правил: сказала, что пособие не положено, потом начальник всё исправил.", -1),
        ("Проблему решили, но через неделю снова сломалось.", -1),
        ("Ошибку исправили, но деньги так и не вернули.", -1),
        ("Проблему так и не решили.", -1),
        ("Työvoimatoimistossa ei ollut ketään, joka olisi jaksanut kuunnella. Hoidettiin vaan rutiinina.", -1),
    ],
)
def test_a_story_of_a_problem_solved(cfg, text, sign):
    assert score(text, cfg) * sign >= 0.1, text


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Nobody answered the phone all week. Brilliant.", -1),
        ("Ждала два часа у кабинета. Браво.", -1),
        ("Ужасно. Молодцы.", -1),
        ("Великолепно. Молодцы!", 1),  # after praise it is praise
    ],
)
def test_a_bare_verdict_after_a_complaint_is_irony(cfg, text, sign):
    assert score(text, cfg) * sign >= 0.1, text


def test_praise_of_an_aspect_after_a_complaint_is_no_irony(cfg):
    a = analyse(["Очередь огромная. Персонал вежливый."], cfg)[0]
    assert a.theme_sentiment["staff_attitude"] > 0 > a.theme_sentiment["waiting_time"]


def test_a_complaint_that_holds_a_resolver_is_no_story_of_a_problem_solved(cfg):
    """The complaint entry "не разобрался" holds "разобрался", a resolver is a resolver that undid nothing
    after it; the complaint it is part of stays."""
    assert score("Специалист не разобрался в моём случае.", cfg) <= -0.1


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Мой инспектор просто золото, всегда перезванивает.", 1),
        ("Курсы от центра занятости — пустая трата времени.", -1),
        ("Сделайте уже нормальную вентиляцию.", -1),
        ("40 минут на линии и сброс.", -1),
        ("Документы потеряли, и теперь вежливо извиняются. Мне от этого не легче.", -1),
        ("Пришла с ребенком, пропустили вне очереди.", 1),
        ("Зашел без записи, приняли через 5 минут. Всё бы так работало.", 1),
        ("Как всегда. Ничего не меняется годами.", -1),
        ("Вакансий по моей специальности нет уже полгода.", -1),  # elapsed time is never negated
        ("Mitä järkeä?", -1),
        ("Soitto menee aina vastaajaan.", -1),
        ("Ei ole normaalia että virkailija nauraa asiakkaan tilanteelle.", -1),
        ("Ammattitaidoton henkilökunta ja kaoottinen järjestelmä.", -1),
        ("Palkkatuki ois pitäny tulla maaliskuussa.", -1),
        ("Työkokeilu meni hyvin ja valmentaja tuki koko ajan.", 1),  # "koko ajan" is no complaint
        ("Ei ollut yhtään niin hankalaa kuin pelkäsin, hakemus meni läpi parissa päivässä.", 1),
        ("If I could give zero stars I would.", -1),
        ("The new online portal is a massive improvement.", 1),
        ("The new payment schedule is much clearer.", 1),
        ("I had a problem with my payment but it was fixed within 3 days.", 1),
    ],
)
def test_more_phrases_written_apart(cfg, text, sign):
    """Sentences from a second separate writer (texts shortened where the rest says nothing)."""
    assert score(text, cfg) * sign >= 0.1, text


@pytest.mark.parametrize(
    "text",
    [
        "Can I get the forms in large print? I have poor eyesight.",
        "Please confirm you have received my sick note.",
        "I'd like to cancel my appointment on Thursday as I have started a new job.",
    ],
)
def test_requests_about_health_and_cancelling_are_no_complaint(cfg, text):
    assert score(text, cfg) >= 0.0, text


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("Ammattitaidoton henkilökunta. 1/5", -1),
        ("Henkilökunta. 1/5", -1),
        ("Отделение. 5/5", 1),
        ("Отделение, 10 из 10!", 1),
        ("Ставлю 2 звезды.", -1),
        ("Office visit. 5 stars", 1),
        ("Toimisto. 2 tähteä", -1),
    ],
)
def test_a_rating_written_in_the_text_is_the_verdict(cfg, text, sign):
    assert score(text, cfg) * sign >= 0.1, text


@pytest.mark.parametrize("text", ["Дата 5/10/2024", "Открыто 24/7", "Принесла 3/5 документов", "Курс 2.5/5"])
def test_dates_hours_and_fractions_are_no_rating(text):
    assert "👍" not in normalise(text) and "👎" not in normalise(text)
