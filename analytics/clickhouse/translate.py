"""DuckDB SQL -> ClickHouse SQL: sqlglot's transpiler plus the rewrite rules below.

Every analytics query is written once, in DuckDB SQL. `translate` parses it with sqlglot (pinned in
requirements.txt: a new sqlglot can translate differently, which the golden files in
`analytics/clickhouse_sql/` catch), applies `RULES` in order to the syntax tree, binds the parameters
as typed ClickHouse query parameters and prints ClickHouse SQL.

Plain transpilation runs, but gives different answers in places: each rule fixes one such place,
says why in its docstring, and has a unit test in `tests/analytics/clickhouse/test_translate.py`.
Semantics that differ for the whole session rather than one function (NULLs from outer joins, NULL
for an aggregate over no rows, the time zone) are ClickHouse settings, see `connection.SETTINGS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import ClassVar

from sqlglot import exp, parse_one
from sqlglot.dialects.clickhouse import ClickHouse
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.expressions import apply_index_offset
from sqlglot.tokens import TokenType

Rule = Callable[[exp.Expression], exp.Expression]


class UntranslatableSQL(ValueError):
    """DuckDB SQL that has no faithful ClickHouse translation yet: a new rule is needed."""


class _ClickHouse(ClickHouse):
    """ClickHouse as sqlglot prints it, with query parameters as `{name:Type}` (no space: clickhouse-connect
    reads the type from the text between the colon and the brace)."""

    class Generator(ClickHouse.Generator):
        def placeholder_sql(self, expression: exp.Placeholder) -> str:
            return f"{{{expression.name}:{expression.text('kind')}}}"


class _DuckDB(DuckDB):
    """DuckDB as sqlglot reads it, without dollar-quoted strings (`$tag$text$tag$`, which the analytics never
    write): sqlglot takes `$levels[f($i)]` for the start of one, because it reads the tag up to the next `$`,
    and fails on a parameter indexed by an expression holding another parameter."""

    class Tokenizer(DuckDB.Tokenizer):
        HEREDOC_STRINGS: ClassVar[list[str]] = []


# --- parameters ---------------------------------------------------------------------------------------


def clickhouse_type(value: object) -> str:
    """The ClickHouse type a Python parameter value is bound as.

    >>> clickhouse_type(["mql", "sql"]), clickhouse_type(None), clickhouse_type(True)
    ('Array(String)', 'Nullable(String)', 'Bool')
    """
    if value is None:
        return "Nullable(String)"
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Int64"
    if isinstance(value, float):
        return "Float64"
    if isinstance(value, str):
        return "String"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise UntranslatableSQL(f"a time with a time zone ({value}) cannot be a parameter: give UTC without one")
        return "DateTime64(6)"
    if isinstance(value, date):
        return "Date32"
    if isinstance(value, (list, tuple)):
        inner = {clickhouse_type(v) for v in value if v is not None}
        if len(inner) > 1:
            raise UntranslatableSQL(f"a list parameter mixes types: {sorted(inner)}")
        element = inner.pop() if inner else "String"
        return f"Array({f'Nullable({element})' if None in value else element})"
    raise UntranslatableSQL(f"no ClickHouse type for a parameter of type {type(value).__name__}")


def named_params(params: Mapping[str, object] | Sequence[object] | None) -> dict[str, object]:
    """DuckDB's parameters as ClickHouse names: a `?` list becomes p1, p2 ... in order, a dict stays."""
    if params is None:
        return {}
    if isinstance(params, Mapping):
        return dict(params)
    return {f"p{i}": value for i, value in enumerate(params, start=1)}


def param_types(params: Mapping[str, object]) -> tuple[tuple[str, str], ...]:
    """(name, ClickHouse type) of each parameter, sorted: the part of a call `translate` depends on."""
    return tuple(sorted((name, clickhouse_type(value)) for name, value in params.items()))


# --- helpers for the rules ------------------------------------------------------------------------------


def _call(name: str, *args: exp.Expression | str | float) -> exp.Anonymous:
    """A ClickHouse function call; Python numbers and strings become literals."""
    return exp.Anonymous(this=name, expressions=[_expr(a) for a in args])


