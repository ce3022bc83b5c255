"""The pandas fast path reads exactly what the csv-module path reads."""

import numpy as np
import pandas as pd
import pytest

from tasks.collect.fast_csv import read_delimited_fast
from tasks.collect.headers import rows_to_frame

HEADER = ["call_id", "call_date", "office_code", "client_type", "rating", "comment"]


def _exact(text, delimiter, mapping):
    import csv
    import io

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = [(reader.line_num, [c.strip() for c in cells]) for cells in reader]
    return rows_to_frame(rows, mapping, "x.csv")


@pytest.mark.parametrize("padded", [True, False])
@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_fast_path_equals_exact_path(config, delimiter, padded):
    rng = np.random.default_rng(3)
    mapping = config.channels["contact_center"]
    lines = ["Выгрузка контакт-центра", "", delimiter.join(HEADER)]
    for i in range(300):
        r = rng.random()
        if r < 0.05:
            lines.append("")
        elif r < 0.07:
            lines.append(delimiter.join(HEADER))
        elif r < 0.09:
            lines.append(delimiter.join([""] * len(HEADER)))
        else:
            lines.append(
                delimiter.join(
                    [
                        f"C{i}",
                        "2026-02-0" + str(1 + i % 9),
                        " 52-01 " if padded else "52-01",
                        "гражданин",
                        str(rng.integers(1, 8)),
                        rng.choice(["", "Долго ждал", "Спасибо!"]),
                    ]
                )
            )
    text = "\r\n".join(lines) + "\r\n" if delimiter == "," else "\n".join(lines) + "\n"
    fast = read_delimited_fast(text, delimiter, mapping, text.encode("utf-8"))
    assert fast is not None
    exact = _exact(text, delimiter, mapping)
    assert fast[1:] == exact[1:]
    pd.testing.assert_frame_equal(
        fast[0][sorted(fast[0].columns)], exact[0][sorted(exact[0].columns)], check_dtype=False
    )


@pytest.mark.parametrize(
    "text",
    [
        'call_id;call_date;office_code;rating\nC1;2026-01-01;52-01;"5"\n',  # quotes: exact path
        "call_id;call_date;office_code;rating\rC1;2026-01-01;52-01;5\r",  # bare CR line ends
        "call_id;call_date;office_code;rating\nC1;2026-01-01;52-01;5;extra;more\n",  # ragged rows
    ],
)
def test_fast_path_declines_what_it_cannot_number_exactly(config, text):
    assert read_delimited_fast(text, ";", config.channels["contact_center"]) is None
