"""The register's people-in-the-loop flows on a real (ephemeral) Prefect API: the working
group's review of proposals, one person's update, and the quarterly pause for a review
that is answered in time — or not."""

from __future__ import annotations

import queue
import threading
import time

import pytest
from prefect import flow
from prefect.runtime import flow_run as runtime_flow_run
from prefect.utilities.callables import parameter_schema
from sqlmodel import select

from cxloop.config import read_offices_csv
from cxloop.domain import MEASURE_STATUSES
from demo.seed_measures import seed_measures
from flows import register as reg_flows
from models.db import session_scope
from models.tables import Measure, MeasureHistory
from tasks.collect.offices import merge_offices
from tasks.measures import register as reg
from tasks.measures.status import CODESIGN_FORMS
from tests.conftest import ROOT

Q = "2026Q2"


def _proposal(code: str, region: str, theme: str, quarter: str = Q, **extra) -> dict:
    return {
        "code": code,
        "title": f"Мера {theme}",
        "theme": theme,
        "type": "process_optimisation",
        "region_code": region,
        "offices": [f"{region}-01", f"{region}-02"],
        "owner": f"РГ {region}",
        "status": "proposed",
        "proposed_quarter": quarter,
        "kpi_metric": "item:E2",
        "kpi_target_change": 10,
        "planned_start": "2026-07-05",
        "due_date": "2026-10-01",
        **extra,
    }


@pytest.fixture()
def proposals(env):
    """The office registry, four proposals of 2026Q2 (three in region 52, one in 66) and one of 2026Q1."""
    with session_scope() as session:
        merge_offices(session, read_offices_csv(ROOT / "config" / "offices.csv"))
    records = [
        _proposal("M-A", "52", "waiting_time"),
        _proposal("M-B", "52", "staff_attitude"),
        _proposal("M-C", "52", "process_clarity"),
        _proposal("M-D", "66", "benefit_payment"),
        _proposal("M-OLD", "52", "documents_effort", quarter="2026Q1"),
    ]
    with session_scope() as session:
        seed_measures(session, records)
    return [r["code"] for r in records]


def _state() -> tuple[dict[str, tuple[str, str, int]], int]:
    with session_scope() as session:
        measures = {m.code: (m.status, m.owner, m.version) for m in session.exec(select(Measure))}
        return measures, len(session.exec(select(MeasureHistory)).all())


def _history(code: str) -> list[MeasureHistory]:
    with session_scope() as session:
        return reg.history_of(session, reg.get_measure(session, code))


def test_review_form_is_typed_for_the_ui():
    schema = parameter_schema(reg_flows.review_measure_proposals).model_dump()
    props = schema["properties"]
    assert props["quarter"]["pattern"] == r"^\d{4}Q[1-4]$"
    region = next(alt for alt in props["region"]["anyOf"] if alt.get("type") == "string")
    assert region["enum"] == ["10", "52", "66"]  # the configured regions, as a choice
    decision = schema["definitions"]["ProposalDecision"]["properties"]
    assert decision["action"]["enum"] == ["approve", "reject", "reassign"]
    update = parameter_schema(reg_flows.update_measure).model_dump()
    status = next(alt for alt in update["properties"]["status"]["anyOf"] if alt.get("type") == "string")
    assert tuple(status["enum"]) == MEASURE_STATUSES
    fields = update["definitions"]["MeasureFields"]["properties"]
    codesign = next(alt for alt in fields["codesign_form"]["anyOf"] if alt.get("type") == "string")
    assert tuple(codesign["enum"]) == CODESIGN_FORMS


def test_review_flow_applies_decisions_and_refuses_the_rest(proposals, prefect_harness):
    _, hist_before = _state()
    state = reg_flows.review_measure_proposals(
        quarter=Q,
        reviewer="Рабочая группа 52",
        region="52",
        decisions=[
            {"code": "M-A", "action": "approve", "owner": "ЦЗН 52-01, отдел приёма", "comment": "согласовано"},
            {"code": "M-B", "action": "reject", "comment": "дублирует меру прошлого года"},
            {"code": "M-C", "action": "reassign", "owner": "ИТ-отдел", "comment": "это про портал"},
            {"code": "M-D", "action": "approve", "comment": ""},  # region 66: out of this review
            {"code": "M-OLD", "action": "approve", "comment": ""},  # proposed in 2026Q1
            {"code": "M-A", "action": "reject", "comment": "передумали"},  # decided twice
        ],
        return_state=True,
    )
    assert state.name == "Partial" and "3 of 6 decisions refused" in state.message
    result = state.result()
    assert [(a["code"], a["status"]) for a in result["applied"]] == [
        ("M-A", "approved"),
        ("M-B", "rejected"),
        ("M-C", "proposed"),
    ]
    refused = {(r["code"], r["action"]): r["reason"] for r in result["refused"]}
    assert "region 66" in refused[("M-D", "approve")]
    assert "2026Q1" in refused[("M-OLD", "approve")]
    assert "twice" in refused[("M-A", "reject")]
    assert result["left_proposed"] == ["M-C"]

    measures, hist_after = _state()
    assert measures["M-A"][:2] == ("approved", "ЦЗН 52-01, отдел приёма")
    assert measures["M-B"][0] == "rejected"
    assert measures["M-C"][:2] == ("proposed", "ИТ-отдел")
    assert measures["M-D"][0] == measures["M-OLD"][0] == "proposed"
    # approve + new owner = 2 rows, reject = 1, reassign = 1
    assert hist_after - hist_before == 4
    rows = [(h.field, h.from_value, h.to_value, h.who, h.comment) for h in _history("M-A")[1:]]
    assert rows == [
        ("owner", "РГ 52", "ЦЗН 52-01, отдел приёма", "Рабочая группа 52", "согласовано"),
        ("status", "proposed", "approved", "Рабочая группа 52", "согласовано"),
    ]