def _expr(value: exp.Expression | str | float) -> exp.Expression:
    if isinstance(value, exp.Expression):
        return value
    if isinstance(value, str):
        return exp.Literal.string(value)
    return exp.Literal.number(value)


def _aggregate_rule(name: str, doc: str, kinds: tuple[type[exp.Expression], ...],
                    expand: Callable[[exp.Expression, Callable[[exp.Expression], exp.Expression]], exp.Expression]) -> Rule:
    """A rule (called `name`, documented by `doc`) that replaces an aggregate of `kinds` by an expression of
    several aggregates.

    `expand(node, filtered)` builds the replacement; it passes every aggregate it creates through
    `filtered`, which adds the original `FILTER (WHERE ...)` clause, if any, to each of them.
    """
    def rule(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Filter) and isinstance(node.this, kinds):
            where = node.expression
            return expand(node.this, lambda agg: exp.Filter(this=agg, expression=where.copy()))
        if isinstance(node, kinds) and not isinstance(node.parent, exp.Filter):
            return expand(node, lambda agg: agg)
        return node
    rule.__name__, rule.__doc__ = name, doc
    return rule


def _nullable(clickhouse_type: str) -> exp.DataType:
    """A ClickHouse type that casting NULL to keeps NULL (sqlglot prints it as Nullable(...))."""
    built = exp.DataType.build(clickhouse_type, dialect="clickhouse")
    built.set("nullable", True)
    return built


def _anonymous(node: exp.Expression, *names: str) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.lower() in names


# --- the rules ------------------------------------------------------------------------------------------


def boolean_columns(node: exp.Expression) -> exp.Expression:
    """A selected condition (`a < b AS late`) stays a boolean: ClickHouse types comparisons as UInt8, which
    pandas would show as 0/1 and negate bitwise (~1 == -2), so every such projection is cast to Bool."""
    if not isinstance(node, exp.Select):
        return node
    for projection in node.expressions:
        target = projection.this if isinstance(projection, exp.Alias) else projection
        if _is_boolean(target) and not isinstance(target, exp.Boolean):
            target.replace(exp.Cast(this=target.copy(), to=_nullable("Bool")))
    return node


_BOOLEAN_FUNCTIONS = ("list_bool_or", "list_bool_and", "list_contains", "list_has", "isfinite", "isnan", "isinf",
                      "empty", "notempty")


def _is_boolean(node: exp.Expression) -> bool:
    """Whether an expression is a truth value whatever its inputs' types (a column's type is not known)."""
    if isinstance(node, (exp.Predicate, exp.Connector, exp.Not, exp.Boolean, exp.LogicalOr, exp.LogicalAnd)):
        return True
    if _anonymous(node, *_BOOLEAN_FUNCTIONS):
        return True
    if isinstance(node, exp.Paren):
        return _is_boolean(node.this)
    if isinstance(node, exp.Case):
        branches = [i.args["true"] for i in node.args.get("ifs", [])] + [node.args.get("default") or exp.null()]
        return all(isinstance(b, exp.Null) or _is_boolean(b) for b in branches)
    if isinstance(node, exp.Coalesce):
        return all(_is_boolean(a) for a in [node.this, *node.expressions])
    return False


def column_names(node: exp.Expression) -> exp.Expression:
    """A selected `t.col` is named `col`, as in DuckDB: after a join with USING, ClickHouse names it
    `t.col`, so a later `SELECT col FROM` that CTE finds no such column."""
    if not isinstance(node, exp.Select):
        return node
    for projection in node.expressions:
        if isinstance(projection, exp.Column) and projection.table and not isinstance(projection.this, exp.Star):
            projection.replace(exp.alias_(projection.copy(), projection.this.copy()))
    return node


def bitwise_operators(node: exp.Expression) -> exp.Expression:
    """`a & b`, `a | b` and `xor(a, b)` are `bitAnd`, `bitOr`, `bitXor`: ClickHouse has no such operators."""
    names = {exp.BitwiseAnd: "bitAnd", exp.BitwiseOr: "bitOr", exp.BitwiseXor: "bitXor"}
    for kind, name in names.items():
        if isinstance(node, kind):
            return _call(name, node.this.copy(), node.expression.copy())
    return node


