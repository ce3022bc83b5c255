"""The quarterly cycle's own state: a rejected file makes the run Partial, the rest still runs."""

GOOD = (
    "call_id,call_date,office_code,client_type,rating,comment\n"
    "c1,2026-02-01,52-01,citizen,5,Спасибо\n"
    "c2,2026-02-02,52-02,citizen,2,Долго ждал ответа по телефону\n"
)


def test_rejected_file_makes_the_cycle_partial(env, prefect_harness):
    from flows.quarterly_cycle import quarterly_cycle

    folder = env.data_dir / "2026Q1"
    folder.mkdir(parents=True)
    (folder / "contact_center_52.csv").write_text(GOOD, encoding="utf-8")
    (folder / "pos_52.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00not json")
    state = quarterly_cycle(quarter="2026Q1", send_reports=False, return_state=True)
    assert state.name == "Partial" and "1 file(s) rejected" in state.message
    summary = state.result()
    assert summary["intake"]["unreadable_files"] == 1 and summary["intake"]["accepted"] == 2
    assert len(summary["reports"]) == 4  # the reports were still written
