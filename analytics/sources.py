"""Reading an uploaded or exported file into a staged table of text columns, whatever its format.

CSV (any delimiter; UTF-8, UTF-8 with a BOM, or CP949 / EUC-KR as Korean Excel writes it), Excel
(.xlsx, .xls, .ods through python-calamine) and Parquet. DuckDB cannot load its encodings or Excel
extensions here, so a CSV that is not UTF-8 is transcoded in a streaming pass into a temporary UTF-8
file first, and an Excel sheet is read by calamine into an Arrow table. Every value is staged as text
in the table `import_staging_text`, and the view `import_staging` adds each row's 1-based data row number
as `_row`, so validation can name the row of the original file.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from analytics.errors import BadInput
from analytics.sql import quote_ident, quote_literal

STAGE_TABLE = "import_staging"  # a view of TEXT_TABLE with `_row`
TEXT_TABLE = "import_staging_text"
ROW = "_row"
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
PARQUET_SUFFIXES = (".parquet", ".pq")
_CHUNK = 1 << 20
_SNIFF_CHARS = 1 << 16
_CSV_BUFFER = 8 << 20  # DuckDB's default (32 MiB) alone exceeds a small memory limit
_FALLBACK_ENCODING = "cp949"  # a superset of EUC-KR: what Korean Excel writes


def stage_file(con: duckdb.DuckDBPyConnection, source: Path, name: str, *, encoding: str | None = None,
               sheet: str | None = None) -> list[str]:
    """Create temp view `import_staging` (text columns + `_row`) from `source`; return the file's headers."""
    suffix = source.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        headers = _stage_excel(con, source, name, sheet)
    elif suffix in PARQUET_SUFFIXES:
        headers = _stage_query(con, "read_parquet(?)", [str(source)], name, "Parquet")
    else:
        with _utf8_copy(source, name, encoding) as readable:
            headers = _stage_csv(con, readable, name)
    # Row numbers: insertion order of a committed table is the file's order, so a row's rowid is its
    # position; a view reads it for free where storing it would rewrite every row.
    con.execute(f"CREATE TEMP VIEW {STAGE_TABLE} AS SELECT rowid + 1 AS {ROW}, * FROM temp.{TEXT_TABLE}")
    return headers


def untrimmed_sql(text: str) -> str:
    """SQL true when `trim` would leave the text `text` as it is: trim removes spaces (Unicode category Zs),
    and an ASCII text (as many bytes as characters) has only ' ' among them."""
    return f"(strlen({text}) = length({text}) AND NOT (starts_with({text}, ' ') OR ends_with({text}, ' ')))"


def value_sql(text: str) -> str:
    """SQL for `nullif(trim(text), '')`, the value a text holds, without the copy trim makes of every text
    when there is nothing to trim (and without the second evaluation nullif makes of its argument)."""
    return f"CASE WHEN {untrimmed_sql(text)} THEN nullif({text}, '') ELSE nullif(trim({text}), '') END"


def drop_staged(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the staged file, if there is one."""
    con.execute(f"DROP VIEW IF EXISTS temp.{STAGE_TABLE}")
    con.execute(f"DROP TABLE IF EXISTS temp.{TEXT_TABLE}")


def _stage_query(con: duckdb.DuckDBPyConnection, reader: str, params: list[object], name: str, what: str) -> list[str]:
    try:
        headers = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {reader}", params).fetchall()]
        _check_headers(headers, name)
        as_text = ", ".join(f"CAST({quote_ident(h)} AS VARCHAR) AS {quote_ident(h)}" for h in headers)
        con.execute(f"CREATE TEMP TABLE {TEXT_TABLE} AS SELECT {as_text} FROM {reader}", params)
    except duckdb.Error as error:
        first_line = str(error).strip().splitlines()[0]
        raise BadInput(f"cannot be read as {what}: {first_line}", file=name) from error
    return headers


def _check_headers(headers: list[str], name: str) -> None:
    if ROW in headers:
        raise BadInput(f"the column name '{ROW}' is reserved; rename that column", file=name)
    repeated = sorted({h for h in headers if headers.count(h) > 1})
    if repeated:
        raise BadInput(f"has repeated column names: {', '.join(repeated)}", file=name)


def _stage_csv(con: duckdb.DuckDBPyConnection, path: Path, name: str) -> list[str]:
    """Stage a UTF-8 CSV: delimiter sniffed from its start, header read here, every row checked by DuckDB.

    The dialect is fixed (standard double quotes, strict mode) so that a short row or a quote that is
    never closed is an error naming its line, not a silently shifted column.
    """
    with path.open(encoding="utf-8-sig", newline="") as handle:
        sample = handle.read(_SNIFF_CHARS)
    first_line = sample.splitlines()[0] if sample.strip() else ""
    try:
        delimiter = csv.Sniffer().sniff(sample if "\n" in sample else first_line, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = next((d for d in ",;\t|" if d in first_line), ",")
    try:
        header = next(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter), [])
    except csv.Error as error:
        raise BadInput(f"its header line cannot be read as CSV: {error}", file=name) from error
    if not any(h.strip() for h in header):
        raise BadInput("has no header line naming its columns", file=name)
    headers = [h.strip() or f"column{i + 1}" for i, h in enumerate(header)]
    _check_headers(headers, name)
    columns = "{" + ", ".join(f"{quote_literal(h)}: 'VARCHAR'" for h in headers) + "}"
    reader = (f"read_csv(?, auto_detect = false, header = true, delim = {quote_literal(delimiter)}, quote = '\"', "
              f"escape = '\"', strict_mode = true, buffer_size = {_CSV_BUFFER}, columns = {columns})")
    try:
        con.execute(f"CREATE TEMP TABLE {TEXT_TABLE} AS SELECT * FROM {reader}", [str(path)])
    except duckdb.Error as error:
        raise _csv_error(str(error), name) from error
    return headers


def _csv_error(text: str, name: str) -> BadInput:
    """DuckDB's CSV error as a message naming the line and what is wrong with it."""
    line = re.search(r"CSV Error on Line: (\d+)", text)
    columns = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if columns:
        problem = f"has {columns.group(2)} values where the header has {columns.group(1)} columns"
    elif "unterminated quote" in text:
        problem = 'has a quote (") that is never closed'
    else:
        problem = "cannot be read: " + text.strip().splitlines()[0]
    if line:
        return BadInput(problem, file=name, row=int(line.group(1)) - 1)
    return BadInput(f"cannot be read as CSV: {problem}", file=name)


def _stage_excel(con: duckdb.DuckDBPyConnection, source: Path, name: str, sheet: str | None) -> list[str]:
    """Read one sheet (the first unless named) with calamine; its first row is the header."""
    import pyarrow as pa
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(source))
    except Exception as error:  # calamine raises its own error types for every broken workbook
        raise BadInput(f"cannot be read as a spreadsheet: {error}", file=name) from error
    if sheet is not None and sheet not in book.sheet_names:
        raise BadInput(f"has no sheet '{sheet}' (sheets: {', '.join(book.sheet_names)})", file=name)
    rows = book.get_sheet_by_name(sheet or book.sheet_names[0]).to_python(skip_empty_area=True)
    if not rows:
        raise BadInput("the sheet is empty", file=name)
    headers = [_cell_text(h) or f"column{i + 1}" for i, h in enumerate(rows[0])]
    _check_headers(headers, name)
    columns = {h: [_cell_text(r[i]) if i < len(r) else None for r in rows[1:]] for i, h in enumerate(headers)}
    table = pa.table({h: pa.array(v, type=pa.string()) for h, v in columns.items()})
    con.register("excel_sheet", table)
    try:
        con.execute(f"CREATE TEMP TABLE {TEXT_TABLE} AS SELECT * FROM excel_sheet")
    finally:
        con.unregister("excel_sheet")
    return headers


