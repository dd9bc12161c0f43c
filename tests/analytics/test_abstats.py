"""A/B statistics against independent references: statsmodels, scipy on raw samples, numerical
integration, Monte Carlo, closed forms written out here, and published examples."""

from __future__ import annotations

import doctest
import math
from decimal import Decimal, getcontext
from fractions import Fraction
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    power_proportions_2indep,
    proportions_ztest,
    samplesize_proportions_2indep_onetail,
)
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from analytics import abstats
from analytics.abstats import (
    Mean,
    Proportion,
    benjamini_hochberg,
    chance_to_beat,
    compare_many,
    compare_proportions,
    default_control,
    format_p,
    holm,
    minimum_detectable_effect,
    msprt,
    running_msprt,
    sample_ratio_mismatch,
    sample_size_per_arm,
    verdict,
    welch_t_test,
)

NAN = math.nan


def mean_of(values: list[float]) -> Mean:
    array = np.asarray(values, dtype=float)
    return Mean(len(array), float(array.sum()), float((array**2).sum()))


def is_nan_pair(pair: tuple[float, float]) -> bool:
    return math.isnan(pair[0]) and math.isnan(pair[1])


def test_docstring_examples_run():
    assert doctest.testmod(abstats, optionflags=doctest.ELLIPSIS).failed == 0


# --- inputs -------------------------------------------------------------------------------------


def test_proportion_rejects_more_conversions_than_units():
    with pytest.raises(ValueError, match="conversions"):
        Proportion(10, 11)
    with pytest.raises(ValueError):
        Proportion(10, -1)


def test_mean_variance_matches_numpy_sample_variance():
    values = [3.5, 0.0, 12.25, 7.0, 7.0, 1.5]
    assert mean_of(values).mean == pytest.approx(np.mean(values))
    assert mean_of(values).variance == pytest.approx(np.var(values, ddof=1), rel=1e-12)


def test_mean_variance_of_identical_values_is_zero_despite_rounding():
    # 0.1 is not exact in binary: the raw sum of squares leaves a tiny positive remainder.
    assert mean_of([0.1] * 7).variance == 0.0


# --- compare_proportions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n1", "x1", "n2", "x2"),
    [
        (10_000, 200, 10_000, 250),
        (1_234, 87, 2_345, 131),
        (500, 250, 480, 200),
        (100_000, 9_000, 90_000, 8_300),
    ],
)
def test_z_test_matches_statsmodels_proportions_ztest(n1, x1, n2, x2):
    result = compare_proportions(Proportion(n1, x1), Proportion(n2, x2))
    z, p = proportions_ztest([x2, x1], [n2, n1])  # pooled variance by default
    assert result.test == "z-test"
    assert result.p_value == pytest.approx(p, rel=1e-10)
    assert result.p_value_raw == result.p_value
    assert result.diff == pytest.approx(x2 / n2 - x1 / n1, rel=1e-12)
    assert result.reason is None


@pytest.mark.parametrize(("n1", "x1", "n2", "x2"), [(10_000, 200, 10_000, 250), (1_234, 87, 2_345, 131)])
@pytest.mark.parametrize("alpha", [0.05, 0.10])
def test_difference_interval_matches_statsmodels_wald_interval(n1, x1, n2, x2, alpha):
    result = compare_proportions(Proportion(n1, x1), Proportion(n2, x2), alpha=alpha)
    low, high = confint_proportions_2indep(x2, n2, x1, n1, method="wald", compare="diff", alpha=alpha)
    assert result.diff_ci == pytest.approx((low, high), rel=1e-10)


@pytest.mark.parametrize(
    ("n1", "x1", "n2", "x2"), [(10_000, 200, 10_000, 250), (1_234, 87, 2_345, 131), (40, 3, 50, 9)]
)
def test_lift_interval_matches_statsmodels_log_ratio_interval(n1, x1, n2, x2):
    result = compare_proportions(Proportion(n1, x1), Proportion(n2, x2))
    low, high = confint_proportions_2indep(x2, n2, x1, n1, method="log", compare="ratio")
    assert result.lift == pytest.approx((x2 / n2) / (x1 / n1) - 1, rel=1e-12)
    assert result.lift_ci == pytest.approx((low - 1, high - 1), rel=1e-10)


