"""Report stage of the loop (step 8): the quarterly PDF, one per region plus a national one.

``build_report_context`` reads the quarter's results from the database (star
index, intake accounting, pain points, measure register, effect evaluations)
into a plain dict; ``render_report_pdf`` turns that dict into an A4 PDF with
Jinja2 and WeasyPrint; ``write_reports`` does both for every scope and returns
the files with their content hash, which delivery uses to avoid re-sending.

The report shows aggregates only. Feedback text never reaches it, and the
renderer is given a URL fetcher that can read nothing but the files in
``templates/`` (and ``data:`` URIs), so even a string that slipped through
cannot make WeasyPrint fetch a URL or read a local file.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import func
from sqlmodel import Session, select
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from cxloop.config import CHANNELS, RAYS, AppConfig
from cxloop.files import file_sha256
from cxloop.quarters import Quarter
from models.tables import (
    EffectEvaluation,
    Feedback,
    IndexResult,
    IngestedFile,
    Measure,
    PainPoint,
    Quarantine,
)
from tasks.charts import forest_svg, importance_performance_svg, pareto_svg, radar_svg
from tasks.measures import is_overdue

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
NATIONAL = "national"

OPEN_STATUSES = ("proposed", "approved", "in_progress", "implemented")
EVALUATED_STATUSES = frozenset({"evaluated", "closed"})
TOP_PAIN_POINTS = 10
PARETO_BARS = 15

# ---------------------------------------------------------------------------
# Interface strings. Russian is the product's first language; English covers
# the "on request" case, Finnish falls back to English for headings (theme
# labels still come from config in Finnish).
# ---------------------------------------------------------------------------
TEXT: dict[str, dict[str, Any]] = {
    "ru": {
        "title": "Клиентский опыт в службе занятости",
        "national": "Российская Федерация — национальный отчёт",
        "region": "Регион",
        "quarter": "Квартал",
        "page_of": ("стр. ", " из "),
        "rays": {
            "friendliness": "дружелюбие и партнёрство",
            "usefulness": "полезность",
            "effort": "минимизация усилий",
            "personalisation": "адресность",
            "comfort": "внешний комфорт и удобство",
        },
        "client_types": {"citizen": "Граждане", "employer": "Работодатели", "composite": "Композитный индекс"},
        "star_heading": "Звезда клиентоцентричности",
        "index": "Индекс",
        "ci": "95 % ДИ",
        "change": "Изменение к",
        "n": "Респондентов",
        "stars": "Звёзды",
        "ray": "Луч",
        "key_messages": "Главное за квартал",
        "no_data": "нет данных",
        "insufficient": "недостаточная выборка",
        "channels_heading": "Каналы обратной связи и качество данных",
        "metrics_heading": "Удовлетворённость: сводные показатели",
        "metric": "Показатель",
        "value": "Значение",
        "interval": "95 % интервал",
        "metric_names": {
            "acsi": "Общая удовлетворённость (ACSI, 0–100)",
            "nps": "Индекс лояльности NPS (−100…100)",
            "ces": "Лёгкость получения услуги CES (1–7)",
            "csat": "CSAT, доля оценок 4–5, %",
        },
        "metrics_note": "ACSI, NPS и CES — из анкеты «Звезда» (все респонденты); CSAT — оценки контакт-центра, книги отзывов и соцсетей. Погрешность NPS: ±1,96·100·√(((p+d)−(p−d)²)/n).",
        "channel": "Канал",
        "received": "Получено",
        "accepted": "Принято",
        "quarantined": "В карантине",
        "duplicates": "Дубликаты",
        "total": "Итого",
        "channels_region_note": (
            "Принятые отзывы — по региону. Карантин и дубликаты учитываются по файлам, а файлы не "
            "привязаны к региону, поэтому ниже показаны итоги по всему поступлению квартала (все регионы)."
        ),
        "quarter_wide": "Все поступления квартала (все регионы)",
        "repeat_files": "Повторно полученных файлов (не учтены повторно)",
        "quarantine_reasons": "Основные причины карантина",
        "rule": "Правило",
        "field": "Поле",
        "rows": "Строк",
        "channel_names": {
            "star_survey": "Анкета «Звезда»",
            "review_book": "Книга отзывов",
            "pos": "Платформа обратной связи",
            "social": "Соцсети и открытые источники",
            "contact_center": "Контакт-центр",
            "interview_followup": "Опрос после собеседования",
        },
        "pain_heading": "Болевые точки (по приоритету)",
        "rank": "№",
        "theme": "Тема",
        "stage": "Этап пути клиента",
        "neg_mentions": "Негативные упоминания",
        "neg_share": "На 100 отзывов",
        "trend": "Динамика",
        "priority": "Приоритет",
        "recurring": "повторяется",
        "client_short": {"citizen": "граждане", "employer": "работодатели"},
        "signals": {"rise": "▲ рост (контрольная карта)", "fall": "▼ снижение (контрольная карта)"},
        "priority_formula": "Приоритет = охват × тяжесть × динамика × влияние луча × покрытие мерой (множители в скобках под каждой строкой). Охват — жалобы на 100 обращений, с поправкой на долю затронутых офисов; тяжесть — насколько низко оценён луч звезды; динамика — 1,25 при значимом росте по контрольной карте Лэйни; влияние — вес луча в общей удовлетворённости; 0,5 — если уже действует мера.",
        "pareto_heading": "Парето негативных упоминаний",
        "ipa_heading": "Что сильнее всего влияет на общую удовлетворённость",
        "ipa_note": "Важность луча — его доля объяснённой дисперсии общей оценки (разложение Шепли R²); результат — значение луча в звезде. Красным — лучи, которые важны и оценены ниже среднего: их исправлять первыми.",
        "ipa_r2": "R² модели",
        "ipa_labels": {"fix_first": "исправлять первым", "keep_up": "сохранять", "low_priority": "низкий приоритет",
                       "possible_overkill": "возможно, избыточно", "x_label": "важность, % объяснённой дисперсии",
                       "y_label": "результат (0–100)"},
        "pareto_y": "негативные упоминания",
        "pareto_cum": "накопленная доля, %",
        "stages": {
            "first_contact": "первое обращение",
            "profiling_plan": "профилирование и план",
            "benefits": "пособие",
            "job_matching": "подбор вакансий",
            "periodic_meetings": "периодические встречи",
            "training": "обучение",
            "exit": "трудоустройство и снятие с учёта",
            "employer_onboarding": "первое обращение работодателя",
            "vacancy_posting": "размещение вакансии",
            "candidate_selection": "подбор кандидатов",
            "hiring_support": "сопровождение найма",
        },
        "register_heading": "Реестр корректирующих мер",
        "reg_new": "Новые меры квартала",
        "reg_in_progress": "В работе",
        "reg_overdue": "Просроченные меры",
        "reg_evaluated": "Оценённые меры",
        "code": "Код",
        "measure": "Мера",
        "owner": "Ответственный",
        "status": "Статус",
        "due": "Срок",
        "kpi": "KPI",
        "verdict": "Вывод",
        "overdue_tag": "просрочена",
        "statuses": {
            "proposed": "предложена",
            "approved": "утверждена",
            "in_progress": "в работе",
            "implemented": "внедрена",
            "evaluated": "оценена",
            "closed": "закрыта",
            "rejected": "отклонена",
            "cancelled": "отменена",
        },
        "verdicts": {
            "effective": "эффективна",
            "no_effect": "нет эффекта",
            "worsened": "ухудшение",
            "inconclusive": "недостаточно данных",
        },
        "effects_heading": "Эффект внедрённых мер",
        "method": "Метод",
        "estimate": "Оценка",
        "units": "Офисы (меры / сравнения)",
        "methods": {
            "did": "разность разностей",
            "diff_in_diff": "разность разностей",
            "difference_in_differences": "разность разностей",
            "staggered_did": "разность разностей (поэтапное внедрение)",
            "its": "прерванный временной ряд",
            "interrupted_time_series": "прерванный временной ряд",
            "before_after": "до/после",
            "none": "не оценивался",
        },
        "league_heading": "Рейтинг офисов",
        "league_regions": "Регионы",
        "unit": "Подразделение",
        "place": "Место",
        "league_note": "Подразделения с выборкой меньше {min_sample} респондентов не ранжируются.",
        "msg_index": "Композитный индекс клиентоцентричности — {value} из 100 ({stars}, 95 % ДИ {lo}–{hi}){change}.",
        "msg_index_change": "; изменение к {prev}: {delta}",
        "msg_index_nochange": "; сравнения с {prev} нет",
        "msg_index_small": " Выборка мала ({n} респондентов): вывод предварительный.",
        "msg_no_index": "Индекс за квартал не рассчитан: нет данных опроса.",
        "msg_ray_change": "Сильнее всего изменился луч «{ray}»: {delta} п. (до {value}).",
        "msg_ray_weakest": "Самый слабый луч — «{ray}» ({value} из 100).",
        "msg_pain": "Главная болевая точка — «{theme}» ({stage}): {share} негативных упоминаний на 100 отзывов, {mentions} упоминаний.",
        "msg_no_pain": "Болевых точек выше порога в квартале не выявлено.",
        "msg_overdue": "Просрочено мер: {overdue} из {open} открытых.",
        "msg_no_overdue": "Просроченных мер нет (открытых мер: {open}).",
        "msg_effect": "Лучший измеренный эффект — мера {code} «{title}»: {estimate} (95 % ДИ {lo}…{hi}), {method}.",
        "email": {
            "subject": "Клиентский опыт: отчёт за {quarter} — {scope_name}",
            "greeting": "Здравствуйте!",
            "intro": "Во вложении квартальный отчёт о клиентском опыте",
            "quarter": "квартал",
            "key_messages": "Главное за квартал",
            "attached": "Отчёт (PDF) во вложении",
            "signature": "Это письмо сформировано автоматически системой cxloop. Пожалуйста, не отвечайте на него.",
        },
    },
    "en": {
        "title": "Client experience in the employment service",
        "national": "National report",
        "region": "Region",
        "quarter": "Quarter",
        "page_of": ("page ", " of "),
        "rays": {
            "friendliness": "friendliness and partnership",
            "usefulness": "usefulness",
            "effort": "effort minimisation",
            "personalisation": "personalisation",
            "comfort": "external comfort and convenience",
        },
        "client_types": {"citizen": "Citizens", "employer": "Employers", "composite": "Composite index"},
        "star_heading": "Client-centricity star",
        "index": "Index",
        "ci": "95 % CI",
        "change": "Change vs",
        "n": "Respondents",
        "stars": "Stars",
        "ray": "Ray",
        "key_messages": "Key messages",
        "no_data": "no data",
        "insufficient": "insufficient sample",
        "channels_heading": "Feedback channels and data quality",
        "metrics_heading": "Satisfaction at a glance",
        "metric": "Metric",
        "value": "Value",
        "interval": "95 % interval",
        "metric_names": {
            "acsi": "Overall satisfaction (ACSI-style, 0–100)",
            "nps": "Net Promoter Score (−100…100)",
            "ces": "Customer effort score CES (1–7)",
            "csat": "CSAT, share of 4–5 ratings, %",
        },
        "metrics_note": "ACSI, NPS and CES come from the star survey (all respondents); CSAT from contact-centre, review-book and social ratings. NPS margin: ±1.96·100·√(((p+d)−(p−d)²)/n).",
        "channel": "Channel",
        "received": "Received",
        "accepted": "Accepted",
        "quarantined": "Quarantined",
        "duplicates": "Duplicates",
        "total": "Total",
        "channels_region_note": (
            "Accepted feedback is for the region. Quarantine and duplicates are counted per file and files "
            "carry no region, so the totals below cover the whole quarter's intake (all regions)."
        ),
        "quarter_wide": "Whole quarter's intake (all regions)",
        "repeat_files": "Files received again (not counted twice)",
        "quarantine_reasons": "Top quarantine reasons",
        "rule": "Rule",
        "field": "Field",
        "rows": "Rows",
        "channel_names": {c: c.replace("_", " ") for c in CHANNELS},
        "pain_heading": "Pain points (by priority)",
        "rank": "#",
        "theme": "Theme",
        "stage": "Journey stage",
        "neg_mentions": "Negative mentions",
        "neg_share": "Per 100 texts",
        "trend": "Trend",
        "priority": "Priority",
        "recurring": "recurring",
        "client_short": {"citizen": "citizens", "employer": "employers"},
        "signals": {"rise": "▲ rising (control chart)", "fall": "▼ falling (control chart)"},
        "priority_formula": "Priority = reach × severity × trend × driver × coverage (the factors in brackets under each row). Reach: complaints per 100 texts, adjusted for the share of offices affected; severity: how low the star ray scores; trend: 1.25 on a significant rise on the Laney p′ chart; driver: the ray's weight in overall satisfaction; coverage: 0.5 when a measure is already working on it.",
        "pareto_heading": "Pareto of negative mentions",
        "ipa_heading": "What drives overall satisfaction",
        "ipa_note": "A ray's importance is its share of the explained variance of overall satisfaction (Shapley decomposition of R²); performance is the ray's star value. Red: rays that matter and score below average: fix these first.",
        "ipa_r2": "model R²",
        "ipa_labels": {"fix_first": "fix first", "keep_up": "keep up", "low_priority": "low priority",
                       "possible_overkill": "possible overkill", "x_label": "importance, % of explained variance",
                       "y_label": "performance (0–100)"},
        "pareto_y": "negative mentions",
        "pareto_cum": "cumulative share, %",
        "stages": {},
        "register_heading": "Register of corrective measures",
        "reg_new": "New this quarter",
        "reg_in_progress": "In progress",
        "reg_overdue": "Overdue",
        "reg_evaluated": "Evaluated",
        "code": "Code",
        "measure": "Measure",
        "owner": "Owner",
        "status": "Status",
        "due": "Due",
        "kpi": "KPI",
        "verdict": "Verdict",
        "overdue_tag": "overdue",
        "statuses": {},
        "verdicts": {"no_effect": "no effect"},
        "effects_heading": "Effects of implemented measures",
        "method": "Method",
        "estimate": "Estimate",
        "units": "Offices (treated / comparison)",
        "methods": {
            "did": "difference-in-differences",
            "diff_in_diff": "difference-in-differences",
            "difference_in_differences": "difference-in-differences",
            "staggered_did": "difference-in-differences (staggered)",
            "its": "interrupted time series",
            "interrupted_time_series": "interrupted time series",
            "before_after": "before/after",
            "none": "not estimated",
        },
        "league_heading": "Office league table",
        "league_regions": "Regions",
        "unit": "Unit",
        "place": "Rank",
        "league_note": "Units with fewer than {min_sample} respondents are not ranked.",
        "msg_index": "The composite client-centricity index is {value} out of 100 ({stars}, 95 % CI {lo}–{hi}){change}.",
        "msg_index_change": "; change vs {prev}: {delta}",
        "msg_index_nochange": "; no comparison with {prev}",
        "msg_index_small": " The sample is small ({n} respondents): read it as preliminary.",
        "msg_no_index": "No index this quarter: no survey data.",
        "msg_ray_change": "The ray that moved most is “{ray}”: {delta} points (now {value}).",
        "msg_ray_weakest": "The weakest ray is “{ray}” ({value} out of 100).",
        "msg_pain": "The top pain point is “{theme}” ({stage}): {share} negative mentions per 100 texts, {mentions} mentions.",
        "msg_no_pain": "No pain point above the threshold this quarter.",
        "msg_overdue": "Overdue measures: {overdue} of {open} open.",
        "msg_no_overdue": "No overdue measures ({open} open).",
        "msg_effect": "Best measured effect: measure {code} “{title}”: {estimate} (95 % CI {lo}…{hi}), {method}.",
        "email": {
            "subject": "Client experience: report for {quarter} — {scope_name}",
            "greeting": "Hello,",
            "intro": "Attached is the quarterly client-experience report",
            "quarter": "quarter",
            "key_messages": "Key messages",
            "attached": "Report (PDF) attached",
            "signature": "This message was generated automatically by cxloop. Please do not reply.",
        },
    },
}


def _texts(lang: str) -> dict[str, Any]:
    return TEXT.get(lang, TEXT["en"])


@dataclass(frozen=True)
class ReportFile:
    """One rendered report: what it covers, where it is, what it says first, and its content hash."""

    scope: str
    path: Path
    key_messages: list[str] = field(default_factory=list)
    sha256: str = ""


# ---------------------------------------------------------------------------
# Formatting helpers (also exposed to the template as filters).
# ---------------------------------------------------------------------------


def fmt_num(value: float | None, lang: str = "ru", digits: int = 1, sign: bool = False) -> str:
    """A number the way the reader writes it: decimal comma in Russian, true minus sign."""
    if value is None or value != value:
        return "—"
    text = f"{abs(value):.{digits}f}"
    if lang in ("ru", "fi"):
        text = text.replace(".", ",")
    if value < 0 and float(text.replace(",", ".")) != 0:
        return "−" + text
    if sign and value > 0 and float(text.replace(",", ".")) != 0:
        return "+" + text
    return text


def star_text(stars: int | None, top: int = 5) -> str:
    """★★★★☆ — DejaVu Sans carries both glyphs."""
    if not stars:
        return "—"
    stars = max(0, min(top, int(stars)))
    return "★" * stars + "☆" * (top - stars)


# ---------------------------------------------------------------------------
# Reading the quarter from the database.
# ---------------------------------------------------------------------------


def svg_data_uri(svg: str) -> str:
    """An SVG chart as a ``data:`` URI: still vector in the PDF, drawn by WeasyPrint's own
    SVG renderer (inline ``<svg>`` would have its presentation styles run through the HTML
    cascade, which drops strokes and fills), and needs no file next to the report."""
    if not svg:
        return ""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _index_rows(session: Session, quarter: str, scope: str) -> dict[str, IndexResult]:
    stmt = select(IndexResult).where(IndexResult.quarter == quarter)
    if scope == NATIONAL:
        stmt = stmt.where(IndexResult.level == "country")
    else:
        stmt = stmt.where(IndexResult.level == "region", IndexResult.unit_code == scope)
    rows = sorted(session.exec(stmt).all(), key=lambda r: (r.client_type, r.unit_code))
    out: dict[str, IndexResult] = {}
    for row in rows:
        out.setdefault(row.client_type, row)
    return out


def _star_block(
    current: dict[str, IndexResult], previous: dict[str, IndexResult], prev_q: str, t: dict[str, Any], lang: str
) -> dict[str, Any]:
    blocks = []
    for ctype in ("composite", "citizen", "employer"):
        row = current.get(ctype)
        prev = previous.get(ctype)
        if row is None or row.index is None:
            blocks.append({"client_type": ctype, "label": t["client_types"][ctype], "available": False})
            continue
        change = row.change
        if change is None and prev is not None and prev.index is not None:
            change = row.index - prev.index
        blocks.append(
            {
                "client_type": ctype,
                "label": t["client_types"][ctype],
                "available": True,
                "index": row.index,
                "index_text": fmt_num(row.index, lang),
                "ci_text": f"{fmt_num(row.ci_low, lang)}–{fmt_num(row.ci_high, lang)}",
                "ci_low": row.ci_low,
                "ci_high": row.ci_high,
                "stars": row.stars,
                "stars_text": star_text(row.stars),
                "change": change,
                "change_text": fmt_num(change, lang, sign=True),
                "change_p_value": row.change_p_value,
                "n": row.n,
                "sufficient": bool(row.sufficient_sample),
            }
        )
    rays = []
    for ray in RAYS:
        cur = {c: getattr(current[c], ray) if c in current else None for c in ("citizen", "employer", "composite")}
        prv = getattr(previous["composite"], ray) if "composite" in previous else None
        delta = cur["composite"] - prv if cur["composite"] is not None and prv is not None else None
        rays.append(
            {
                "ray": ray,
                "label": t["rays"][ray],
                "citizen": cur["citizen"],
                "employer": cur["employer"],
                "composite": cur["composite"],
                "citizen_text": fmt_num(cur["citizen"], lang),
                "employer_text": fmt_num(cur["employer"], lang),
                "composite_text": fmt_num(cur["composite"], lang),
                "change": delta,
                "change_text": fmt_num(delta, lang, sign=True),
            }
        )
    series = {}
    for ctype in ("citizen", "employer"):
        if ctype in current:
            series[t["client_types"][ctype]] = {ray: getattr(current[ctype], ray) for ray in RAYS}
    if not series and "composite" in current:
        series[t["client_types"]["composite"]] = {ray: getattr(current["composite"], ray) for ray in RAYS}
    radar = radar_svg(series, {r: t["rays"][r] for r in RAYS}, chart_id="radar") if series else ""
    return {"blocks": blocks, "rays": rays, "radar_svg": radar, "radar_uri": svg_data_uri(radar), "prev_quarter": prev_q}


def _channels_block(session: Session, quarter: str, scope: str, t: dict[str, Any]) -> dict[str, Any]:
    files = session.exec(select(IngestedFile).where(IngestedFile.quarter == quarter)).all()
    # A file received again with identical content is the same data; counting it
    # would inflate volumes on every rerun of the intake, so only first receipts count.
    firsts = [f for f in files if f.repeat_of is None]
    repeats = len(files) - len(firsts)
    by_channel: dict[str, dict[str, int]] = defaultdict(lambda: {"received": 0, "accepted": 0, "quarantined": 0, "duplicates": 0})
    for f in firsts:
        acc = by_channel[f.channel]
        acc["received"] += f.received
        acc["accepted"] += f.accepted
        acc["quarantined"] += f.quarantined
        acc["duplicates"] += f.duplicates

    def ordered(channels: Iterable[str]) -> list[str]:
        known = [c for c in CHANNELS if c in channels]
        return known + sorted(c for c in channels if c not in CHANNELS)

    def name(channel: str) -> str:
        return t["channel_names"].get(channel, channel)

    intake_rows = [{"channel": c, "label": name(c), **by_channel[c]} for c in ordered(by_channel)]
    intake_total = {k: sum(r[k] for r in intake_rows) for k in ("received", "accepted", "quarantined", "duplicates")}

    file_ids = [f.id for f in firsts]
    reasons: list[dict[str, Any]] = []
    if file_ids:
        stmt = (
            select(Quarantine.rule, Quarantine.field, func.count())
            .where(Quarantine.ingested_file_id.in_(file_ids))  # type: ignore[union-attr]
            .group_by(Quarantine.rule, Quarantine.field)
        )
        # A row that broke several rules carries them "; "-joined, pairwise with its fields;
        # each rule counts on its own. Only rule and field are shown: the free-text reason
        # quotes the rejected value, which can be personal data.
        tally: dict[tuple[str, str], int] = defaultdict(int)
        for rule, fld, n in session.exec(stmt).all():
            rules, fields = rule.split("; "), fld.split("; ")
            if len(fields) != len(rules):
                fields = [fld] * len(rules)
            for r, f in zip(rules, fields):
                tally[(r, f)] += n
        counted = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))
        reasons = [{"rule": rule, "field": fld, "count": n} for (rule, fld), n in counted[:8]]

    block: dict[str, Any] = {
        "scope_is_region": scope != NATIONAL,
        "intake_rows": intake_rows,
        "intake_total": intake_total,
        "repeat_files": repeats,
        "reasons": reasons,
        "region_rows": [],
        "region_total": 0,
    }
    if scope != NATIONAL:
        stmt = (
            select(Feedback.channel, func.count())
            .where(Feedback.quarter == quarter, Feedback.region_code == scope)
            .group_by(Feedback.channel)
        )
        counts = dict(session.exec(stmt).all())
        block["region_rows"] = [{"channel": c, "label": name(c), "accepted": counts[c]} for c in ordered(counts)]
        block["region_total"] = sum(counts.values())
    return block


def _metrics_block(session: Session, quarter: str, scope: str, t: dict[str, Any], lang: str) -> dict[str, Any]:
    """ACSI, NPS, CES from the survey and CSAT per rated channel, for the scope (see tasks/metrics.py)."""
    from tasks.metrics import quarter_metrics

    unit = quarter_metrics(session, quarter)["units"].get("ALL" if scope == NATIONAL else scope)
    rows: list[dict[str, Any]] = []
    if not unit:
        return {"rows": rows}
    names = t["metric_names"]

    def interval(low: Any, high: Any, digits: int = 1) -> str:
        return f"{fmt_num(low, lang, digits)} – {fmt_num(high, lang, digits)}"

    survey = unit.get("survey", {}).get("all")
    if survey:
        specs = [
            ("acsi", "acsi_sufficient", "n_acsi", lambda m: (fmt_num(m["acsi"], lang), interval(m["acsi_ci_low"], m["acsi_ci_high"]))),
            ("nps", "nps_sufficient", "n_nps", lambda m: (fmt_num(m["nps"], lang, sign=True), "± " + fmt_num(m["nps_moe"], lang))),
            ("ces", "ces_sufficient", "n_ces", lambda m: (fmt_num(m["ces"], lang, 2), interval(m["ces_ci_low"], m["ces_ci_high"], 2))),
        ]
        for key, flag, n_key, show in specs:
            n = int(survey.get(n_key) or 0)
            if n == 0:
                continue
            value, ci = show(survey) if survey.get(flag) else (t["insufficient"], "")
            rows.append({"label": names[key], "value": value, "interval": ci, "n": n})
    for channel, m in unit.get("csat", {}).items():
        n = int(m.get("n") or 0)
        if n == 0:
            continue
        label = f"{names['csat']}: " + (t["total"].lower() if channel == "all" else t["channel_names"].get(channel, channel))
        ok = bool(m.get("sufficient_sample"))
        value = fmt_num(m["csat"], lang) if ok else t["insufficient"]
        rows.append({"label": label, "value": value, "interval": interval(m["csat_ci_low"], m["csat_ci_high"]) if ok else "", "n": n})
    return {"rows": rows}


def _pain_block(session: Session, quarter: str, scope: str, config: AppConfig, t: dict[str, Any], lang: str) -> dict[str, Any]:
    """The scope's ranked pain points (region rows, or country rows for the national report)
    with the components of their priority and the one-sentence "why this rank"; the
    Pareto chart of all the scope's pain points by negative mentions."""
    from tasks.painpoints import why_this_rank

    level, unit = ("country", "ALL") if scope == NATIONAL else ("region", scope)
    rows = session.exec(
        select(PainPoint).where(PainPoint.quarter == quarter, PainPoint.level == level, PainPoint.unit_code == unit)
    ).all()
    rows = sorted(rows, key=lambda p: (p.rank, -p.priority, p.theme, p.journey_stage, p.client_type))
    theme_names = {
        tid: th.labels.get(lang, th.labels.get("en", tid)) for tid, th in config.themes.items()
    }
    out = []
    for p in rows[:TOP_PAIN_POINTS]:
        label = theme_names.get(p.theme, p.theme)
        components = [p.component_reach, p.component_severity, p.component_trend, p.component_driver, p.component_coverage]
        out.append(
            {
                "rank": p.rank,
                "theme": p.theme,
                "label": label,
                "client_type": p.client_type,
                "client_label": t["client_short"].get(p.client_type, p.client_type),
                "stage": p.journey_stage,
                "stage_label": t["stages"].get(p.journey_stage, p.journey_stage.replace("_", " ")),
                "ray_label": t["rays"].get(p.ray, p.ray),
                "mentions": p.mentions,
                "negative_mentions": p.negative_mentions,
                "negative_share": p.negative_share,
                "negative_share_text": fmt_num(p.negative_share, lang),
                "trend_text": fmt_num(p.trend, lang, sign=True),
                "trend": p.trend,
                "signal": p.signal,
                "signal_text": t["signals"].get(p.signal, "") if p.signal else "",
                "priority_text": fmt_num(p.priority, lang),
                "components_text": " × ".join(fmt_num(c, lang, digits=2) if c is not None else "—" for c in components),
                "covered_by": p.covered_by,
                "recurring": p.recurring,
                "why": why_this_rank(p.model_dump(), lang=lang if lang in ("ru", "en", "fi") else "en",
                                     theme_names=theme_names, ray_names=t["rays"]),
            }
        )
    # The Pareto of the scope's pain points by negative mentions; one theme may hurt in
    # several stages or for both client types, so the bar label says which.
    labels_count: dict[str, int] = defaultdict(int)
    for p in rows:
        labels_count[theme_names.get(p.theme, p.theme)] += 1

    def bar_label(p: PainPoint) -> str:
        label = theme_names.get(p.theme, p.theme)
        if labels_count[label] == 1:
            return label
        stage = t["stages"].get(p.journey_stage, p.journey_stage.replace("_", " "))
        return f"{label} ({stage}, {t['client_short'].get(p.client_type, p.client_type)})"

    top_by_count = sorted(rows, key=lambda p: (-p.negative_mentions, p.rank))[:PARETO_BARS]
    pareto_items = [(bar_label(p), p.negative_mentions) for p in top_by_count]
    pareto = (
        pareto_svg(pareto_items, chart_id="pareto", y_label=t["pareto_y"], cumulative_label=t["pareto_cum"])
        if any(v > 0 for _, v in pareto_items)
        else ""
    )
    return {"rows": out, "total": len(rows), "pareto_svg": pareto, "pareto_uri": svg_data_uri(pareto)}


