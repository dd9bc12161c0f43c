"""CSV downloads never carry a live spreadsheet formula."""

from __future__ import annotations

import csv
import io

import pandas as pd

from analytics.exports import safe_csv


def test_formula_like_text_is_neutralised_and_numbers_are_kept():
    frame = pd.DataFrame({"lead_id": ['=HYPERLINK("http://evil")', "+1", "-2", "@SUM(A1)", "plain", "\tx"],
                          "value": [1.5, -2.0, 3.0, 4.0, 5.0, 6.0]})
    rows = list(csv.reader(io.StringIO(safe_csv(frame))))
    assert rows[0] == ["lead_id", "value"]
    assert [r[0] for r in rows[1:]] == ['\'=HYPERLINK("http://evil")', "'+1", "'-2", "'@SUM(A1)", "plain", "'\tx"]
    assert [r[1] for r in rows[1:]] == ["1.5", "-2.0", "3.0", "4.0", "5.0", "6.0"]


def test_a_hostile_column_name_is_neutralised_too():
    assert safe_csv(pd.DataFrame({"=cmd": ["a"]})).splitlines()[0] == "'=cmd"
