"""Register and registry upkeep: load an office registry file, export the measure register,
and the people in the loop — the working group's review of proposals and one person's
update of a measure.

Small flows the command line and the Prefect UI share, so an analyst's export from
the UI and ``cxloop measures export`` run the same code and leave the same trace.
The parameters are typed (pydantic), so the Prefect UI renders each deployment as a
form with the allowed values: a quarter as ``YYYYQn``, a region from the configured
ones, a decision's action from approve / reject / reassign, a status from the flow.

:func:`await_proposal_review` is for the quarterly flow: it pauses the run until the
working group answers in the UI (Prefect's run input) or the time is up; proposals
nobody decided stay ``proposed``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger
from prefect.input import RunInput
from prefect.states import Completed
from pydantic import BaseModel, Field, model_validator

from cxloop.config import read_offices_csv
from cxloop.domain import check_region
from cxloop.quarters import Quarter
from flows.params import QuarterText, Region, configured_regions
from models.db import session_scope, upgrade
from tasks.collect.offices import merge_offices

# Parameter types shared with the other flows (flows/params.py): the UI offers the configured
# regions as a choice; a region is checked against the registry again when the run starts.
RegionCode = Region
MeasureStatus = Literal[
    "proposed", "approved", "in_progress", "implemented", "evaluated", "closed", "rejected", "cancelled"
]
CodesignForm = Literal["workshop", "observation", "client_test"]


class ProposalDecision(BaseModel):
    """The working group's decision on one proposed measure."""

    code: str = Field(min_length=1, description="measure code, e.g. M-2026Q3-52-waiting_time")
    action: Literal["approve", "reject", "reassign"] = Field(
        description="approve (optionally with a new owner), reject (say why in the comment) "
        "or reassign to another owner"
    )
    owner: str | None = Field(default=None, description="new owner: required to reassign, optional to approve")
    comment: str = Field(default="", description="kept in the measure's history; required to reject")

    @model_validator(mode="after")
    def _complete(self) -> ProposalDecision:
        if self.action == "reassign" and not (self.owner or "").strip():
            raise ValueError(f"{self.code}: reassign needs the new owner")
        if self.action == "reject" and not self.comment.strip():
            raise ValueError(f"{self.code}: reject needs a comment saying why")
        return self


class ProposalReview(RunInput):
    """What the quarterly run waits for when it pauses for the working group's review."""

    reviewer: str = Field(min_length=1, description="who decides (kept in the history)")
    decisions: list[ProposalDecision] = Field(
        default_factory=list, description="one decision per proposal; proposals without a decision stay proposed"
    )


class MeasureFields(BaseModel):
    """Register fields to change; a field left empty keeps its value."""

    owner: str | None = None
    title: str | None = None
    description: str | None = None
    planned_start: date | None = None
    due_date: date | None = None
    implemented_on: date | None = None
    office_starts: str | None = Field(
        default=None,
        description="a rollout office by office: offices that start in a quarter of their own, "
        "e.g. 52-03:2026Q2, 52-04:2026Q3 (the other offices start with implemented_on)",
    )
    codesign_date: date | None = Field(default=None, description="when the measure was designed with clients")
    codesign_form: CodesignForm | None = Field(
        default=None, description="workshop, observation or testing with clients"
    )
    codesign_clients: int | None = Field(default=None, ge=1, description="number of clients involved")
    kpi_target: float | None = Field(default=None, ge=0, le=100)


def _now() -> datetime:
    return datetime.now(UTC)


@flow(name="load-office-registry")
def load_office_registry(path: str) -> dict[str, int]:
    """Merge an office registry CSV (office_code, office_name, region_code, region_name) into the database."""
    offices = read_offices_csv(Path(path))
    upgrade()
    with session_scope() as session:
        return merge_offices(session, offices)


@flow(name="export-measure-register")
def export_measure_register(
    xlsx: str | None = None, csv: str | None = None, quarter: QuarterText | None = None
) -> dict[str, str]:
    """Write the measure register as a formatted XLSX and/or CSV (overdue judged at the quarter's cycle date)."""
    from tasks.measures.export import export_register_csv, export_register_xlsx

    as_of = (Quarter.parse(quarter) if quarter else Quarter.last_complete()).cycle_date
    upgrade()
    out: dict[str, str] = {}
    with session_scope() as session:
        if xlsx:
            Path(xlsx).parent.mkdir(parents=True, exist_ok=True)
            out["xlsx"] = str(export_register_xlsx(session, Path(xlsx), as_of))
        if csv:
            Path(csv).parent.mkdir(parents=True, exist_ok=True)
            out["csv"] = str(export_register_csv(session, Path(csv), as_of))
    return out


