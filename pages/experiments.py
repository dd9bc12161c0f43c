"""Experiments (A/B tests): the verdict first, then the lift of each variant with its interval, the details, a
planner."""

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analytics import charts
from analytics import experiments
from dashboard import drawn, run_query
from pages import reroute


def _lift_chart(results: pd.DataFrame, metric: str) -> go.Figure:
    """Each variant's relative lift over control with its 95% interval, and a line at no change."""
    shown = results[~results["is_control"] & results["lift"].notna()]
    low = (shown["lift"] - shown["lift_ci_low"]).fillna(0)
    high = (shown["lift_ci_high"] - shown["lift"]).fillna(0)
    colours = [charts.PALETTE[2] if s else charts.PALETTE[0] for s in shown["significant"].fillna(False)]
    figure = go.Figure(go.Scatter(
        x=shown["lift"], y=shown["variant"], mode="markers+text", marker={"size": 14, "color": colours},
        error_x={"type": "data", "symmetric": False, "array": high, "arrayminus": low, "thickness": 3, "width": 8,
                 "color": "#374151"},
        text=[f"{v:+.1%}" for v in shown["lift"]], textposition="bottom center", textfont={"size": 15},
        hovertemplate="%{y}: %{x:+.1%}<extra></extra>", showlegend=False,
    ))
    figure.add_vline(x=0, line_width=2, line_dash="dash", line_color="#6b7280",
                     annotation_text="no change", annotation_position="top")
    control = results.loc[results["is_control"], "variant"].iloc[0]
    figure.update_xaxes(title=f"Lift in {metric} vs {control} (95% CI)", tickformat="+.0%", zeroline=False)
    figure.update_yaxes(title=None, type="category", range=[len(shown) - 0.4, -0.5], tickfont={"size": 16})
    charts.styled(figure, height=160 + 80 * len(shown))
    figure.update_layout(hovermode="closest", margin={"t": 50})
    return figure


KEY_COLUMNS = ["Variant", "Units", "Conversions", "Rate", "Lift (95% CI)", "p-value", "p-value (Holm)",
               "Chance to beat control", "Always-valid p"]  # the rest of `format_results` is in an expander
HELP = {
    "Units": "Leads in the variant.",
    "Rate": "Conversions / units.",
    "Lift (95% CI)": "Relative to control, with its 95% interval.",
    "Difference, points (95% CI)": "The difference in rate, in percentage points, with its 95% interval.",
    "p-value": "Fixed-horizon: valid at one look. Two-proportion z-test (Fisher's exact test for small counts).",
    "p-value (Holm)": "Fixed-horizon, adjusted for comparing several variants with control (Holm's method).",
    "p-value (raw)": "Fixed-horizon, not adjusted for several variants.",
    "Chance to beat control": "The probability the variant's rate is above control's (Bayesian, flat prior).",
    "Always-valid p": "Valid however often you look (mSPRT): act on this one when you check every week.",
}