def _drivers_block(session: Session, quarter: str, scope: str, t: dict[str, Any], lang: str) -> dict[str, Any]:
    """Key drivers of overall satisfaction in the scope: one importance-vs-performance chart per client type."""
    from tasks.drivers import key_drivers
    from tasks.store import load_answers

    answers = load_answers(session, quarter)
    if scope != NATIONAL:
        answers = answers[answers["region_code"] == scope]
    if answers.empty or "overall" not in answers.columns:
        return {"charts": []}
    drivers = key_drivers(answers)
    charts = []
    for client_type in ("citizen", "employer"):
        rows = drivers[drivers["client_type"] == client_type]
        if rows.empty:
            continue
        svg = importance_performance_svg(
            rows, labels={**t["rays"], **t["ipa_labels"]}, lang=lang,
            title=t["client_types"][client_type], chart_id=f"ipa-{client_type}",
        )
        charts.append({
            "client_type": client_type,
            "uri": svg_data_uri(svg),
            "n": int(rows["n"].iloc[0]),
            "r2_text": fmt_num(float(rows["r2"].iloc[0]), lang, digits=2),
            "fix_first": [t["rays"].get(r, r) for r in rows.loc[rows["quadrant"] == "fix_first", "ray"]],
        })
    return {"charts": charts}


