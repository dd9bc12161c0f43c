"""The reviewed ClickHouse translation of every analytics query, kept in `analytics/clickhouse_sql/`.

`capture` runs every scenario (`analytics.clickhouse.scenarios`) on a DuckDB warehouse through a
`RecordingConnection`, which notes each query with the analytics function that executed it; `render`
translates each one into a file named after that function (`funnel._step_counts.sql`, numbered
`.1.sql`, `.2.sql` ... in order of first use when one function runs several queries). A test renders
them again and fails when anything differs, so a change of translation (new SQL, a new rule, a new
sqlglot) is seen and reviewed. Regenerate after such a change with:

    .venv/bin/python -m analytics.clickhouse.golden
"""

from __future__ import annotations

import inspect
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analytics.clickhouse.scenarios import AS_OF, SCENARIOS
from analytics.clickhouse.translate import (
    UntranslatableSQL,
    named_params,
    param_types,
    translate,
)

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "clickhouse_sql"
DEMO_LEADS = 400
_HEADER = "-- {caller}: ClickHouse translation of its DuckDB query ({command} regenerates this file)\n"
COMMAND = "python -m analytics.clickhouse.golden"


@dataclass(frozen=True)
class Query:
    """One query as an analytics function executed it: who, the DuckDB SQL, its parameters' ClickHouse types."""

    caller: str
    sql: str
    types: tuple[tuple[str, str], ...]
    lists: frozenset[str]


class RecordingConnection:
    """Wraps a connection and notes every query executed through it, with the analytics function that did."""

    def __init__(self, con: Any) -> None:
        self._con = con
        self.queries: list[Query] = []
        self._lists = list_columns(con)

    def execute(self, sql: str, params: Mapping[str, object] | Sequence[object] | None = None) -> Any:
        query = Query(_caller(), sql, param_types(named_params(params)), self._lists)
        if query not in self.queries:
            self.queries.append(query)
        return self._con.execute(sql, params) if params is not None else self._con.execute(sql)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def list_columns(con: Any) -> frozenset[str]:
    """Names of the DuckDB warehouse's list columns, as `ClickHouseConnection.list_columns` finds them."""
    rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' "
                       "GROUP BY column_name HAVING count(*) FILTER (WHERE data_type LIKE '%[]') = count(*)").fetchall()
    return frozenset(r[0] for r in rows)


def _caller() -> str:
    """`module.function` of the nearest analytics function on the stack outside this package."""
    for frame in inspect.stack()[2:]:
        module = frame.frame.f_globals.get("__name__", "")
        if (module.startswith("analytics.") and not module.startswith("analytics.clickhouse")
                and not frame.function.startswith("<")):  # a comprehension counts as its function
            return f"{module.removeprefix('analytics.')}.{frame.function}"
    return "unknown"


def capture(con: Any) -> list[Query]:
    """The distinct queries every scenario executes on `con`, in order of first use."""
    recording = RecordingConnection(con)
    for scenario in SCENARIOS.values():
        scenario(recording)
    return recording.queries


def render(queries: list[Query]) -> dict[str, str]:
    """File name -> contents: the ClickHouse translation of each query, named after its function."""
    by_caller: dict[str, list[Query]] = {}
    for query in queries:
        by_caller.setdefault(query.caller, []).append(query)
    files = {}
    for caller, found in by_caller.items():
        for number, query in enumerate(found, start=1):
            name = f"{caller}.{number}.sql" if len(found) > 1 else f"{caller}.sql"
            try:
                body = translate(query.sql, query.types, query.lists)
            except UntranslatableSQL as error:
                body = f"-- UNTRANSLATABLE: {error}"
            files[name] = _HEADER.format(caller=f"analytics.{caller}", command=COMMAND) + body + "\n"
    return files


def demo_queries() -> list[Query]:
    """The queries of every scenario on a fresh demo warehouse of `DEMO_LEADS` leads ending on the as-of date."""
    from analytics.demo import generate
    from analytics.warehouse import writer

    with tempfile.TemporaryDirectory() as folder, writer(Path(folder) / "demo.duckdb") as con:
        generate(con, leads=DEMO_LEADS, seed=5, end=AS_OF)
        return capture(con)


def write(files: Mapping[str, str], folder: Path = GOLDEN_DIR) -> None:
    """Replace the golden files with `files` (stale ones removed)."""
    folder.mkdir(exist_ok=True)
    for stale in {p.name for p in folder.glob("*.sql")} - set(files):
        (folder / stale).unlink()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def main() -> int:
    files = render(demo_queries())
    write(files)
    untranslatable = [n for n, t in files.items() if "UNTRANSLATABLE" in t]
    print(f"Wrote {len(files)} translations to {GOLDEN_DIR}" + (f"; untranslatable: {', '.join(untranslatable)}"
                                                              if untranslatable else "."))
    return 0


if __name__ == "__main__":
    sys.exit(main())