def exact_quantiles(node: exp.Expression) -> exp.Expression:
    """`quantile_cont(x, q)` and `median(x)` become `quantileExactInclusive(q)(x)`: ClickHouse's `quantile`
    and `median` sample above 8,192 values; quantileExactInclusive interpolates linearly between order
    statistics exactly as DuckDB does."""
    if isinstance(node, exp.PercentileCont):
        return exp.ParameterizedAgg(this="quantileExactInclusive", expressions=[node.expression], params=[node.this])
    if isinstance(node, exp.Median):
        return exp.ParameterizedAgg(this="quantileExactInclusive", expressions=[exp.Literal.number(0.5)],
                                    params=[node.this])
    return node


def _discrete_quantile(node: exp.Expression, filtered: Callable[[exp.Expression], exp.Expression]) -> exp.Expression:
    q = node.args.get("quantile") or node.expression
    count = filtered(exp.Count(this=node.this.copy()))
    values = _call("arraySort", filtered(_call("groupArray", node.this.copy())))
    # DuckDB's discrete quantile is the value at 1-based rank max(1, n - floor(n - q * n)) of the sorted values.
    rank = _call("greatest", 1, exp.Sub(this=count.copy(), expression=_call(
        "floor", exp.Sub(this=count.copy(), expression=exp.Mul(this=q.copy(), expression=count.copy())))))
    return exp.If(this=exp.EQ(this=count, expression=exp.Literal.number(0)), true=exp.null(),
                  false=exp.Bracket(this=values, expressions=[_call("toUInt64", rank)]))


discrete_quantiles = _aggregate_rule("discrete_quantiles", """`quantile(x, q)` / `quantile_disc(x, q)` stay discrete: the very value at DuckDB's
    rank (no ClickHouse quantile picks the same element for every q and n), from the sorted values.""", (exp.Quantile, exp.PercentileDisc), _discrete_quantile)


def round_half_away_from_zero(node: exp.Expression) -> exp.Expression:
    """`round(x, n)` rounds halves away from zero as DuckDB does (std::round(x * 10^n) / 10^n); ClickHouse's
    `round` rounds a Float64 half to even, so round(2.5) would be 2 and round(12.345, 2) 12.34."""
    if not isinstance(node, exp.Round):
        return node
    decimals = node.args.get("decimals")
    if decimals is None:
        scale: exp.Expression | None = None
    elif decimals.is_int:
        scale = exp.Literal.number(f"{10.0 ** int(decimals.name):.1f}")
    else:
        scale = _call("pow", 10, decimals)
    this = exp.Paren(this=node.this) if isinstance(node.this, exp.Binary) else node.this  # round(a + b, 9)
    value = this if scale is None else exp.Paren(this=exp.Mul(this=this, expression=scale))
    half = exp.Literal.number(0.5)
    rounded = exp.If(this=exp.LT(this=value.copy(), expression=exp.Literal.number(0)),
                     true=exp.Neg(this=_call("floor", exp.Sub(this=half.copy(), expression=value.copy()))),
                     false=_call("floor", exp.Add(this=value.copy(), expression=half.copy())))
    return rounded if scale is None else exp.Div(this=exp.Paren(this=rounded), expression=scale.copy())


def missing_neighbours_are_null(node: exp.Expression) -> exp.Expression:
    """`lead(x)` / `lag(x)` without a default give NULL past the partition's end, as in DuckDB: ClickHouse
    gives the type's default there (1970-01-01 for a non-Nullable time, '' for text), so x is made Nullable."""
    if isinstance(node, (exp.Lead, exp.Lag)) and node.args.get("default") is None \
            and not _anonymous(node.this, "tonullable"):
        node = node.copy()
        node.set("this", _call("toNullable", node.this))
    return node


def truncated_timestamps(node: exp.Expression) -> exp.Expression:
    """`date_trunc(unit, t)` stays a timestamp, as in DuckDB: ClickHouse's `dateTrunc` gives a Date32 for
    weeks and months, which adding seconds or printing with a time would treat differently."""
    if not isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)):
        return node
    unit = node.args["unit"]
    unit_sql = unit.copy() if isinstance(unit, exp.Placeholder) else exp.Literal.string(unit.name.lower())
    return _call("toDateTime64", _call("dateTrunc", unit_sql, node.this.copy()), 6)


