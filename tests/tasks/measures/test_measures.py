"""The measure register: status flow, co-design rule, history, people's edits and reviews,
proposals, seeding and the XLSX/CSV export."""

from __future__ import annotations

import csv
import hashlib
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from cxloop.config import AppConfig, OwnerRule, load_config
from cxloop.domain import MEASURE_STATUSES, OPEN_STATUSES
from demo.seed_measures import seed_measures
from models.db import dispose_engines, get_engine, upgrade
from models.tables import Measure, MeasureHistory
from tasks.measures import register as reg
from tasks.measures.edits import edit_measure, list_register, review_proposals
from tasks.measures.export import (
    EXPORT_COLUMNS,
    OVERDUE_FILL,
    REGISTER_LABELS,
    STATUS_FILLS,
    export_register_csv,
    export_register_xlsx,
)
from tasks.measures.proposals import create_proposals
from tasks.measures.status import (
    CODESIGN_FORM_LABELS,
    TRANSITIONS,
    CodesignMissing,
    InvalidTransition,
    check_status_change,
    codesign_form_id,
    is_overdue,
    is_override,
)

CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"
AT = datetime(2026, 4, 5, 6, 0)
# Complete co-design evidence, dated before AT: what a measure needs to start.
CODESIGN = {"codesign_date": date(2026, 3, 20), "codesign_form": "workshop", "codesign_clients": 9}


@pytest.fixture()
def db_url(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'register.db'}"
    upgrade(url)
    yield url
    dispose_engines()


@pytest.fixture()
def session(db_url: str):
    with Session(get_engine(db_url), expire_on_commit=False) as s:
        yield s
        s.commit()


@pytest.fixture(scope="module")
def config() -> AppConfig:
    return load_config(CONFIG_DIR)


def _measure(
    session: Session, code: str = "M-TEST-1", status: str = "proposed", codesign: bool = True, **kw
) -> Measure:
    fields = {
        "title": "Напоминания",
        "theme": "reminders_notifications",
        "type": "new_experience",
        "region_code": "52",
        "offices": "52-01,52-02",
        "owner": "РГ",
        "proposed_quarter": "2026Q1",
        "kpi_metric": "item:P3",
        **(CODESIGN if codesign else {}),
        **kw,
    }
    m = Measure(code=code, status="proposed", **fields)
    reg.create_measure(session, m, "tester", AT, "test")
    path = {
        "proposed": [],
        "approved": ["approved"],
        "in_progress": ["approved", "in_progress"],
        "implemented": ["approved", "in_progress", "implemented"],
    }[status]
    for step in path:
        reg.change_status(session, m, step, "tester", AT)
    return m


def _history(session: Session, m: Measure) -> list[tuple]:
    return [(h.field, h.from_value, h.to_value, h.who) for h in reg.history_of(session, m)]


# --------------------------------------------------------------------------- status flow


def test_valid_walk_writes_history_and_bumps_version(session):
    m = _measure(session)
    assert m.version == 1
    reg.change_status(session, m, "approved", "Иванова", datetime(2026, 4, 10, 9), "одобрено РГ")
    reg.change_status(session, m, "in_progress", "Иванова", datetime(2026, 4, 20, 9))
    reg.change_status(session, m, "implemented", "Петров", datetime(2026, 6, 30, 17))
    assert m.version == 4
    assert m.implemented_on == date(2026, 6, 30)  # filled from `at` because it was empty
    status_rows = [r for r in _history(session, m) if r[0] == "status"]
    assert status_rows == [
        ("status", None, "proposed", "tester"),
        ("status", "proposed", "approved", "Иванова"),
        ("status", "approved", "in_progress", "Иванова"),
        ("status", "in_progress", "implemented", "Петров"),
    ]
    comments = [h.comment for h in reg.history_of(session, m) if h.to_value == "approved"]
    assert comments == ["одобрено РГ"]


def test_implemented_keeps_a_given_date(session):
    m = _measure(session, status="in_progress", implemented_on=date(2026, 5, 15))
    reg.change_status(session, m, "implemented", "x", datetime(2026, 6, 1))
    assert m.implemented_on == date(2026, 5, 15)


