"""Where the project's own data folders are, in one place.

The product reads a few folders that live next to the packages in the
repository (an editable install runs from there): expectation suites,
report templates, the default configuration and the message catalogs.
Modules take their paths from here instead of counting ``parents[...]``
from their own location, which breaks whenever a module moves.
"""

from __future__ import annotations

from pathlib import Path

#: The repository root (the folder holding ``cxloop/``, ``tasks/``, ``flows/``...).
ROOT = Path(__file__).resolve().parent.parent
#: Great Expectations suites as JSON, one per source and for the register import.
EXPECTATIONS_DIR = ROOT / "expectations"
#: Jinja2 templates of the PDF report and the e-mail.
TEMPLATES_DIR = ROOT / "templates"
#: The default configuration shipped with the project (themes, channels, thresholds...).
DEFAULT_CONFIG_DIR = ROOT / "config"
#: gettext catalogs of the report languages.
LOCALE_DIR = ROOT / "locale"