def missing_positions_are_null(node: exp.Expression) -> exp.Expression:
    """`list_position(list, x)` is NULL when x is not in the list, as in DuckDB: ClickHouse's `indexOf`
    gives 0, which `coalesce(list_position(...), 99)` would sort first instead of last."""
    if isinstance(node, exp.ArrayPosition) or _anonymous(node, "list_position", "array_position", "list_indexof"):
        haystack, needle = (node.this, node.expression) if isinstance(node, exp.ArrayPosition) else node.expressions
        return _call("nullIf", _call("indexOf", haystack.copy(), needle.copy()), 0)
    return node


_INTERVALS = {"to_years": "toIntervalYear", "to_months": "toIntervalMonth", "to_weeks": "toIntervalWeek",
              "to_days": "toIntervalDay", "to_hours": "toIntervalHour", "to_minutes": "toIntervalMinute",
              "to_seconds": "toIntervalSecond", "to_milliseconds": "toIntervalMillisecond",
              "to_microseconds": "toIntervalMicrosecond"}


def interval_functions(node: exp.Expression) -> exp.Expression:
    """DuckDB's `to_months(n)`, `to_days(n)` ... are ClickHouse's `toIntervalMonth(n)` ...: same calendar
    arithmetic (Jan 31 + 1 month = Feb 29 in 2024 in both); sqlglot reads `to_days` as MySQL's day number."""
    if isinstance(node, exp.ToDays):
        return _call("toIntervalDay", node.this.copy())
    if isinstance(node, exp.Anonymous) and node.name.lower() in _INTERVALS:
        return _call(_INTERVALS[node.name.lower()], *[e.copy() for e in node.expressions])
    return node


_EPOCHS = {"epoch_us": "toUnixTimestamp64Micro", "epoch_ms": "toUnixTimestamp64Milli"}


def epoch_functions(node: exp.Expression) -> exp.Expression:
    """`epoch_us(t)` / `epoch_ms(t)` are ClickHouse's `toUnixTimestamp64Micro` / `...Milli` (sqlglot leaves them
    as they are); `epoch(t)`, seconds with their fraction as a DOUBLE, is the microseconds / 1e6 (sqlglot
    writes TIME_TO_UNIX, which ClickHouse lacks; its `toUnixTimestamp` drops the fraction)."""
    if isinstance(node, exp.Anonymous) and node.name.lower() in _EPOCHS:
        return _call(_EPOCHS[node.name.lower()], *[e.copy() for e in node.expressions])
    if isinstance(node, exp.TimeToUnix):
        micros = _call("toUnixTimestamp64Micro", _call("toDateTime64", node.this.copy(), 6))
        return exp.Div(this=micros, expression=exp.Literal.number("1e6"))
    return node


def date_differences(node: exp.Expression) -> exp.Expression:
    """`a::DATE - b::DATE` is a number of days, as in DuckDB: ClickHouse cannot subtract two Date32 values,
    so it becomes `dateDiff('day', b, a)`."""
    def is_date(side: exp.Expression) -> bool:
        return isinstance(side, exp.Cast) and side.to.this == exp.DataType.Type.DATE
    if isinstance(node, exp.Sub) and is_date(node.this) and is_date(node.expression):
        return _call("dateDiff", "day", node.expression.copy(), node.this.copy())
    return node


def signed_counts(node: exp.Expression) -> exp.Expression:
    """`count(...)` and the ranks `row_number()`, `rank()`, `dense_rank()` are signed 64-bit numbers, as
    DuckDB's BIGINT: ClickHouse's UInt64 mixed with Int64 (in UNION ALL, CASE, arithmetic or a join's
    USING) turns into a Variant, wraps around below zero or has no common type."""
    counted = node
    while isinstance(counted, (exp.Filter, exp.Window)):
        counted = counted.this
    if not isinstance(counted, (exp.Count, exp.RowNumber, exp.Rank, exp.DenseRank)) \
            or isinstance(node.parent, (exp.Filter, exp.Window)):
        return node
    return _call("toInt64", node.copy())