@pytest.mark.parametrize(
    "start, to",
    [
        ("proposed", "implemented"),
        ("proposed", "in_progress"),
        ("approved", "evaluated"),
        ("implemented", "cancelled"),
        ("proposed", "closed"),
        ("proposed", "no_such_status"),
    ],
)
def test_invalid_transition_names_code_from_to_and_allowed(session, start, to):
    m = _measure(session, status=start)
    version = m.version
    with pytest.raises(InvalidTransition) as err:
        reg.change_status(session, m, to, "x", AT)
    msg = str(err.value)
    assert m.code in msg and repr(start) in msg and repr(to) in msg
    for allowed in sorted(TRANSITIONS[start]):
        assert allowed in msg
    assert m.status == start and m.version == version  # nothing changed


def test_final_statuses_allow_nothing_and_evaluated_can_reopen():
    for final in ("closed", "rejected", "cancelled"):
        assert TRANSITIONS[final] == set()
    assert TRANSITIONS["evaluated"] == {"closed", "in_progress"}
    assert {"proposed", "approved", "in_progress", "implemented"} == OPEN_STATUSES
    for s in ("proposed", "approved", "in_progress"):
        assert {"rejected", "cancelled"} <= TRANSITIONS[s]
    with pytest.raises(InvalidTransition, match="final status"):
        raise InvalidTransition("M-X", "closed", "in_progress")


def test_version_conflict_with_expected_version(session):
    m = _measure(session)
    with pytest.raises(reg.VersionConflict):
        reg.change_status(session, m, "approved", "x", AT, expected_version=7)
    assert m.status == "proposed"
    reg.change_status(session, m, "approved", "x", AT, expected_version=1)
    assert m.version == 2


def test_version_conflict_between_two_sessions(db_url):
    engine = get_engine(db_url)
    with Session(engine, expire_on_commit=False) as s:
        _measure(s, code="M-LOCK")
        s.commit()
    with Session(engine, expire_on_commit=False) as a, Session(engine, expire_on_commit=False) as b:
        ma = a.exec(select(Measure).where(Measure.code == "M-LOCK")).one()
        mb = b.exec(select(Measure).where(Measure.code == "M-LOCK")).one()
        reg.change_status(a, ma, "approved", "analyst A", AT)
        a.commit()
        with pytest.raises(reg.VersionConflict):
            reg.change_status(b, mb, "rejected", "analyst B", AT)
        b.rollback()
    with Session(engine) as s:
        m = s.exec(select(Measure).where(Measure.code == "M-LOCK")).one()
        assert (m.status, m.version) == ("approved", 2)


def test_update_fields_history_per_field_and_noop(session):
    m = _measure(session)
    reg.update_fields(
        session, m, {"owner": "Сидорова", "due_date": "2026-07-01", "title": m.title}, "Иванова", AT, "перенос срока"
    )
    assert m.version == 2 and m.due_date == date(2026, 7, 1)
    rows = [r for r in _history(session, m) if r[0] != "status"]
    assert rows == [("due_date", None, "2026-07-01", "Иванова"), ("owner", "РГ", "Сидорова", "Иванова")]
    reg.update_fields(session, m, {"owner": "Сидорова"}, "Иванова", AT)  # same value: no trace
    assert m.version == 2 and len(reg.history_of(session, m)) == 3
    with pytest.raises(ValueError, match="change_status"):
        reg.update_fields(session, m, {"status": "closed"}, "x", AT)
    with pytest.raises(reg.VersionConflict):
        reg.update_fields(session, m, {"owner": "Z"}, "x", AT, expected_version=1)


def test_measures_are_never_deleted_by_the_flow(session):
    m = _measure(session)
    reg.change_status(session, m, "rejected", "РГ", AT, "не приоритет")
    session.commit()
    kept = session.exec(select(Measure).where(Measure.code == m.code)).one()
    assert kept.status == "rejected"
    assert len(session.exec(select(MeasureHistory).where(MeasureHistory.measure_id == kept.id)).all()) == 2


def test_overdue():
    m = Measure(
        code="M",
        title="t",
        theme="t",
        type="t",
        region_code="52",
        owner="o",
        status="in_progress",
        proposed_quarter="2026Q1",
        kpi_metric="item:P3",
        due_date=date(2026, 5, 1),
    )
    assert is_overdue(m, date(2026, 5, 2))
    assert not is_overdue(m, date(2026, 5, 1))  # due today is not late yet
    for status in ("implemented", "evaluated", "closed", "rejected", "cancelled"):
        m.status = status
        assert not is_overdue(m, date(2027, 1, 1))
    m.status, m.due_date = "approved", None
    assert not is_overdue(m, date(2027, 1, 1))


