"""Running as a service: ``cxloop server`` (Prefect's server and UI) and ``cxloop serve``
(every deployment of prefect.yaml served from one process), with the helpers that read
prefect.yaml into Prefect deployments the way ``prefect deploy --all`` does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from cxloop.cli.common import check_config, console, refuse

if TYPE_CHECKING:
    from uuid import UUID

# --------------------------------------------------------------------------- running as a service
#
# `cxloop server` starts Prefect's server (API + UI) with the project's PREFECT_HOME;
# `cxloop serve` serves every deployment of prefect.yaml from this one process (Prefect's
# `serve`): a single-machine installation without work pools or workers. The deployments
# are built from prefect.yaml itself, so names, schedules and parameters stay those of
# `prefect deploy --all`.

_SCHEDULE_KEYS = ("cron", "interval", "rrule", "timezone", "anchor_date", "day_or", "active", "parameters", "slug")
# What `serve` takes from a deployment entry; the rest (work_pool, pull/build/push steps)
# only concerns workers and is left out on purpose.
_SERVED_KEYS = (
    "name",
    "entrypoint",
    "description",
    "parameters",
    "schedules",
    "concurrency_limit",
    "enforce_parameter_schema",
    "tags",
    "paused",
    "version",
)


def prefect_yaml_deployments(prefect_file: Path) -> list[dict]:
    """The deployment entries of ``prefect_file``, each reduced to :data:`_SERVED_KEYS`.

    ``{{ $VAR }}`` placeholders are filled from the environment, as ``prefect deploy``
    does; one left unfilled in a served key is an error naming the deployment (Prefect
    would silently drop it, e.g. a timezone, which then means UTC)."""
    import yaml
    from prefect.utilities.templating import apply_values, find_placeholders

    doc = yaml.safe_load(prefect_file.read_text(encoding="utf-8")) or {}
    entries = doc.get("deployments") or []
    if not entries:
        raise ValueError(f"{prefect_file}: no deployments declared")
    out = []
    for entry in entries:
        spec = {k: entry[k] for k in _SERVED_KEYS if entry.get(k) is not None}
        filled = apply_values(spec, dict(os.environ), remove_notset=False)
        # a dict comes back as a dict: NotSet only replaces a value that is a lone placeholder
        assert isinstance(filled, dict)
        spec = filled
        name = spec.get("name") or "(unnamed)"
        if "entrypoint" not in spec:
            raise ValueError(f"{prefect_file}: deployment {name} has no entrypoint")
        left = sorted({p.full_match for p in _placeholders(spec, find_placeholders)})
        if left:
            raise ValueError(f"{prefect_file}: deployment {name}: {', '.join(left)} not set in the environment")
        out.append(spec)
    return out


def _placeholders(value: object, find) -> list:  # -> list[Placeholder]
    if isinstance(value, str):
        return list(find(value))
    if isinstance(value, dict):
        return [p for v in value.values() for p in _placeholders(v, find)]
    if isinstance(value, list):
        return [p for v in value for p in _placeholders(v, find)]
    return []


def schedule_from_yaml(spec: dict):  # -> prefect.schedules.Schedule
    """One ``schedules:`` item of prefect.yaml as a Prefect schedule object, with the same
    meaning ``prefect deploy`` gives it: exactly one of ``cron``, ``interval`` (seconds)
    or ``rrule``; optional ``timezone``, ``anchor_date``, ``day_or``, ``active``
    (default true), ``parameters``, ``slug``."""
    from datetime import timedelta

    from prefect.schedules import Schedule
    from prefect.types._datetime import parse_datetime

    unknown = sorted(set(spec) - set(_SCHEDULE_KEYS))
    if unknown:
        raise ValueError(f"schedule {spec}: unknown key(s) {', '.join(unknown)}")
    kinds = [k for k in ("cron", "interval", "rrule") if spec.get(k) is not None]
    if len(kinds) != 1:
        raise ValueError(f"schedule {spec}: give exactly one of cron, interval, rrule")
    kwargs = {k: spec[k] for k in _SCHEDULE_KEYS if spec.get(k) is not None}
    if isinstance(kwargs.get("interval"), (int, float)):
        kwargs["interval"] = timedelta(seconds=kwargs["interval"])
    if isinstance(kwargs.get("anchor_date"), str):
        kwargs["anchor_date"] = parse_datetime(kwargs["anchor_date"])
    return Schedule(**kwargs)


def _flow_of(entrypoint: str, root: Path):  # -> prefect.Flow
    """The flow object of a ``path/to/file.py:function`` entrypoint under ``root``,
    imported as a module of the project (``flows.quarterly_cycle``), not run as a script."""
    import importlib

    path, _, function = entrypoint.partition(":")
    file = (root / path).resolve()
    if not function or file.suffix != ".py" or not file.is_file():
        raise ValueError(f"entrypoint {entrypoint!r}: expected path/to/file.py:flow_function under {root}")
    module = ".".join(file.relative_to(root.resolve()).with_suffix("").parts)
    flow = getattr(importlib.import_module(module), function, None)
    if flow is None or not hasattr(flow, "to_deployment"):
        raise ValueError(f"entrypoint {entrypoint!r}: {module}.{function} is not a Prefect flow")
    return flow


def served_deployments(prefect_file: Path) -> list:  # -> list[RunnerDeployment]
    """Every deployment of ``prefect_file`` as ``flow.to_deployment(...)``, for ``prefect.serve``.

    Same names, descriptions, default parameters, schedules (with their timezone and
    active flag), concurrency limits, tags and parameter-schema enforcement as
    ``prefect deploy --all`` gives them; no work pool (the serving process runs the
    flows). The flow runs start in the folder of ``prefect_file`` (entrypoints are
    relative to it), so call this with that folder as the working directory."""
    root = prefect_file.resolve().parent
    if Path.cwd().resolve() != root:
        raise ValueError(f"run from {root} (the folder of {prefect_file.name}): the served flows start there")
    deployments = []
    for spec in prefect_yaml_deployments(prefect_file):
        flow = _flow_of(spec["entrypoint"], root)
        deployment = flow.to_deployment(
            name=spec["name"],
            description=spec.get("description"),
            parameters=spec.get("parameters") or {},
            schedules=[schedule_from_yaml(s) for s in spec.get("schedules") or []],
            concurrency_limit=spec.get("concurrency_limit"),
            enforce_parameter_schema=spec.get("enforce_parameter_schema", True),
            tags=spec.get("tags"),
            paused=spec.get("paused"),
            version=spec.get("version"),
        )
        deployment.entrypoint = spec["entrypoint"]  # as written in prefect.yaml (and as `prefect deploy` stores it)
        deployments.append(deployment)
    return deployments


def _api_url() -> str | None:
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


def deployed_for_work_pools(deployments: list) -> list[tuple[str, str, UUID]]:
    """``(flow/deployment, work pool, id)`` of the server's deployments that have the name of
    one of ``deployments`` and run on a work pool (``prefect deploy``).

    Prefect's ``serve`` updates an existing deployment in place and keeps its work pool
    and its missing code path, so a run of it would go to the pool's worker, or crash
    in the serving process: such deployments must be deleted before they are served."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    found = []
    with get_client(sync_client=True) as client:
        for d in deployments:
            full = f"{d.flow_name}/{d.name}"
            try:
                existing = client.read_deployment_by_name(full)
            except ObjectNotFound:
                continue
            if existing.work_pool_name:
                found.append((full, existing.work_pool_name, existing.id))
    return found