def test_tiny_p_value_at_1e8_units_matches_high_precision_reference():
    n, x1, x2 = 100_000_000, 2_000_000, 2_023_000
    result = compare_proportions(Proportion(n, x1), Proportion(n, x2))
    # Reference: z from exact rational arithmetic and a 50-digit square root, tail from math.erfc.
    getcontext().prec = 50
    diff = Fraction(x2 - x1, n)
    pooled = Fraction(x1 + x2, 2 * n)
    variance = pooled * (1 - pooled) * Fraction(2, n)
    z = Decimal(diff.numerator) / Decimal(diff.denominator) / (
        Decimal(variance.numerator) / Decimal(variance.denominator)
    ).sqrt()
    reference = math.erfc(float(z) / math.sqrt(2))
    assert 1e-31 < reference < 1e-29
    assert result.p_value == pytest.approx(reference, rel=1e-9)
    assert result.p_value == pytest.approx(proportions_ztest([x2, x1], [n, n])[1], rel=1e-9)
    assert 2 * (1 - stats.norm.cdf(float(z))) == 0.0  # what the 1 - cdf shortcut would have shown


def test_small_difference_at_1e8_units_gives_accurate_moderate_p_value():
    n = 100_000_000
    result = compare_proportions(Proportion(n, 2_000_000), Proportion(n, 2_006_000))
    assert result.p_value == pytest.approx(proportions_ztest([2_006_000, 2_000_000], [n, n])[1], rel=1e-9)
    assert 0.001 < result.p_value < 0.01


def test_fisher_exact_reproduces_the_lady_tasting_tea():
    # Fisher (1935), The Design of Experiments: 3 of 4 cups right against 1 of 4, two-sided p = 34/70.
    result = compare_proportions(Proportion(4, 1), Proportion(4, 3))
    assert result.test == "Fisher's exact test"
    assert result.p_value == pytest.approx(34 / 70, rel=1e-12)


def test_fisher_exact_is_used_when_an_expected_count_is_under_five():
    # Expected conversions per arm: 40 * 9 / 80 = 4.5 < 5.
    result = compare_proportions(Proportion(40, 2), Proportion(40, 7))
    assert result.test == "Fisher's exact test"
    assert result.p_value == pytest.approx(stats.fisher_exact([[7, 33], [2, 38]]).pvalue, rel=1e-12)


def test_z_test_is_used_when_the_smallest_expected_count_is_exactly_five():
    result = compare_proportions(Proportion(40, 3), Proportion(40, 7))  # 40 * 10 / 80 = 5
    assert result.test == "z-test"


def test_zero_conversions_in_one_arm_still_gives_a_p_value_but_no_lift():
    result = compare_proportions(Proportion(500, 0), Proportion(500, 9))  # expected 4.5: Fisher
    assert result.test == "Fisher's exact test"
    assert result.p_value == pytest.approx(stats.fisher_exact([[9, 491], [0, 500]]).pvalue)
    assert result.p_value < 0.01
    assert math.isnan(result.lift) and is_nan_pair(result.lift_ci)
    assert "control" in result.reason
    assert result.diff == pytest.approx(0.018)


def test_zero_conversions_in_the_variant_is_a_100_percent_drop_without_interval():
    result = compare_proportions(Proportion(1_000, 30), Proportion(1_000, 0))
    assert result.lift == -1.0
    assert is_nan_pair(result.lift_ci)
    assert result.p_value < 1e-6
    assert result.reason


@pytest.mark.parametrize(
    ("control", "treatment", "words"),
    [
        (Proportion(1_000, 0), Proportion(1_000, 0), "Nobody has converted"),
        (Proportion(50, 50), Proportion(70, 70), "Everybody converted"),
        (Proportion(0, 0), Proportion(1_000, 10), "Nobody is in the control group"),
        (Proportion(1_000, 10), Proportion(0, 0), "Nobody is in the variant group"),
        (Proportion(1, 1), Proportion(1_000, 10), "only one member"),
        (Proportion(0, 0), Proportion(0, 0), "Nobody is in the control group"),
    ],
)
def test_degenerate_input_gives_nan_with_a_reason_not_p_equal_one(control, treatment, words):
    result = compare_proportions(control, treatment)
    assert math.isnan(result.p_value) and math.isnan(result.p_value_raw)
    assert math.isnan(result.diff) and is_nan_pair(result.diff_ci)
    assert math.isnan(result.lift) and is_nan_pair(result.lift_ci)
    assert result.test is None
    assert words in result.reason
    assert verdict(result) == result.reason