# --------------------------------------------------------------------------- proposals


def _pain_points(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["quarter", "region_code", "theme", "journey_stage", "priority", "rank", "negative_mentions"]
    )


PP = _pain_points(
    [
        ("2026Q1", "52", "waiting_time", "first_contact", 80.0, 1, 40),
        ("2026Q1", "52", "reminders_notifications", "periodic_meetings", 60.0, 2, 30),
        ("2026Q1", "52", "waiting_time", "benefits", 55.0, 3, 12),  # same theme, other stage: counted once
        ("2026Q1", "52", "process_clarity", "periodic_meetings", 50.0, 4, 25),
        ("2026Q1", "52", "staff_attitude", "first_contact", 40.0, 5, 20),
        ("2026Q1", "52", "office_comfort", "first_contact", 5.0, 6, 9),  # below min priority
        ("2026Q1", "66", "benefit_payment", "benefits", 70.0, 1, 33),
        ("2026Q1", "ALL", "waiting_time", "first_contact", 90.0, 1, 99),  # country rows are not proposals
    ]
)


def test_propose_top_n_per_region(session, config):
    new = create_proposals(session, "2026Q1", PP, config, AT)
    codes = [m.code for m in new]
    assert codes == sorted(codes)
    assert codes == [
        "M-2026Q1-52-process_clarity",
        "M-2026Q1-52-reminders_notifications",
        "M-2026Q1-52-waiting_time",
        "M-2026Q1-66-benefit_payment",
    ]
    wt = next(m for m in new if m.theme == "waiting_time")
    template = config.playbook.measures["waiting_time"][0]
    assert wt.status == "proposed" and wt.version == 1
    assert wt.title == template.title and wt.kpi_metric == template.kpi.metric
    assert wt.offices == "52-01,52-02,52-03,52-04,52-05"
    assert wt.planned_start == date(2026, 4, 5)  # cycle date of 2026Q1
    assert (wt.due_date - wt.planned_start).days == template.duration_days
    assert wt.source_pain_point == "2026Q1:52:waiting_time:first_contact"
    assert wt.owner == "Рабочая группа по клиентоцентричности (Нижегородская область)"
    assert wt.kpi_baseline is None and wt.kpi_target is None  # no survey data in this database
    assert _history(session, wt) == [("status", None, "proposed", "cxloop")]
    assert reg.history_of(session, wt)[0].at == reg.as_utc(AT)


def test_propose_is_idempotent_and_respects_open_measures(session, config):
    first = create_proposals(session, "2026Q1", PP, config, AT)
    assert len(first) == 4
    assert create_proposals(session, "2026Q1", PP, config, AT) == []  # rerun: the themes are covered
    # Next quarter the same pain points come back: still covered by open measures.
    again = PP.assign(quarter="2026Q2")
    assert create_proposals(session, "2026Q2", again, config, AT) == []
    # Once a measure is closed (not open), its pain point may get a new one.
    wt = next(m for m in first if m.theme == "waiting_time")
    reg.update_fields(session, wt, CODESIGN, "x", AT)
    for step in ("approved", "in_progress", "implemented", "evaluated", "closed"):
        reg.change_status(session, wt, step, "x", AT)
    new = create_proposals(session, "2026Q2", again, config, AT)
    assert [m.code for m in new] == ["M-2026Q2-52-waiting_time"]
    assert session.exec(select(Measure)).all().__len__() == 5


def test_propose_leaves_out_offices_an_open_cross_region_measure_reaches(session, config):
    seed_measures(
        session,
        [
            {
                "code": "M-SMS",
                "title": "SMS",
                "theme": "reminders_notifications",
                "type": "new_experience",
                "region_code": "ALL",
                "offices": ["52-01", "52-02", "66-01"],
                "owner": "wg",
                "status": "in_progress",
                "proposed_quarter": "2025Q4",
                "kpi_metric": "item:P3",
                "kpi_target_change": 10,
                "codesign_date": "2025-11-10",
                "codesign_form": "client_test",
                "codesign_clients": 6,
                "planned_start": "2025-12-01",
            }
        ],
        config=config,
    )
    new = {m.theme: m for m in create_proposals(session, "2026Q1", PP, config, AT)}
    assert new["reminders_notifications"].offices == "52-03,52-04,52-05"
    assert new["waiting_time"].offices == "52-01,52-02,52-03,52-04,52-05"


