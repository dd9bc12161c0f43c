"""The corpus of broken files under tests/data/broken: each refused with a clear message, nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics import sources
from analytics.errors import BadInput
from analytics.imports import import_file, import_log

BROKEN = Path(__file__).resolve().parents[1] / "data" / "broken"
GOOD = "lead_id,stage,occurred_at\nG1,lead,2026-01-01\nG1,mql,2026-01-05\n"

CASES = [
    ("wrong_columns.csv", "events", "wrong_columns.csv: missing required columns lead_id, stage, occurred_at"),
    ("impossible_date.csv", "events", "impossible_date.csv, row 2 (line 3), column 'occurred_at': '31/02/2026' is not a date or time"),
    ("truncated.csv", "events", "truncated.csv, row 2 (line 3), column 'occurred_at': '2026-01-0' is not a date or time"),
    ("leap_second.csv", "events", "leap_second.csv, row 1 (line 2), column 'occurred_at': '1899-12-31 23:59:60' is not a date"),
    ("negative_spend.csv", "campaigns", "negative_spend.csv, row 2 (line 3), column 'spend': '-5' is negative"),
    ("empty.csv", "events", "empty.csv: the file is empty"),
    ("header_only.csv", "events", "header_only.csv: the file has a header but no data rows"),
    ("binary.csv", "events", "binary.csv: is a binary file (it contains NUL bytes), not a CSV text file"),
    ("mixed_encodings.csv", "events", "mixed_encodings.csv: line 3 is neither UTF-8 nor CP949"),
    ("short_row.csv", "events", "short_row.csv, row 2 (line 3): has 2 values where the header has 3 columns"),
    ("unterminated_quote.csv", "events", 'unterminated_quote.csv, row 1 (line 2): has a quote (") that is never closed'),
]


@pytest.mark.parametrize(("name", "kind", "message"), CASES, ids=[c[0] for c in CASES])
def test_a_broken_file_is_refused_with_its_message_and_the_warehouse_is_unchanged(wcon, write_file, name, kind, message):
    import_file(wcon, "events", write_file("good.csv", GOOD))
    before = {t: wcon.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("events", "campaigns", "imports")}
    with pytest.raises(BadInput) as caught:
        import_file(wcon, kind, BROKEN / name)
    assert str(caught.value).startswith(message)
    after = {t: wcon.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in before}
    assert after == before
    assert import_log(wcon)["file_name"].tolist() == ["good.csv"]


def test_every_file_of_the_corpus_has_a_case():
    assert sorted(p.name for p in BROKEN.iterdir()) == sorted(c[0] for c in CASES)


def test_duplicate_rows_are_not_an_error_but_skipped(wcon, write_file):
    result = import_file(wcon, "events", write_file("dups.csv", GOOD + "G1,lead,2026-01-01\n"))
    assert (result.rows_added, result.rows_skipped) == (2, 1)


def test_formula_like_text_is_stored_as_plain_text(wcon, write_file):
    import_file(wcon, "events", write_file("f.csv", 'lead_id,stage,occurred_at\n"=HYPERLINK(""http://x"",""y"")",lead,2026-01-01\n'))
    assert wcon.execute("SELECT lead_id FROM events").fetchone() == ('=HYPERLINK("http://x","y")',)


@pytest.mark.parametrize(("content", "offsets", "line"), [
    (b"lead_id\nab\xed\x95\x9ccd\n\nxy\xffz\n", (19, 19), 4),  # a character split over chunks, ASCII chunks, a bad byte
    (b"lead_id\nab\xed\x95" + b"abcdefgh", (10, 12), 2),  # a sequence left open before ASCII (its start, or where it broke)
    (b"lead_id\nabc\xed", (12, 12), 2),  # a sequence left open at the end
])
def test_the_first_undecodable_byte_and_its_line_whatever_the_chunks(tmp_path, monkeypatch, content, offsets, line):
    source = tmp_path / "chunks.csv"
    source.write_bytes(content)
    for chunk in (4, 5, 1 << 20):  # chunks that split the file anywhere, and one chunk
        monkeypatch.setattr(sources, "_CHUNK", chunk)
        offset, found_line = sources._first_undecodable(source, "utf-8")
        assert offsets[0] <= offset <= offsets[1] and found_line == line


def test_a_file_of_multibyte_characters_over_many_chunks_decodes(tmp_path, monkeypatch):
    source = tmp_path / "korean.csv"
    source.write_bytes("lead_id\n한글\n".encode() * 3)
    monkeypatch.setattr(sources, "_CHUNK", 4)
    assert sources._first_undecodable(source, "utf-8") is None
    assert sources._first_undecodable(source, "cp949") is not None