def serve(
    prefect_file: Path = typer.Option(Path("prefect.yaml"), "--file", help="the deployments to serve"),
    limit: int | None = typer.Option(
        None, min=1, help="at most this many flow runs at the same time (default: no limit)"
    ),
    log_level: str = typer.Option("INFO", help="log level of the served flow runs (what the UI shows of each run)"),
    replace: bool = typer.Option(
        False,
        "--replace",
        help="delete deployments of the same names made for a work pool "
        "(prefect deploy) and serve them from here instead",
    ),
) -> None:
    """Serve every deployment of prefect.yaml from this process: schedules and UI runs, no work pool.

    Needs a Prefect server (`cxloop server` in another terminal, or PREFECT_API_URL). Stop
    with Ctrl-C (or SIGTERM): Prefect then pauses the deployments until the next `cxloop serve`.
    Exit 2 when a deployment of the same name runs on a work pool (see --replace)."""
    os.environ["PREFECT_LOGGING_LEVEL"] = log_level.upper()  # before Prefect is imported: the runs inherit it
    prefect_file = prefect_file.resolve()
    if not prefect_file.is_file():
        refuse(f"{prefect_file}: not found (run from the project folder, or give --file)")
    os.chdir(prefect_file.parent)
    check_config()  # the served runs would all fail on a broken configuration
    api = _api_url()
    if not api:
        refuse(
            "no Prefect server: start one with `cxloop server` (another terminal), then "
            "PREFECT_API_URL=http://127.0.0.1:4200/api cxloop serve"
        )
    try:
        deployments = served_deployments(prefect_file)
    except ValueError as exc:
        refuse(str(exc))
    pooled = deployed_for_work_pools(deployments)
    if pooled and not replace:
        refuse(
            "deployed for a work pool (prefect deploy): "
            + ", ".join(f"{n} (pool {p})" for n, p, _ in pooled)
            + ". Their runs go to the pool's worker; to serve them from here instead, stop the worker and "
            "run `cxloop serve --replace` (deletes and re-creates them, past runs stay)."
        )
    if pooled:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            for name, pool, deployment_id in pooled:
                client.delete_deployment(deployment_id)
                console.print(escape(f"deleted {name} (work pool {pool}): served from here now"), highlight=False)
    from prefect import serve as prefect_serve
    from prefect.settings import get_current_settings

    console.print(escape(f"serving {len(deployments)} deployments from {prefect_file} against {api}"), highlight=False)
    for d in deployments:
        when = ", ".join(_describe_schedule(s) for s in d.schedules or []) or "on demand"
        console.print(escape(f"  {d.flow_name}/{d.name}: {when}"), highlight=False)
    ui = get_current_settings().ui_url
    console.print(
        escape((f"runs and forms in the UI: {ui}/deployments; " if ui else "") + "stop with Ctrl-C"), highlight=False
    )
    prefect_serve(*deployments, limit=limit, print_starting_message=False)