def test_propose_owner_rule_and_no_template(session, config):
    cfg = config.model_copy(deep=True)
    cfg.playbook.owners.rules = [OwnerRule(owner="ИТ-отдел ЦЗН 66", region="66", theme="benefit_payment")]
    del cfg.playbook.measures["staff_attitude"]
    pp = _pain_points(
        [
            ("2026Q1", "66", "benefit_payment", "benefits", 70.0, 1, 33),
            ("2026Q1", "66", "staff_attitude", "first_contact", 60.0, 2, 20),
            ("2026Q1", "10", "benefit_payment", "benefits", 70.0, 1, 33),
        ]
    )
    new = create_proposals(session, "2026Q1", pp, cfg, AT)
    assert {m.code: m.owner for m in new} == {
        "M-2026Q1-10-benefit_payment": f"Рабочая группа по клиентоцентричности ({cfg.regions['10']})",
        "M-2026Q1-66-benefit_payment": "ИТ-отдел ЦЗН 66",
    }


# --------------------------------------------------------------------------- seeding

SEED = [
    {
        "code": "M-2025Q3-52-reminders",
        "title": "SMS-напоминания",
        "description": '=HYPERLINK("http://x")',
        "theme": "reminders_notifications",
        "journey_stage": "periodic_meetings",
        "type": "new_experience",
        "region_code": "52",
        "offices": ["52-02", "52-01"],
        "owner": "РГ 52",
        "status": "closed",
        "proposed_quarter": "2025Q3",
        "codesign_date": "2025-10-15",
        "codesign_form": "воркшоп",
        "codesign_clients": 12,
        "planned_start": "2025-11-01",
        "due_date": "2026-01-31",
        "implemented_on": "2026-01-20",
        "kpi_metric": "item:P3",
        "kpi_target_change": 10,
    },
    {
        "code": "M-2025Q4-66-waiting",
        "title": "Электронная очередь",
        "description": "",
        "theme": "waiting_time",
        "journey_stage": "first_contact",
        "type": "process_optimisation",
        "region_code": "66",
        "offices": ["66-01"],
        "owner": "+7 РГ 66",
        "status": "in_progress",
        "proposed_quarter": "2025Q4",
        "codesign_date": "2026-01-05",
        "codesign_form": "usability_testing",
        "codesign_clients": 7,
        "planned_start": "2026-01-10",
        "due_date": "2026-03-01",
        "implemented_on": None,
        "kpi_metric": "item:E2",
        "kpi_target_change": 10,
    },
    {
        "code": "M-2025Q4-10-docs",
        "title": "Один визит",
        "description": "",
        "theme": "documents_effort",
        "journey_stage": "first_contact",
        "type": "process_optimisation",
        "region_code": "10",
        "offices": ["10-01"],
        "owner": "РГ 10",
        "status": "rejected",
        "proposed_quarter": "2025Q4",
        "codesign_date": None,
        "codesign_form": None,
        "codesign_clients": None,
        "planned_start": None,
        "due_date": None,
        "implemented_on": None,
        "kpi_metric": "item:E3",
        "kpi_target_change": 10,
    },
]


def test_seed_walks_the_flow_with_deterministic_history(session, config):
    created = seed_measures(session, SEED, config=config)
    assert [m.code for m in created] == sorted(r["code"] for r in SEED)
    closed = next(m for m in created if m.code == "M-2025Q3-52-reminders")
    assert closed.status == "closed" and closed.offices == "52-01,52-02"
    assert closed.implemented_on == date(2026, 1, 20) and closed.codesign_clients == 12
    hist = reg.history_of(session, closed)
    steps = [(h.from_value, h.to_value) for h in hist if h.field == "status"]
    assert steps == [
        (None, "proposed"),
        ("proposed", "approved"),
        ("approved", "in_progress"),
        ("in_progress", "implemented"),
        ("implemented", "evaluated"),
        ("evaluated", "closed"),
    ]
    times = [h.at for h in hist]
    assert times == sorted(times) and times[0] == reg.as_utc(datetime(2025, 10, 5, 9))
    assert [h.at for h in hist if h.to_value == "implemented"] == [reg.as_utc(datetime(2026, 1, 20, 17))]
    assert closed.version == 6
    rejected = next(m for m in created if m.status == "rejected")
    assert [(h.from_value, h.to_value) for h in reg.history_of(session, rejected)] == [
        (None, "proposed"),
        ("proposed", "rejected"),
    ]


