"""Typed flow parameters shared by every deployment, so the Prefect UI shows forms.

Prefect builds each deployment's parameter schema (JSON Schema, through pydantic)
from the flow's signature; the UI renders that schema as the run form, and with
``enforce_parameter_schema: true`` (set for every deployment in ``prefect.yaml``) the
server refuses a run whose parameters do not fit it. So the types here are what a
user meets in the UI:

* :data:`Quarter` – a text field with the pattern ``^\\d{4}Q[1-4]$`` (``2026Q3``);
  ``2026Q5`` or ``26Q3`` are refused by the server before any run exists, and by
  Prefect's own parameter validation when a flow is called from Python.
* :data:`Region` – a choice among the region codes of the configured office registry
  (``config/offices.csv`` under ``CXLOOP_CONFIG_DIR``), read once when this module is
  imported (by ``prefect deploy`` when it builds the schema, by the worker when it
  loads the flow). The value is checked again against the registry *as it is when
  the run starts* (:func:`check_region`), with a message naming the configured
  regions; when the registry cannot be read at import time the field is plain text
  and only that run-time check applies.
* :data:`Lang` – the report languages, ``ru``, ``en``, ``fi`` (the same as
  :data:`cxloop.domain.LANGUAGES`).
* :data:`Channel` – the feedback channels (:data:`cxloop.domain.CHANNELS`).

Booleans (``send_reports``, ``dry_run``...) are plain ``bool`` parameters: the UI
shows a switch.

It also holds the pull step of ``prefect.yaml``, :func:`set_project_directory`: where
a worker's flow run starts (the project folder, or ``CXLOOP_HOME`` when set). It lives
here because the step runs before the flow's code is loaded and this module imports
nothing heavy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema

from cxloop import domain

QUARTER_PATTERN = r"^\d{4}Q[1-4]$"

Quarter = Annotated[
    str,
    StringConstraints(pattern=QUARTER_PATTERN),
    Field(description="the quarter as YYYYQn, e.g. 2026Q3", examples=["2026Q3"]),
]
"""A quarter as ``YYYYQn`` (upper-case ``Q``, quarter 1 to 4)."""

QuarterText = Quarter  # the name flows/register.py and flows/delivery.py used first

Lang = Literal["ru", "en", "fi"]
"""Language of reports and e-mails."""

Channel = Literal["star_survey", "review_book", "pos", "social", "contact_center", "interview_followup"]
"""A feedback channel id (the prefix of a drop file's name)."""


def configured_regions(config_dir: Path | str | None = None) -> tuple[str, ...]:
    """The region codes of the office registry ``<config_dir>/offices.csv``, sorted.

    ``config_dir`` defaults to ``CXLOOP_CONFIG_DIR`` (the settings). Raises
    :class:`cxloop.config.ConfigError` when the file is missing or invalid."""
    from cxloop.config import read_offices_csv

    if config_dir is None:
        from cxloop.settings import get_settings

        config_dir = get_settings().config_dir
    return tuple(sorted({o.region_code for o in read_offices_csv(Path(config_dir) / "offices.csv")}))


def _regions_at_import() -> tuple[str, ...]:
    """:func:`configured_regions`, or none when the registry cannot be read now (a broken
    or missing config must not make the flows unimportable; runs then check the
    region when they start)."""
    try:
        return configured_regions()
    except Exception:
        return ()


def check_region(code: str) -> str:
    """``code`` when it is a region of the configured office registry, else ``ValueError``
    naming the configured regions (read now, so a registry edited after the flows were
    imported is honoured). The comparison and the message are :func:`cxloop.domain.check_region`."""
    return domain.check_region(code, configured_regions())


REGIONS: tuple[str, ...] = _regions_at_import()
"""The region codes as read when this module was imported (the UI's choice list)."""

_REGION_SCHEMA: dict = {"type": "string", "description": "region code from the office registry (config/offices.csv)"}
if REGIONS:
    _REGION_SCHEMA["enum"] = list(REGIONS)

Region = Annotated[str, AfterValidator(check_region), WithJsonSchema(_REGION_SCHEMA)]
"""A region code: a choice among :data:`REGIONS` in the UI, checked against the registry at run time."""

Seconds = Annotated[int, Field(ge=0, description="seconds; 0 switches it off")]
"""A duration in whole seconds, 0 or more."""


PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The project folder this code is installed from (it holds ``flows/`` and ``prefect.yaml``)."""

HOME_SETTING = "CXLOOP_HOME"


def set_project_directory(directory: str | None = None) -> dict[str, str]:
    """Pull step of ``prefect.yaml``: make the flow run's working directory the project.

    A process worker starts each flow run in a new temporary folder and then loads the
    deployment's entrypoint (``flows/quarterly_cycle.py``) relative to the working
    directory this step leaves. ``directory`` is ``{{ $CXLOOP_HOME }}`` filled from the
    worker's environment; unset or empty, the run goes to :data:`PROJECT_ROOT` (the
    folder the worker imports ``flows`` from, so the code loaded and the code imported
    are the same). A ``directory`` without ``flows/`` in it fails the run at once with a
    ``ValueError`` naming ``CXLOOP_HOME``. Returns ``{"directory": <the folder>}``."""
    import os

    target = Path(directory).expanduser() if directory and directory.strip() else PROJECT_ROOT
    if not (target / "flows").is_dir():
        raise ValueError(
            f"{HOME_SETTING}={directory}: not the cxloop project folder (no flows/ in it); point {HOME_SETTING} "
            f"at the folder holding prefect.yaml, or unset it to run the flows from {PROJECT_ROOT}"
        )
    os.chdir(target)
    _reload_after_chdir()
    return {"directory": str(target.resolve())}


def _reload_after_chdir() -> None:
    """Settings were read (with the ``.env`` of the worker's temporary folder) when this
    module was imported for the pull step: read them again in the project. (:data:`REGIONS`
    may have been read there too, empty: it only shapes the UI's form, which the server
    keeps from ``prefect deploy``; runs check the region against the registry anyway.)"""
    from cxloop.settings import reset_settings_cache

    reset_settings_cache()
