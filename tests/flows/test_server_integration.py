"""cxloop as a service: typed parameters, prefect.yaml, `cxloop serve`, and a real Prefect server.

The fast tests check what the UI shows (each flow's parameter schema), what the server
is told (prefect.yaml and the deployments `cxloop serve` builds from it) and the
evaluate-measures table rows, without a server.

The slow test is the installation the README describes, end to end, in a temporary
folder: `cxloop server` (i.e. `prefect server start`, SQLite), `prefect work-pool create
cxloop --type process`, `prefect deploy --all` from the repository, `prefect worker start --pool
cxloop`; two quarters of demo data ingested, the demo register seeded, then the
quarterly cycle of the third quarter triggered through the API with parameters
(`run_deployment`), its PDFs and artifacts read back, parameters the schema forbids
refused by the server, the server's schedules compared with prefect.yaml, and finally
the worker swapped for `cxloop serve`, which runs `evaluate-measures` for the quarter.
It prints its timings; about two minutes on a 2-core machine.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PREFECT_YAML = ROOT / "prefect.yaml"
PREFECT = [sys.executable, "-m", "prefect"]


def _yaml_deployments() -> dict[str, dict]:
    doc = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    return {d["name"]: d for d in doc["deployments"]}


def _registry_regions() -> list[str]:
    from cxloop.config import read_offices_csv

    return sorted({o.region_code for o in read_offices_csv(ROOT / "config" / "offices.csv")})


def _props(flow) -> dict:
    from prefect.utilities.callables import parameter_schema

    return parameter_schema(flow).model_dump()["properties"]


def _alt(prop: dict, kind: str = "string") -> dict:
    """The non-null alternative of an Optional parameter's schema."""
    return next(a for a in prop.get("anyOf", [prop]) if a.get("type") == kind)


# --------------------------------------------------------------------------- the forms the UI shows


def test_every_deployed_flow_shows_typed_forms():
    from flows.delivery import send_reports
    from flows.demo import demo
    from flows.evaluate import evaluate_measures
    from flows.ingest import ingest_feedback
    from flows.quarterly_cycle import quarterly_cycle
    from flows.register import export_measure_register, review_measure_proposals

    regions = _registry_regions()
    assert len(regions) >= 2
    cycle = _props(quarterly_cycle)
    assert _alt(cycle["quarter"])["pattern"] == r"^\d{4}Q[1-4]$" and cycle["quarter"]["default"] is None
    assert cycle["lang"]["enum"] == ["ru", "en", "fi"] and cycle["send_reports"]["type"] == "boolean"
    assert cycle["review_timeout_seconds"]["minimum"] == 0
    for flow in (evaluate_measures, send_reports, review_measure_proposals):
        assert _alt(_props(flow)["quarter"])["pattern"] == r"^\d{4}Q[1-4]$", flow.name
    assert _alt(_props(export_measure_register)["quarter"])["pattern"] == r"^\d{4}Q[1-4]$"
    delivery = _props(send_reports)
    assert _alt(delivery["region"])["enum"] == regions and delivery["lang"]["enum"] == ["ru", "en", "fi"]
    assert delivery["force"]["type"] == delivery["resend_failed_only"]["type"] == "boolean"
    assert _alt(_props(review_measure_proposals)["region"])["enum"] == regions
    ingest = _props(ingest_feedback)
    from cxloop.domain import CHANNELS, LANGUAGES

    assert tuple(_alt(ingest["channel"])["enum"]) == CHANNELS and tuple(cycle["lang"]["enum"]) == LANGUAGES
    demo_props = _props(demo)
    assert _alt(demo_props["regions"], "array")["items"]["enum"] == regions
    assert demo_props["until"]["pattern"] == r"^\d{4}Q[1-4]$" and demo_props["scale"]["exclusiveMinimum"] == 0