def test_seed_history_starts_before_work_done_inside_the_proposing_quarter(session):
    rec = {
        **SEED[1],
        "code": "M-EARLY",
        "proposed_quarter": "2025Q4",
        "codesign_date": "2025-11-20",
        "planned_start": "2025-12-01",
    }
    (m,) = seed_measures(session, [rec])
    hist = reg.history_of(session, m)
    assert [h.to_value for h in hist] == ["proposed", "approved", "in_progress"]
    assert [h.at for h in hist] == [
        reg.as_utc(datetime(2025, 11, 19, 9)),
        reg.as_utc(datetime(2025, 11, 20, 10)),
        reg.as_utc(datetime(2025, 12, 1, 9)),
    ]


def test_seed_is_idempotent_by_code(session, config):
    seed_measures(session, SEED, config=config)
    n_hist = len(session.exec(select(MeasureHistory)).all())
    assert seed_measures(session, SEED, config=config) == []
    assert len(session.exec(select(MeasureHistory)).all()) == n_hist
    assert len(session.exec(select(Measure)).all()) == 3


def test_seed_rejects_unknown_status(session):
    with pytest.raises(ValueError, match="unknown status"):
        seed_measures(session, [{**SEED[0], "code": "M-BAD", "status": "done"}])


# --------------------------------------------------------------------------- exports


def test_register_frame_and_xlsx_export(session, config, tmp_path):
    seed_measures(session, SEED, config=config)
    as_of = date(2026, 4, 5)
    frame = reg.register_frame(session, as_of)
    assert list(frame.columns) == list(reg.REGISTER_COLUMNS)
    assert frame["code"].tolist() == sorted(frame["code"])
    assert frame.set_index("code")["overdue"].to_dict() == {
        "M-2025Q3-52-reminders": False,
        "M-2025Q4-10-docs": False,
        "M-2025Q4-66-waiting": True,
    }

    path = export_register_xlsx(session, tmp_path / "out" / "register.xlsx", as_of)
    wb = load_workbook(path)
    ws = wb.active
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:{ws.cell(row=1, column=ws.max_column).column_letter}4"
    headers = [c.value for c in ws[1]]
    assert headers[:3] == ["Код", "Мера", "Статус"]
    rows = {r[0].value: r for r in ws.iter_rows(min_row=2)}
    col = {name: i for i, name in enumerate(reg.REGISTER_COLUMNS)}
    # Formula injection: text that a spreadsheet would run is prefixed, never stored as a formula.
    desc = rows["M-2025Q3-52-reminders"][col["description"]]
    assert desc.value == '\'=HYPERLINK("http://x")' and desc.data_type == "s"
    assert rows["M-2025Q4-66-waiting"][col["owner"]].value == "'+7 РГ 66"
    assert all(c.data_type != "f" for r in ws.iter_rows() for c in r)
    # The overdue row is highlighted across; the others are not.
    overdue = rows["M-2025Q4-66-waiting"]
    assert overdue[col["code"]].fill.fgColor.rgb.endswith(OVERDUE_FILL)
    assert overdue[col["title"]].fill.fgColor.rgb.endswith(OVERDUE_FILL)
    assert not rows["M-2025Q4-10-docs"][col["code"]].fill.fgColor.rgb.endswith(OVERDUE_FILL)
    assert rows["M-2025Q3-52-reminders"][col["status"]].fill.fgColor.rgb.endswith(STATUS_FILLS["closed"])
    assert rows["M-2025Q3-52-reminders"][col["implemented_on"]].value == datetime(2026, 1, 20)
    assert ws.column_dimensions["B"].width == 48
    assert wb.properties.creator == "cxloop"

    # Same register, same file, byte for byte.
    again = export_register_xlsx(session, tmp_path / "again.xlsx", as_of)
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(again.read_bytes()).digest()


