"""The DuckDB -> ClickHouse rewrite rules, one test each: what the translation says (text only; what it
computes on the real engine is tests/parity/test_rules.py)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from analytics.clickhouse.translate import (
    RULES,
    UntranslatableSQL,
    clickhouse_type,
    named_params,
    translate,
)


def ch(sql: str, types: dict[str, str] | None = None, lists: tuple[str, ...] = ()) -> str:
    """The translation on one line."""
    return " ".join(translate(sql, types or {}, lists).split()).replace("( ", "(").replace(" )", ")")


def test_every_rule_says_why_it_exists() -> None:
    assert all(rule.__doc__ and len(rule.__doc__) > 40 for rule in RULES)


def test_parameters_are_typed_placeholders_never_text() -> None:
    sql = ch("SELECT x FROM t WHERE a = $name AND b IN (SELECT unnest($names))",
             {"name": "String", "names": "Array(String)"})
    assert sql == "SELECT x FROM t WHERE a = {name:String} AND b IN (SELECT arrayJoin({names:Array(String)}))"


def test_question_marks_are_numbered_in_the_order_of_the_text() -> None:
    sql = ch("SELECT '?' AS q, ?::VARCHAR AS v FROM t WHERE x > ? AND y IN (SELECT unnest(?)) -- ?",
             {"p1": "String", "p2": "Int64", "p3": "Array(String)"})
    assert "CAST({p1:String} AS Nullable(String)) AS v" in sql and "x > {p2:Int64}" in sql
    assert "arrayJoin({p3:Array(String)})" in sql and "'?' AS q" in sql


def test_a_parameter_without_a_value_is_refused() -> None:
    with pytest.raises(UntranslatableSQL, match=r"\$missing"):
        translate("SELECT $missing")


def test_parameter_types_follow_the_python_values() -> None:
    values = named_params([datetime(2026, 1, 2, 3, 4), date(2026, 1, 2), 3, 0.5, True, None, ["a", None]])
    assert [clickhouse_type(v) for v in values.values()] == [
        "DateTime64(6)", "Date32", "Int64", "Float64", "Bool", "Nullable(String)", "Array(Nullable(String))"]


def test_boolean_columns_are_cast_to_bool() -> None:
    assert ch("SELECT a < b AS late, coalesce(bool_or(x), false) AS any_x, n FROM t") == (
        "SELECT CAST(a < b AS Nullable(Bool)) AS late, CAST(COALESCE(MAX(x), FALSE) AS Nullable(Bool)) AS any_x, n FROM t")


def test_qualified_columns_keep_their_own_name() -> None:
    assert ch("SELECT e.unit_id, e.* FROM e JOIN f USING (unit_id)") == (
        "SELECT e.unit_id AS unit_id, e.* FROM e JOIN f USING (unit_id)")


def test_continuous_quantiles_and_median_are_exact() -> None:
    assert ch("SELECT quantile_cont(x, 0.9) FILTER (WHERE ok), median(x) FROM t") == (
        "SELECT quantileExactInclusive(0.9)(x) FILTER(WHERE ok), quantileExactInclusive(0.5)(x) FROM t")


def test_discrete_quantiles_pick_a_value_from_the_sorted_values() -> None:
    sql = ch("SELECT quantile_disc(x, 0.25) FILTER (WHERE ok) FROM t")
    assert "arraySort(groupArray(x) FILTER(WHERE ok))" in sql and "quantile" not in sql.lower()


def test_round_rounds_half_away_from_zero() -> None:
    assert ch("SELECT round(x, 2) FROM t") == (
        "SELECT (CASE WHEN (x * 100.0) < 0 THEN -floor(0.5 - (x * 100.0)) ELSE floor((x * 100.0) + 0.5) END) / 100.0 FROM t")


def test_date_trunc_stays_a_timestamp() -> None:
    assert ch("SELECT date_trunc('week', t), date_trunc($p, t) FROM x", {"p": "String"}) == (
        "SELECT toDateTime64(dateTrunc('week', t), 6), toDateTime64(dateTrunc({p:String}, t), 6) FROM x")


def test_list_position_is_null_when_missing() -> None:
    assert ch("SELECT list_position($l, x) FROM t", {"l": "Array(String)"}) == (
        "SELECT nullIf(indexOf({l:Array(String)}, x), 0) FROM t")


def test_interval_functions() -> None:
    assert ch("SELECT t + to_months(1) + to_seconds(2) + to_days(3) FROM x") == (
        "SELECT t + toIntervalMonth(1) + toIntervalSecond(2) + toIntervalDay(3) FROM x")


def test_date_differences_are_days() -> None:
    assert ch("SELECT a::DATE - b::DATE FROM t") == (
        "SELECT dateDiff('day', CAST(b AS Nullable(Date32)), CAST(a AS Nullable(Date32))) FROM t")


def test_counts_are_signed() -> None:
    assert ch("SELECT count(*), count(x) FILTER (WHERE y), count(*) OVER () FROM t") == (
        "SELECT toInt64(COUNT(*)), toInt64(COUNT(x) FILTER(WHERE y)), toInt64(COUNT(*) OVER ()) FROM t")


def test_map_functions() -> None:
    assert ch("SELECT DISTINCT unnest(map_keys(m)) FROM t") == "SELECT DISTINCT arrayJoin(mapKeys(m)) FROM t"


def test_epoch_functions() -> None:
    assert ch("SELECT epoch_us(t) FROM x") == "SELECT toUnixTimestamp64Micro(t) FROM x"


def test_bit_operators_are_functions() -> None:
    assert ch("SELECT 1::BIGINT << i, p & 2, p | 1 FROM t") == (
        "SELECT bitShiftLeft(CAST(1 AS Nullable(Int64)), i), bitAnd(p, 2), bitOr(p, 1) FROM t")


def test_boolean_aggregates() -> None:
    assert ch("SELECT bool_or(x) AS a, bool_and(x) AS b FROM t") == (
        "SELECT CAST(MAX(x) AS Nullable(Bool)) AS a, CAST(MIN(x) AS Nullable(Bool)) AS b FROM t")


def test_series_become_ranges() -> None:
    assert ch("SELECT step FROM generate_series(1, $n) AS steps(step)", {"n": "Int64"}) == (
        "SELECT step FROM (SELECT arrayJoin(range(1, {n:Int64} + 1)) AS step) AS steps")
    assert ch("SELECT unnest(range(0, 3))") == "SELECT arrayJoin(range(0, 3))"


def test_ordered_first_is_arg_min_over_the_sort_key() -> None:
    assert ch("SELECT first(x ORDER BY c NULLS LAST, id) FROM t") == (
        "SELECT tupleElement(argMin(tuple(x), (isNull(c), assumeNotNull(c), isNull(id), assumeNotNull(id))), 1) FROM t")
    with pytest.raises(UntranslatableSQL, match="DESC"):
        translate("SELECT first(x ORDER BY c DESC) FROM t")


def test_string_agg_of_distinct_sorted_values() -> None:
    assert ch("SELECT string_agg(DISTINCT m, ', ' ORDER BY m) FROM t") == (
        "SELECT CASE WHEN COUNT(m) = 0 THEN NULL ELSE arrayStringConcat(arraySort(groupUniqArray(m)), ', ') END FROM t")


def test_list_aggregates() -> None:
    assert ch("SELECT list_sort(list(DISTINCT m)), list(m) FROM t") == (
        "SELECT arraySort(groupUniqArray(m)), groupArray(m) FROM t")


def test_lists_are_never_null() -> None:
    assert ch("SELECT CASE WHEN c THEN [a] END, coalesce(l, [a]) FROM t") == (
        "SELECT CASE WHEN c THEN [a] ELSE [] END, CASE WHEN notEmpty(l) THEN l ELSE [a] END FROM t")


def test_a_null_list_column_is_an_empty_array() -> None:
    assert ch("SELECT l IS NULL, l IS NOT NULL, x IS NULL FROM t", lists=("l",)) == (
        "SELECT CAST(empty(l) AS Nullable(Bool)), CAST(NOT empty(l) AS Nullable(Bool)), "
        "CAST(x IS NULL AS Nullable(Bool)) FROM t")


def test_list_functions() -> None:
    assert ch("SELECT len(l), list_sum(l), list_bool_or(l) AS b, l[1], l[i] FROM t") == (
        "SELECT toInt64(length(l)), arraySum(l), CAST(arrayExists(x -> x, l) AS Nullable(Bool)) AS b, "
        "arrayElementOrNull(l, 1), arrayElementOrNull(l, i) FROM t")


def test_an_index_computed_from_a_length_stays_one_based() -> None:
    # sqlglot's DuckDB parser makes an index it types as an integer 0-based (`len(l) + -1`): put back as it was
    assert ch("SELECT l[len(l)] FROM t") == "SELECT arrayElementOrNull(l, toInt64(length(l)) + 0) FROM t"


def test_lambdas_with_an_index_get_the_indexes() -> None:
    assert ch("SELECT list_filter(v, lambda x, i: w[i] = 1) FROM t") == (
        "SELECT arrayFilter((x, i) -> arrayElementOrNull(w, i) = 1, v, arrayEnumerate(v)) FROM t")


def test_a_missing_map_key_is_null() -> None:
    assert ch("SELECT m[$k::VARCHAR] FROM t", {"k": "String"}) == (
        "SELECT CASE WHEN mapContains(m, CAST({k:String} AS Nullable(String))) "
        "THEN m[CAST({k:String} AS Nullable(String))] ELSE NULL END FROM t")


def test_time_types_keep_microseconds_and_old_dates() -> None:
    assert ch("SELECT CAST(x AS TIMESTAMP), x::DATE, NULL::TIMESTAMP FROM t") == (
        "SELECT CAST(x AS Nullable(DateTime64(6))), CAST(x AS Nullable(Date32)), CAST(NULL AS Nullable(DateTime64(6))) FROM t")


def test_a_parameter_indexed_by_an_expression_of_parameters_is_read() -> None:
    sql = ch("SELECT coalesce($points[list_position($levels, x)], 0) FROM t",
             {"points": "Array(Float64)", "levels": "Array(String)"})
    assert sql == ("SELECT COALESCE(arrayElementOrNull({points:Array(Float64)}, "
                   "nullIf(indexOf({levels:Array(String)}, x), 0)), 0) FROM t")


def test_rounding_a_sum_rounds_the_whole_sum() -> None:
    assert ch("SELECT round(a + b, 2)") == (
        "SELECT (CASE WHEN ((a + b) * 100.0) < 0 THEN -floor(0.5 - ((a + b) * 100.0)) "
        "ELSE floor(((a + b) * 100.0) + 0.5) END) / 100.0")


def test_lead_and_lag_past_the_partition_are_null() -> None:
    assert ch("SELECT lead(t) OVER (PARTITION BY id ORDER BY t), lag(t, 2, x) OVER (ORDER BY t)") == (
        "SELECT lead(toNullable(t)) OVER (PARTITION BY id ORDER BY t), lag(t, 2, x) OVER (ORDER BY t)")


def test_ranks_are_signed() -> None:
    assert ch("SELECT row_number() OVER (ORDER BY t) AS step, dense_rank() OVER (ORDER BY t) FROM e") == (
        "SELECT toInt64(ROW_NUMBER() OVER (ORDER BY t)) AS step, toInt64(DENSE_RANK() OVER (ORDER BY t)) FROM e")


def test_unnest_with_its_subscripts_is_one_array_join() -> None:
    assert ch("SELECT unnest($r) AS reason, generate_subscripts($r, 1) AS o", {"r": "Array(String)"}) == (
        "SELECT arrayElementOrNull({r:Array(String)}, o) AS reason, arrayJoin(arrayEnumerate({r:Array(String)})) AS o")


def test_epoch_keeps_the_fraction_of_a_second() -> None:
    assert ch("SELECT epoch(t) - epoch(s)") == (
        "SELECT toUnixTimestamp64Micro(toDateTime64(t, 6)) / 1e6 - toUnixTimestamp64Micro(toDateTime64(s, 6)) / 1e6")