def test_one_arm_all_converted_and_other_none_has_no_difference_interval():
    result = compare_proportions(Proportion(30, 0), Proportion(30, 30))
    assert result.p_value == pytest.approx(stats.fisher_exact([[30, 0], [0, 30]]).pvalue)
    assert is_nan_pair(result.diff_ci)
    assert "same thing" in result.reason


def test_identical_arms_show_no_difference():
    result = compare_proportions(Proportion(5_000, 400), Proportion(5_000, 400))
    assert result.diff == 0.0 and result.lift == 0.0
    assert result.p_value == 1.0  # a real answer here: the data are identical
    assert result.diff_ci[0] == pytest.approx(-result.diff_ci[1])
    assert result.lift_ci[0] < 0 < result.lift_ci[1]
    assert result.reason is None


def test_invalid_alpha_is_rejected():
    with pytest.raises(ValueError, match="alpha"):
        compare_proportions(Proportion(10, 1), Proportion(10, 2), alpha=5)


counts = st.integers(min_value=2, max_value=5_000).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(min_value=0, max_value=n))
)


@settings(max_examples=50, deadline=None)
@given(counts, counts)
def test_z_test_p_value_is_symmetric_and_in_range(a, b):
    forward = compare_proportions(Proportion(*a), Proportion(*b))
    backward = compare_proportions(Proportion(*b), Proportion(*a))
    if forward.reason and math.isnan(forward.p_value):
        assert math.isnan(backward.p_value)
        return
    assert 0 <= forward.p_value <= 1  # 0 only when p is below 1e-308, beyond what a float holds
    assert forward.p_value == pytest.approx(backward.p_value, rel=1e-9)
    assert forward.diff == pytest.approx(-backward.diff, abs=1e-15)
    if not is_nan_pair(forward.diff_ci):
        assert forward.diff_ci[0] <= forward.diff <= forward.diff_ci[1]


# --- compare_many -------------------------------------------------------------------------------


FOUR_VARIANTS = {
    "A": Proportion(1_000, 100),
    "B": Proportion(1_000, 130),
    "C": Proportion(1_200, 95),
    "D": Proportion(800, 90),
}


def test_chi_square_over_many_variants_matches_the_textbook_formula():
    variants = FOUR_VARIANTS
    result = compare_many(variants)
    observed = np.array([[g.conversions, g.units - g.conversions] for g in variants.values()], dtype=float)
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0) / observed.sum()
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert result.chi2 == pytest.approx(chi2, rel=1e-10)
    assert result.dof == 3
    assert result.p_value == pytest.approx(stats.chi2.sf(chi2, 3), rel=1e-9)
    assert result.reason is None


def test_pairwise_p_values_are_holm_adjusted_like_statsmodels():
    variants = FOUR_VARIANTS
    result = compare_many(variants)
    assert result.control == "A"
    assert list(result.comparisons) == ["B", "C", "D"]
    raw = [compare_proportions(variants["A"], variants[name]).p_value for name in "BCD"]
    assert [result.comparisons[name].p_value_raw for name in "BCD"] == raw
    adjusted = multipletests(raw, method="holm")[1]
    assert [result.comparisons[name].p_value for name in "BCD"] == pytest.approx(adjusted, rel=1e-12)
    assert all(result.comparisons[name].p_value >= result.comparisons[name].p_value_raw for name in "BCD")


def test_two_variants_chi_square_is_the_squared_z():
    control, treatment = Proportion(2_000, 150), Proportion(2_100, 190)
    z, _ = proportions_ztest([190, 150], [2_100, 2_000])
    result = compare_many({"control": control, "treatment": treatment})
    assert result.chi2 == pytest.approx(z**2, rel=1e-10)
    assert result.p_value == pytest.approx(result.comparisons["treatment"].p_value, rel=1e-9)