def _describe_schedule(item) -> str:  # item: DeploymentScheduleCreate
    sched = item.schedule
    what = getattr(sched, "cron", None) or getattr(sched, "rrule", None) or f"every {getattr(sched, 'interval', '?')}"
    return f"{what} ({sched.timezone or 'UTC'})" + ("" if item.active else " inactive")


def _ui_url(host: str, port: int) -> str:
    import socket

    shown = socket.gethostname() if host in ("0.0.0.0", "::") else host
    return f"http://{shown}:{port}"


def server(
    host: str = typer.Option("127.0.0.1", help="address to listen on (0.0.0.0: every interface)"),
    port: int = typer.Option(4200, min=1, max=65535, help="port of the API and the UI"),
    ui: bool = typer.Option(True, "--ui/--no-ui", help="serve the web UI (--no-ui: the API only)"),
) -> None:
    """Start the Prefect server (API and UI) with the project's PREFECT_HOME (var/prefect).

    Runs `prefect server start` until Ctrl-C; its database is PREFECT_HOME/prefect.db
    unless PREFECT_SERVER_DATABASE_CONNECTION_URL says otherwise."""
    import subprocess
    import sys

    url = _ui_url(host, port)
    console.print(
        escape(
            (f"Prefect UI: {url}   " if ui else "") + f"API: {url}/api   (PREFECT_HOME={os.environ['PREFECT_HOME']})"
        ),
        highlight=False,
    )
    console.print(
        escape(
            f"in another terminal: export PREFECT_API_URL={url}/api; then `cxloop serve`, or "
            "`prefect deploy --all` and `prefect worker start --pool cxloop`"
        ),
        highlight=False,
    )
    args = [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]
    proc = subprocess.Popen(args + ([] if ui else ["--no-ui"]))
    try:
        code = proc.wait()
    except KeyboardInterrupt:  # the server got the same Ctrl-C: let it shut down
        code = proc.wait()
    raise typer.Exit(code)