@pytest.mark.parametrize(
    "params, message",
    [
        ({"quarter": "2026Q5"}, "should match pattern"),
        ({"quarter": "2026q3"}, "should match pattern"),
        ({"quarter": "2026Q3", "lang": "de"}, "lang"),
        ({"quarter": "2026Q3", "review_timeout_seconds": -1}, "greater than or equal to 0"),
    ],
)
def test_cycle_parameters_are_validated_before_a_run(params, message):
    from prefect.exceptions import ParameterTypeError

    from flows.quarterly_cycle import quarterly_cycle

    with pytest.raises(ParameterTypeError, match=message):
        quarterly_cycle.validate_parameters(params)
    ok = quarterly_cycle.validate_parameters({"quarter": "2026Q3", "send_reports": False})
    assert ok["quarter"] == "2026Q3" and ok["send_reports"] is False and ok["lang"] == "ru"


def test_region_is_checked_against_the_registry_as_it_is_when_the_run_starts(tmp_path, monkeypatch):
    from prefect.exceptions import ParameterTypeError

    from cxloop.settings import reset_settings_cache
    from flows import params
    from flows.delivery import send_reports

    with pytest.raises(
        ParameterTypeError, match=r"unknown region '99'; configured regions: " + ", ".join(_registry_regions())
    ):
        send_reports.validate_parameters({"quarter": "2026Q3", "region": "99"})
    assert send_reports.validate_parameters({"quarter": "2026Q3", "region": "52"})["region"] == "52"
    # A registry edited after import: region 99 added, 52 gone.
    (tmp_path / "offices.csv").write_text(
        "office_code,office_name,region_code,region_name\n99-01,ЦЗН,99,Тестовая область\n10-01,ЦЗН,10,Карелия\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("CXLOOP_CONFIG_DIR", str(tmp_path))
    reset_settings_cache()
    try:
        assert params.configured_regions() == ("10", "99")
        assert params.check_region("99") == "99"
        with pytest.raises(ValueError, match="unknown region '52'; configured regions: 10, 99"):
            params.check_region("52")
    finally:
        monkeypatch.undo()
        reset_settings_cache()


# --------------------------------------------------------------------------- prefect.yaml and `cxloop serve`


def test_prefect_yaml_declares_the_service():
    deployments = _yaml_deployments()
    assert {
        "quarterly-cx-cycle",
        "ingest-feedback",
        "evaluate-measures",
        "send-reports",
        "review-measure-proposals",
        "update-measure",
    } <= set(deployments)
    for name, d in deployments.items():
        assert d["enforce_parameter_schema"] is True and d["work_pool"]["name"] == "cxloop", name
        path, _, function = d["entrypoint"].partition(":")
        assert f"def {function}(" in (ROOT / path).read_text(encoding="utf-8"), name
    (cycle,) = deployments["quarterly-cx-cycle"]["schedules"]
    # 06:00 Moscow time on the 5th of the month after each quarter.
    assert (cycle["cron"], cycle["timezone"], cycle["active"]) == ("0 6 5 1,4,7,10 *", "Europe/Moscow", True)
    assert deployments["quarterly-cx-cycle"]["concurrency_limit"] == 1
    (daily,) = deployments["ingest-feedback"]["schedules"]
    assert daily["active"] is False and daily["timezone"] == cycle["timezone"]


def test_schedule_from_yaml_means_what_prefect_deploy_makes_of_it():
    from prefect.cli.deploy._schedules import _schedule_config_to_deployment_schedule
    from prefect.client.schemas.actions import DeploymentScheduleCreate

    from cxloop.cli.deploy import schedule_from_yaml

    for spec in (
        {"cron": "0 6 5 1,4,7,10 *", "timezone": "Europe/Moscow", "active": True},
        {"cron": "0 7 * * *", "timezone": "Asia/Yekaterinburg", "active": False, "parameters": {"paths": ["x"]}},
        {"interval": 3600, "timezone": "Europe/Helsinki", "anchor_date": "2026-01-01T00:00:00"},
    ):
        ours = DeploymentScheduleCreate.from_schedule(schedule_from_yaml(spec))
        prefects = DeploymentScheduleCreate(**_schedule_config_to_deployment_schedule(spec))
        assert ours.schedule == prefects.schedule and ours.active == prefects.active
        assert ours.parameters == prefects.parameters
    for bad in ({"cron": "0 6 * * *", "interval": 60}, {"timezone": "UTC"}, {"cron": "0 6 * * *", "tz": "UTC"}):
        with pytest.raises(ValueError):
            schedule_from_yaml(bad)


def test_serve_builds_the_deployments_of_prefect_yaml(monkeypatch):
    from cxloop.cli.deploy import served_deployments

    monkeypatch.chdir(ROOT)
    declared = _yaml_deployments()
    served = {d.name: d for d in served_deployments(PREFECT_YAML)}
    assert set(served) == set(declared)
    for name, d in served.items():
        spec = declared[name]
        assert d.entrypoint == spec["entrypoint"] and d.enforce_parameter_schema is True
        assert d.parameters == (spec.get("parameters") or {}) and d.work_pool_name is None
        assert d.concurrency_limit == spec.get("concurrency_limit")
        assert [(s.schedule.cron, s.schedule.timezone, s.active) for s in d.schedules] == [
            (s["cron"], s["timezone"], s["active"]) for s in spec.get("schedules", [])
        ]
        # The flow behind the entrypoint is the one deployed, with its typed schema.
        assert d._parameter_openapi_schema.properties.keys() >= set(d.parameters), name
        assert f'@flow(name="{d.flow_name}"' in (ROOT / spec["entrypoint"].split(":")[0]).read_text(encoding="utf-8"), (
            name
        )


def test_serve_refuses_an_unset_environment_template(tmp_path, monkeypatch):
    from cxloop.cli.deploy import prefect_yaml_deployments

    monkeypatch.delenv("CXLOOP_TEST_TZ", raising=False)
    f = tmp_path / "prefect.yaml"
    f.write_text(
        "deployments:\n  - name: x\n    entrypoint: flows/evaluate.py:evaluate_measures\n"
        "    schedules:\n      - cron: '0 6 * * *'\n        timezone: '{{ $CXLOOP_TEST_TZ }}'\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"\{\{ \$CXLOOP_TEST_TZ \}\} not set"):
        prefect_yaml_deployments(f)
    monkeypatch.setenv("CXLOOP_TEST_TZ", "Asia/Yekaterinburg")
    assert prefect_yaml_deployments(f)[0]["schedules"][0]["timezone"] == "Asia/Yekaterinburg"


def test_evaluation_rows_round_and_never_show_nan():
    from flows.evaluate import TABLE_COLUMNS, evaluation_rows

    base = dict(kpi_metric="item:P3", n_treated_units=3, n_control_units=11, n_obs=1234.0, verdict="effective")
    rows = evaluation_rows(
        [
            {
                **base,
                "measure_code": "M-B",
                "method": "none",
                "estimate": float("nan"),
                "ci_low": None,
                "ci_high": None,
                "p_value": None,
                "mde": None,
                "verdict": "inconclusive",
            },
            {
                **base,
                "measure_code": "M-A",
                "method": "difference_in_differences",
                "estimate": 12.649,
                "ci_low": 5.81,
                "ci_high": 19.46,
                "p_value": 0.000123,
                "mde": 9.04,
            },
        ]
    )
    assert [r["measure"] for r in rows] == ["M-A", "M-B"] and all(tuple(r) == TABLE_COLUMNS for r in rows)
    assert (rows[0]["estimate"], rows[0]["ci_low"], rows[0]["ci_high"], rows[0]["p_value"]) == (12.6, 5.8, 19.5, 0.0001)
    assert rows[1]["estimate"] is None and json.dumps(rows)  # valid JSON for the table artifact


# --------------------------------------------------------------------------- a real server, a worker, `cxloop serve`


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Procs:
    """Subprocesses of the test, each in its own session with its output in a log file;
    stopped (SIGTERM, then SIGKILL) in reverse order."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder, self.env, self.procs = folder, env, {}

    def start(self, name: str, args: list[str]) -> subprocess.Popen:
        log = (self.folder / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[name] = proc
        return proc

    def run(self, args: list[str], timeout: float = 120) -> str:
        done = subprocess.run(args, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{' '.join(args[2:])} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    def log(self, name: str, lines: int = 40) -> str:
        path = self.folder / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):
            self.stop(name)


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the Prefect server exited"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"no answer from {url}/health within {timeout:.0f} s")


class _Clock:
    def __init__(self) -> None:
        self.t0 = self.last = time.monotonic()
        self.marks: list[tuple[str, float]] = []

    def mark(self, what: str) -> None:
        now = time.monotonic()
        self.marks.append((what, now - self.last))
        print(f"  {what}: {now - self.last:.1f} s", flush=True)
        self.last = now

    def total(self) -> float:
        return time.monotonic() - self.t0


@contextmanager
def _api(url: str):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield


def _read_artifacts(keys: list[str]):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        return {
            a.key: a for a in client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys)))
        }


def _server_schedules() -> dict[str, list[tuple]]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return {
            d.name: sorted((s.schedule.cron, s.schedule.timezone, s.active) for s in d.schedules)
            for d in client.read_deployments()
        }


def _declared_schedules() -> dict[str, list[tuple]]:
    return {
        name: sorted((s["cron"], s["timezone"], s["active"]) for s in d.get("schedules", []))
        for name, d in _yaml_deployments().items()
    }


def _seed_two_quarters(data_dir: Path) -> list[str]:
    """Demo files for 2025Q4-2026Q2 (small scale); the first two quarters ingested (and their
    index measured) and the demo's register seeded in-process, so the 2026Q2 cycle has a
    previous quarter and a measure implemented in 2026Q1 to evaluate. Returns the measure
    codes seeded."""
    from cxloop.config import get_config
    from cxloop.quarters import Quarter
    from demo.generate import generate_demo_data
    from demo.seed_measures import seed_measures
    from models.db import session_scope
    from tasks.collect.discovery import resolve_inputs
    from tasks.collect.step import sync_registry
    from tasks.insight.step import measure_star
    from tasks.validate.step import ingest_one_file

    config = get_config()
    manifest = generate_demo_data(
        data_dir, [Quarter.parse(q) for q in ("2025Q4", "2026Q1", "2026Q2")], seed=11, scale=0.3
    )
    sync_registry(config)
    for q in ("2025Q4", "2026Q1"):
        for item in resolve_inputs([str(data_dir / q)]):
            ingest_one_file(item, config)
        measure_star(q, config)  # the 2026Q2 index is compared with 2026Q1's
    with session_scope() as session:
        created = seed_measures(session, manifest.seeded_measures)
        return [m.code for m in created]


def psycopg_connect(base_url: str, database: str):
    import psycopg

    return psycopg.connect(base_url.replace("postgresql+psycopg://", "postgresql://") + f"/{database}")


@pytest.mark.slow
def test_deploy_worker_and_serve_against_a_real_prefect_server(tmp_path, env, pg_url, postgres_server, monkeypatch):
    """Production footing: the Prefect server and the application both on PostgreSQL
    (the session's throw-away server from tests/conftest.py), a process work pool, a worker."""
    from cxloop.settings import reset_settings_cache
    from models.db import dispose_engines
    from tools.pg_server import admin_sql

    monkeypatch.setenv("CXLOOP_DATABASE_URL", pg_url)  # the in-process seeding below and the worker's runs
    reset_settings_cache()
    dispose_engines()
    prefect_db = f"prefect_{os.getpid()}"
    admin_sql(postgres_server, f"CREATE DATABASE {prefect_db}")
    prefect_url = postgres_server.replace("postgresql+psycopg://", "postgresql+asyncpg://") + f"/{prefect_db}"

    from prefect.deployments import run_deployment
    from prefect.exceptions import PrefectHTTPStatusError
    from pypdf import PdfReader
    from sqlalchemy import select

    from models.db import session_scope
    from models.tables import EffectEvaluation, IndexResult, IngestedFile

    clock = _Clock()
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    home = tmp_path / "prefect"
    home.mkdir()
    penv = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    penv.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_API_URL": url,
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": prefect_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "INFO",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            # The worker's flow runs: the code in CXLOOP_HOME (prefect.yaml's pull step),
            # the test's database and folders.
            "CXLOOP_HOME": str(ROOT),
            "CXLOOP_DATABASE_URL": pg_url,
            "CXLOOP_CONFIG_DIR": str(env.config_dir),
            "CXLOOP_DATA_DIR": str(env.data_dir),
            "CXLOOP_OUT_DIR": str(env.out_dir),
            "GX_ANALYTICS_ENABLED": "false",
            "MPLBACKEND": "Agg",
        }
    )
    procs = _Procs(tmp_path, penv)
    print()
    try:
        # `cxloop server` = `prefect server start` with the project's PREFECT_HOME (here the test's).
        server = procs.start(
            "server",
            [sys.executable, "-m", "cxloop.cli", "server", "--host", "127.0.0.1", "--port", str(port), "--no-ui"],
        )
        seeded = _seed_two_quarters(env.data_dir)  # meanwhile the server starts
        assert seeded, "the demo register seeds the SMS-reminder measure"
        clock.mark("demo data for 3 quarters, 2 ingested in-process, register seeded")
        _wait_healthy(url, server)
        clock.mark("cxloop server (prefect server start, PostgreSQL) until /api/health answers")
        assert f"API: {url}" in procs.log("server")
        with psycopg_connect(postgres_server, prefect_db) as conn:  # Prefect's tables are in the test's PG database
            assert (
                conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'flow_run'").fetchone()[
                    0
                ]
                == 1
            )

        procs.run([*PREFECT, "work-pool", "create", "cxloop", "--type", "process"])
        procs.run([*PREFECT, "--no-prompt", "deploy", "--all"], timeout=300)
        procs.start("worker", [*PREFECT, "worker", "start", "--pool", "cxloop"])
        clock.mark("work pool created, prefect deploy --all, worker started")

        with _api(url):
            assert _server_schedules() == _declared_schedules()  # every deployment, with its schedules
            # The schema is enforced by the server: nothing is created for a malformed request.
            for name, bad, field in [
                ("quarterly-cx-cycle/quarterly-cx-cycle", {"quarter": "2026Q5"}, "quarter"),
                ("quarterly-cx-cycle/quarterly-cx-cycle", {"quarter": "2026Q2", "lang": "de"}, "lang"),
                ("send-reports/send-reports", {"quarter": "2026Q2", "region": "99"}, "region"),
            ]:
                with pytest.raises(PrefectHTTPStatusError, match=f"Validation failed for field '{field}'"):
                    run_deployment(name=name, parameters=bad, timeout=0)

            run = run_deployment(
                name="quarterly-cx-cycle/quarterly-cx-cycle",
                parameters={"quarter": "2026Q2", "send_reports": False},
                timeout=420,
                poll_interval=1,
            )
            clock.mark("quarterly-cx-cycle 2026Q2 through the worker")
            assert run.state.is_completed(), f"{run.state}\nworker log:\n{procs.log('worker')}"
            # The deployment's default (lang) merged with the request.
            assert run.parameters == {"quarter": "2026Q2", "send_reports": False, "lang": "ru"}
            artifacts = _read_artifacts(["cx-cycle-2026q2", "cx-pain-points-2026q2"])

        # PDFs in the configured out folder, one per region and a national one, for the quarter.
        reports = env.out_dir / "reports" / "2026Q2"
        regions = _registry_regions()
        assert sorted(p.name for p in reports.glob("*.pdf")) == sorted(
            f"cx-report_2026Q2_{s}_ru.pdf" for s in [*regions, "national"]
        )
        assert not (env.out_dir / "outbox" / "2026Q2").exists()  # send_reports=False
        national = "\n".join(
            page.extract_text() for page in PdfReader(reports / "cx-report_2026Q2_national_ru.pdf").pages
        )
        with session_scope() as s:
            country = s.execute(
                select(IndexResult).where(
                    IndexResult.quarter == "2026Q2",
                    IndexResult.level == "country",
                    IndexResult.client_type == "composite",
                )
            ).scalar_one()
            files = s.execute(select(IngestedFile).where(IngestedFile.quarter == "2026Q2")).scalars().all()
            cycle_effects = {e.kpi_metric: e.estimate for e in s.execute(select(EffectEvaluation)).scalars()}
        # The quarter (in whatever form the report writes it) and the country's index as computed.
        assert re.search(r"2026\s*Q2|Q2\s+2026|2(-й)?\s+квартал\w*\s+2026", national), national[:300]
        assert re.search(re.escape(f"{country.index:.1f}").replace(r"\.", "[.,]"), national)
        assert country.change is not None  # the previous quarter was there

        # Artifacts of this run: the summary carries the intake of the quarter's files, the pain points a table.
        assert {a.flow_run_id for a in artifacts.values()} == {run.id}
        summary = artifacts["cx-cycle-2026q2"]
        received = sum(f.received for f in files)
        assert summary.type == "markdown" and "# Quarterly CX cycle 2026Q2" in summary.data
        assert f"**Intake**: {received} rows received = {sum(f.accepted for f in files)} accepted" in summary.data
        assert received > 0 and len(files) == 18
        links = re.findall(r"^- \[(cx-report_2026Q2_[^\]]+\.pdf)\]\((file://[^)]+)\)$", summary.data, re.M)
        assert len(links) == 4 and all(
            Path(unquote(urlsplit(uri).path)).is_file() and uri.endswith(name) for name, uri in links
        ), summary.data
        pains = artifacts["cx-pain-points-2026q2"]
        table = json.loads(pains.data)
        assert pains.type == "table" and table and table[0]["rank"] == 1
        by_region: dict[str, list[int]] = {}
        for r in table:
            by_region.setdefault(r["region"], []).append(r["rank"])
        assert all(ranks == sorted(ranks) and ranks[0] == 1 for ranks in by_region.values())
        # The SMS measure (implemented 2026Q1, P3) and the queue rollout (first wave 2026Q1, E2).
        assert set(cycle_effects) == {"item:P3", "item:E2"}, cycle_effects

        # The same deployments served from one process instead of the worker: refused while they
        # belong to the work pool (Prefect would keep the pool), then re-created with --replace.
        procs.stop("worker")
        refused = subprocess.run(
            [sys.executable, "-m", "cxloop.cli", "serve"],
            cwd=ROOT,
            env={**penv, "COLUMNS": "500"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode == 2 and "quarterly-cx-cycle/quarterly-cx-cycle (pool cxloop)" in refused.stderr
        assert "cxloop serve --replace" in refused.stderr
        before = time.time()
        procs.start("serve", [sys.executable, "-m", "cxloop.cli", "serve", "--replace"])
        with _api(url):
            from prefect.client.orchestration import get_client

            deadline = time.monotonic() + 90
            while True:
                with get_client(sync_client=True) as client:
                    updated = [
                        d
                        for d in client.read_deployments()
                        if d.created.timestamp() >= before and d.work_pool_name is None
                    ]
                if len(updated) == len(_yaml_deployments()):
                    break
                assert time.monotonic() < deadline and procs.procs["serve"].poll() is None, procs.log("serve")
                time.sleep(0.5)
            assert _server_schedules() == _declared_schedules()
            clock.mark("cxloop serve registered every deployment")
            run = run_deployment(
                name="evaluate-measures/evaluate-measures",
                parameters={"quarter": "2026Q2"},
                timeout=240,
                poll_interval=1,
            )
            clock.mark("evaluate-measures 2026Q2 through cxloop serve")
            assert run.state.is_completed(), f"{run.state}\nserve log:\n{procs.log('serve')}"
            effects = _read_artifacts(["cx-effects-2026q2"])["cx-effects-2026q2"]
        rows = {r["kpi"]: r for r in json.loads(effects.data)}
        assert effects.flow_run_id == run.id and set(rows) == set(cycle_effects)
        row = rows["item:P3"]
        assert row["measure"] in seeded
        # A rerun of the stage replaces the cycle's evaluation with the same numbers.
        estimate = cycle_effects["item:P3"]
        assert row["estimate"] == round(estimate, 1) and row["ci_low"] <= row["estimate"] <= row["ci_high"]
        assert row["verdict"] in {"effective", "worsened", "no_effect", "inconclusive"}
    finally:
        procs.stop_all()
        dispose_engines()
        admin_sql(postgres_server, f"DROP DATABASE IF EXISTS {prefect_db} WITH (FORCE)")
    print(f"  total {clock.total():.1f} s")