def test_compare_many_skips_empty_variants_in_the_chi_square():
    result = compare_many({"a": Proportion(500, 50), "b": Proportion(500, 80), "c": Proportion(0, 0)})
    assert result.dof == 1
    two_by_two = stats.chi2_contingency([[50, 450], [80, 420]], correction=False)
    assert result.chi2 == pytest.approx(two_by_two.statistic)
    assert "Nobody is in the variant group" in result.comparisons["c"].reason
    # NaN passes through Holm and does not count as a test: b keeps its raw p-value.
    assert result.comparisons["b"].p_value == result.comparisons["b"].p_value_raw


def test_compare_many_without_conversions_anywhere_explains_why():
    result = compare_many({"a": Proportion(500, 0), "b": Proportion(500, 0), "c": Proportion(400, 0)})
    assert math.isnan(result.chi2) and math.isnan(result.p_value)
    assert "Nobody has converted" in result.reason
    assert all(math.isnan(c.p_value) for c in result.comparisons.values())


def test_compare_many_with_one_variant_explains_why():
    result = compare_many({"only": Proportion(100, 10)})
    assert result.control == "only" and result.comparisons == {}
    assert math.isnan(result.p_value) and "Fewer than two" in result.reason
    assert compare_many({}).control is None


def test_compare_many_uses_the_given_control_and_rejects_unknown_ones():
    variants = {"A": Proportion(1_000, 100), "B": Proportion(1_000, 130)}
    assert list(compare_many(variants, control="B").comparisons) == ["A"]
    with pytest.raises(ValueError, match="'Z'"):
        compare_many(variants, control="Z")


@pytest.mark.parametrize(
    ("names", "control"),
    [
        (["B", "a", "C"], "a"),
        (["variant", "Control", "A"], "Control"),
        (["v2", "BASELINE", "v1"], "BASELINE"),
        (["red", "green", "blue"], "blue"),
        (["B", "A", "baseline"], "A"),
        ([], None),
    ],
)
def test_default_control_prefers_control_a_baseline_then_sorted_first(names, control):
    assert default_control(names) == control


# --- Welch --------------------------------------------------------------------------------------


def test_welch_matches_scipy_on_raw_samples_and_from_stats():
    rng = np.random.default_rng(7)
    a = rng.lognormal(3.0, 1.0, size=80)
    b = rng.lognormal(3.2, 1.3, size=65)
    result = welch_t_test(mean_of(a.tolist()), mean_of(b.tolist()))
    raw = stats.ttest_ind(b, a, equal_var=False)
    assert result.t == pytest.approx(raw.statistic, rel=1e-9)
    assert result.p_value == pytest.approx(raw.pvalue, rel=1e-9)
    assert result.df == pytest.approx(raw.df, rel=1e-9)
    from_stats = stats.ttest_ind_from_stats(
        b.mean(), b.std(ddof=1), len(b), a.mean(), a.std(ddof=1), len(a), equal_var=False
    )
    assert result.p_value == pytest.approx(from_stats.pvalue, rel=1e-9)


def test_welch_interval_matches_statsmodels_unequal_variance_interval():
    a = [12.0, 0.0, 0.0, 45.5, 8.0, 0.0, 19.9, 3.0]
    b = [30.0, 0.0, 12.5, 60.0, 41.0, 0.0, 25.0, 9.0, 18.0]
    result = welch_t_test(mean_of(a), mean_of(b), alpha=0.1)
    low, high = CompareMeans(DescrStatsW(b), DescrStatsW(a)).tconfint_diff(alpha=0.1, usevar="unequal")
    assert result.diff_ci == pytest.approx((low, high), rel=1e-9)


@pytest.mark.filterwarnings("ignore:Precision loss occurred:RuntimeWarning")  # scipy, on the constant arm
def test_welch_with_one_constant_arm_uses_the_other_arms_spread():
    a, b = [5.0] * 10, [4.0, 6.0, 7.5, 9.0, 5.5]
    result = welch_t_test(mean_of(a), mean_of(b))
    assert result.p_value == pytest.approx(stats.ttest_ind(b, a, equal_var=False).pvalue, rel=1e-9)
    assert result.df == pytest.approx(4.0)