def numbered_unnest(node: exp.Expression) -> exp.Expression:
    """`unnest(l) AS x, generate_subscripts(l, 1) AS i` pairs each element with its position, as DuckDB does:
    in ClickHouse two `arrayJoin`s in one SELECT give every combination, and `generate_subscripts` is
    unknown. The positions become the one `arrayJoin(arrayEnumerate(l)) AS i`, and each element `l[i]`."""
    if not isinstance(node, exp.Select):
        return node
    subscripts = {a.this.expressions[0]: a.alias for a in node.expressions if isinstance(a, exp.Alias)
                  and _anonymous(a.this, "generate_subscripts") and len(a.this.expressions) == 2
                  and a.this.expressions[1] == exp.Literal.number(1)}
    if not subscripts:
        return node
    node = node.copy()
    for selected in node.expressions:
        call = selected.this if isinstance(selected, exp.Alias) else selected
        if _anonymous(call, "generate_subscripts") and call.expressions[0] in subscripts:
            call.replace(_call("arrayJoin", _call("arrayEnumerate", call.expressions[0].copy())))
        elif isinstance(call, exp.Explode) and call.this in subscripts:
            call.replace(exp.Bracket(this=call.this.copy(), expressions=[exp.column(subscripts[call.this])],
                                     offset=1))
    return node


def map_functions(node: exp.Expression) -> exp.Expression:
    """`map_keys(m)` / `map_values(m)` are `mapKeys(m)` / `mapValues(m)` (sqlglot prints MAP_KEYS)."""
    if isinstance(node, exp.MapKeys):
        return _call("mapKeys", node.this.copy())
    if _anonymous(node, "map_values"):
        return _call("mapValues", *[e.copy() for e in node.expressions])
    return node


def bit_shifts(node: exp.Expression) -> exp.Expression:
    """`a << b` / `a >> b` are `bitShiftLeft` / `bitShiftRight`: ClickHouse has no shift operators (also
    a syntax error, so no result could differ)."""
    if isinstance(node, exp.BitwiseLeftShift):
        return _call("bitShiftLeft", node.this.copy(), node.expression.copy())
    if isinstance(node, exp.BitwiseRightShift):
        return _call("bitShiftRight", node.this.copy(), node.expression.copy())
    return node


def boolean_aggregates(node: exp.Expression) -> exp.Expression:
    """`bool_or(c)` / `bool_and(c)` are `max(c)` / `min(c)` (sqlglot prints LOGICAL_OR, which ClickHouse lacks)."""
    if isinstance(node, exp.LogicalOr):
        return exp.Max(this=node.this.copy())
    if isinstance(node, exp.LogicalAnd):
        return exp.Min(this=node.this.copy())
    return node


def series_as_arrays(node: exp.Expression) -> exp.Expression:
    """`generate_series(a, b)` (inclusive) and `range(a, b)` (exclusive) are ClickHouse's `range(a, b')`;
    as a table in FROM (`generate_series(1, $n) AS steps(step)`), a subquery that array-joins it."""
    if isinstance(node, exp.Table) and isinstance(node.this, exp.GenerateSeries):
        alias = node.args.get("alias")
        columns = alias.columns if alias else []
        column = columns[0].name if columns else "generate_series"
        rows = exp.select(exp.alias_(_call("arrayJoin", _series(node.this)), column))
        return exp.Subquery(this=rows, alias=exp.TableAlias(this=exp.to_identifier(alias.name if alias else "series")))
    if isinstance(node, exp.GenerateSeries) and not isinstance(node.parent, exp.Table):
        return _series(node)
    return node


def _series(node: exp.GenerateSeries) -> exp.Expression:
    if node.args.get("step") is not None:
        raise UntranslatableSQL("generate_series with a step has no rule yet")
    start, end = node.args["start"].copy(), node.args["end"].copy()
    stop = end if node.args.get("is_end_exclusive") else exp.Add(this=end, expression=exp.Literal.number(1))
    return _call("range", start, stop)


def _ordered_key(ordered: exp.Ordered) -> list[exp.Expression]:
    if ordered.args.get("desc"):
        raise UntranslatableSQL("an aggregate ordered DESC has no rule yet")
    value = ordered.this
    nulls_first = bool(ordered.args.get("nulls_first"))
    is_null = _call("isNull", value.copy())
    return [exp.Not(this=is_null) if nulls_first else is_null, _call("assumeNotNull", value.copy())]