def _cell_text(value: object) -> str | None:
    """A spreadsheet cell as the text a CSV export would hold (dates in ISO form, 12.0 as 12)."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    return str(value)


@contextmanager
def _utf8_copy(source: Path, name: str, encoding: str | None) -> Iterator[Path]:
    """The file itself when it is UTF-8, else a temporary UTF-8 transcode of it."""
    chosen = _detect_encoding(source, name) if encoding is None else _known_encoding(encoding)
    if chosen in ("utf-8", "utf-8-sig"):
        yield source
        return
    with tempfile.TemporaryDirectory(prefix="import-") as folder:
        target = Path(folder) / "transcoded.csv"
        _transcode(source, target, chosen, name)
        yield target


def _known_encoding(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError as error:
        raise BadInput(f"unknown encoding '{encoding}'; try utf-8, cp949 or euc-kr") from error


def _detect_encoding(source: Path, name: str) -> str:
    """UTF-8 when every byte decodes as UTF-8, else CP949 when every byte decodes as that; else refuse."""
    with source.open("rb") as handle:
        head = handle.read(_CHUNK)
    if b"\x00" in head:
        raise BadInput("is a binary file (it contains NUL bytes), not a CSV text file", file=name)
    utf8 = _first_undecodable(source, "utf-8")
    if utf8 is None:
        return "utf-8"
    if _first_undecodable(source, _FALLBACK_ENCODING) is None:
        return _FALLBACK_ENCODING
    offset, line = utf8
    raise BadInput(f"line {line} is neither UTF-8 nor CP949 (byte offset {offset}); the file mixes encodings "
                   "or is not text: save it as UTF-8, or give --encoding", file=name)


def _first_undecodable(source: Path, encoding: str) -> tuple[int, int] | None:
    """(byte offset, line) of the first byte that does not decode in `encoding`, streaming; None if all do.

    A chunk of ASCII with no sequence left open before it decodes in any encoding we accept, so it is
    only tested (bytes.isascii is about 10x faster than decoding it); lines are counted once a bad byte
    is found, not along the way.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with source.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            if not chunk.isascii() or decoder.getstate()[0]:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as error:
                    return offset + error.start, _line_at(source, offset + error.start)
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset, _line_at(source, offset)
    return None


def _line_at(source: Path, offset: int) -> int:
    """The line (from 1) holding byte `offset` of `source`."""
    lines, read = 1, 0
    with source.open("rb") as handle:
        while read < offset and (chunk := handle.read(min(_CHUNK, offset - read))):
            lines += chunk.count(b"\n")
            read += len(chunk)
    return lines


def _transcode(source: Path, target: Path, encoding: str, name: str) -> None:
    """Stream `source` from `encoding` into UTF-8 at `target`."""
    decoder = codecs.getincrementaldecoder(encoding)()
    with source.open("rb") as reading, target.open("w", encoding="utf-8", newline="") as writing:
        try:
            while chunk := reading.read(_CHUNK):
                writing.write(decoder.decode(chunk))
            writing.write(decoder.decode(b"", final=True))
        except UnicodeDecodeError as error:
            raise BadInput(f"is not valid {encoding}: {error.reason}", file=name) from error