@pytest.mark.parametrize(
    ("control", "treatment", "words"),
    [
        (Mean(0, 0.0, 0.0), mean_of([1.0, 2.0]), "Nobody is in the control group"),
        (mean_of([1.0, 2.0]), Mean(1, 3.0, 9.0), "only one member"),
        (mean_of([2.0] * 5), mean_of([3.0] * 8), "same within each group"),
    ],
)
def test_welch_degenerate_input_gives_nan_with_a_reason(control, treatment, words):
    result = welch_t_test(control, treatment)
    assert math.isnan(result.p_value) and math.isnan(result.t) and is_nan_pair(result.diff_ci)
    assert words in result.reason


def test_welch_lift_interval_covers_the_true_lift_about_95_percent_of_the_time():
    # Delta method on the log of the ratio of means: check its coverage by simulation (skewed revenue).
    rng = np.random.default_rng(11)
    true_lift = math.exp(0.2) - 1  # lognormal means: exp(mu + sigma^2 / 2)
    a = rng.lognormal(2.0, 1.0, size=(800, 300))
    b = rng.lognormal(2.2, 1.0, size=(800, 300))
    hits = 0
    for x, y in zip(a, b):
        low, high = welch_t_test(
            Mean(300, float(x.sum()), float((x**2).sum())), Mean(300, float(y.sum()), float((y**2).sum()))
        ).lift_ci
        hits += low <= true_lift <= high
    assert 0.92 <= hits / 800 <= 0.98


# --- chance to beat -----------------------------------------------------------------------------


def integrated_chance(control: Proportion, treatment: Proportion) -> float:
    """P(p_B > p_A) = integral of f_A(x) P(p_B > x) dx over the posteriors, by adaptive quadrature."""
    post_a = stats.beta(control.conversions + 1, control.units - control.conversions + 1)
    post_b = stats.beta(treatment.conversions + 1, treatment.units - treatment.conversions + 1)
    low = min(post_a.ppf(1e-16), post_b.ppf(1e-16))
    high = max(post_a.isf(1e-16), post_b.isf(1e-16))
    value, _ = integrate.quad(
        lambda x: post_a.pdf(x) * post_b.sf(x), low, high, epsabs=1e-15, epsrel=1e-13, limit=500,
        points=[post_a.mean(), post_b.mean()],
    )  # fmt: skip
    return value


@pytest.mark.parametrize(
    ("control", "treatment"),
    [
        (Proportion(1_000, 100), Proportion(1_000, 120)),  # sum over the variant's conversions
        (Proportion(200, 3), Proportion(300, 40)),  # over the control's conversions
        (Proportion(200, 195), Proportion(300, 280)),  # over the control's non-conversions
        (Proportion(600, 560), Proportion(90, 88)),  # over the variant's non-conversions
        (Proportion(20, 0), Proportion(25, 2)),
        (Proportion(2, 1), Proportion(3, 3)),
    ],
)
def test_chance_to_beat_matches_numerical_integration(control, treatment):
    expected = integrated_chance(control, treatment)
    assert chance_to_beat(control, treatment).probability == pytest.approx(expected, abs=1e-10)


def test_chance_to_beat_matches_monte_carlo():
    control, treatment = Proportion(800, 40), Proportion(750, 52)
    rng = np.random.default_rng(3)
    draws = 400_000
    share = np.mean(rng.beta(53, 699, draws) > rng.beta(41, 761, draws))
    four_standard_errors = 4 * math.sqrt(0.25 / draws)
    assert chance_to_beat(control, treatment).probability == pytest.approx(share, abs=four_standard_errors)


def test_chance_to_beat_is_exact_past_the_switch_to_the_windowed_sum():
    # Just under the switch every term is added; just over only the terms near the peak are.
    limit = abstats._EXACT_TERMS_LIMIT
    below = (Proportion(5_000_000, limit - 2), Proportion(5_000_000, limit - 2 + 600))
    above = (Proportion(5_000_000, limit), Proportion(5_000_000, limit + 600))
    for control, treatment in (below, above):
        assert chance_to_beat(control, treatment).probability == pytest.approx(
            integrated_chance(control, treatment), abs=1e-7
        )
    assert chance_to_beat(*below).probability == pytest.approx(chance_to_beat(*above).probability, abs=1e-3)


def test_chance_to_beat_at_1e8_units_matches_numerical_integration():
    control, treatment = Proportion(100_000_000, 50_000_000), Proportion(100_000_000, 50_005_000)
    expected = integrated_chance(control, treatment)
    assert chance_to_beat(control, treatment).probability == pytest.approx(expected, abs=1e-6)


