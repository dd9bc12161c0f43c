"""A/B tests from the warehouse or from a results file: sufficient statistics in SQL, the verdict in words.

DuckDB computes each variant's units, conversions and revenue sums (from `experiment_variants` as they
were imported, or aggregated from `experiment_units`); `analytics.abstats` does the statistics on those
few numbers. The same functions serve the A/B page, the command line and the weekly report.

Conventions (DESIGN.md, "A/B tests" and Contract details): rates, differences and lifts are fractions
(0.12 = +12 %); the control row has NaN comparison fields; with more than two variants `p_value` is
Holm-adjusted against control and `p_value_raw` is the unadjusted one. Degenerate data gives NaN and a
`reason` in words, never an exception; impossible data (more conversions than units) is `BadInput`.

Per-unit data: a unit whose `converted` is empty counts as not converted, one whose `value` is empty as
zero revenue; an experiment without any `converted` (or `value`) has no conversion (revenue) figures.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import duckdb
import pandas as pd

from analytics import abstats
from analytics.abstats import MSPRT_TAU, Mean, Proportion
from analytics.errors import BadInput
from analytics.imports import DEFAULT_METRIC, boolean_expr, normalize_name
from analytics.sql import quote_ident

STATS_COLUMNS = ["variant", "units", "conversions", "revenue_sum", "revenue_sumsq"]

RESULT_COLUMNS = [
    "variant", "is_control", "units", "conversions", "rate",
    "diff", "diff_ci_low", "diff_ci_high", "lift", "lift_ci_low", "lift_ci_high",
    "p_value", "p_value_raw", "significant", "test", "chance_to_beat", "always_valid_p_value",
    "chi2_p_value", "srm_p_value", "srm_flag", "verdict", "reason",
]  # fmt: skip

REVENUE_COLUMNS = [
    "revenue_per_unit", "revenue_diff", "revenue_diff_ci_low", "revenue_diff_ci_high", "revenue_lift",
    "revenue_p_value", "revenue_p_value_raw", "revenue_reason",
]  # fmt: skip

PLAN_FORMULA = (
    "Fleiss' normal approximation for a two-sided two-proportion z-test with equal arms: pooled "
    "variance under no difference, unpooled under the effect, no continuity correction, rounded up."
)



# --- the warehouse ------------------------------------------------------------------------------


def list_experiments(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every experiment in the warehouse: one row per (experiment, source).

    Columns: experiment, source ("aggregated" or "per unit"), variants, units (over all variants; an
    aggregated experiment with several metrics counts each variant's largest `units` once) and metrics
    (a list; per-unit data has the single metric "conversion").
    """
    return con.execute(
        """
        WITH per_variant AS (
            SELECT experiment, variant, max(units) AS units
            FROM experiment_variants GROUP BY experiment, variant
        ),
        metrics AS (
            SELECT experiment, list_sort(list(DISTINCT metric)) AS metrics
            FROM experiment_variants GROUP BY experiment
        )
        SELECT p.experiment, 'aggregated' AS source, count(*) AS variants,
               CAST(sum(p.units) AS BIGINT) AS units, any_value(m.metrics) AS metrics
        FROM per_variant p JOIN metrics m USING (experiment)
        GROUP BY p.experiment
        UNION ALL
        SELECT experiment, 'per unit', count(DISTINCT variant), count(*), [?]
        FROM experiment_units GROUP BY experiment
        ORDER BY experiment, source
        """,
        [DEFAULT_METRIC],
    ).df()