def test_csv_export_neutralises_and_labels(session, config, tmp_path):
    seed_measures(session, SEED, config=config)
    path = export_register_csv(session, tmp_path / "register.csv", date(2026, 4, 5), lang="en")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["Code"] for r in rows] == sorted(r["code"] for r in SEED)
    by_code = {r["Code"]: r for r in rows}
    assert by_code["M-2025Q3-52-reminders"]["Description"].startswith("'=")
    assert by_code["M-2025Q4-66-waiting"]["Overdue"] == "True"
    assert by_code["M-2025Q3-52-reminders"]["Implemented on"] == "2026-01-20"


# --------------------------------------------------------------------------- co-design evidence


def test_start_needs_codesign_evidence_or_an_override(session):
    m = _measure(session, status="approved", codesign=False)
    version, n_hist = m.version, len(reg.history_of(session, m))
    with pytest.raises(CodesignMissing) as err:
        reg.change_status(session, m, "in_progress", "Иванова", AT)
    assert [f for f, _ in err.value.gaps] == ["codesign_date", "codesign_form", "codesign_clients"]
    assert m.code in str(err.value) and "override" in str(err.value)
    with pytest.raises(CodesignMissing):  # a blank reason is no reason
        reg.change_status(session, m, "in_progress", "Иванова", AT, override_reason="  ")
    assert (m.status, m.version, len(reg.history_of(session, m))) == ("approved", version, n_hist)

    reg.change_status(
        session, m, "in_progress", "Начальник", AT, comment="старт", override_reason="приказ министерства"
    )
    last = reg.history_of(session, m)[-1]
    assert (last.to_value, last.who, last.comment) == (
        "in_progress",
        "Начальник",
        "override: приказ министерства — старт",
    )
    assert is_override(last) and m.version == version + 1


def test_partial_or_future_evidence_is_not_enough(session):
    m = _measure(
        session,
        status="approved",
        codesign=False,
        codesign_date=date(2026, 3, 1),
        codesign_form="workshop",
        codesign_clients=0,
    )
    with pytest.raises(CodesignMissing) as err:
        reg.change_status(session, m, "in_progress", "x", AT)
    assert [f for f, _ in err.value.gaps] == ["codesign_clients"]
    m.codesign_clients, m.codesign_date = 5, date(2026, 4, 30)  # the workshop is still ahead
    with pytest.raises(CodesignMissing, match="later than the change"):
        reg.change_status(session, m, "in_progress", "x", AT)
    m.codesign_date = AT.date()
    reg.change_status(session, m, "in_progress", "x", AT, override_reason="not needed")
    assert not is_override(reg.history_of(session, m)[-1])  # complete evidence: no override recorded
    assert reg.history_of(session, m)[-1].comment == ""


def test_only_the_start_needs_evidence():
    bare = Measure(
        code="M",
        title="t",
        theme="t",
        type="new_experience",
        region_code="52",
        owner="o",
        status="approved",
        proposed_quarter="2026Q1",
        kpi_metric="item:P3",
    )
    for to in ("rejected", "cancelled"):
        assert check_status_change(bare, to, AT) is False
    bare.status = "proposed"
    assert check_status_change(bare, "approved", AT) is False
    bare.status = "evaluated"  # reopening a measure starts it again
    with pytest.raises(CodesignMissing):
        check_status_change(bare, "in_progress", AT)


@pytest.mark.parametrize(
    "given, stored",
    [
        ("workshop", "workshop"),
        ("Воркшоп", "workshop"),
        ("työpaja", "workshop"),
        ("семинар", "workshop"),
        ("observation", "observation"),
        ("НАБЛЮДЕНИЕ", "observation"),
        ("havainnointi", "observation"),
        ("client_test", "client_test"),
        ("testing with clients", "client_test"),
        ("usability_testing", "client_test"),
        ("Тестирование с клиентами", "client_test"),
        ("asiakastestaus", "client_test"),
        ("", None),
        (None, None),
    ],
)
def test_codesign_form_names(given, stored):
    assert codesign_form_id(given) == stored