def _review_markdown(title: str, result: dict[str, Any]) -> str:
    from tasks.validate.redaction import redact

    lines = [
        f"# {title}",
        "",
        f"**Applied**: {len(result['applied'])}  **Refused**: {len(result['refused'])}  "
        f"**Still proposed**: {len(result['left_proposed'])}",
        "",
    ]
    if result["applied"]:
        lines += ["| measure | decision | status |", "|---|---|---|"]
        lines += [f"| {a['code']} | {a['action']} | {a['status']} |" for a in result["applied"]]
    if result["refused"]:
        lines += ["", "**Refused decisions**:"] + [
            f"- {r['code']} ({r['action']}): {redact(r['reason'])}" for r in result["refused"]
        ]
    if result["left_proposed"]:
        lines += ["", "**Still proposed**: " + ", ".join(result["left_proposed"])]
    return "\n".join(lines)


def _artifact(key: str, markdown: str, description: str) -> None:
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(key=key, markdown=markdown, description=description)


@flow(name="review-measure-proposals")
def review_measure_proposals(
    quarter: QuarterText,
    reviewer: str,
    decisions: list[ProposalDecision],
    region: RegionCode | None = None,
) -> dict:
    """The working group's review of a quarter's proposed measures.

    Args:
        quarter: the proposing quarter, ``YYYYQn``; decisions on measures proposed in
            another quarter are refused.
        reviewer: who decides (kept in each measure's history).
        decisions: per proposal, approve (optionally with a new owner), reject (with a
            comment) or reassign (to a new owner; it stays proposed).
        region: only proposals of this region (optional).

    Each decision is applied whole or refused with a reason (not a proposal any more,
    another quarter or region, unknown code, decided twice); the run is "Partial" when
    one was refused. Returns ``{"quarter", "region", "applied", "refused", "left_proposed"}``.
    """
    from tasks.measures.edits import review_proposals

    q = str(Quarter.parse(quarter))
    region = check_region(region, configured_regions()) if region is not None else None
    upgrade()
    with session_scope() as session:
        result = review_proposals(session, list(decisions), reviewer, _now(), quarter=q, region=region)
    summary = {"quarter": q, "region": region, **result}
    _artifact(
        f"proposal-review-{q.lower()}",
        _review_markdown(f"Review of proposals {q}" + (f", region {region}" if region else ""), summary),
        f"Working group review of the proposals of {q}",
    )
    if result["refused"]:
        # A flow returning a State ends in it; calling the flow still gives the dict (its data).
        return Completed(  # type: ignore[return-value]  # Prefect's types cannot say so
            name="Partial", message=f"{len(result['refused'])} of {len(decisions)} decisions refused", data=summary
        )
    return summary


@flow(name="update-measure")
def update_measure(
    code: str,
    who: str,
    status: MeasureStatus | None = None,
    fields: MeasureFields | None = None,
    comment: str = "",
    expected_version: int | None = None,
    override_reason: str | None = None,
) -> dict:
    """Update one measure: fields first, then the status — all or nothing, one history row per change.

    Args:
        code: the measure's code.
        who: who makes the change (kept in the history).
        status: the new status; the flow proposed → approved → in_progress → implemented →
            evaluated → closed (rejected and cancelled as exits) is enforced.
        fields: register fields to change (owner, dates, co-design evidence, KPI target...).
        comment: why, kept in the history.
        expected_version: the version you looked at; the update is refused when someone
            changed the measure since.
        override_reason: lets the approver start a measure without co-design evidence;
            kept in the history marked "override".

    A refused update (invalid transition, missing co-design, stale version, unknown
    code, bad value) fails the run with the reason.
    """
    from tasks.measures.edits import edit_measure as update

    changes = fields.model_dump(exclude_none=True) if fields else {}
    upgrade()
    with session_scope() as session:
        result = update(
            session,
            code,
            who,
            _now(),
            status=status,
            changes=changes,
            comment=comment,
            override_reason=override_reason,
            expected_version=expected_version,
        )
    get_run_logger().info(
        "measure %s: %d change(s), version %d", result["code"], len(result["changes"]), result["version"]
    )
    return result