def variant_stats(
    con: duckdb.DuckDBPyConnection,
    experiment: str,
    metric: str = DEFAULT_METRIC,
    source: str | None = None,
) -> pd.DataFrame:
    """The sufficient statistics of one experiment, one row per variant (sorted by name): variant,
    units, conversions, revenue_sum, revenue_sumsq.

    Aggregated results are read as imported; per-unit data is aggregated in SQL (count, count of
    converted, sum of value, sum of value squared). `source` ("aggregated" or "per unit") picks one
    when an experiment name has both; by default the aggregated results win. An unknown experiment
    or metric raises BadInput naming the known ones.
    """
    known = list_experiments(con)
    found = known[known["experiment"] == experiment]
    if source is not None:
        if source not in ("aggregated", "per unit"):
            raise BadInput(f"unknown source '{source}'; choose aggregated or per unit")
        found = found[found["source"] == source]
    if found.empty:
        names = sorted(set(known["experiment"]))
        listing = f"the warehouse has: {', '.join(names)}" if names else "the warehouse has no experiments yet"
        raise BadInput(f"unknown experiment '{experiment}'; {listing}")
    row = found.iloc[0]  # "aggregated" sorts before "per unit"
    metrics = list(row["metrics"])
    if metric not in metrics:
        raise BadInput(f"experiment '{experiment}' has no metric '{metric}'; it has: {', '.join(metrics)}")
    if row["source"] == "aggregated":
        return con.execute(
            """
            SELECT variant, CAST(sum(units) AS BIGINT) AS units, CAST(sum(conversions) AS BIGINT) AS conversions,
                   sum(revenue_sum) AS revenue_sum, sum(revenue_sumsq) AS revenue_sumsq
            FROM experiment_variants WHERE experiment = ? AND metric = ?
            GROUP BY variant ORDER BY variant
            """,
            [experiment, metric],
        ).df()
    return con.execute(_PER_UNIT_SQL.format(table="experiment_units", where="WHERE experiment = ?"),
                       [experiment]).df()


_PER_UNIT_SQL = """
    SELECT variant, count(*) AS units,
           CASE WHEN count(converted) > 0 THEN count(*) FILTER (WHERE converted) END AS conversions,
           CASE WHEN count(value) > 0 THEN coalesce(sum(value), 0) END AS revenue_sum,
           CASE WHEN count(value) > 0 THEN coalesce(sum(value * value), 0) END AS revenue_sumsq
    FROM {table} {where}
    GROUP BY variant ORDER BY variant
"""


def experiment_results(
    con: duckdb.DuckDBPyConnection,
    experiment: str,
    metric: str = DEFAULT_METRIC,
    control: str | None = None,
    source: str | None = None,
) -> pd.DataFrame:
    """`ab_results` of one experiment in the warehouse (the page's and the command line's one call)."""
    stats = variant_stats(con, experiment, metric, source)
    return ab_results(stats, control, metric_name=metric_label(metric))


def metric_label(metric: str) -> str:
    """How a verdict names a metric: 'conversion' -> 'conversion rate', 'click_rate' stays as it is."""
    words = metric.replace("_", " ").strip()
    return words if words.endswith("rate") else f"{words} rate"


# --- a results file -----------------------------------------------------------------------------


def read_results_file(path: str | Path, experiment: str | None = None, metric: str | None = None) -> pd.DataFrame:
    """The sufficient statistics in a results file (CSV or Parquet), shaped like `variant_stats`.

    Aggregated files have the columns variant and units, optionally experiment, metric, conversions,
    revenue_sum and revenue_sumsq (headers in any case or spacing); a file with unit_id instead of
    units holds one row per unit (variant, optional converted and value) and is aggregated here.
    `experiment` picks one experiment when the file holds several; `metric` picks a metric when it
    holds several (by default the only one, else "conversion"). The file is read with an in-memory
    DuckDB and never touches the warehouse. Bad values raise BadInput naming the row and column.
    """
    source = Path(path)
    name = source.name
    if not source.is_file():
        raise BadInput("file not found", file=name)
    is_parquet = source.suffix.lower() in (".parquet", ".pq")
    reader = "read_parquet(?)" if is_parquet else "read_csv(?, all_varchar = true, header = true)"
    with duckdb.connect() as con:
        try:
            headers = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}", [str(source)]).fetchall()]
            as_text = ", ".join(f"nullif(trim(CAST({quote_ident(h)} AS VARCHAR)), '') AS {quote_ident(h)}"
                                for h in headers)
            con.execute(f"CREATE TABLE raw AS SELECT {as_text} FROM {reader}", [str(source)])
        except duckdb.Error as error:
            first_line = str(error).strip().splitlines()[0]
            raise BadInput(f"cannot be read as {'Parquet' if is_parquet else 'CSV'}: {first_line}",
                           file=name) from error
        columns: dict[str, str] = {}
        for header in headers:
            columns.setdefault(normalize_name(header), header)
        per_unit = "unit_id" in columns and "units" not in columns
        needed = ("variant", "unit_id") if per_unit else ("variant", "units")
        missing = [c for c in needed if c not in columns]
        if missing:
            raise BadInput(f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}: a results "
                           "file needs variant and units (one row per variant) or variant and unit_id "
                           f"(one row per unit); the file has: {', '.join(headers)}", file=name)
        typed = _typed_results(con, columns, per_unit, name)
        where, params = _pick_experiment(con, typed, columns, experiment, name)
        if per_unit:
            return con.execute(_PER_UNIT_SQL.format(table=f"({typed})", where=where), params).df()
        where, params = _pick_metric(con, typed, columns, where, params, metric, name)
        duplicate = con.execute(
            f"SELECT variant, list(_row ORDER BY _row) FROM ({typed}) {where} GROUP BY variant "
            "HAVING count(*) > 1 ORDER BY min(_row) LIMIT 1", params).fetchone()
        if duplicate:
            rows = " and ".join(str(r) for r in duplicate[1][:2])
            raise BadInput(f"variant '{duplicate[0]}' appears in more than one row (rows {rows}); "
                           "give one row per variant", file=name)
        return con.execute(
            f"SELECT {', '.join(STATS_COLUMNS)} FROM ({typed}) {where} ORDER BY variant", params).df()