def _measure_row(m: Measure, config: AppConfig, t: dict[str, Any], lang: str, overdue: bool) -> dict[str, Any]:
    theme = config.themes.get(m.theme)
    return {
        "code": m.code,
        "title": m.title,
        "theme_label": theme.labels.get(lang, m.theme) if theme else m.theme,
        "region_code": m.region_code,
        "offices": m.offices,
        "owner": m.owner,
        "status": m.status,
        "status_label": t["statuses"].get(m.status, m.status.replace("_", " ")),
        "due_date": m.due_date.isoformat() if m.due_date else "—",
        "kpi": m.kpi_metric,
        "kpi_baseline": fmt_num(m.kpi_baseline, lang),
        "kpi_target": fmt_num(m.kpi_target, lang),
        "verdict": m.effect_verdict,
        "verdict_label": t["verdicts"].get(m.effect_verdict, (m.effect_verdict or "—").replace("_", " ")),
        "overdue": overdue,
    }


def _measure_in_scope(measure: Measure, scope: str, config: AppConfig) -> bool:
    """A measure belongs to a region's report when it is the region's or when any of
    its offices is in the region (a measure rolled out across regions shows in each)."""
    if scope == NATIONAL or measure.region_code == scope:
        return True
    offices = config.office_by_code
    return any(offices[o].region_code == scope for o in measure.offices.split(",") if o in offices)