def test_chance_to_beat_of_identical_arms_is_one_half_and_swapping_complements():
    same = chance_to_beat(Proportion(400, 37), Proportion(400, 37))
    assert same.probability == pytest.approx(0.5, abs=1e-12)
    forward = chance_to_beat(Proportion(300, 20), Proportion(250, 24)).probability
    backward = chance_to_beat(Proportion(250, 24), Proportion(300, 20)).probability
    assert forward + backward == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    ("control", "treatment"),
    [
        (Proportion(0, 0), Proportion(10, 1)),
        (Proportion(100, 0), Proportion(80, 0)),
        (Proportion(9, 9), Proportion(7, 7)),
        (Proportion(1, 0), Proportion(50, 5)),
    ],
)
def test_chance_to_beat_degenerate_input_gives_nan_with_a_reason(control, treatment):
    result = chance_to_beat(control, treatment)
    assert math.isnan(result.probability) and result.reason


# --- sample ratio mismatch ----------------------------------------------------------------------


def test_srm_matches_the_goodness_of_fit_formula_and_flags_below_0_001():
    observed = {"A": 5_000, "B": 5_400}
    result = sample_ratio_mismatch(observed)
    chi2 = (200**2 + 200**2) / 5_200
    assert result.chi2 == pytest.approx(chi2)
    assert result.p_value == pytest.approx(stats.chi2.sf(chi2, 1), rel=1e-10)
    assert result.flagged
    assert not sample_ratio_mismatch({"A": 5_000, "B": 5_300}).flagged  # p = 0.003


def test_srm_uses_planned_shares_normalised():
    result = sample_ratio_mismatch({"A": 2_010, "B": 7_990, "C": 1_000}, {"A": 20, "B": 80, "C": 10})
    expected = [11_000 * 20 / 110, 11_000 * 80 / 110, 11_000 * 10 / 110]
    assert list(result.expected.values()) == pytest.approx(expected)
    chi2 = sum((o - e) ** 2 / e for o, e in zip([2_010, 7_990, 1_000], expected))
    assert result.p_value == pytest.approx(stats.chi2.sf(chi2, 2), rel=1e-10)
    assert not result.flagged


def test_srm_without_units_or_with_one_variant_is_not_flagged_and_explains():
    empty = sample_ratio_mismatch({"A": 0, "B": 0})
    single = sample_ratio_mismatch({"A": 100})
    for result in (empty, single):
        assert math.isnan(result.p_value) and not result.flagged and result.reason
    with pytest.raises(ValueError):
        sample_ratio_mismatch({"A": 10, "B": 12}, {"A": 0.5, "C": 0.5})


# --- planning -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "mde", "alpha", "power"),
    [(0.10, 0.02, 0.05, 0.8), (0.02, 0.002, 0.05, 0.8), (0.30, -0.03, 0.01, 0.9), (0.5, 0.1, 0.1, 0.8)],
)
def test_sample_size_matches_statsmodels_onetail_formula(baseline, mde, alpha, power):
    result = sample_size_per_arm(baseline, mde, alpha=alpha, power=power)
    reference = samplesize_proportions_2indep_onetail(mde, baseline, power, alpha=alpha)
    assert result.units_per_arm == math.ceil(reference)
    assert result.target_rate == pytest.approx(baseline + mde)
    achieved = power_proportions_2indep(mde, baseline, result.units_per_arm, alpha=alpha).power
    assert power <= achieved < power + 0.01


def test_sample_size_for_a_relative_lift_and_the_hand_computed_value():
    # 10% -> 11%: (1.95996 * sqrt(2 * .105 * .895) + 0.84162 * sqrt(.09 + .0979))^2 / .01^2 = 14,750.8
    assert sample_size_per_arm(0.10, 0.10, relative=True).units_per_arm == 14_751
    assert sample_size_per_arm(0.10, 0.01).units_per_arm == 14_751