def _typed_results(con: duckdb.DuckDBPyConnection, columns: dict[str, str], per_unit: bool, name: str) -> str:
    """A SELECT of the raw text table with typed canonical columns and `_row`; BadInput for a bad value."""
    def raw(column: str) -> str:
        return quote_ident(columns[column]) if column in columns else "CAST(NULL AS VARCHAR)"

    def whole(column: str) -> str:
        number = f"try_cast({raw(column)} AS DOUBLE)"
        return f"CASE WHEN {number} = round({number}) THEN CAST({number} AS BIGINT) END"

    def number(column: str) -> str:
        value = f"try_cast({raw(column)} AS DOUBLE)"
        return f"CASE WHEN isfinite({value}) THEN {value} END"

    exprs = {"experiment": raw("experiment"), "variant": raw("variant")}
    checks = [("variant", "variant IS NULL", "is empty, but every row needs a variant")]
    if per_unit:
        exprs["converted"] = boolean_expr(raw("converted"))
        exprs["value"] = number("value")
        checks += [("converted", "_raw_converted IS NOT NULL AND converted IS NULL", "is not true or false"),
                   ("value", "_raw_value IS NOT NULL AND value IS NULL", "is not a number")]
    else:
        exprs["metric"] = f"coalesce({raw('metric')}, '{DEFAULT_METRIC}')"
        exprs.update(units=whole("units"), conversions=whole("conversions"),
                     revenue_sum=number("revenue_sum"), revenue_sumsq=number("revenue_sumsq"))
        checks += [
            ("units", "units IS NULL", "is not a whole number"),
            ("units", "units < 0", "is negative; counts cannot be"),
            ("conversions", "_raw_conversions IS NOT NULL AND conversions IS NULL", "is not a whole number"),
            ("conversions", "conversions < 0", "is negative; counts cannot be"),
            ("conversions", "conversions > units", "is larger than units"),
            ("revenue_sum", "_raw_revenue_sum IS NOT NULL AND revenue_sum IS NULL", "is not a number"),
            ("revenue_sumsq", "_raw_revenue_sumsq IS NOT NULL AND revenue_sumsq IS NULL", "is not a number"),
            ("revenue_sumsq", "revenue_sumsq < 0", "is negative; a sum of squares cannot be"),
        ]
    select = ", ".join([f"{expr} AS {column}" for column, expr in exprs.items()]
                       + [f"{raw(column)} AS _raw_{column}" for column in exprs])
    typed = f"SELECT rowid + 1 AS _row, {select} FROM raw"
    for column, bad, problem in checks:
        if column not in columns:
            continue
        found = con.execute(f"SELECT _row, _raw_{column} FROM ({typed}) WHERE {bad} ORDER BY _row LIMIT 1").fetchone()
        if found:
            shown = f"'{found[1]}' " if found[1] is not None else ""
            raise BadInput(f"{shown}{problem}", file=name, row=int(found[0]), column=columns[column])
    return typed


