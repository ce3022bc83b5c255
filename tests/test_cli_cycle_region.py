"""`cxloop cycle --region`: an unknown region is refused before Prefect starts; a region's
rerun says that the national figures were not refreshed."""

from typer.testing import CliRunner

from cxloop.cli import app

runner = CliRunner()


def test_unknown_region_is_refused_naming_it(env):
    result = runner.invoke(app, ["cycle", "--quarter", "2026Q2", "--region", "99"])
    assert result.exit_code == 2
    assert "unknown region '99'" in result.output and "52" in result.output
    assert not any(env.out_dir.rglob("*.pdf"))


def _summary(region):
    return {
        "quarter": "2026Q2",
        "region": region,
        "national_refreshed": region is None,
        "intake": {"received": 0, "accepted": 0, "quarantined": 0, "duplicates": 0, "files": 0},
        "files": [],
        "index": {},
        "top_pain_points": [],
        "measures_proposed": [],
        "effects": [],
        "reports": [],
        "register": {"xlsx": "out/register/measures_2026Q2.xlsx"},
    }


def test_a_region_rerun_says_national_figures_were_not_refreshed():
    from cxloop.cli.common import console
    from cxloop.cli.data import print_cycle
    from flows.cycle_summary import summary_markdown

    with console.capture() as cap:
        print_cycle(_summary("52"))
    assert "national figures not refreshed: only region 52 was recomputed" in cap.get()
    assert "National figures were not refreshed by this run" in summary_markdown(_summary("52"))
    with console.capture() as cap:
        print_cycle(_summary(None))
    assert "not refreshed" not in cap.get() and "not refreshed" not in summary_markdown(_summary(None))