@pytest.mark.parametrize(
    ("baseline", "mde", "relative"),
    [(0.1, 0.0, False), (0.98, 0.05, False), (0.6, 0.8, True), (0.0, 0.1, True)],
)
def test_sample_size_of_impossible_or_zero_change_explains(baseline, mde, relative):
    result = sample_size_per_arm(baseline, mde, relative=relative)
    assert math.isnan(result.units_per_arm) and result.reason


@pytest.mark.parametrize(("baseline", "units"), [(0.10, 3_841), (0.02, 50_000), (0.45, 800), (0.0, 2_000)])
def test_mde_solves_the_sample_size_formula_and_gives_the_planned_power(baseline, units):
    result = minimum_detectable_effect(baseline, units)
    assert samplesize_proportions_2indep_onetail(result.mde, baseline, 0.8) == pytest.approx(units, rel=1e-9)
    assert power_proportions_2indep(result.mde, baseline, units).power == pytest.approx(0.8, abs=2e-3)
    assert result.target_rate == pytest.approx(baseline + result.mde)


def test_mde_relative_is_the_absolute_over_the_baseline():
    absolute = minimum_detectable_effect(0.04, 10_000).mde
    relative = minimum_detectable_effect(0.04, 10_000, relative=True)
    assert relative.relative and relative.mde == pytest.approx(absolute / 0.04)


@pytest.mark.parametrize(
    ("baseline", "units", "relative"),
    [(0.5, 2, False), (0.1, 0, False), (0.0, 1_000, True), (1.0, 500, False)],
)
def test_mde_without_enough_units_explains(baseline, units, relative):
    result = minimum_detectable_effect(baseline, units, relative=relative)
    assert math.isnan(result.mde) and result.reason


# --- multiple comparisons -----------------------------------------------------------------------

p_lists = st.lists(st.one_of(st.floats(min_value=0.0, max_value=1.0), st.just(NAN)), min_size=1, max_size=12)


@settings(max_examples=50, deadline=None)
@given(p_lists)
def test_holm_and_bh_match_statsmodels_with_nan_passed_through(p_values):
    known = [i for i, p in enumerate(p_values) if not math.isnan(p)]
    for ours, method in ((holm(p_values), "holm"), (benjamini_hochberg(p_values), "fdr_bh")):
        assert len(ours) == len(p_values)
        assert all(math.isnan(ours[i]) for i in range(len(p_values)) if i not in known)
        if known:
            # multipletests runs gc.collect() on every call: seconds under hypothesis, and no effect here.
            with mock.patch("gc.collect"):
                reference = multipletests([p_values[i] for i in known], method=method)[1]
            assert [ours[i] for i in known] == pytest.approx(reference, abs=1e-12)


def test_holm_textbook_example():
    # Holm (1979) step-down on 0.01, 0.04, 0.03, 0.005: multipliers 4, 3, 2, 1 in ascending order.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


# --- mSPRT --------------------------------------------------------------------------------------


def test_msprt_matches_johari_formula_with_per_observation_variance():
    # Johari et al. (2017), eq. for normal data: Lambda_n = sqrt(V / (V + n tau^2)) *
    # exp(n^2 tau^2 theta^2 / (2 V (V + n tau^2))), V = per-pair variance 2 pbar qbar, equal arms.
    n, tau = 20_000, 0.01
    control, treatment = Proportion(n, 2_000), Proportion(n, 2_130)
    theta, pbar = 130 / n, 4_130 / (2 * n)
    v = 2 * pbar * (1 - pbar)
    lam = math.sqrt(v / (v + n * tau**2)) * math.exp(n**2 * tau**2 * theta**2 / (2 * v * (v + n * tau**2)))
    assert msprt(control, treatment, tau).p_value == pytest.approx(1 / lam, rel=1e-10)


@settings(max_examples=50, deadline=None)
@given(st.integers(200, 50_000), st.floats(0.01, 0.6), st.floats(-0.3, 0.3))
def test_always_valid_p_is_never_below_the_fixed_horizon_p(n, rate, lift):
    control = Proportion(n, round(n * rate))
    treatment = Proportion(n, min(n, round(n * rate * (1 + lift))))
    fixed = compare_proportions(control, treatment)
    always = msprt(control, treatment)
    if fixed.test == "z-test":
        assert always.p_value >= fixed.p_value