def _pick_experiment(
    con: duckdb.DuckDBPyConnection, typed: str, columns: dict[str, str], experiment: str | None, name: str
) -> tuple[str, list]:
    """The WHERE clause that keeps one experiment of the file (all rows when it has no experiment column)."""
    if "experiment" not in columns:
        return "", []
    names = [r[0] for r in con.execute(
        f"SELECT DISTINCT coalesce(experiment, '') FROM ({typed}) ORDER BY 1").fetchall()]
    if experiment is None:
        if len(names) > 1:
            raise BadInput(f"the file holds {len(names)} experiments ({', '.join(names)}); say which one",
                           file=name)
        experiment = names[0]
    elif experiment not in names:
        raise BadInput(f"the file has no experiment '{experiment}'; it has: {', '.join(names)}", file=name)
    return "WHERE coalesce(experiment, '') = ?", [experiment]


def _pick_metric(
    con: duckdb.DuckDBPyConnection, typed: str, columns: dict[str, str], where: str, params: list,
    metric: str | None, name: str,
) -> tuple[str, list]:
    """Narrow `where` to one metric of an aggregated file."""
    if "metric" not in columns and metric is None:
        return where, params
    metrics = [r[0] for r in con.execute(
        f"SELECT DISTINCT metric FROM ({typed}) {where} ORDER BY 1", params).fetchall()]
    if metric is None:
        if len(metrics) == 1:
            metric = metrics[0]
        elif DEFAULT_METRIC in metrics:
            metric = DEFAULT_METRIC
        else:
            raise BadInput(f"the file holds several metrics ({', '.join(metrics)}); say which one", file=name)
    elif metric not in metrics:
        raise BadInput(f"the file has no metric '{metric}'; it has: {', '.join(metrics)}", file=name)
    return f"{where} {'AND' if where else 'WHERE'} metric = ?", [*params, metric]


# --- the statistics -----------------------------------------------------------------------------