def _proposals_markdown(quarter: str, codes: list[str], timeout_seconds: int) -> str:
    from sqlmodel import col, select

    from cxloop.config import get_config
    from cxloop.settings import get_settings
    from models.tables import Measure
    from tasks.effects.planning import DEFAULT_POST_QUARTERS, plan_measure
    from tasks.validate.redaction import redact

    config = get_config(get_settings().config_dir)
    with session_scope() as session:
        measures = {m.code: m for m in session.exec(select(Measure).where(col(Measure.code).in_(codes)))}
        # The power check of every proposal: could its evaluation see the aimed change?
        plans = {code: plan_measure(session, m, config, until=Quarter.parse(quarter)) for code, m in measures.items()}
    lines = [
        f"## Proposed corrective measures, {quarter}",
        "",
        "Decide each proposal: **approve** (optionally with a new owner), **reject** (say why in the comment) "
        "or **reassign** to another owner. Proposals without a decision stay *proposed* and come back next time. "
        f"The cycle continues without a review after {timeout_seconds} s.",
        "",
        "*Power check*: the smallest change the measure's evaluation could detect (MDE, 80 % power, 5 % level) "
        f"with its offices and {DEFAULT_POST_QUARTERS} quarters after the start, from the KPI's history; "
        "a pilot whose MDE exceeds its aimed change is too small to show anything "
        "(`cxloop measures plan CODE` for details).",
        "",
        "| code | measure | region | owner | due | KPI | power check |",
        "|---|---|---|---|---|---|---|",
    ]
    for code in codes:
        m = measures.get(code)
        if m is None:
            continue
        lines.append(
            f"| {m.code} | {redact(m.title)} | {m.region_code} | {redact(m.owner)} | {m.due_date or '—'} "
            f"| {m.kpi_metric} | {plans[code].verdict()} |"
        )
    return "\n".join(lines)


def _continue_after_timeout(flow_run_id: Any, message: str) -> None:
    """Put the run back to Running after an unanswered pause.

    Prefect leaves a run whose pause timed out in the Paused state with an expired
    deadline, and its orchestration then turns any later state into Failed ("the flow
    was paused and never resumed"). The cycle's work must go on, so the run is forced
    back to Running (the same state a resume gives) with a message saying why.
    """
    from prefect.client.orchestration import get_client
    from prefect.states import Running

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(flow_run_id, Running(message=message), force=True)


def await_proposal_review(quarter: str, codes: list[str], timeout_seconds: int, poll_interval: int = 10) -> dict:
    """Pause the running flow until the working group reviews ``codes``, or ``timeout_seconds`` pass.

    Call it inside a flow run (e.g. the quarterly cycle, after the proposals). The run
    pauses with Prefect's ``pause_flow_run(wait_for_input=ProposalReview...)``: the UI
    shows a table of the proposals and a form (reviewer, decisions). On resume the
    decisions are applied with :func:`tasks.measures.register.review_proposals`, limited to
    ``codes`` of ``quarter``. When nobody answers in time Prefect raises
    ``FlowPauseTimeout``; the proposals then stay ``proposed``, the run is put back to
    Running (:func:`_continue_after_timeout`) and the cycle goes on. No proposals or a
    timeout of 0 do not pause at all.

    Returns ``{"quarter", "proposals", "outcome", "applied", "refused", "left_proposed",
    "message"}`` with ``outcome`` one of ``reviewed``, ``timed_out``,
    ``nothing_to_review``, ``not_requested``.
    """
    from prefect.context import FlowRunContext
    from prefect.exceptions import FlowPauseTimeout
    from prefect.flow_runs import pause_flow_run

    from tasks.measures.edits import review_proposals

    q = str(Quarter.parse(quarter))
    codes = sorted(set(codes))
    base: dict[str, Any] = {"quarter": q, "proposals": codes, "applied": [], "refused": [], "left_proposed": codes}
    if not codes:
        return {**base, "outcome": "nothing_to_review", "message": "no proposals to review"}
    if timeout_seconds <= 0:
        return {
            **base,
            "outcome": "not_requested",
            "message": f"no review requested: {len(codes)} proposals stay proposed",
        }
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        raise RuntimeError("await_proposal_review pauses the flow run it is called from: call it inside a flow")
    logger = get_run_logger()
    form = ProposalReview.with_initial_data(description=_proposals_markdown(q, codes, timeout_seconds))
    try:
        review = pause_flow_run(
            wait_for_input=form,
            timeout=timeout_seconds,
            poll_interval=poll_interval,
            key=f"proposal-review-{q.lower()}",
        )
    except FlowPauseTimeout:
        message = f"no review within {timeout_seconds} s: the {len(codes)} proposals of {q} stay proposed"
        _continue_after_timeout(context.flow_run.id, message)
        logger.warning(message)
        return {**base, "outcome": "timed_out", "message": message}
    upgrade()
    with session_scope() as session:
        result = review_proposals(session, list(review.decisions), review.reviewer, _now(), quarter=q, codes=codes)
    logger.info(
        "proposal review %s: %d applied, %d refused, %d still proposed",
        q,
        len(result["applied"]),
        len(result["refused"]),
        len(result["left_proposed"]),
    )
    return {
        **base,
        **result,
        "outcome": "reviewed",
        "message": f"{len(result['applied'])} decisions applied, {len(result['refused'])} refused",
    }