def test_codesign_fields_are_checked_when_edited(session):
    m = _measure(session, codesign=False)
    reg.update_fields(
        session,
        m,
        {"codesign_form": "Тестирование с клиентами", "codesign_clients": "12", "codesign_date": "2026-03-02"},
        "x",
        AT,
    )
    assert (m.codesign_form, m.codesign_clients, m.codesign_date) == ("client_test", 12, date(2026, 3, 2))
    version = m.version
    for bad, match in [
        ({"codesign_form": "фокус-группа"}, "unknown co-design form"),
        ({"codesign_clients": 0}, "at least 1"),
        ({"codesign_clients": "много"}, "whole number"),
        ({"due_date": "31.02.2026"}, "not a date"),
        ({"owner": "  "}, "cannot be empty"),
        ({"journey_stage": "nowhere"}, "unknown journey stage"),
        ({"type": "magic"}, "unknown measure type"),
    ]:
        with pytest.raises(ValueError, match=match):
            reg.update_fields(session, m, bad, "x", AT)
    assert m.version == version
    reg.update_fields(session, m, {"offices": "52-02, 52-01;52-02"}, "x", AT)  # same set, other spelling
    assert m.version == version


# --------------------------------------------------------------------------- people's edits


def test_edit_measure_is_all_or_nothing(session):
    m = _measure(session, status="approved", codesign=False)
    version, n_hist = m.version, len(reg.history_of(session, m))
    # Evidence and the start in one edit: checked on the measure as it will be.
    result = edit_measure(
        session,
        m.code,
        "Иванова",
        AT,
        status="in_progress",
        changes={**CODESIGN, "owner": "ЦЗН 52-01"},
        comment="воркшоп 20.03",
        expected_version=version,
    )
    assert [c["field"] for c in result["changes"]] == [
        "codesign_clients",
        "codesign_date",
        "codesign_form",
        "owner",
        "status",
    ]
    assert (result["status"], result["version"], result["override"]) == ("in_progress", version + 2, False)
    assert len(reg.history_of(session, m)) == n_hist + 5

    snapshot = (m.owner, m.due_date, m.status, m.version, len(reg.history_of(session, m)))
    with pytest.raises(InvalidTransition):  # the due date must not be written when the status is refused
        edit_measure(session, m.code, "x", AT, status="closed", changes={"due_date": "2026-12-31"})
    with pytest.raises(reg.VersionConflict, match="changed by someone else"):
        edit_measure(session, m.code, "x", AT, changes={"owner": "Z"}, expected_version=version)
    with pytest.raises(ValueError, match="unknown status"):
        edit_measure(session, m.code, "x", AT, status="done")
    with pytest.raises(reg.MeasureNotFound):
        edit_measure(session, "M-NOPE", "x", AT, status="approved")
    assert (m.owner, m.due_date, m.status, m.version, len(reg.history_of(session, m))) == snapshot
    assert edit_measure(session, m.code, "x", AT, changes={"owner": m.owner})["changes"] == []


def test_review_proposals_applies_each_decision_whole(session):
    for code in ("M-1", "M-2", "M-3"):
        _measure(session, code=code)
    _measure(session, code="M-4", region_code="66", offices="66-01")
    _measure(session, code="M-5", status="approved")
    out = review_proposals(
        session,
        [
            {"code": "M-1", "action": "approve", "owner": "ЦЗН 52-01"},
            {"code": "M-2", "action": "reject", "comment": ""},  # why?
            {"code": "M-2", "action": "reassign", "owner": None},  # decided twice
            {"code": "M-3", "action": "reassign", "owner": "ИТ-отдел", "comment": "портал"},
            {"code": "M-4", "action": "approve"},  # not in the codes under review
            {"code": "M-5", "action": "approve"},  # already approved
            {"code": "M-6", "action": "approve"},  # unknown
            {"code": "M-1", "action": "close"},
        ],
        "РГ 52",
        AT,
        quarter="2026Q1",
        codes=["M-1", "M-2", "M-3", "M-5", "M-6"],
    )
    assert [(a["code"], a["status"], a["owner"]) for a in out["applied"]] == [
        ("M-1", "approved", "ЦЗН 52-01"),
        ("M-3", "proposed", "ИТ-отдел"),
    ]
    assert [(r["code"], r["action"]) for r in out["refused"]] == [
        ("M-2", "reject"),
        ("M-2", "reassign"),
        ("M-4", "approve"),
        ("M-5", "approve"),
        ("M-6", "approve"),
        ("M-1", "close"),
    ]
    assert "comment" in out["refused"][0]["reason"] and "unknown action" in out["refused"][-1]["reason"]
    assert out["left_proposed"] == ["M-2", "M-3"]
    with pytest.raises(ValueError, match="reviewer"):
        review_proposals(session, [], " ", AT)