def _results(name: str, metrics: list[str]) -> float | None:
    """The verdict, the lift chart and the tables of one experiment; the control's rate, for the planner."""
    metric = (st.selectbox("Metric", metrics, key="metric", bind="query-params")
              if len(metrics) > 1 else metrics[0])
    results = run_query(experiments.experiment_results, name, metric)
    label = experiments.metric_label(metric)
    st.subheader(experiments.headline(results))
    warning = experiments.srm_warning(results)
    if warning:
        st.warning(warning, icon=":material/warning:")
    if results["lift"].notna().any():
        st.plotly_chart(drawn(_lift_chart, results, label), width="stretch", theme=None)
    else:
        reasons = results.loc[~results["is_control"], "reason"].dropna()
        st.info(reasons.iloc[0] if len(reasons) else "No lift to show yet.")
    table = experiments.format_results(results)
    config = {c: st.column_config.Column(c, help=h) for c, h in HELP.items() if c in table.columns}
    key = [c for c in KEY_COLUMNS if c in table.columns]
    st.dataframe(table, hide_index=True, width="stretch", column_order=key, column_config=config)
    with st.expander("All figures: differences in points" + (", unadjusted p-values" if "p-value (raw)" in table
                                                             else "") + (", revenue" if "Revenue per unit" in table
                                                                         else "")):
        st.dataframe(table, hide_index=True, width="stretch", column_config=config)
    several = int((~results["is_control"]).sum()) > 1
    st.caption("Lift is relative to control. A p-value below 0.05 is significant"
               + ("; with several variants the p-values are adjusted (Holm's method)." if several else ".")
               + " Chance to beat control: how likely the variant's rate is above control's.",
               help="Two-proportion z-test (Fisher's exact test for small counts); Holm's step-down adjustment "
                    "against control; chance to beat control from Beta(1, 1) posteriors; always-valid p-value: "
                    "the mixture sequential probability ratio test (mSPRT).")

    st.markdown("#### Checking every week?")
    st.caption("Looking at the p-value every week and stopping at the first p < 0.05 inflates false positives "
               "(six weekly looks: about 15% instead of 5%). The always-valid p-value stays valid however often "
               "you look: act on it when you peek.")
    p_column = "p-value (Holm)" if several else "p-value"
    st.dataframe(table.loc[~results["is_control"].to_numpy(), ["Variant", "Always-valid p", p_column]],
                 hide_index=True, width="content", column_config={
                     "Always-valid p": st.column_config.Column("Always-valid p (act on this when peeking)"),
                     p_column: st.column_config.Column(f"{p_column}, valid at one look")})
    control = results.loc[results["is_control"], "rate"]
    return None if control.empty or pd.isna(control.iloc[0]) else float(control.iloc[0])


def _planner(name: str | None, baseline_rate: float | None) -> None:
    st.subheader("Plan a test")
    # The baseline follows the selected experiment's control rate until someone types another one.
    default = round(min(max(baseline_rate * 100, 0.01), 99.99), 2) if baseline_rate is not None else 5.0
    if st.session_state.get("plan_for") != (name, default):
        st.session_state["plan_for"] = (name, default)
        st.session_state["plan_baseline"] = default
    source = (f"Starts at the control rate of {name} ({default:.2f}%). " if baseline_rate is not None else "")
    columns = st.columns(4)
    baseline = columns[0].number_input("Baseline rate (%)", min_value=0.01, max_value=99.99, step=0.5,
                                       key="plan_baseline",
                                       help=f"{source}The control's expected conversion rate.")
    mde = columns[1].number_input("Smallest change to detect (points)", min_value=0.01, max_value=50.0, value=1.0,
                                  step=0.1, key="plan_mde",
                                  help="An absolute difference in percentage points: 1 point takes 5% to 6%.")
    alpha = columns[2].number_input("Significance level", min_value=0.001, max_value=0.5, value=0.05, step=0.01,
                                    format="%.3f", key="plan_alpha",
                                    help="The false-positive rate you accept: 0.05 is the usual choice.")
    power = columns[3].number_input("Power", min_value=0.5, max_value=0.99, value=0.8, step=0.05,
                                    format="%.2f", key="plan_power",
                                    help="The chance of detecting the change if it is real: 0.8 is the usual choice.")
    result = experiments.plan(baseline / 100, mde / 100, alpha, power)
    if result.reason or math.isnan(result.units_per_arm):
        st.warning(result.reason or "No sample size for these inputs.")
        return
    tiles = st.columns(2)
    tiles[0].metric("Units per arm", f"{result.units_per_arm:,.0f}")
    tiles[1].metric("Both arms together", f"{result.total_units:,.0f}")
    st.caption(f"To see {result.baseline:.2%} move to {result.target_rate:.2%}.", help=result.formula)


def render() -> None:
    st.title("Experiments")
    st.caption("A/B tests, each with results of its own: the sidebar filters of the other pages (dates, channels, "
               "campaigns, as-of date) do not apply here.")
    listing = run_query(experiments.list_experiments)
    name, baseline = None, None
    if listing.empty:
        st.info("No experiments in the warehouse yet. Import results per variant or per unit on the Data page.")
    else:
        names = listing["experiment"].drop_duplicates().tolist()
        name = st.selectbox("Experiment", names, key="experiment", bind="query-params")
        metrics = sorted({m for row in listing.loc[listing["experiment"] == name, "metrics"] for m in row})
        baseline = _results(name, metrics)
    _planner(name, baseline)


if __name__ == "__main__":
    reroute()