def _register_block(
    session: Session, quarter: Quarter, scope: str, config: AppConfig, t: dict[str, Any], lang: str
) -> dict[str, Any]:
    measures = sorted((m for m in session.exec(select(Measure)).all() if _measure_in_scope(m, scope, config)),
                      key=lambda m: (m.region_code, m.code))
    q = str(quarter)
    groups: dict[str, list[dict[str, Any]]] = {"new": [], "in_progress": [], "overdue": [], "evaluated": []}
    for m in measures:
        # Measures proposed in a later quarter do not exist yet from this report's point of view.
        if Quarter.parse(m.proposed_quarter) > quarter:
            continue
        # One definition of "overdue" for the register, its export and the report.
        overdue = is_overdue(m, quarter.end)
        row = _measure_row(m, config, t, lang, overdue)
        # Each measure appears once; being overdue is what management must see first.
        if overdue:
            groups["overdue"].append(row)
        elif m.proposed_quarter == q and m.status not in ("rejected", "cancelled"):
            groups["new"].append(row)
        elif m.status in OPEN_STATUSES:
            groups["in_progress"].append(row)
        elif m.status in EVALUATED_STATUSES or m.effect_verdict:
            groups["evaluated"].append(row)
    open_count = len(groups["overdue"]) + len(groups["new"]) + len(groups["in_progress"])
    return {**groups, "open_count": open_count, "overdue_count": len(groups["overdue"])}