def _optional(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _check_stats(stats: pd.DataFrame) -> None:
    missing = [c for c in ("variant", "units") if c not in stats.columns]
    if missing:
        raise BadInput(f"variant statistics need the columns variant and units; missing: {', '.join(missing)}")
    names = [str(v) for v in stats["variant"]]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise BadInput(f"variant '{repeated[0]}' appears in more than one row; give one row per variant")
    for row in stats.itertuples(index=False):
        units = _optional(row.units)
        if units is None or units < 0 or units != math.floor(units):
            raise BadInput(f"variant '{row.variant}': units must be a whole number of at least 0, got {row.units}")
        conversions = _optional(getattr(row, "conversions", None))
        if conversions is not None and not 0 <= conversions <= units:
            raise BadInput(f"variant '{row.variant}': conversions must be between 0 and units "
                           f"({units:,.0f}), got {conversions:,.0f}")
        sumsq = _optional(getattr(row, "revenue_sumsq", None))
        if sumsq is not None and sumsq < 0:
            raise BadInput(f"variant '{row.variant}': revenue_sumsq cannot be negative, got {sumsq}")


def _pick_control(names: list[str], control: str | None) -> str | None:
    if control is None:
        return abstats.default_control(names)
    if control not in names:
        raise BadInput(f"control '{control}' is not one of the variants: {', '.join(sorted(names))}")
    return control


def ab_results(
    stats: pd.DataFrame,
    control: str | None = None,
    metric_name: str = "conversion rate",
    alpha: float = 0.05,
    unit: str = "leads",
) -> pd.DataFrame:
    """One row per variant, control first: the comparison of each variant with control.

    `stats` is shaped like `variant_stats` (variant, units, conversions, optional revenue_sum and
    revenue_sumsq). Columns: `RESULT_COLUMNS`, and `REVENUE_COLUMNS` when every variant has revenue
    sums. Conversion rates: two-proportion z-test (Fisher's exact test for small counts, `test` says
    which), unpooled interval of the difference, delta-method interval of the lift, chance to beat
    control (Beta(1, 1) prior), the always-valid mSPRT p-value; with more than two variants
    `p_value` (and `revenue_p_value`) are Holm-adjusted against control and `chi2_p_value` tests all
    variants at once. Revenue per unit: Welch's t-test. `srm_p_value` / `srm_flag` test the split of
    units against an equal split (the same on every row). The control row's comparison fields are
    NaN; `verdict` is one plain sentence per row and `reason` says why a figure is NaN.
    """
    _check_stats(stats)
    has_revenue = all(c in stats.columns for c in ("revenue_sum", "revenue_sumsq")) and not stats.empty and bool(
        stats[["revenue_sum", "revenue_sumsq"]].notna().all().all())
    columns = RESULT_COLUMNS + (REVENUE_COLUMNS if has_revenue else [])
    if stats.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("variant", "test", "verdict", "reason",
                                                                  "revenue_reason") else float)
                             for c in columns})
    names = [str(v) for v in stats["variant"]]
    control = _pick_control(names, control)
    units = {n: int(u) for n, u in zip(names, stats["units"])}
    raw_conversions = stats["conversions"] if "conversions" in stats.columns else [None] * len(names)
    conversions = {n: _optional(c) for n, c in zip(names, raw_conversions)}
    has_conversions = all(c is not None for c in conversions.values())

    srm = abstats.sample_ratio_mismatch(units)
    order = [control] + [n for n in names if n != control]
    rows = {n: {"variant": n, "is_control": n == control, "units": units[n],
                "conversions": conversions[n] if conversions[n] is not None else math.nan,
                "srm_p_value": srm.p_value, "srm_flag": srm.flagged} for n in order}
    for n in order:
        rows[n]["rate"] = (conversions[n] / units[n] if units[n] and conversions[n] is not None else math.nan)

    if has_conversions:
        groups = {n: Proportion(units[n], int(conversions[n])) for n in names}
        many = abstats.compare_many(groups, control, alpha)
        valid = always_valid(stats, control)
        valid_p = dict(zip(valid["variant"], valid["p_value_raw"]))
        for n, result in many.comparisons.items():
            chance = abstats.chance_to_beat(groups[control], groups[n])
            rows[n].update(
                diff=result.diff, diff_ci_low=result.diff_ci[0], diff_ci_high=result.diff_ci[1],
                lift=result.lift, lift_ci_low=result.lift_ci[0], lift_ci_high=result.lift_ci[1],
                p_value=result.p_value, p_value_raw=result.p_value_raw, test=result.test,
                significant=bool(result.p_value < alpha), chance_to_beat=chance.probability,
                always_valid_p_value=valid_p[n], chi2_p_value=many.p_value,
                verdict=abstats.verdict(result, metric_name, variant=n, control=control, unit=unit),
                reason=result.reason,
            )
        rows[control]["chi2_p_value"] = many.p_value
    else:
        why = f"The results have no conversion counts, so there is no {metric_name} to compare."
        for n in order[1:]:
            rows[n].update(verdict=why, reason=why)
    rows[control]["verdict"] = "Control: the baseline every other variant is compared with."

    if has_revenue:
        means = {n: Mean(units[n], float(s), float(q))
                 for n, s, q in zip(names, stats["revenue_sum"], stats["revenue_sumsq"])}
        for n in order:
            rows[n]["revenue_per_unit"] = means[n].mean
        others = order[1:]
        welch = {n: abstats.welch_t_test(means[control], means[n], alpha) for n in others}
        adjusted = abstats.holm([welch[n].p_value for n in others])
        for n, p in zip(others, adjusted):
            result = welch[n]
            rows[n].update(revenue_diff=result.diff, revenue_diff_ci_low=result.diff_ci[0],
                           revenue_diff_ci_high=result.diff_ci[1], revenue_lift=result.lift,
                           revenue_p_value=p, revenue_p_value_raw=result.p_value, revenue_reason=result.reason)

    table = pd.DataFrame([rows[n] for n in order]).reindex(columns=columns)
    for column in ("is_control", "srm_flag"):
        table[column] = table[column].astype(bool)
    table["significant"] = table["significant"].astype("boolean")
    table["conversions"] = table["conversions"].astype("Int64")
    return table


