"""A/B test statistics on sufficient statistics (DESIGN.md, "A/B tests").

Inputs are counts and sums that DuckDB computes: `Proportion(units, conversions)` for a conversion
metric and `Mean(units, total, total_sq)` for a continuous one (revenue per lead). Every function
returns a small typed result. Degenerate input (nobody in a group, one unit, nobody or everybody
converting in every group, no spread) gives NaN figures and a `reason` in plain words, never an error
and never a bare p = 1. Impossible input (negative counts, more conversions than units, alpha outside
0..1) is a bug upstream and raises ValueError.

Rates, differences and lifts are fractions: 0.12 is +12 %, 0.01 is one percentage point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import optimize, special, stats

SRM_THRESHOLD = 0.001
"""A sample ratio mismatch is flagged below this p-value (DESIGN.md)."""

MSPRT_TAU = 0.01
"""Default spread of the effects an mSPRT expects: differences in rate of about one percentage point."""

_EXACT_TERMS_LIMIT = 100_000
"""Above this many terms `chance_to_beat` adds only the terms that matter (see `_beta_beats`)."""

_CONTROL_NAMES = ("control", "a", "baseline")


# --- inputs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proportion:
    """Conversions out of units for one variant.

    >>> Proportion(200, 9).rate
    0.045
    """

    units: int
    conversions: int

    def __post_init__(self) -> None:
        if not 0 <= self.conversions <= self.units:
            raise ValueError(f"need 0 <= conversions <= units, got {self.conversions} of {self.units}")

    @property
    def rate(self) -> float:
        return self.conversions / self.units if self.units else math.nan


@dataclass(frozen=True)
class Mean:
    """A continuous metric for one variant from n, the sum and the sum of squares.

    >>> m = Mean(units=4, total=10.0, total_sq=30.0)   # values 1, 2, 3, 4
    >>> m.mean, round(m.variance, 12)
    (2.5, 1.666666666667)
    """

    units: int
    total: float
    total_sq: float

    def __post_init__(self) -> None:
        if self.units < 0 or self.total_sq < 0:
            raise ValueError(f"need units >= 0 and total_sq >= 0, got {self.units} and {self.total_sq}")

    @property
    def mean(self) -> float:
        return self.total / self.units if self.units else math.nan

    @property
    def variance(self) -> float:
        """Sample variance (n - 1 in the denominator); NaN below two units.

        Sums of squares lose digits to cancellation when the spread is tiny next to the mean, so a
        remainder within rounding error of zero counts as zero.
        """
        if self.units < 2:
            return math.nan
        squares = self.total_sq - self.total * self.total / self.units
        if squares <= 64 * np.finfo(float).eps * self.total_sq:
            return 0.0
        return squares / (self.units - 1)


# --- results ------------------------------------------------------------------------------------


class ProportionComparison(NamedTuple):
    """Treatment against control on a conversion metric."""

    control_rate: float
    treatment_rate: float
    control_units: int
    treatment_units: int
    diff: float  # treatment rate - control rate
    diff_ci: tuple[float, float]
    lift: float  # treatment rate / control rate - 1
    lift_ci: tuple[float, float]
    p_value: float  # Holm-adjusted against control when it comes from compare_many
    p_value_raw: float  # before any adjustment for several variants
    test: str | None  # "z-test" or "Fisher's exact test"
    alpha: float
    reason: str | None  # why a figure is NaN


class ManyComparison(NamedTuple):
    """Several variants: a chi-square test over all of them and each one against control."""

    control: str | None
    chi2: float
    dof: int
    p_value: float  # chi-square test of independence over all non-empty variants
    comparisons: dict[str, ProportionComparison]  # every other variant against control, Holm-adjusted
    reason: str | None


class MeanComparison(NamedTuple):
    """Treatment against control on a continuous metric (Welch's t-test)."""

    control_mean: float
    treatment_mean: float
    diff: float
    diff_ci: tuple[float, float]
    lift: float
    lift_ci: tuple[float, float]
    t: float
    df: float
    p_value: float
    alpha: float
    reason: str | None


class ChanceToBeat(NamedTuple):
    """Bayesian probability that the treatment's true rate is above the control's."""

    probability: float
    reason: str | None


class SampleRatioMismatch(NamedTuple):
    """Whether units were split between variants as planned."""

    chi2: float
    p_value: float
    flagged: bool
    expected: dict[str, float]
    reason: str | None


class SampleSize(NamedTuple):
    """Units needed in each arm to detect a change from `baseline` to `target_rate`."""

    units_per_arm: float  # a whole number, or NaN
    target_rate: float
    reason: str | None


class DetectableEffect(NamedTuple):
    """The smallest increase a test of a given size detects with the given power."""

    mde: float  # absolute difference in rate, or relative to the baseline when `relative`
    relative: bool
    target_rate: float
    reason: str | None


class AlwaysValid(NamedTuple):
    """An mSPRT p-value: valid however often the test is looked at."""

    p_value: float
    reason: str | None


# --- helpers ------------------------------------------------------------------------------------


_NAN_PAIR = (math.nan, math.nan)


def _check_probability(value: float, name: str) -> None:
    if not 0 < value < 1:
        raise ValueError(f"{name} must be between 0 and 1, got {value}")


def _group_problem(group: Proportion | Mean, name: str) -> str | None:
    if group.units == 0:
        return f"Nobody is in the {name} group yet, so there is nothing to compare."
    if group.units == 1:
        return f"The {name} group has only one member, too few to compare."
    return None


def _proportions_problem(control: Proportion, treatment: Proportion) -> str | None:
    """Why two conversion counts cannot be compared, or None when they can."""
    problem = _group_problem(control, "control") or _group_problem(treatment, "variant")
    if problem:
        return problem
    if control.conversions == 0 and treatment.conversions == 0:
        return "Nobody has converted in either group yet, so there is nothing to compare."
    if control.conversions == control.units and treatment.conversions == treatment.units:
        return "Everybody converted in both groups, so there is nothing to compare."
    return None


def _join(*reasons: str | None) -> str | None:
    return " ".join(r for r in reasons if r) or None


def _two_sided_p(z: float) -> float:
    """Two-sided normal p-value; the survival function keeps tiny p-values accurate."""
    return float(2 * stats.norm.sf(abs(z)))


# --- conversion metrics -------------------------------------------------------------------------


def compare_proportions(
    control: Proportion, treatment: Proportion, alpha: float = 0.05
) -> ProportionComparison:
    """Two-proportion test of treatment against control.

    The p-value (two-sided) comes from the z-test with the pooled standard error, or from Fisher's
    exact test when any expected cell count of the 2x2 table is under 5 (`test` says which). The
    interval of the difference uses the unpooled (Wald) standard error. The relative lift's interval
    is the delta method on the log of the rate ratio (Katz): var(log r) = 1/x1 - 1/n1 + 1/x2 - 1/n2,
    interval exp(log r +- z * se) - 1, so it never goes below -100 %.

    >>> r = compare_proportions(Proportion(10_000, 200), Proportion(10_000, 250))
    >>> round(r.p_value, 4), r.test, round(r.lift, 2)
    (0.0171, 'z-test', 0.25)
    """
    _check_probability(alpha, "alpha")
    problem = _proportions_problem(control, treatment)
    if problem:
        return ProportionComparison(
            control.rate, treatment.rate, control.units, treatment.units,
            math.nan, _NAN_PAIR, math.nan, _NAN_PAIR, math.nan, math.nan, None, alpha, problem,
        )  # fmt: skip
    # Integer arithmetic, then a single rounding: exact enough for 1e8 units and p-values near 1e-30.
    n1, x1 = int(control.units), int(control.conversions)
    n2, x2 = int(treatment.units), int(treatment.conversions)
    n, x = n1 + n2, x1 + x2
    diff = (x2 * n1 - x1 * n2) / (n1 * n2)
    z_crit = float(stats.norm.isf(alpha / 2))

    if min(n1, n2) * min(x, n - x) / n < 5:  # the smallest expected cell count
        test = "Fisher's exact test"
        p_value = float(stats.fisher_exact([[x2, n2 - x2], [x1, n1 - x1]]).pvalue)
    else:
        test = "z-test"
        p_value = _two_sided_p(diff / math.sqrt(x * (n - x) / (n * n1 * n2)))

    se = math.sqrt(x1 * (n1 - x1) / n1**3 + x2 * (n2 - x2) / n2**3)
    diff_ci, diff_reason = (diff - z_crit * se, diff + z_crit * se), None
    if se == 0:
        diff_ci = _NAN_PAIR
        diff_reason = "Everybody in each group did the same thing, so the difference has no interval."

    lift, lift_ci, lift_reason = math.nan, _NAN_PAIR, None
    if x1 == 0:
        lift_reason = "Nobody converted in the control group, so a relative lift cannot be computed."
    else:
        lift = (x2 * n1 - x1 * n2) / (x1 * n2)
        if x2 == 0:
            lift_reason = "Nobody converted in the variant, so the lift has no interval."
        else:
            log_ratio = math.log(x2 * n1) - math.log(x1 * n2)
            half = z_crit * math.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
            lift_ci = (math.expm1(log_ratio - half), math.expm1(log_ratio + half))

    return ProportionComparison(
        control.rate, treatment.rate, n1, n2, diff, diff_ci, lift, lift_ci,
        p_value, p_value, test, alpha, _join(diff_reason, lift_reason),
    )  # fmt: skip


def default_control(names: Iterable[str]) -> str | None:
    """The control variant: one named control, a or baseline (any case, in that order of preference),
    else the first name in sorted order; None when there are no variants.

    >>> default_control(["B", "A"]), default_control(["green", "Baseline"]), default_control(["y", "x"])
    ('A', 'Baseline', 'x')
    """
    ordered = sorted(names)
    for wanted in _CONTROL_NAMES:
        for name in ordered:
            if name.strip().casefold() == wanted:
                return name
    return ordered[0] if ordered else None


def compare_many(
    variants: Mapping[str, Proportion], control: str | None = None, alpha: float = 0.05
) -> ManyComparison:
    """All variants at once: a chi-square test of independence over the variants that have units
    (no Yates correction), and each other variant against control as in `compare_proportions`, with
    `p_value` Holm-adjusted over those comparisons and `p_value_raw` unadjusted.

    >>> r = compare_many({"A": Proportion(1000, 100), "B": Proportion(1000, 130), "C": Proportion(1000, 95)})
    >>> r.control, round(r.p_value, 4), round(r.comparisons["B"].p_value, 4)
    ('A', 0.0245, 0.071)
    """
    if control is None:
        control = default_control(variants)
    elif control not in variants:
        raise ValueError(f"control {control!r} is not one of the variants {sorted(variants)}")

    raw = {
        name: compare_proportions(variants[control], group, alpha)
        for name, group in variants.items()
        if name != control
    }
    adjusted = holm([r.p_value_raw for r in raw.values()])
    comparisons = {name: r._replace(p_value=p) for (name, r), p in zip(raw.items(), adjusted)}

    table = [[g.conversions, g.units - g.conversions] for g in variants.values() if g.units > 0]
    converted = sum(row[0] for row in table)
    total = sum(sum(row) for row in table)
    if len(table) < 2:
        reason = "Fewer than two variants have anybody in them yet, so there is nothing to compare."
    elif converted == 0:
        reason = "Nobody has converted in any variant yet, so there is nothing to compare."
    elif converted == total:
        reason = "Everybody converted in every variant, so there is nothing to compare."
    else:
        result = stats.chi2_contingency(table, correction=False)
        chi2, dof, p_value = float(result.statistic), int(result.dof), float(result.pvalue)
        return ManyComparison(control, chi2, dof, p_value, comparisons, None)
    return ManyComparison(control, math.nan, max(len(table) - 1, 0), math.nan, comparisons, reason)


# --- continuous metrics -------------------------------------------------------------------------


def welch_t_test(control: Mean, treatment: Mean, alpha: float = 0.05) -> MeanComparison:
    """Welch's t-test on the difference of means (treatment - control), from n, sum and sum of squares.

    Degrees of freedom by Welch-Satterthwaite. The relative lift's interval is the delta method on
    the log of the ratio of means, var = s1^2 / (n1 m1^2) + s2^2 / (n2 m2^2); it needs both means
    above zero.

    >>> r = welch_t_test(Mean(3, 6.0, 14.0), Mean(4, 20.0, 102.0))   # 1, 2, 3 against 4, 5, 5, 6
    >>> round(r.diff, 2), round(r.df, 2), round(r.p_value, 4)
    (3.0, 3.86, 0.0143)
    """
    _check_probability(alpha, "alpha")
    m1, m2 = control.mean, treatment.mean
    problem = _group_problem(control, "control") or _group_problem(treatment, "variant")
    if not problem and control.variance == 0 and treatment.variance == 0:
        problem = "Every value is the same within each group, so there is no spread to test against."
    if problem:
        nan = math.nan
        return MeanComparison(m1, m2, nan, _NAN_PAIR, nan, _NAN_PAIR, nan, nan, nan, alpha, problem)

    v1, v2 = control.variance / control.units, treatment.variance / treatment.units
    diff, se = m2 - m1, math.sqrt(v1 + v2)
    df = (v1 + v2) ** 2 / (v1**2 / (control.units - 1) + v2**2 / (treatment.units - 1))
    t = diff / se
    p_value = float(2 * stats.t.sf(abs(t), df))
    half = float(stats.t.isf(alpha / 2, df)) * se

    lift, lift_ci, lift_reason = math.nan, _NAN_PAIR, None
    if m1 <= 0:
        lift_reason = "The control average is not above zero, so a relative lift cannot be computed."
    else:
        lift = diff / m1
        if m2 <= 0:
            lift_reason = "The variant average is not above zero, so the lift has no interval."
        else:
            log_half = float(stats.norm.isf(alpha / 2)) * math.sqrt(v1 / m1**2 + v2 / m2**2)
            log_ratio = math.log(m2 / m1)
            lift_ci = (math.expm1(log_ratio - log_half), math.expm1(log_ratio + log_half))
    diff_ci = (diff - half, diff + half)
    return MeanComparison(m1, m2, diff, diff_ci, lift, lift_ci, t, df, p_value, alpha, lift_reason)


# --- Bayesian -----------------------------------------------------------------------------------


def _beta_beats(a_a: int, b_a: int, a_b: int, b_b: int) -> float:
    """P(X_B > X_A) for X_A ~ Beta(a_a, b_a) and X_B ~ Beta(a_b, b_b), whole parameters.

    Evan Miller's closed form: the sum over i < a_b of C(b_b + i - 1, i) B(a_a + i, b_a + b_b) /
    B(a_a, b_a), added up in log space. The terms are a beta-negative-binomial distribution; past
    `_EXACT_TERMS_LIMIT` terms only those within 40 standard deviations of its mean are added, as the
    rest are below 1e-300 (all parameters are then above the limit, so the distribution is close to
    normal).
    """
    first, last = 0, a_b - 1
    if a_b > _EXACT_TERMS_LIMIT:
        mean = b_b * a_a / (b_a - 1)
        sd = math.sqrt(b_b * a_a * (b_b + b_a - 1) * (a_a + b_a - 1) / ((b_a - 2) * (b_a - 1) ** 2))
        first, last = max(first, math.floor(mean - 40 * sd)), min(last, math.ceil(mean + 40 * sd))
        if first > last:  # every term worth adding lies beyond a_b - 1
            return 0.0
    i = np.arange(first, last + 1, dtype=float)
    log_terms = (
        special.betaln(a_a + i, b_a + b_b)
        - np.log(b_b + i)
        - special.betaln(1 + i, b_b)
        - special.betaln(a_a, b_a)
    )
    return float(np.exp(special.logsumexp(log_terms)))


def chance_to_beat(control: Proportion, treatment: Proportion) -> ChanceToBeat:
    """P(treatment rate > control rate) with a Beta(1, 1) prior on each rate.

    Exact, at any size: Evan Miller's closed-form sum ("Formulas for Bayesian A/B testing"), computed
    in log space with `betaln`. The sum has as many terms as the treatment's alpha parameter; by
    symmetry (swapping the groups, or counting non-conversions) it can run over any of the four Beta
    parameters instead, and the smallest is used. Beyond 100,000 terms only the terms within 40
    standard deviations of their peak are added (the others are below 1e-300), so a test with 1e8
    units per arm takes a fraction of a second. In double precision the result agrees with numerical
    integration to about 1e-7 at 1e8 units per arm, and far better for smaller tests.

    >>> round(chance_to_beat(Proportion(1000, 100), Proportion(1000, 120)).probability, 4)
    0.9232
    """
    problem = _proportions_problem(control, treatment)
    if problem:
        return ChanceToBeat(math.nan, problem)
    a_a, b_a = int(control.conversions) + 1, int(control.units - control.conversions) + 1
    a_b, b_b = int(treatment.conversions) + 1, int(treatment.units - treatment.conversions) + 1
    terms = min(a_a, b_a, a_b, b_b)
    if terms == a_b:
        return ChanceToBeat(_beta_beats(a_a, b_a, a_b, b_b), None)
    if terms == a_a:
        return ChanceToBeat(1 - _beta_beats(a_b, b_b, a_a, b_a), None)
    if terms == b_a:  # p_B > p_A exactly when 1 - p_A > 1 - p_B, and 1 - p ~ Beta(b, a)
        return ChanceToBeat(_beta_beats(b_b, a_b, b_a, a_a), None)
    return ChanceToBeat(1 - _beta_beats(b_a, a_a, b_b, a_b), None)


# --- sample ratio mismatch ----------------------------------------------------------------------


def sample_ratio_mismatch(
    observed: Mapping[str, int], expected_shares: Mapping[str, float] | None = None
) -> SampleRatioMismatch:
    """Chi-square goodness of fit of the units per variant against the planned split (equal when
    `expected_shares` is None; shares are normalised, so 50/50 and 0.5/0.5 are the same). Flagged
    when p < 0.001.

    >>> r = sample_ratio_mismatch({"A": 5_000, "B": 5_400})
    >>> r.flagged, round(r.p_value, 5)
    (True, 9e-05)
    """
    shares = dict(expected_shares) if expected_shares is not None else dict.fromkeys(observed, 1.0)
    if set(shares) != set(observed):
        raise ValueError(f"expected shares are for {sorted(shares)}, observed counts for {sorted(observed)}")
    if any(share <= 0 for share in shares.values()):
        raise ValueError(f"every expected share must be above zero, got {shares}")
    total = sum(observed.values())
    share_sum = sum(shares.values())
    expected = {name: total * shares[name] / share_sum for name in observed}
    if len(observed) < 2 or total == 0:
        reason = (
            "There is only one variant, so there is no split to check."
            if len(observed) < 2
            else "Nobody is in the test yet, so there is no split to check."
        )
        return SampleRatioMismatch(math.nan, math.nan, False, expected, reason)
    result = stats.chisquare(list(observed.values()), list(expected.values()))
    p_value = float(result.pvalue)
    return SampleRatioMismatch(float(result.statistic), p_value, p_value < SRM_THRESHOLD, expected, None)


# --- planning -----------------------------------------------------------------------------------


def _units_needed(p1: float, p2: float, alpha: float, power: float) -> float:
    """Fleiss' normal approximation (no continuity correction) for a two-sided test of p1 = p2 with
    equal arms: n = (z_(alpha/2) sqrt(2 pbar qbar) + z_power sqrt(p1 q1 + p2 q2))^2 / (p2 - p1)^2."""
    p_bar = (p1 + p2) / 2
    null_sd = math.sqrt(2 * p_bar * (1 - p_bar))
    alternative_sd = math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    spread = stats.norm.isf(alpha / 2) * null_sd + stats.norm.isf(1 - power) * alternative_sd
    return (spread / (p2 - p1)) ** 2


_ZERO_BASELINE = "A relative change of a zero baseline is zero: give the change in percentage points."


def _check_plan(baseline: float, alpha: float, power: float) -> None:
    if not 0 <= baseline <= 1:
        raise ValueError(f"baseline must be a rate between 0 and 1, got {baseline}")
    _check_probability(alpha, "alpha")
    _check_probability(power, "power")


def sample_size_per_arm(
    baseline: float, mde: float, alpha: float = 0.05, power: float = 0.8, relative: bool = False
) -> SampleSize:
    """Units per arm for a two-sided two-proportion z-test to detect a change of `mde` from `baseline`.

    `mde` is an absolute difference in rate (0.01 = one percentage point), or relative to the baseline
    when `relative` (0.1 = a 10 % lift). Formula: Fleiss' normal approximation without continuity
    correction, pooled variance under the null and unpooled under the alternative, ignoring the far
    tail (as statsmodels' `samplesize_proportions_2indep_onetail`), rounded up.

    >>> sample_size_per_arm(0.10, 0.02).units_per_arm
    3841.0
    """
    _check_plan(baseline, alpha, power)
    if relative and baseline == 0:
        return SampleSize(math.nan, 0.0, _ZERO_BASELINE)
    target = baseline * (1 + mde) if relative else baseline + mde
    if mde == 0:
        return SampleSize(math.nan, target, "No change was given to detect, so no sample size can reach it.")
    if not 0 <= target <= 1:
        reason = f"A change from {baseline:.1%} to {target:.1%} is not a possible rate."
        return SampleSize(math.nan, target, reason)
    return SampleSize(float(math.ceil(_units_needed(baseline, target, alpha, power))), target, None)


def minimum_detectable_effect(
    baseline: float, units_per_arm: float, alpha: float = 0.05, power: float = 0.8, relative: bool = False
) -> DetectableEffect:
    """The smallest increase over `baseline` that `units_per_arm` detect: `sample_size_per_arm`'s
    formula solved for the difference (absolute, or relative to the baseline when `relative`).

    >>> round(minimum_detectable_effect(0.10, 3841).mde, 4)
    0.02
    """
    _check_plan(baseline, alpha, power)
    if relative and baseline == 0:
        return DetectableEffect(math.nan, relative, math.nan, _ZERO_BASELINE)
    largest = 1 - baseline
    if units_per_arm < 1:
        reason = "With nobody in the test, no effect can be detected."
    elif largest == 0:
        reason = "The baseline is already 100%, so it cannot increase."
    elif _units_needed(baseline, 1.0, alpha, power) > units_per_arm:
        reason = "Too few units per arm to detect any increase, even one to 100%."
    else:
        reason = None
    if reason:
        return DetectableEffect(math.nan, relative, math.nan, reason)
    diff = optimize.brentq(
        lambda d: _units_needed(baseline, baseline + d, alpha, power) - units_per_arm,
        1e-12, largest, xtol=1e-15, rtol=1e-12,
    )  # fmt: skip
    return DetectableEffect(diff / baseline if relative else diff, relative, baseline + diff, None)


# --- multiple comparisons -----------------------------------------------------------------------


def _adjust(p_values: Sequence[float], step_down: bool) -> list[float]:
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, math.nan)
    known = np.flatnonzero(~np.isnan(p))
    m = len(known)
    if m == 0:
        return out.tolist()
    order = known[np.argsort(p[known], kind="stable")]
    ranks = np.arange(1, m + 1)
    if step_down:  # Holm: (m - k + 1) p_(k), running maximum from the smallest
        scaled = np.maximum.accumulate((m - ranks + 1) * p[order])
    else:  # Benjamini-Hochberg: m / k p_(k), running minimum from the largest
        scaled = np.minimum.accumulate((m / ranks * p[order])[::-1])[::-1]
    out[order] = np.minimum(scaled, 1.0)
    return out.tolist()


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error), in the input order; NaN stays NaN and
    does not count towards the number of tests.

    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    return _adjust(p_values, step_down=True)


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the input order; NaN stays NaN
    and does not count towards the number of tests.

    >>> benjamini_hochberg([0.01, 0.04, 0.03])
    [0.03, 0.04, 0.04]
    """
    return _adjust(p_values, step_down=False)


# --- peeking ------------------------------------------------------------------------------------


def msprt(control: Proportion, treatment: Proportion, tau: float = MSPRT_TAU) -> AlwaysValid:
    """Mixture SPRT p-value for the difference of two rates at one look (Johari et al. 2017, "Peeking
    at A/B tests"; the Optimizely stats engine).

    The difference d of the rates is treated as normal with variance v (pooled under the null:
    pbar qbar (1/n1 + 1/n2)); mixing the alternative over d ~ N(0, tau^2) gives the likelihood ratio
    L = sqrt(v / (v + tau^2)) exp(d^2 tau^2 / (2 v (v + tau^2))) and the p-value min(1, 1 / L). `tau` is
    the size of difference the test is tuned for (one percentage point by default); any tau keeps
    the p-value valid. The always-valid p-value of a test looked at repeatedly is the running minimum
    over its looks: `running_msprt`.

    >>> round(msprt(Proportion(10_000, 1000), Proportion(10_000, 1100)).p_value, 4)
    0.2678
    """
    if tau <= 0:
        raise ValueError(f"tau must be above zero, got {tau}")
    problem = _proportions_problem(control, treatment)
    if problem:
        return AlwaysValid(math.nan, problem)
    n1, n2 = control.units, treatment.units
    p_bar = (control.conversions + treatment.conversions) / (n1 + n2)
    v = p_bar * (1 - p_bar) * (1 / n1 + 1 / n2)
    diff = treatment.rate - control.rate
    log_lr = 0.5 * math.log(v / (v + tau**2)) + diff**2 * tau**2 / (2 * v * (v + tau**2))
    return AlwaysValid(min(1.0, math.exp(-log_lr)), None)


def running_msprt(snapshots: Iterable[tuple[Proportion, Proportion]], tau: float = MSPRT_TAU) -> list[float]:
    """Always-valid p-value after each look, from cumulative (control, treatment) counts per look:
    the running minimum of `msprt`, so it never goes up. NaN until the first look that can be compared.

    >>> weeks = [(Proportion(n, n // 10), Proportion(n, n // 10 + n // 100)) for n in (5_000, 10_000, 15_000)]
    >>> [round(p, 3) for p in running_msprt(weeks)]
    [0.728, 0.268, 0.086]
    """
    running, out = math.nan, []
    for control, treatment in snapshots:
        p = msprt(control, treatment, tau).p_value
        if not math.isnan(p):
            running = p if math.isnan(running) else min(running, p)
        out.append(running)
    return out


# --- words --------------------------------------------------------------------------------------


def format_p(p: float) -> str:
    """A p-value for people: "p < 0.0001" when tiny, two significant digits otherwise, "n/a" for NaN.

    >>> format_p(1e-30), format_p(0.0432), format_p(0.4321), format_p(float("nan"))
    ('p < 0.0001', 'p = 0.043', 'p = 0.43', 'n/a')
    """
    if math.isnan(p):
        return "n/a"
    if p < 0.0001:
        return "p < 0.0001"
    return f"p = {p:.2f}" if p >= 0.1 else f"p = {p:.2g}"


def _percent(x: float, decimals: int) -> str:
    return f"{x * 100:.{decimals}f}%"


def _rate(x: float) -> str:
    return _percent(x, 1 if x >= 0.01 or x == 0 else 2)


def _about(n: float) -> str:
    """A count rounded to two significant digits, with thousands separators: 4,123 -> "4,100"."""
    digits = max(len(str(int(n))) - 2, 0)
    return f"{round(int(n), -digits):,}"


def verdict(
    result: ProportionComparison,
    metric: str = "conversion rate",
    variant: str = "B",
    control: str = "control",
    target_lift: float = 0.10,
    unit: str = "leads",
    power: float = 0.8,
) -> str:
    """One plain sentence on a comparison from `compare_proportions` (or `compare_many`).

    Significant (p < alpha): the relative lift and its interval. Not significant and fewer units per
    arm than a test needs to detect a `target_lift` relative lift: how many more are needed. Otherwise
    the two rates and the p-value. Degenerate data: the reason.

    >>> verdict(compare_proportions(Proportion(5_000, 100), Proportion(5_000, 140)), "click rate")
    'Variant B lifts click rate by 40% (95% CI 9% to 80%).'
    >>> verdict(compare_proportions(Proportion(2_000, 200), Proportion(2_000, 210)))
    'Not enough data yet: about 13,000 more leads per variant to detect a 10% lift in conversion rate.'
    """
    if math.isnan(result.p_value):
        return result.reason or f"No verdict on {metric} yet."
    level = f"{1 - result.alpha:.0%}"
    if result.p_value < result.alpha:
        if math.isnan(result.lift):
            return (
                f"Variant {variant} moves {metric} from {_rate(result.control_rate)} to "
                f"{_rate(result.treatment_rate)} ({format_p(result.p_value)})."
            )
        decimals = 0 if abs(result.lift) >= 0.1 else 1
        sign = 1 if result.lift > 0 else -1  # a fall reads as a positive drop: "lowers by 8% (2% to 14%)"
        low, high = sorted(sign * bound for bound in result.lift_ci)
        interval = f" ({level} CI {_percent(low, decimals)} to {_percent(high, decimals)})"
        interval = "" if math.isnan(low) else interval
        verb = "lifts" if sign > 0 else "lowers"
        return f"Variant {variant} {verb} {metric} by {_percent(sign * result.lift, decimals)}{interval}."
    plan = sample_size_per_arm(result.control_rate, target_lift, result.alpha, power, relative=True)
    have = min(result.control_units, result.treatment_units)
    if plan.units_per_arm > have:
        return (
            f"Not enough data yet: about {_about(plan.units_per_arm - have)} more {unit} per variant "
            f"to detect a {_percent(target_lift, 0)} lift in {metric}."
        )
    return (
        f"No difference detected in {metric}: {variant} at {_rate(result.treatment_rate)} vs "
        f"{_rate(result.control_rate)} for {control} ({format_p(result.p_value)})."
    )