def _effects_block(
    session: Session, quarter: str, scope: str, config: AppConfig, t: dict[str, Any], lang: str
) -> dict[str, Any]:
    stmt = select(EffectEvaluation, Measure).join(Measure, Measure.id == EffectEvaluation.measure_id).where(
        EffectEvaluation.quarter == quarter
    )
    pairs = sorted((p for p in session.exec(stmt).all() if _measure_in_scope(p[1], scope, config)),
                   key=lambda p: (p[1].code, p[0].kpi_metric))
    rows = []
    for ev, m in pairs:
        rows.append(
            {
                "code": m.code,
                "title": m.title,
                "kpi": ev.kpi_metric,
                "method": ev.method,
                "method_label": t["methods"].get(ev.method, ev.method.replace("_", " ")),
                "estimate": ev.estimate,
                "ci_low": ev.ci_low,
                "ci_high": ev.ci_high,
                "estimate_text": fmt_num(ev.estimate, lang, digits=2, sign=True),
                "ci_text": f"{fmt_num(ev.ci_low, lang, 2)}…{fmt_num(ev.ci_high, lang, 2)}",
                "units_text": f"{ev.n_treated_units} / {ev.n_control_units}",
                "n_obs": ev.n_obs,
                "verdict": ev.verdict,
                "verdict_label": t["verdicts"].get(ev.verdict, ev.verdict.replace("_", " ")),
                "lower_is_better": ev.kpi_metric.startswith("neg_share"),
            }
        )
    forest_rows = [(r["code"], r["estimate"], r["ci_low"], r["ci_high"]) for r in rows if r["estimate"] is not None]
    forest = forest_svg(forest_rows, chart_id="forest", x_label=f"{t['estimate']} ({t['ci']})") if forest_rows else ""
    return {"rows": rows, "forest_svg": forest, "forest_uri": svg_data_uri(forest)}