def test_list_register_filters(session):
    from cxloop.config import read_offices_csv
    from tasks.collect.offices import merge_offices

    merge_offices(session, read_offices_csv(CONFIG_DIR / "offices.csv"))
    _measure(session, code="M-52", status="approved", due_date=date(2026, 5, 1))
    _measure(session, code="M-66", region_code="66", offices="66-01", due_date=date(2026, 5, 1))
    _measure(session, code="M-ALL", region_code="ALL", offices="52-03,66-02", status="in_progress")
    as_of = date(2026, 6, 1)
    assert list_register(session, as_of, region="52")["code"].tolist() == ["M-52", "M-ALL"]
    assert list_register(session, as_of, region="66")["code"].tolist() == ["M-66", "M-ALL"]
    assert list_register(session, as_of, statuses=["proposed", "in_progress"])["code"].tolist() == ["M-66", "M-ALL"]
    assert list_register(session, as_of, overdue=True)["code"].tolist() == ["M-52", "M-66"]
    assert list_register(session, as_of, region="10").empty
    with pytest.raises(ValueError, match="unknown status"):
        list_register(session, as_of, statuses=["done"])


def test_seed_maps_codesign_aliases_and_needs_evidence_to_start(session):
    (closed,) = seed_measures(session, [SEED[0]])
    assert closed.codesign_form == "workshop"  # recorded as "воркшоп"
    bare = {**SEED[1], "code": "M-BARE", "codesign_date": None, "codesign_form": None, "codesign_clients": None}
    session.commit()
    with pytest.raises(CodesignMissing, match="M-BARE"):
        seed_measures(session, [bare])
    session.rollback()  # what the caller's transaction does: nothing of the failed seed stays
    with pytest.raises(ValueError, match="seed record M-ODD: unknown co-design form"):
        seed_measures(session, [{**SEED[1], "code": "M-ODD", "codesign_form": "гадание"}])
    session.rollback()
    assert (
        seed_measures(session, [{**bare, "status": "approved"}])[0].status == "approved"
    )  # no start, no evidence needed


@pytest.mark.parametrize("lang", ["ru", "en", "fi"])
def test_exports_translate_codesign_and_end_with_a_comment_column(session, config, tmp_path, lang):
    seed_measures(session, SEED, config=config)
    labels = REGISTER_LABELS[lang]
    ws = load_workbook(export_register_xlsx(session, tmp_path / "r.xlsx", date(2026, 4, 5), lang=lang)).active
    header = [c.value for c in ws[1]]
    assert header == [labels[c] for c in EXPORT_COLUMNS] and header[-1] == labels["change_comment"]
    rows = {r[0].value: {h: c.value for h, c in zip(EXPORT_COLUMNS, r, strict=True)} for r in ws.iter_rows(min_row=2)}
    assert rows["M-2025Q3-52-reminders"]["codesign_form"] == CODESIGN_FORM_LABELS[lang]["workshop"]
    assert rows["M-2025Q4-66-waiting"]["codesign_form"] == CODESIGN_FORM_LABELS[lang]["client_test"]
    assert rows["M-2025Q4-66-waiting"]["codesign_clients"] == 7 and rows["M-2025Q4-10-docs"]["codesign_form"] is None
    assert all(r["change_comment"] is None for r in rows.values())
    lists = {str(dv.sqref).split(":")[0].rstrip("0123456789"): dv.formula1 for dv in ws.data_validations.dataValidation}
    letter = {c: ws.cell(row=1, column=i + 1).column_letter for i, c in enumerate(EXPORT_COLUMNS)}
    assert lists[letter["status"]] == '"' + ",".join(MEASURE_STATUSES) + '"'
    assert CODESIGN_FORM_LABELS[lang]["client_test"] in lists[letter["codesign_form"]]

    path = export_register_csv(session, tmp_path / "r.csv", date(2026, 4, 5), lang=lang)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        by_code = {r[labels["code"]]: r for r in csv.DictReader(fh)}
    assert by_code["M-2025Q3-52-reminders"][labels["codesign_clients"]] == "12"  # a count, not "12.00"
    assert by_code["M-2025Q3-52-reminders"][labels["codesign_form"]] == CODESIGN_FORM_LABELS[lang]["workshop"]