def test_running_msprt_never_rises_and_waits_for_comparable_data():
    looks = [
        (Proportion(0, 0), Proportion(0, 0)),
        (Proportion(500, 0), Proportion(500, 0)),
        (Proportion(1_000, 100), Proportion(1_000, 130)),
        (Proportion(2_000, 200), Proportion(2_000, 205)),  # the effect fades: the p-value stays put
        (Proportion(3_000, 300), Proportion(3_000, 390)),
    ]
    running = running_msprt(looks)
    assert math.isnan(running[0]) and math.isnan(running[1])
    assert running[2] == msprt(*looks[2]).p_value
    assert running[3] == running[2] < msprt(*looks[3]).p_value
    assert running[4] == msprt(*looks[4]).p_value < running[3]


def test_weekly_peeking_inflates_false_positives_and_msprt_does_not():
    # 300 A/A tests, 500 units per arm per week, six weekly looks at a 10% rate.
    rng = np.random.default_rng(2017)
    weekly = rng.binomial(500, 0.10, size=(300, 6, 2)).cumsum(axis=1)
    naive = always = 0
    for experiment in weekly:
        looks = [
            (Proportion(500 * week, int(c)), Proportion(500 * week, int(t)))
            for week, (c, t) in enumerate(experiment, start=1)
        ]
        naive += any(compare_proportions(*look).p_value < 0.05 for look in looks)
        always += running_msprt(looks)[-1] < 0.05
    assert naive / 300 >= 0.10  # about 15% expected (Armitage, McPherson & Rowe 1969)
    assert always / 300 <= 0.05


def test_msprt_degenerate_input_explains():
    result = msprt(Proportion(100, 0), Proportion(100, 0))
    assert math.isnan(result.p_value) and "Nobody has converted" in result.reason
    with pytest.raises(ValueError):
        msprt(Proportion(100, 1), Proportion(100, 2), tau=0)


# --- words --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "text"),
    [(1e-30, "p < 0.0001"), (0.0, "p < 0.0001"), (0.00009999, "p < 0.0001"), (0.0001, "p = 0.0001"),
     (0.0432, "p = 0.043"), (0.4321, "p = 0.43"), (1.0, "p = 1.00"), (NAN, "n/a")],
)  # fmt: skip
def test_format_p(p, text):
    assert format_p(p) == text


def test_verdict_reports_a_significant_lift_with_its_interval():
    result = compare_proportions(Proportion(20_000, 400), Proportion(20_000, 480))
    low, high = result.lift_ci
    expected = f"Variant B lifts click rate by 20% (95% CI {low * 100:.0f}% to {high * 100:.0f}%)."
    assert verdict(result, metric="click rate") == expected


def test_verdict_reports_a_significant_drop_as_a_positive_fall():
    result = compare_proportions(Proportion(20_000, 480), Proportion(20_000, 400))
    text = verdict(result, metric="conversion rate", variant="Green")
    assert text.startswith("Variant Green lowers conversion rate by 17% (95% CI ")
    low, high = sorted(-b for b in result.lift_ci)
    assert text.endswith(f"{low * 100:.0f}% to {high * 100:.0f}%).")


def test_verdict_asks_for_more_data_when_the_test_is_too_small():
    result = compare_proportions(Proportion(2_000, 200), Proportion(2_000, 210))
    needed = sample_size_per_arm(0.10, 0.10, relative=True).units_per_arm - 2_000  # 12,751
    assert needed == 12_751
    assert verdict(result, unit="recipients") == (
        "Not enough data yet: about 13,000 more recipients per variant "
        "to detect a 10% lift in conversion rate."
    )


def test_verdict_reports_no_difference_when_the_test_was_big_enough():
    result = compare_proportions(Proportion(100_000, 2_000), Proportion(100_000, 2_030))
    assert verdict(result, metric="click rate", variant="B") == (
        f"No difference detected in click rate: B at 2.0% vs 2.0% for control ({format_p(result.p_value)})."
    )
    assert result.p_value > 0.5


def test_verdict_uses_the_holm_adjusted_p_value_from_compare_many():
    many = compare_many(
        {"A": Proportion(5_000, 500), "B": Proportion(5_000, 565), "C": Proportion(5_000, 505)}
    )
    b = many.comparisons["B"]
    assert b.p_value_raw < 0.05 < b.p_value
    assert not verdict(b).startswith("Variant B lifts")
