"""What each rewrite rule computes on the real engine: the same DuckDB query on DuckDB and, translated,
on ClickHouse (chdb) gives the same rows. Each query would differ (or fail) without its rule."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime

import duckdb
import pytest

from analytics.clickhouse.connection import ClickHouseConnection, connect

pytestmark = pytest.mark.parity

VALUES = "SELECT unnest([1, 2, 3, 4, 10, 11]) AS x"
TIMES = ("SELECT * FROM (VALUES ('a', TIMESTAMP '2026-03-12 10:00:00', NULL), ('a', TIMESTAMP '2026-03-01 09:00:00', 'x'), "
         "('b', TIMESTAMP '2024-01-31 10:00:00', 'y')) AS e(id, t, v)")
CASES = {
    "round half away from zero": "SELECT round(2.5), round(-2.5), round(12.345::DOUBLE, 2), round(0.125::DOUBLE, 2)",
    "exact continuous quantiles": f"SELECT quantile_cont(x, 0.25), quantile_cont(x, 0.9), median(x) FROM ({VALUES})",
    "discrete quantiles": f"SELECT quantile_disc(x, 0.5), quantile_disc(x, 0.75), quantile(x, 0.1) FROM ({VALUES})",
    "quantile over no rows": f"SELECT quantile_disc(x, 0.5) FILTER (WHERE x > 99), quantile_cont(x, 0.5) FILTER (WHERE x > 99) FROM ({VALUES})",
    "a condition is a boolean": f"SELECT x > 3 AS big, x FROM ({VALUES}) ORDER BY x",
    "date_trunc is a timestamp": f"SELECT date_trunc('week', t) + to_seconds(90), date_trunc('month', t) FROM ({TIMES}) ORDER BY t",
    "calendar months clamp": f"SELECT t + to_months(1) + to_days(1) FROM ({TIMES}) ORDER BY t",
    "date differences": f"SELECT t::DATE - DATE '2024-01-01', datediff('month', t, TIMESTAMP '2026-12-01') FROM ({TIMES}) ORDER BY t",
    "epoch microseconds": f"SELECT (epoch_us(t) - epoch_us(TIMESTAMP '2024-01-01')) / 86400e6 FROM ({TIMES}) ORDER BY t",
    "list position missing is null": "SELECT coalesce(list_position(['a', 'b'], 'c'), 99), list_position(['a', 'b'], 'b')",
    "arg_min skips null values in both": f"SELECT id, arg_min(v, t), arg_max(v, t) FROM ({TIMES}) GROUP BY id ORDER BY id",
    "ordered first": f"SELECT first(v ORDER BY t NULLS LAST), first(v ORDER BY t NULLS LAST) FILTER (WHERE v IS NOT NULL) FROM ({TIMES})",
    "string_agg distinct sorted": f"SELECT string_agg(DISTINCT id, ', ' ORDER BY id), string_agg(DISTINCT id, ', ' ORDER BY id) FILTER (WHERE false) FROM ({TIMES})",
    "series": "SELECT step FROM generate_series(1, 3) AS steps(step) ORDER BY step",
    "bits": "SELECT bit_or(1::BIGINT << x) & 6, bool_or(x > 3), bool_and(x > 3) FROM (SELECT unnest([1, 2, 5]) AS x)",
    "empty aggregate is null": f"SELECT sum(x) FILTER (WHERE x > 99), min(x) FILTER (WHERE x > 99), count(*) FILTER (WHERE x > 99) FROM ({VALUES})",
    "list functions": "SELECT len([1, 2]), list_sum([1, 2]), list_bool_or([false, true]), [5, 6][2], [5, 6][3], "
                      "list_filter([1, 5, 7], lambda v, i: i > 1)[1]",
    "list element at a computed index": "SELECT l[len(l)], l[len(l) - 1], l[len(l) + 1] FROM (SELECT [5, 6, 7] AS l)",
    # a NULL list is [] in ClickHouse: len() is 0 there, NULL in DuckDB; what the queries ask (len > 0) agrees
    "lists never null": "SELECT coalesce(CASE WHEN false THEN [1] END, [2]), coalesce(len(CASE WHEN false THEN [1] END) > 0, false)",
    "missing map key is null": "SELECT map(['a'], ['b'])['c'::VARCHAR], map(['a'], ['b'])['a'::VARCHAR]",
    "parameters": "SELECT ?::VARCHAR || '!', ? + 1",
    "parameter indexed by parameters": "SELECT $points[list_position($levels, 'b')]",
    "round of a sum": "SELECT round(0.5::DOUBLE + 0.004::DOUBLE, 2), round(1.0::DOUBLE - 3.5::DOUBLE)",
    "epoch seconds with fraction": f"SELECT epoch(t) - epoch(TIMESTAMP '2024-01-01 00:00:00.25') FROM ({TIMES}) ORDER BY t",
    # a column that is never NULL (occurred_at): ClickHouse's lead() gave its type's default (0, 1970-01-01)
    "lead and lag past the partition": "SELECT x, lead(x) OVER (ORDER BY x), lag(x, 1) OVER (ORDER BY x) "
                                       "FROM (SELECT unnest([1, 2, 5]) AS x) ORDER BY x",
    "ranks join a BIGINT": f"SELECT x.id, n FROM (SELECT id, row_number() OVER (ORDER BY t) AS n FROM ({TIMES})) x "
                           "JOIN (SELECT 2::BIGINT AS n) y USING (n)",
    "list lengths in a union": "SELECT len([1, 2]) AS n UNION ALL SELECT count(*) FROM (SELECT 1) ORDER BY n",
    "unnest with subscripts": "SELECT * FROM (SELECT unnest(['x', 'y', 'z']) AS v, generate_subscripts(['x', 'y', 'z'], 1) AS i) "
                              "ORDER BY i",
}
PARAMS = {"parameters": ["it's", 41], "parameter indexed by parameters": {"points": [1.5, 2.5], "levels": ["a", "b"]}}


@pytest.fixture(scope="module")
def engine(clickhouse_url: str) -> Iterator[ClickHouseConnection]:
    with connect(clickhouse_url) as con:
        yield con


def _same_rows(duck: list[tuple], ch: list[tuple]) -> bool:
    return len(duck) == len(ch) and all(
        len(a) == len(b) and all(x == y or (isinstance(x, float) and abs(x - y) <= 1e-9 * max(1, abs(x))) for x, y in zip(a, b))
        for a, b in zip(duck, ch))


@pytest.mark.parametrize("name", list(CASES))
def test_rule_computes_what_duckdb_computes(name: str, engine: ClickHouseConnection) -> None:
    params = PARAMS.get(name)
    expected = duckdb.connect().execute(CASES[name], params).fetchall()
    got = engine.execute(CASES[name], params).fetchall()
    assert _same_rows(expected, got), f"{name}: DuckDB {expected}, ClickHouse {got}"


def test_discrete_quantiles_match_for_any_count_and_level(engine: ClickHouseConnection) -> None:
    draw = random.Random(12)
    for _ in range(40):
        values = [draw.randint(0, 50) for _ in range(draw.randint(1, 15))]
        level = draw.choice([0.0, 0.1, 0.25, 1 / 3, 0.5, 0.75, 0.9, 0.99, 1.0])
        sql = f"SELECT quantile_disc(x, {level}), quantile_cont(x, {level}) FROM (SELECT unnest({values}) AS x)"
        expected = duckdb.connect().execute(sql).fetchall()
        assert _same_rows(expected, engine.execute(sql).fetchall()), (values, level)


def test_a_time_parameter_keeps_its_microseconds(engine: ClickHouseConnection) -> None:
    moment = datetime(2026, 11, 1, 23, 59, 59, 999_999)
    assert engine.execute("SELECT $t::TIMESTAMP", {"t": moment}).fetchone() == (moment,)
