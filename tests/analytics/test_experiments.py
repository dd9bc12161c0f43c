"""A/B tests from the warehouse and from results files, checked by hand and against statsmodels and scipy."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from analytics import abstats
from analytics.errors import BadInput
from analytics.experiments import (
    ab_results,
    always_valid,
    experiment_results,
    format_results,
    headline,
    list_experiments,
    plan,
    read_results_file,
    srm_warning,
    variant_stats,
)
from analytics.imports import import_file

COMPARISON_FIELDS = ["diff", "diff_ci_low", "diff_ci_high", "lift", "lift_ci_low", "lift_ci_high",
                     "p_value", "p_value_raw", "chance_to_beat", "always_valid_p_value"]

# Eight units of a per-unit test, small enough to sum by hand:
# control: 4 units, 1 converted with value 10   -> n 4, x 1, sum 10, sumsq 100
# B:       4 units, 3 converted with 5, 7 and 9 -> n 4, x 3, sum 21, sumsq 25 + 49 + 81 = 155
UNITS = [
    ("u1", "control", True, 10.0), ("u2", "control", False, 0.0), ("u3", "control", False, 0.0),
    ("u4", "control", False, None), ("u5", "B", True, 5.0), ("u6", "B", True, 7.0), ("u7", "B", True, 9.0),
    ("u8", "B", False, 0.0),
]  # fmt: skip
BY_HAND = pd.DataFrame({"variant": ["B", "control"], "units": [4, 4], "conversions": [3, 1],
                        "revenue_sum": [21.0, 10.0], "revenue_sumsq": [155.0, 100.0]})


def add_variants(con: duckdb.DuckDBPyConnection, experiment: str, *rows: tuple, metric: str = "conversion") -> None:
    """Aggregated rows (variant, units, conversions[, revenue_sum, revenue_sumsq])."""
    con.executemany(
        "INSERT INTO experiment_variants (experiment, variant, metric, units, conversions, revenue_sum, "
        "revenue_sumsq, import_id) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
        [(experiment, r[0], metric, *r[1:], *(None,) * (5 - len(r))) for r in rows],
    )


def add_units(con: duckdb.DuckDBPyConnection, experiment: str, rows: list[tuple]) -> None:
    con.executemany(
        "INSERT INTO experiment_units (experiment, unit_id, variant, converted, value, import_id) "
        "VALUES (?, ?, ?, ?, ?, 1)",
        [(experiment, *r) for r in rows],
    )


# --- sufficient statistics ----------------------------------------------------------------------


def test_per_unit_and_aggregated_experiments_give_the_same_sufficient_statistics(con):
    add_units(con, "per-unit", UNITS)
    add_variants(con, "aggregated", ("control", 4, 1, 10.0, 100.0), ("B", 4, 3, 21.0, 155.0))
    for name in ("per-unit", "aggregated"):
        got = variant_stats(con, name)
        pd.testing.assert_frame_equal(got, BY_HAND, check_dtype=False)
    assert experiment_results(con, "per-unit").equals(experiment_results(con, "aggregated"))


def test_list_experiments_names_each_source_with_its_variants_and_units(con):
    add_units(con, "nurture", UNITS)
    add_variants(con, "cta", ("control", 100, 5), ("B", 110, 9))
    add_variants(con, "cta", ("control", 100, 20), ("B", 110, 30), metric="click")
    listing = list_experiments(con)
    assert listing[["experiment", "source", "variants", "units"]].values.tolist() == [
        ["cta", "aggregated", 2, 210], ["nurture", "per unit", 2, 8]]
    assert list(listing["metrics"][0]) == ["click", "conversion"]
    assert variant_stats(con, "cta", "click")["conversions"].tolist() == [30, 20]


def test_unknown_experiment_or_metric_names_the_known_ones(con):
    add_variants(con, "cta", ("control", 100, 5), ("B", 110, 9))
    with pytest.raises(BadInput, match="unknown experiment 'nope'; the warehouse has: cta"):
        variant_stats(con, "nope")
    with pytest.raises(BadInput, match="has no metric 'click'; it has: conversion"):
        variant_stats(con, "cta", "click")


def test_unknown_experiment_in_an_empty_warehouse_says_there_are_none(con):
    assert list_experiments(con).empty
    with pytest.raises(BadInput, match="no experiments yet"):
        variant_stats(con, "cta")


# --- the comparison ---------------------------------------------------------------------------


def test_two_variants_match_statsmodels_z_test_and_wald_and_log_ratio_intervals():
    n1, x1, n2, x2 = 10_000, 200, 10_050, 262
    results = ab_results(pd.DataFrame({"variant": ["control", "B"], "units": [n1, n2], "conversions": [x1, x2]}))
    b = results.set_index("variant").loc["B"]
    _, p = proportions_ztest([x2, x1], [n2, n1])  # pooled standard error, two-sided
    diff_ci = confint_proportions_2indep(x2, n2, x1, n1, method="wald", compare="diff")
    ratio_ci = confint_proportions_2indep(x2, n2, x1, n1, method="log", compare="ratio")
    assert b["p_value"] == pytest.approx(p, rel=1e-9)
    assert b["p_value_raw"] == b["p_value"]
    assert b["test"] == "z-test"
    assert b["rate"] == pytest.approx(x2 / n2)
    assert b["diff"] == pytest.approx(x2 / n2 - x1 / n1)
    assert (b["diff_ci_low"], b["diff_ci_high"]) == pytest.approx(diff_ci, rel=1e-9)
    assert b["lift"] == pytest.approx((x2 / n2) / (x1 / n1) - 1)
    assert (b["lift_ci_low"], b["lift_ci_high"]) == pytest.approx(np.array(ratio_ci) - 1, rel=1e-9)
    assert b["verdict"].startswith("Variant B lifts conversion rate by 30%")
    # Significant at a single look, not for a test checked every week: the headline says so.
    assert headline(results) == (f"{b['verdict'][:-1]} — significant at a single look; if you have been checking "
                                 "it every week, keep it running (always-valid p = 0.095).")
    assert headline(results, alpha=0.10) == b["verdict"]


def test_control_row_has_nan_comparison_fields_and_comes_first():
    results = ab_results(pd.DataFrame({"variant": ["B", "control"], "units": [1000, 1000],
                                       "conversions": [120, 100]}))
    control = results.iloc[0]
    assert control["variant"] == "control" and control["is_control"]
    assert all(math.isnan(control[f]) for f in COMPARISON_FIELDS)
    assert control["rate"] == 0.1
    assert control["verdict"].startswith("Control")


def test_explicit_control_is_used_and_an_unknown_one_is_bad_input():
    stats_ = pd.DataFrame({"variant": ["x", "y"], "units": [1000, 1000], "conversions": [100, 130]})
    assert ab_results(stats_, control="y")["variant"].tolist() == ["y", "x"]
    with pytest.raises(BadInput, match="control 'z' is not one of the variants: x, y"):
        ab_results(stats_, control="z")


def test_more_than_two_variants_give_holm_adjusted_and_raw_p_values():
    counts = {"control": (1000, 100), "B": (1000, 130), "C": (1000, 95), "D": (1000, 140)}
    stats_ = pd.DataFrame([(v, n, x) for v, (n, x) in counts.items()], columns=["variant", "units", "conversions"])
    results = ab_results(stats_).set_index("variant").loc[["B", "C", "D"]]
    raw = [proportions_ztest([counts[v][1], 100], [counts[v][0], 1000])[1] for v in ("B", "C", "D")]
    assert results["p_value_raw"].tolist() == pytest.approx(raw, rel=1e-9)
    assert results["p_value"].tolist() == pytest.approx(multipletests(raw, method="holm")[1].tolist(), rel=1e-9)
    chi2 = stats.chi2_contingency([[x, n - x] for n, x in counts.values()], correction=False)
    assert results["chi2_p_value"].tolist() == pytest.approx([chi2.pvalue] * 3)
    assert list(format_results(ab_results(stats_)).columns[6:8]) == ["p-value (Holm)", "p-value (raw)"]


def test_all_zero_conversions_give_nan_and_a_reason_not_an_error():
    results = ab_results(pd.DataFrame({"variant": ["control", "B", "C"], "units": [500, 500, 500],
                                       "conversions": [0, 0, 0]}))
    others = results[~results["is_control"]]
    assert others[COMPARISON_FIELDS].isna().all().all()
    assert (others["reason"] == "Nobody has converted in either group yet, so there is nothing to compare.").all()
    assert (others["verdict"] == others["reason"]).all()
    assert math.isnan(results["chi2_p_value"].iloc[0])
    assert "nobody has converted" in headline(results)


@pytest.mark.parametrize("units, conversions", [([0, 0], [0, 0]), ([1, 1], [1, 0]), ([50, 40], [50, 40])])
def test_degenerate_counts_never_raise(units, conversions):
    results = ab_results(pd.DataFrame({"variant": ["control", "B"], "units": units, "conversions": conversions}))
    b = results.iloc[1]
    assert math.isnan(b["p_value"]) and b["reason"]
    assert isinstance(headline(results), str)
    format_results(results)


def test_empty_and_single_variant_results_do_not_raise():
    empty = ab_results(pd.DataFrame({"variant": [], "units": [], "conversions": []}))
    assert empty.empty and "p_value" in empty.columns
    assert headline(empty) == "This experiment has no variants yet."
    single = ab_results(pd.DataFrame({"variant": ["control"], "units": [10], "conversions": [2]}))
    assert headline(single).startswith("Only one variant (control)")
    assert math.isnan(single["srm_p_value"].iloc[0])


def test_more_conversions_than_units_is_bad_input():
    with pytest.raises(BadInput, match="variant 'B': conversions must be between 0 and units"):
        ab_results(pd.DataFrame({"variant": ["control", "B"], "units": [10, 10], "conversions": [1, 11]}))


def test_revenue_per_unit_uses_welch_on_sums_and_sums_of_squares():
    # control 1, 2, 3 and B 4, 5, 5, 6 (the Welch example of abstats), as sums and sums of squares
    results = ab_results(pd.DataFrame({"variant": ["control", "B"], "units": [3, 4], "conversions": [3, 4],
                                       "revenue_sum": [6.0, 20.0], "revenue_sumsq": [14.0, 102.0]}))
    b = results.iloc[1]
    expected = stats.ttest_ind([4, 5, 5, 6], [1, 2, 3], equal_var=False)
    assert b["revenue_per_unit"] == 5.0 and results["revenue_per_unit"].iloc[0] == 2.0
    assert b["revenue_diff"] == pytest.approx(3.0)
    assert b["revenue_p_value"] == pytest.approx(expected.pvalue, rel=1e-9)
    assert "revenue_p_value" not in ab_results(pd.DataFrame(
        {"variant": ["control", "B"], "units": [3, 4], "conversions": [1, 2]})).columns


def test_sample_ratio_mismatch_is_flagged_on_every_row_with_a_warning():
    results = ab_results(pd.DataFrame({"variant": ["control", "B"], "units": [5_000, 5_400],
                                       "conversions": [100, 110]}))
    assert results["srm_flag"].all()
    assert results["srm_p_value"].iloc[0] == pytest.approx(stats.chisquare([5_000, 5_400]).pvalue)
    assert srm_warning(results).startswith("Sample ratio mismatch: the units are not split evenly (control 5,000")
    assert srm_warning(ab_results(pd.DataFrame({"variant": ["control", "B"], "units": [5_000, 5_010],
                                                "conversions": [100, 110]}))) is None


def test_always_valid_p_is_the_msprt_at_the_current_counts_and_never_below_the_fixed_horizon_p():
    stats_ = pd.DataFrame({"variant": ["control", "B"], "units": [10_000, 10_000], "conversions": [1000, 1100]})
    valid = always_valid(stats_)
    assert valid["p_value"].iloc[1] == pytest.approx(0.2678, abs=1e-4)  # abstats.msprt's docstring example
    results = ab_results(stats_)
    assert results["always_valid_p_value"].iloc[1] == valid["p_value_raw"].iloc[1]
    assert results["always_valid_p_value"].iloc[1] > results["p_value"].iloc[1]
    assert math.isnan(valid["p_value"].iloc[0])


def test_not_significant_headline_names_the_variant_and_the_control():
    results = ab_results(pd.DataFrame({"variant": ["control", "B"], "units": [2000, 2000],
                                       "conversions": [200, 210]}))
    assert headline(results) == ("B vs control: not enough data yet — about 13,000 more leads per variant "
                                 "to detect a 10% lift in conversion rate.")


# --- a big per-unit file ------------------------------------------------------------------------


def test_300k_unit_file_imports_and_matches_scipy_on_the_raw_arrays(con, tmp_path):
    rng = np.random.default_rng(7)
    n = 300_000
    treated = rng.random(n) < 0.5
    converted = rng.random(n) < np.where(treated, 0.056, 0.05)
    value = np.where(converted, rng.gamma(2.0, 150.0, n).round(2), 0.0)
    path = tmp_path / "units.parquet"
    pd.DataFrame({"experiment": "big", "unit_id": np.char.add("u", np.arange(n).astype(str)),
                  "variant": np.where(treated, "treatment", "control"), "converted": converted,
                  "value": value}).to_parquet(path)

    result = import_file(con, "experiments", path)
    assert (result.table, result.rows_added) == ("experiment_units", n)
    results = experiment_results(con, "big").set_index("variant")

    x = [int(converted[treated].sum()), int(converted[~treated].sum())]
    units = [int(treated.sum()), int((~treated).sum())]
    _, p = proportions_ztest(x, units)
    t = results.loc["treatment"]
    assert (t["units"], t["conversions"]) == (units[0], x[0])
    assert t["p_value"] == pytest.approx(p, rel=1e-9)
    assert t["diff"] == pytest.approx(x[0] / units[0] - x[1] / units[1], rel=1e-12)
    welch = stats.ttest_ind(value[treated], value[~treated], equal_var=False)
    assert t["revenue_p_value"] == pytest.approx(welch.pvalue, rel=1e-6)
    assert t["revenue_per_unit"] == pytest.approx(value[treated].mean(), rel=1e-12)


# --- results files ------------------------------------------------------------------------------


def test_results_file_with_two_experiments_requires_choosing_one(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("Experiment,Variant,Units,Conversions\ncta,control,1000,50\ncta,B,1000,70\n"
                    "mail,control,500,40\nmail,sms,510,45\n")
    with pytest.raises(BadInput, match=r"results.csv: the file holds 2 experiments \(cta, mail\); say which one"):
        read_results_file(path)
    with pytest.raises(BadInput, match="no experiment 'web'; it has: cta, mail"):
        read_results_file(path, "web")
    got = read_results_file(path, "mail")
    assert got[["variant", "units", "conversions"]].values.tolist() == [["control", 500, 40], ["sms", 510, 45]]
    assert got["revenue_sum"].isna().all()


def test_results_file_of_one_experiment_needs_no_name_and_matches_the_warehouse(con, tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("variant,units,conversions,revenue_sum,revenue_sumsq\ncontrol,4,1,10,100\nB,4,3,21,155\n")
    pd.testing.assert_frame_equal(read_results_file(path), BY_HAND, check_dtype=False)
    units_file = tmp_path / "units.csv"
    units_file.write_text("unit_id,variant,converted,value\n" + "".join(
        f"{u},{v},{'yes' if c else 'no'},{'' if x is None else x}\n" for u, v, c, x in UNITS))
    pd.testing.assert_frame_equal(read_results_file(units_file), BY_HAND, check_dtype=False)


def test_results_file_with_a_bad_count_names_the_row_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("variant,units,conversions\ncontrol,100,5\nB,100,105\n")
    with pytest.raises(BadInput, match=r"bad.csv, row 2 \(line 3\), column 'conversions': '105' is larger"):
        read_results_file(path)
    path.write_text("variant,units\ncontrol,100\ncontrol,90\n")
    with pytest.raises(BadInput, match="variant 'control' appears in more than one row"):
        read_results_file(path)
    path.write_text("name,count\na,1\n")
    with pytest.raises(BadInput, match="missing columns variant, units"):
        read_results_file(path)


def test_results_file_with_several_metrics_defaults_to_conversion(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("variant,metric,units,conversions\ncontrol,click,100,30\nB,click,100,40\n"
                    "control,conversion,100,5\nB,conversion,100,8\n")
    assert read_results_file(path)["conversions"].tolist() == [8, 5]
    assert read_results_file(path, metric="click")["conversions"].tolist() == [40, 30]


# --- planning -----------------------------------------------------------------------------------


def test_plan_wraps_the_sample_size_and_the_detectable_effect():
    result = plan(0.05, 0.01)
    assert result.units_per_arm == abstats.sample_size_per_arm(0.05, 0.01).units_per_arm
    assert result.total_units == 2 * result.units_per_arm and "Fleiss" in result.formula
    relative = plan(0.10, 0.20, relative=True)
    assert relative.units_per_arm == plan(0.10, 0.02).units_per_arm
    back = plan(0.05, None, units_per_arm=result.units_per_arm)
    assert back.mde == pytest.approx(0.01, rel=1e-3)
    assert math.isnan(plan(0.0, 0.1, relative=True).units_per_arm)
    with pytest.raises(BadInput, match="baseline must be a rate between 0 and 1"):
        plan(5.0, 0.01)
