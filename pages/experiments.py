"""A/B tests: the verdict first, then the lift of each variant with its interval, the details, and a planner."""

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import charts
from analytics import experiments
from dashboard import run_query
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


def _results(name: str, metrics: list[str]) -> None:
    metric = (st.selectbox("Metric", metrics, key="metric", bind="query-params")
              if len(metrics) > 1 else metrics[0])
    results = run_query(experiments.experiment_results, name, metric)
    label = experiments.metric_label(metric)
    st.subheader(experiments.headline(results))
    warning = experiments.srm_warning(results)
    if warning:
        st.warning(warning, icon=":material/warning:")
    if results["lift"].notna().any():
        st.plotly_chart(_lift_chart(results, label), width="stretch")
    else:
        reasons = results.loc[~results["is_control"], "reason"].dropna()
        st.info(reasons.iloc[0] if len(reasons) else "No lift to show yet.")
    table = experiments.format_results(results)
    st.dataframe(table, hide_index=True, width="stretch")
    several = int((~results["is_control"]).sum()) > 1
    st.caption("Lift is relative to control; the difference is in percentage points. Two-proportion z-test "
               "(Fisher's exact test for small counts)"
               + ("; p-values adjusted for several variants by Holm's method." if several else ".")
               + " Chance to beat control: Bayesian, with a flat prior.")

    st.markdown("#### Checking every week?")
    st.caption("Looking at a fixed-horizon p-value every week and stopping at the first p < 0.05 inflates "
               "false positives (six weekly looks: about 15% instead of 5%). The always-valid p-value "
               "(mSPRT) stays valid however often you look; act on it when you peek.")
    p_column = "p-value (Holm)" if several else "p-value"
    st.dataframe(table.loc[~results["is_control"].to_numpy(), ["Variant", "Always-valid p", p_column]],
                 hide_index=True)


def _planner() -> None:
    st.subheader("Plan a test")
    columns = st.columns(4)
    baseline = columns[0].number_input("Baseline rate (%)", min_value=0.01, max_value=99.99, value=5.0, step=0.5,
                                       key="plan_baseline", help="The control's expected conversion rate.")
    mde = columns[1].number_input("Smallest change to detect (points)", min_value=0.01, max_value=50.0, value=1.0,
                                  step=0.1, key="plan_mde",
                                  help="An absolute difference: 1 point takes 5% to 6%.")
    alpha = columns[2].number_input("Significance level", min_value=0.001, max_value=0.5, value=0.05, step=0.01,
                                    format="%.3f", key="plan_alpha")
    power = columns[3].number_input("Power", min_value=0.5, max_value=0.99, value=0.8, step=0.05,
                                    format="%.2f", key="plan_power")
    result = experiments.plan(baseline / 100, mde / 100, alpha, power)
    if result.reason or math.isnan(result.units_per_arm):
        st.warning(result.reason or "No sample size for these inputs.")
        return
    tiles = st.columns(2)
    tiles[0].metric("Units per arm", f"{result.units_per_arm:,.0f}")
    tiles[1].metric("Both arms together", f"{result.total_units:,.0f}")
    st.caption(f"To see {result.baseline:.2%} move to {result.target_rate:.2%}. {result.formula}")


def render() -> None:
    st.title("A/B tests")
    listing = run_query(experiments.list_experiments)
    if listing.empty:
        st.info("No experiments in the warehouse yet. Import results per variant or per unit on the Data page.")
    else:
        names = listing["experiment"].drop_duplicates().tolist()
        name = st.selectbox("Experiment", names, key="experiment", bind="query-params")
        metrics = sorted({m for row in listing.loc[listing["experiment"] == name, "metrics"] for m in row})
        _results(name, metrics)
    _planner()


if __name__ == "__main__":
    reroute()