def test_review_flow_refuses_malformed_parameters(proposals, prefect_harness):
    before = _state()
    with pytest.raises(Exception, match="pattern|2026Q7"):
        reg_flows.review_measure_proposals(quarter="2026Q7", reviewer="РГ", decisions=[])
    with pytest.raises(Exception, match="reassign needs the new owner"):
        reg_flows.review_measure_proposals(quarter=Q, reviewer="РГ", decisions=[{"code": "M-A", "action": "reassign"}])
    with pytest.raises(Exception, match="reject needs a comment"):
        reg_flows.review_measure_proposals(quarter=Q, reviewer="РГ", decisions=[{"code": "M-A", "action": "reject"}])
    assert _state() == before


def test_update_flow_records_codesign_and_starts_in_one_edit(proposals, prefect_harness):
    reg_flows.review_measure_proposals(
        quarter=Q, reviewer="РГ 52", decisions=[{"code": "M-A", "action": "approve", "comment": "ok"}]
    )
    refused = reg_flows.update_measure(code="M-A", who="Иванова", status="in_progress", return_state=True)
    assert refused.is_failed() and "co-design" in refused.message
    assert _state()[0]["M-A"][0] == "approved"

    result = reg_flows.update_measure(
        code="M-A",
        who="Иванова",
        status="in_progress",
        comment="воркшоп проведён",
        expected_version=2,
        fields={"codesign_date": "2026-06-20", "codesign_form": "workshop", "codesign_clients": 11},
    )
    assert result["status"] == "in_progress" and result["version"] == 4 and not result["override"]
    assert [c["field"] for c in result["changes"]] == ["codesign_clients", "codesign_date", "codesign_form", "status"]
    stale = reg_flows.update_measure(
        code="M-A", who="Петров", fields={"owner": "другой"}, expected_version=2, return_state=True
    )
    assert stale.is_failed() and "changed by someone else" in stale.message
    assert _state()[0]["M-A"] == ("in_progress", "РГ 52", 4)


@flow(name="cycle-with-review-test")
def _cycle_with_review(codes: list[str], timeout_seconds: int, ids: queue.Queue | None = None) -> dict:
    """Stands in for the quarterly cycle: proposals exist, then the run waits for the review."""
    if ids is not None:
        ids.put(runtime_flow_run.id)
    return reg_flows.await_proposal_review(Q, codes, timeout_seconds, poll_interval=1)


def test_pause_times_out_and_leaves_proposals_proposed(proposals, prefect_harness):
    before = _state()
    started = time.monotonic()
    state = _cycle_with_review(["M-A", "M-B"], 2, return_state=True)
    assert state.is_completed(), state  # not Failed: the cycle goes on without the review
    result = state.result()
    assert result["outcome"] == "timed_out" and result["left_proposed"] == ["M-A", "M-B"]
    assert "stay proposed" in result["message"]
    assert _state() == before  # nothing decided, nothing written
    assert time.monotonic() - started < 30


def test_pause_resumed_with_the_working_groups_input(proposals, prefect_harness):
    from prefect.client.orchestration import get_client
    from prefect.flow_runs import resume_flow_run

    ids: queue.Queue = queue.Queue()
    errors: list[BaseException] = []

    def working_group() -> None:
        try:
            run_id = ids.get(timeout=60)
            deadline = time.monotonic() + 60
            with get_client(sync_client=True) as client:
                while not client.read_flow_run(run_id).state.is_paused():
                    assert time.monotonic() < deadline, "the run never paused"
                    time.sleep(0.2)
            resume_flow_run(
                run_id,
                run_input={
                    "reviewer": "Рабочая группа 52",
                    "decisions": [
                        {"code": "M-A", "action": "approve", "comment": "на воркшопе поддержали"},
                        {"code": "M-B", "action": "reject", "comment": "не наш профиль"},
                        {"code": "M-D", "action": "approve", "comment": "не на этом обзоре"},
                    ],
                },
            )
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    thread = threading.Thread(target=working_group, daemon=True)
    thread.start()
    state = _cycle_with_review(["M-A", "M-B", "M-C"], 60, ids, return_state=True)
    thread.join(timeout=5)
    assert not errors, errors
    assert state.is_completed(), state
    result = state.result()
    assert result["outcome"] == "reviewed"
    assert [(a["code"], a["status"]) for a in result["applied"]] == [("M-A", "approved"), ("M-B", "rejected")]
    assert [(r["code"], "not among the proposals" in r["reason"]) for r in result["refused"]] == [("M-D", True)]
    assert result["left_proposed"] == ["M-C"]
    measures, _ = _state()
    assert (measures["M-A"][0], measures["M-B"][0], measures["M-C"][0], measures["M-D"][0]) == (
        "approved",
        "rejected",
        "proposed",
        "proposed",
    )
    last = _history("M-B")[-1]
    assert (last.to_value, last.who, last.comment) == ("rejected", "Рабочая группа 52", "не наш профиль")


def test_no_pause_without_proposals_or_timeout(proposals, prefect_harness):
    quick = _cycle_with_review([], 60)
    assert quick["outcome"] == "nothing_to_review"
    off = _cycle_with_review(["M-A"], 0)
    assert off["outcome"] == "not_requested" and off["left_proposed"] == ["M-A"]
    with pytest.raises(RuntimeError, match="inside a flow"):
        reg_flows.await_proposal_review(Q, ["M-A"], 5)