def always_valid(stats: pd.DataFrame, control: str | None = None, tau: float = MSPRT_TAU) -> pd.DataFrame:
    """The always-valid (mSPRT) p-value of each variant against control at the current counts.

    Unlike the fixed-horizon p-value it stays valid however often the test is looked at (DESIGN.md:
    six weekly looks at 5 % give about 15 % false positives). A weekly series of running minima
    (`abstats.running_msprt`) would need the date each unit entered, which `experiment_units` does not
    record, so this is the value at one look: valid, if a little more cautious than the running one.
    Columns: variant, p_value (Holm-adjusted against control with more than two variants),
    p_value_raw, reason; the control row is NaN.
    """
    _check_stats(stats)
    names = [str(v) for v in stats["variant"]]
    control = _pick_control(names, control)
    if control is None:
        return pd.DataFrame({"variant": pd.Series(dtype=object), "p_value": pd.Series(dtype=float),
                             "p_value_raw": pd.Series(dtype=float), "reason": pd.Series(dtype=object)})
    raw_conversions = stats["conversions"] if "conversions" in stats.columns else [None] * len(names)
    conversions = {n: _optional(c) for n, c in zip(names, raw_conversions)}
    units = {n: int(u) for n, u in zip(names, stats["units"])}
    others = [n for n in names if n != control]
    raw, reasons = [], []
    for n in others:
        if conversions[n] is None or conversions[control] is None:
            raw.append(math.nan)
            reasons.append("The results have no conversion counts.")
            continue
        result = abstats.msprt(Proportion(units[control], int(conversions[control])),
                               Proportion(units[n], int(conversions[n])), tau)
        raw.append(result.p_value)
        reasons.append(result.reason)
    adjusted = abstats.holm(raw)
    return pd.DataFrame({"variant": [control, *others], "p_value": [math.nan, *adjusted],
                         "p_value_raw": [math.nan, *raw], "reason": [None, *reasons]})


# --- words for the page and the command line ----------------------------------------------------


def headline(results: pd.DataFrame, alpha: float = 0.05) -> str:
    """The one sentence to read first: the verdicts of the variants that differ significantly from
    control, else the verdict of the variant closest to doing so, naming it and the control.

    A significant verdict whose always-valid p-value is not below `alpha` says so: the difference holds
    at a single look, not for a test that has been checked again and again.
    """
    if results.empty:
        return "This experiment has no variants yet."
    control = results.loc[results["is_control"], "variant"].iloc[0]
    others = results[~results["is_control"]]
    if others.empty:
        return f"Only one variant ({control}) so far, so there is nothing to compare it with."
    winners = others[others["significant"].fillna(False).astype(bool)].sort_values("p_value")
    if not winners.empty:
        return " ".join(_qualified(str(v), p, alpha) for v, p in
                        zip(winners["verdict"], winners["always_valid_p_value"]))
    closest = others.sort_values("p_value", na_position="last").iloc[0]
    sentence = str(closest["verdict"]).replace(": ", " — ", 1)
    return f"{closest['variant']} vs {control}: {sentence[:1].lower()}{sentence[1:]}"


def _qualified(verdict: str, always_valid_p: float, alpha: float) -> str:
    """A significant verdict, with a word of caution when the always-valid p-value is not significant."""
    if pd.isna(always_valid_p) or always_valid_p < alpha:
        return verdict
    return (f"{verdict.rstrip('.')} — significant at a single look; if you have been checking it every "
            f"week, keep it running (always-valid {abstats.format_p(float(always_valid_p))}).")


def srm_warning(results: pd.DataFrame) -> str | None:
    """A warning when the units are not split evenly between the variants (sample ratio mismatch)."""
    if results.empty or not bool(results["srm_flag"].iloc[0]):
        return None
    split = ", ".join(f"{v} {u:,}" for v, u in zip(results["variant"], results["units"]))
    return (f"Sample ratio mismatch: the units are not split evenly ({split}; "
            f"{abstats.format_p(float(results['srm_p_value'].iloc[0]))}). The assignment may be broken; "
            "check it before trusting these results.")


def _pct(x: float, signed: bool = False) -> str:
    if pd.isna(x):
        return "n/a"
    decimals = 1 if abs(x) >= 0.01 or x == 0 else 2
    return f"{x * 100:{'+' if signed else ''}.{decimals}f}%"


def _points(x: float) -> str:
    """A difference of rates in percentage points: 0.0049 -> '+0.49 pp'."""
    decimals = 1 if abs(x) >= 0.1 else 2
    return f"{x * 100:+.{decimals}f} pp"