def _ordered_first(node: exp.Expression, filtered: Callable[[exp.Expression], exp.Expression]) -> exp.Expression:
    inner = node.this
    if not isinstance(inner, exp.Order):
        return _call("tupleElement", filtered(_call("any", _call("tuple", inner.copy()))), 1)
    key = exp.Tuple(expressions=[part for o in inner.expressions for part in _ordered_key(o)])
    return _call("tupleElement", filtered(_call("argMin", _call("tuple", inner.this.copy()), key)), 1)


ordered_first = _aggregate_rule("ordered_first", """`first(x ORDER BY k NULLS LAST, ...)` is `argMin` over the sort key, NULLs placed by an
    isNull() flag: ClickHouse has no ORDER BY inside an aggregate.""", (exp.First,), _ordered_first)


def _string_agg(node: exp.Expression, filtered: Callable[[exp.Expression], exp.Expression]) -> exp.Expression:
    separator = node.args.get("separator") or exp.Literal.string(",")
    inner = node.this
    if isinstance(inner, exp.Order):
        keys = inner.expressions
        values = inner.this
        distinct = isinstance(values, exp.Distinct)
        value = values.expressions[0] if distinct else values
        if not distinct or len(keys) != 1 or keys[0].this != value or keys[0].args.get("desc"):
            raise UntranslatableSQL("string_agg ordered other than by its own DISTINCT values has no rule yet")
        parts = _call("arraySort", filtered(_call("groupUniqArray", value.copy())))
    elif isinstance(inner, exp.Distinct):
        value = inner.expressions[0]
        parts = filtered(_call("groupUniqArray", value.copy()))
    else:
        value = inner
        parts = filtered(_call("groupArray", value.copy()))
    count = filtered(exp.Count(this=value.copy()))
    return exp.If(this=exp.EQ(this=count, expression=exp.Literal.number(0)), true=exp.null(),
                  false=_call("arrayStringConcat", parts, separator.copy()))


string_aggregates = _aggregate_rule("string_aggregates", """`string_agg(DISTINCT x, sep ORDER BY x)` joins the sorted distinct values and is NULL
    over no rows, as in DuckDB: sqlglot prints an ordered `groupConcat`, which ClickHouse rejects.""", (exp.GroupConcat,), _string_agg)


def list_aggregates(node: exp.Expression) -> exp.Expression:
    """`list(DISTINCT x)` is `groupUniqArray(x)`, `list(x)` is `groupArray(x)` and `list_sort(l)` is
    `arraySort(l)` (sqlglot prints ARRAY_AGG / ARRAY_SORT). ClickHouse's arrays leave NULL values out."""
    if isinstance(node, exp.ArrayAgg):
        inner = node.this
        if isinstance(inner, exp.Distinct):
            return _call("groupUniqArray", inner.expressions[0].copy())
        if isinstance(inner, exp.Order):
            raise UntranslatableSQL("list(x ORDER BY ...) has no rule yet")
        return _call("groupArray", inner.copy())
    if isinstance(node, exp.ArraySort):
        return _call("arraySort", node.this.copy())
    return node


_LIST_VALUED = (exp.Array, exp.ArrayFilter, exp.Transform, exp.ArraySort, exp.ArrayAgg)
_LIST_FUNCTIONS = ("arrayfilter", "arraymap", "arraysort", "range", "arrayenumerate")


def _is_list(node: exp.Expression) -> bool:
    """Whether an expression is visibly a list (a literal or a list function), whatever its inputs' types."""
    return isinstance(node, _LIST_VALUED) or _anonymous(node, *_LIST_FUNCTIONS)


def lists_are_never_null(node: exp.Expression) -> exp.Expression:
    """ClickHouse has no NULL list (an array cannot be Nullable: a CASE of a list or NULL becomes a Variant,
    and a NULL list column is stored as []), so an empty list stands for NULL: `CASE WHEN c THEN [..] END`
    gets `ELSE []`, and `coalesce(list, fallback)` takes the fallback for an empty list."""
    if isinstance(node, exp.Case) and node.args.get("default") is None:
        branches = [i.args["true"] for i in node.args.get("ifs", [])]
        if branches and all(_is_list(b) for b in branches):
            node.set("default", exp.Array(expressions=[]))
        return node
    if isinstance(node, exp.Coalesce) and len(node.expressions) == 1 and any(
            _is_list(a) for a in (node.this, *node.expressions)):
        first, fallback = node.this, node.expressions[0]
        return exp.If(this=_call("notEmpty", first.copy()), true=first.copy(), false=fallback.copy())
    return node