def _league_rows(rows: list[IndexResult], names: dict[str, str], t: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    ranked = sorted(
        (r for r in rows if r.sufficient_sample and r.index is not None), key=lambda r: (-(r.index or 0), r.unit_code)
    )
    small = sorted((r for r in rows if not (r.sufficient_sample and r.index is not None)), key=lambda r: r.unit_code)
    out = []
    for place, r in enumerate(ranked, start=1):
        out.append(
            {
                "place": str(place),
                "code": r.unit_code,
                "name": names.get(r.unit_code, r.unit_code),
                "index_text": fmt_num(r.index, lang),
                "ci_text": f"{fmt_num(r.ci_low, lang)}–{fmt_num(r.ci_high, lang)}",
                "stars_text": star_text(r.stars),
                "change_text": fmt_num(r.change, lang, sign=True),
                "n": r.n,
                "sufficient": True,
            }
        )
    for r in small:
        # Too few respondents: show the size so readers know why, but no value to compare and no place.
        out.append(
            {
                "place": "—",
                "code": r.unit_code,
                "name": names.get(r.unit_code, r.unit_code),
                "index_text": t["insufficient"],
                "ci_text": "—",
                "stars_text": "—",
                "change_text": "—",
                "n": r.n,
                "sufficient": False,
            }
        )
    return out


def _league_block(session: Session, quarter: str, scope: str, config: AppConfig, t: dict[str, Any], lang: str) -> dict[str, Any]:
    office_names = {o.office_code: o.office_name for o in config.offices}
    stmt = select(IndexResult).where(
        IndexResult.quarter == quarter, IndexResult.level == "office", IndexResult.client_type == "composite"
    )
    if scope != NATIONAL:
        stmt = stmt.where(IndexResult.region_code == scope)
    offices = _league_rows(list(session.exec(stmt).all()), office_names, t, lang)
    regions: list[dict[str, Any]] = []
    if scope == NATIONAL:
        stmt = select(IndexResult).where(
            IndexResult.quarter == quarter, IndexResult.level == "region", IndexResult.client_type == "composite"
        )
        regions = _league_rows(list(session.exec(stmt).all()), config.regions, t, lang)
    return {"offices": offices, "regions": regions, "min_sample": config.thresholds.star.min_sample}


def _key_messages(ctx: dict[str, Any], t: dict[str, Any], lang: str) -> list[str]:
    """Three to five sentences a manager can read in the e-mail without opening the PDF."""
    messages: list[str] = []
    star = ctx["star"]
    composite = star["blocks"][0]
    if composite["available"]:
        change = (
            t["msg_index_change"].format(prev=star["prev_quarter"], delta=composite["change_text"])
            if composite["change"] is not None
            else t["msg_index_nochange"].format(prev=star["prev_quarter"])
        )
        msg = t["msg_index"].format(
            value=composite["index_text"], stars=composite["stars_text"], lo=fmt_num(composite["ci_low"], lang),
            hi=fmt_num(composite["ci_high"], lang), change=change,
        )
        if not composite["sufficient"]:
            msg += t["msg_index_small"].format(n=composite["n"])
        messages.append(msg)
    else:
        messages.append(t["msg_no_index"])

    rays = [r for r in star["rays"] if r["composite"] is not None]
    moved = [r for r in rays if r["change"] is not None]
    if moved:
        biggest = max(moved, key=lambda r: (abs(r["change"]), r["ray"]))
        messages.append(t["msg_ray_change"].format(ray=biggest["label"], delta=biggest["change_text"], value=biggest["composite_text"]))
    elif rays:
        weakest = min(rays, key=lambda r: (r["composite"], r["ray"]))
        messages.append(t["msg_ray_weakest"].format(ray=weakest["label"], value=weakest["composite_text"]))

    pains = ctx["pain_points"]["rows"]
    if pains:
        top = pains[0]
        messages.append(
            t["msg_pain"].format(theme=top["label"], stage=top["stage_label"], share=top["negative_share_text"], mentions=top["negative_mentions"])
        )
    else:
        messages.append(t["msg_no_pain"])

    reg = ctx["register"]
    if reg["overdue_count"]:
        messages.append(t["msg_overdue"].format(overdue=reg["overdue_count"], open=reg["open_count"]))
    else:
        messages.append(t["msg_no_overdue"].format(open=reg["open_count"]))

    effective = [r for r in ctx["effects"]["rows"] if r["verdict"] == "effective" and r["estimate"] is not None]
    if effective:
        # "Best" = the largest improvement in the KPI's own direction.
        best = max(effective, key=lambda r: ((-r["estimate"] if r["lower_is_better"] else r["estimate"]), r["code"]))
        messages.append(
            t["msg_effect"].format(
                code=best["code"], title=best["title"], estimate=best["estimate_text"],
                lo=fmt_num(best["ci_low"], lang, 2), hi=fmt_num(best["ci_high"], lang, 2), method=best["method_label"],
            )
        )
    return messages[:5]


def build_report_context(session: Session, quarter: str, scope: str, config: AppConfig, lang: str = "ru") -> dict:
    """Everything the quarterly report shows, for one scope ("national" or a region code).

    In: the database session, the quarter ("2026Q3"), the scope, the configuration.
    Out: a plain dict of already-formatted values and inline SVG charts; the
    same database gives the same dict.
    """
    q = Quarter.parse(quarter)
    qs, prev = str(q), str(q.prev())
    if scope != NATIONAL and scope not in config.regions:
        raise ValueError(f"unknown scope {scope!r}: expected 'national' or one of {sorted(config.regions)}")
    t = _texts(lang)
    scope_name = scope_display_name(scope, config, lang)
    ctx: dict[str, Any] = {
        "lang": lang,
        "t": t,
        "quarter": qs,
        "prev_quarter": prev,
        "quarter_start": q.start.isoformat(),
        "quarter_end": q.end.isoformat(),
        # The cycle's logical date, not the wall clock: reruns give the same PDF.
        "report_date": q.cycle_date.isoformat(),
        "scope": scope,
        "scope_name": scope_name,
        "title": t["title"],
    }
    ctx["star"] = _star_block(_index_rows(session, qs, scope), _index_rows(session, prev, scope), prev, t, lang)
    ctx["channels"] = _channels_block(session, qs, scope, t)
    ctx["metrics"] = _metrics_block(session, qs, scope, t, lang)
    ctx["pain_points"] = _pain_block(session, qs, scope, config, t, lang)
    ctx["drivers"] = _drivers_block(session, qs, scope, t, lang)
    ctx["register"] = _register_block(session, q, scope, config, t, lang)
    ctx["effects"] = _effects_block(session, qs, scope, config, t, lang)
    ctx["league"] = _league_block(session, qs, scope, config, t, lang)
    ctx["key_messages"] = _key_messages(ctx, t, lang)
    return ctx


# ---------------------------------------------------------------------------
# Rendering.
# ---------------------------------------------------------------------------


class TemplatesOnlyFetcher(URLFetcher):
    """A WeasyPrint URL fetcher that serves files under one folder and ``data:`` URIs, nothing else.

    Every URL asked for is recorded in ``requested`` and every refusal in
    ``refused``, so a test can prove that rendering fetched nothing it should not.
    """

    def __init__(self, root: Path = TEMPLATES_DIR) -> None:
        super().__init__(timeout=1, allowed_protocols={"data", "file"}, allow_redirects=False)
        self.root = Path(root).resolve()
        self.requested: list[str] = []
        self.refused: list[str] = []

    def _refuse(self, url: str, why: str) -> None:
        self.refused.append(url)
        raise ValueError(f"refused to fetch {url[:80]!r}: {why}")

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        self.requested.append(url)
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme != "file" or parts.netloc not in ("", "localhost"):
            self._refuse(url, "only files in templates/ and data: URIs may be read")
        path = Path(unquote(parts.path)).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            self._refuse(url, "outside the templates folder")
        # WeasyPrint ignores a stylesheet that is not served as text/css.
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(path.as_uri(), path.read_bytes(), headers={"Content-Type": mime})


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2", "xml"), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = fmt_num
    env.filters["stars"] = star_text
    return env


def render_report_html(context: dict) -> str:
    """The report as HTML (autoescaped); charts are the only markup marked safe."""
    return _environment().get_template("report.html.j2").render(**context)


def scope_display_name(scope: str, config: AppConfig, lang: str = "ru") -> str:
    """How a scope is named in headings and e-mail subjects."""
    t = _texts(lang)
    if scope == NATIONAL:
        return t["national"]
    return f"{config.regions.get(scope, scope)} ({scope})"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(
    quarter: str, scope: str, config: AppConfig, key_messages: list[str], filename: str, lang: str = "ru"
) -> RenderedEmail:
    """Subject, plain-text and HTML body of the message that carries a report (templates/email.*.j2).

    Lives here because ``templates/`` is read only by the reporting stage; delivery just sends.
    """
    t = _texts(lang)
    scope_name = scope_display_name(scope, config, lang)
    subject = t["email"]["subject"].format(quarter=quarter, scope_name=scope_name)
    values = {
        "t": t["email"], "lang": lang, "quarter": quarter, "scope": scope, "scope_name": scope_name,
        "key_messages": list(key_messages), "filename": filename, "subject": subject,
    }
    env = _environment()
    return RenderedEmail(
        subject=subject,
        text=env.get_template("email.txt.j2").render(**values).strip() + "\n",
        html=env.get_template("email.html.j2").render(**values),
    )


def render_report_pdf(context: dict, out_path: Path, *, url_fetcher: TemplatesOnlyFetcher | None = None) -> Path:
    """Render ``context`` to an A4 PDF at ``out_path`` (folders created); returns the path."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fetcher = url_fetcher or TemplatesOnlyFetcher(TEMPLATES_DIR)
    html = render_report_html(context)
    document = HTML(string=html, base_url=TEMPLATES_DIR.as_uri() + "/", url_fetcher=fetcher)
    # Write to a sibling and rename, so a crash never leaves a half PDF that delivery would send.
    tmp = out_path.with_suffix(out_path.suffix + ".part")
    document.write_pdf(tmp, pdf_identifier=hashlib.sha256(html.encode("utf-8")).hexdigest()[:32].encode())
    tmp.replace(out_path)
    return out_path


def report_path(out_dir: Path, quarter: str, scope: str, lang: str = "ru") -> Path:
    return Path(out_dir) / "reports" / quarter / f"cx-report_{quarter}_{scope}_{lang}.pdf"


def write_reports(
    session: Session,
    quarter: str,
    config: AppConfig,
    out_dir: Path,
    scopes: list[str] | None = None,
    lang: str = "ru",
) -> dict[str, ReportFile]:
    """Build and render the quarter's reports: national plus every region unless ``scopes`` says otherwise.

    Out: scope -> ReportFile at ``out_dir/reports/<quarter>/cx-report_<quarter>_<scope>_<lang>.pdf``.
    """
    quarter = str(Quarter.parse(quarter))
    scopes = scopes if scopes is not None else [NATIONAL, *config.regions]
    reports: dict[str, ReportFile] = {}
    for scope in scopes:
        context = build_report_context(session, quarter, scope, config, lang)
        path = render_report_pdf(context, report_path(out_dir, quarter, scope, lang))
        reports[scope] = ReportFile(scope=scope, path=path, key_messages=list(context["key_messages"]), sha256=file_sha256(path))
        log.info("report %s %s written (%d bytes)", quarter, scope, path.stat().st_size)
    return reports


__all__ = [
    "NATIONAL",
    "ReportFile",
    "TemplatesOnlyFetcher",
    "build_report_context",
    "file_sha256",
    "fmt_num",
    "RenderedEmail",
    "render_email",
    "render_report_html",
    "render_report_pdf",
    "report_path",
    "scope_display_name",
    "star_text",
    "write_reports",
]