def _with_interval(x: float, low: float, high: float, points: bool = False) -> str:
    show = _points if points else (lambda v: _pct(v, signed=True))
    if pd.isna(x):
        return "n/a"
    if pd.isna(low):
        return show(x)
    return f"{show(x)} ({show(low)} to {show(high)})"


def _p(x: float) -> str:
    return "" if pd.isna(x) else abstats.format_p(float(x))


def format_results(results: pd.DataFrame) -> pd.DataFrame:
    """`ab_results` as text for people: rates and lifts as percentages, p-values via `format_p`.

    The control row's comparison cells are empty; NaN figures of other rows read "n/a".
    """
    several = int((~results["is_control"]).sum()) > 1
    table = pd.DataFrame({
        "Variant": [f"{v} (control)" if c and v.strip().casefold() != "control" else v
                    for v, c in zip(results["variant"], results["is_control"])],
        "Units": [f"{u:,.0f}" for u in results["units"]],
        "Conversions": ["n/a" if pd.isna(c) else f"{c:,.0f}" for c in results["conversions"]],
        "Rate": [_pct(r) for r in results["rate"]],
        "Difference, points (95% CI)": [_with_interval(*v, points=True) for v in
                                zip(results["diff"], results["diff_ci_low"], results["diff_ci_high"])],
        "Lift (95% CI)": [_with_interval(*v) for v in
                          zip(results["lift"], results["lift_ci_low"], results["lift_ci_high"])],
        "p-value (Holm)" if several else "p-value": [_p(p) for p in results["p_value"]],
    })
    if several:
        table["p-value (raw)"] = [_p(p) for p in results["p_value_raw"]]
    table["Chance to beat control"] = ["" if pd.isna(c) else f"{c:.1%}" for c in results["chance_to_beat"]]
    table["Always-valid p"] = [_p(p) for p in results["always_valid_p_value"]]
    if "revenue_per_unit" in results.columns:
        table["Revenue per unit"] = ["n/a" if pd.isna(r) else f"{r:,.2f}" for r in results["revenue_per_unit"]]
        table["Revenue p-value"] = [_p(p) for p in results["revenue_p_value"]]
    control = results["is_control"].to_numpy()
    for column in ("Difference, points (95% CI)", "Lift (95% CI)"):
        table.loc[control, column] = ""
    return table


# --- planning -----------------------------------------------------------------------------------


class Plan(NamedTuple):
    """A test plan: units per arm to detect `mde` from `baseline`, or the MDE a given size detects."""

    baseline: float
    mde: float  # absolute difference in rate, or relative to the baseline when `relative`
    relative: bool
    alpha: float
    power: float
    units_per_arm: float  # a whole number, or NaN
    total_units: float  # units_per_arm times two arms
    target_rate: float
    formula: str
    reason: str | None


def plan(
    baseline: float,
    mde: float | None,
    alpha: float = 0.05,
    power: float = 0.8,
    relative: bool = False,
    units_per_arm: float | None = None,
) -> Plan:
    """Units per arm needed to detect a change of `mde` from a `baseline` rate (two arms), or, with
    `mde=None` and `units_per_arm`, the smallest change that many units per arm detect.

    `mde` is an absolute difference in rate (0.01 = one percentage point), relative to the baseline
    when `relative` (0.10 = a 10 % lift). Inputs outside their range raise BadInput.

    >>> plan(0.10, 0.02).units_per_arm
    3841.0
    """
    if mde is None and units_per_arm is None:
        raise BadInput("give a minimum detectable effect or a number of units per arm")
    try:
        if mde is not None:
            size = abstats.sample_size_per_arm(baseline, mde, alpha, power, relative)
            n, target, reason = size.units_per_arm, size.target_rate, size.reason
        else:
            effect = abstats.minimum_detectable_effect(baseline, units_per_arm, alpha, power, relative)
            mde, n, target, reason = effect.mde, float(units_per_arm), effect.target_rate, effect.reason
    except ValueError as error:
        raise BadInput(str(error)) from error
    return Plan(baseline, float(mde), relative, alpha, power, n, 2 * n, target, PLAN_FORMULA, reason)


__all__ = [
    "PLAN_FORMULA", "Plan", "ab_results", "always_valid", "experiment_results", "format_results", "headline",
    "list_experiments", "metric_label", "plan", "read_results_file", "srm_warning", "variant_stats",
]  # fmt: skip