_LIST_AGGREGATES = {"list_sum": "arraySum", "list_avg": "arrayAvg", "list_product": "arrayProduct"}


def list_functions(node: exp.Expression) -> exp.Expression:
    """`len(list)` is `length` (sqlglot reads `len` as text length, CHAR_LENGTH), made a signed BIGINT as in
    DuckDB (ClickHouse's UInt64 beside Int64 in UNION ALL is a Variant); `list_sum` / `list_avg`
    are `arraySum` / `arrayAvg` (sqlglot leaves them as they are); `list_bool_or(l)` /
    `list_bool_and(l)` are `arrayExists(x -> x, l)` / `arrayAll(x -> x, l)`."""
    if isinstance(node, (exp.Length, exp.ArraySize)):
        return _call("toInt64", _call("length", node.this.copy()))
    if _anonymous(node, *_LIST_AGGREGATES):
        return _call(_LIST_AGGREGATES[node.name.lower()], *[e.copy() for e in node.expressions])
    if _anonymous(node, "list_bool_or", "list_bool_and"):
        each = exp.Lambda(this=exp.to_identifier("x"), expressions=[exp.to_identifier("x")])
        return _call("arrayExists" if node.name.lower() == "list_bool_or" else "arrayAll", each, node.expressions[0].copy())
    return node


def list_elements(node: exp.Expression) -> exp.Expression:
    """`list[i]` is `arrayElementOrNull`: out of range it is NULL as in DuckDB (ClickHouse gives the type's
    default, 1970-01-01 for a time). Runs before `list_functions` rewrites the index (`len(l)` into
    `toInt64`), so the index is typed as sqlglot's DuckDB parser typed it when it made it 0-based."""
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1 and not _is_text(node.expressions[0]) \
            and not isinstance(node.expressions[0], exp.Slice):
        # sqlglot's DuckDB parser stores an index it types as an integer (a literal, a length) 0-based: put
        # back ClickHouse's 1-based one, typing it as that parser did (DuckDB's types, not ClickHouse's)
        index = apply_index_offset(node.this, [node.expressions[0].copy()], 1 - node.args.get("offset", 0),
                                   dialect="duckdb")[0]
        return _call("arrayElementOrNull", node.this.copy(), index)
    return node


def indexed_lambdas(node: exp.Expression) -> exp.Expression:
    """`list_filter(l, lambda v, i: ...)` / `list_transform` with an index parameter get the indexes as a
    second array, `arrayFilter((v, i) -> ..., l, arrayEnumerate(l))`: a ClickHouse lambda takes one
    element of each array it is given."""
    if isinstance(node, (exp.ArrayFilter, exp.Transform)):
        function = node.expression
        if isinstance(function, exp.Lambda) and len(function.expressions) == 2:
            name = "arrayFilter" if isinstance(node, exp.ArrayFilter) else "arrayMap"
            return _call(name, function.copy(), node.this.copy(), _call("arrayEnumerate", node.this.copy()))
    return node


def _is_text(node: exp.Expression) -> bool:
    return (isinstance(node, exp.Literal) and node.is_string) or (
        isinstance(node, exp.Cast) and node.to.this in (exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT))


def missing_map_keys_are_null(node: exp.Expression) -> exp.Expression:
    """`m[key]` with a text key is NULL for a missing key, as in DuckDB: ClickHouse gives '' (its default).
    Only subscripts whose key is text are treated as maps (a list's index is a number)."""
    if not isinstance(node, exp.Bracket) or len(node.expressions) != 1:
        return node
    key = node.expressions[0]
    if not _is_text(key):
        return node
    lookup = exp.Bracket(this=node.this.copy(), expressions=[key.copy()])
    return exp.If(this=_call("mapContains", node.this.copy(), key.copy()), true=lookup, false=exp.null())


_TYPES = {
    exp.DataType.Type.TIMESTAMP: "DateTime64(6)",
    exp.DataType.Type.TIMESTAMPNTZ: "DateTime64(6)",
    exp.DataType.Type.DATETIME: "DateTime64(6)",
    exp.DataType.Type.DATE: "Date32",
}


def wide_time_types(node: exp.Expression) -> exp.Expression:
    """DuckDB's TIMESTAMP is ClickHouse's DateTime64(6) (sqlglot says DateTime, which drops the
    microseconds) and DATE is Date32 (ClickHouse's Date stops at 2149 and starts at 1970)."""
    if isinstance(node, exp.DataType) and node.this in _TYPES:
        if isinstance(node.parent, exp.DataType):  # inside Array(...): no Nullable there
            return exp.DataType.build(_TYPES[node.this], dialect="clickhouse")
        return _nullable(_TYPES[node.this])
    return node


RULES: tuple[Rule, ...] = (
    boolean_columns,  # first: it recognises DuckDB's boolean expressions before other rules rewrite them
    column_names,
    exact_quantiles,
    discrete_quantiles,
    round_half_away_from_zero,
    missing_neighbours_are_null,
    truncated_timestamps,
    missing_positions_are_null,
    interval_functions,
    date_differences,
    signed_counts,
    numbered_unnest,
    map_functions,
    epoch_functions,
    bit_shifts,
    bitwise_operators,
    boolean_aggregates,
    series_as_arrays,
    ordered_first,
    string_aggregates,
    list_aggregates,
    lists_are_never_null,
    list_elements,
    list_functions,
    indexed_lambdas,
    missing_map_keys_are_null,
    wide_time_types,
)


def _null_lists(lists: frozenset[str]) -> Rule:
    def null_lists(node: exp.Expression) -> exp.Expression:
        """`l IS NULL` for a list column `l` is `empty(l)`: ClickHouse stores a NULL list as [] (an array
        cannot be Nullable), so IS NULL would never hold. `lists` names the warehouse's list columns."""
        if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null) and isinstance(node.this, exp.Column) \
                and node.this.name in lists:
            return _call("empty", node.this.copy())
        return node
    return null_lists


def _number_positional(sql: str) -> str:
    """`sql` with each `?` written `$p1`, `$p2` ... in the order of the text (as `named_params` names the values)."""
    marks = [t.start for t in _DuckDB().tokenize(sql)
             if (t.token_type == TokenType.PLACEHOLDER and t.text == "?")
             or (t.token_type == TokenType.QDCOLON and t.text.startswith("?"))]  # `?::TYPE` is one token
    for number, start in reversed(list(enumerate(marks, start=1))):
        sql = f"{sql[:start]}$p{number}{sql[start + 1:]}"
    return sql


def _bind(types: Mapping[str, str]) -> Rule:
    def bind(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Placeholder):
            return node
        if node.name not in types:
            raise UntranslatableSQL(f"the query uses the parameter ${node.name}, but it has no value")
        return exp.Placeholder(this=node.name, kind=exp.Var(this=types[node.name]))
    return bind


def translate(sql: str, types: Mapping[str, str] | Sequence[tuple[str, str]] = (), lists: Iterable[str] = ()) -> str:
    """ClickHouse SQL for DuckDB `sql`, its `$name` and `?` parameters bound as `{name:Type}` (`?` in order
    as p1, p2 ...) with the ClickHouse types in `types` (see `param_types`), never pasted in as text.
    `lists` names the warehouse's list columns (a NULL list is [] in ClickHouse, see `_null_lists`).

    >>> translate("SELECT max(occurred_at) FROM events WHERE stage = $stage", {"stage": "String"})
    'SELECT\\n  MAX(occurred_at)\\nFROM events\\nWHERE\\n  stage = {stage:String}'
    """
    return _translate(sql, tuple(sorted(dict(types).items())), frozenset(lists))


@lru_cache(maxsize=512)
def _translate(sql: str, types: tuple[tuple[str, str], ...], lists: frozenset[str]) -> str:
    tree = parse_one(_number_positional(sql), read=_DuckDB)
    for rule in (_null_lists(lists), *RULES, _bind(dict(types))):
        tree = apply_rule(tree, rule)
    return tree.sql(dialect=_ClickHouse, pretty=True)


def apply_rule(tree: exp.Expression, rule: Rule) -> exp.Expression:
    """`tree` with `rule` applied to every node, children before their parent (so nested calls are all
    rewritten, and a rule sees its arguments already translated)."""
    for node in reversed(list(tree.walk())):
        new = rule(node)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    return tree
