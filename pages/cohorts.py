"""Cohorts: for leads entering each week or month, the share converted after 0, 1, 2 ... periods."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import charts
from analytics.cohorts import cohort_summary, cohorts
from dashboard import run_query, shared_filters
from pages import reroute
from pages.time_to_convert import transition_controls, window_words

SHOWN = {"week": 26, "month": 24}  # the most recent cohorts drawn in the heatmap
UNFINISHED = "#e5e7eb"


def _heatmap(table: pd.DataFrame, period: str) -> go.Figure:
    """Cohorts x periods since entry; unfinished cells grey with '≥', the projected final share on the right."""
    wide = table.pivot(index="cohort", columns="period_index", values="converted_share").sort_index(ascending=False)
    done = table.pivot(index="cohort", columns="period_index", values="complete").reindex_like(wide)
    entered = table.groupby("cohort")["entered"].first().reindex(wide.index)
    projected = table.groupby("cohort")["projected_share"].first().reindex(wide.index)
    labels = [f"{c} ({n:,})" for c, n in zip(wide.index, entered)]
    finished = wide.where(done == True)  # noqa: E712 (missing cells are NaN, not False)
    unfinished = wide.where(done == False)  # noqa: E712
    top = max(float(table["converted_share"].max()), float(projected.max()), 0.01)
    figure = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.88, 0.12], horizontal_spacing=0.02)
    figure.add_trace(go.Heatmap(
        z=finished.values, x=wide.columns, y=labels, zmin=0, zmax=top, colorscale="Blues", xgap=2, ygap=2,
        text=finished.map(lambda v: "" if pd.isna(v) else f"{v:.0%}").values, texttemplate="%{text}",
        colorbar={"title": "converted", "tickformat": ".0%"},
        hovertemplate="%{y}, " + period + " %{x}: %{z:.1%} converted<extra></extra>"), row=1, col=1)
    figure.add_trace(go.Heatmap(
        z=unfinished.notna().astype(float).where(unfinished.notna()).values, x=wide.columns, y=labels,
        colorscale=[[0, UNFINISHED], [1, UNFINISHED]], showscale=False, xgap=2, ygap=2,
        text=unfinished.map(lambda v: "" if pd.isna(v) else f"≥{v:.0%}").values, texttemplate="%{text}",
        textfont={"color": "#6b7280"}, customdata=unfinished.values,
        hovertemplate="%{y}, " + period + " %{x}: at least %{customdata:.1%} so far, the period has not ended"
                      "<extra></extra>"), row=1, col=1)
    figure.add_trace(go.Heatmap(
        z=projected.to_numpy()[:, None], x=["projected final"], y=labels, zmin=0, zmax=top, colorscale="Greens",
        showscale=False, xgap=2, ygap=2, text=[[f"{v:.0%}"] for v in projected], texttemplate="%{text}",
        hovertemplate="%{y}: projected %{z:.1%} in the end<extra></extra>"), row=1, col=2)
    figure.update_xaxes(dtick=1, side="top", title=f"{period}s since entry", row=1, col=1)
    figure.update_xaxes(side="top", row=1, col=2)
    figure.update_yaxes(autorange="reversed", type="category", categoryorder="array",
                        categoryarray=labels, row=1, col=1)
    figure = charts.styled(figure, height=140 + 30 * len(labels))
    figure.update_layout(hovermode="closest", margin={"t": 70})
    return figure


def render() -> None:
    filters = shared_filters()
    st.title("Cohorts")
    spec = transition_controls(by=False)
    if spec is None:
        return
    with st.sidebar:
        period = st.segmented_control("Cohort per", ["week", "month"], default="month", key="period",
                                      bind="query-params") or "month"
    table = run_query(cohorts, spec, filters, period)
    if table.empty:
        st.info(f"No one reached {spec.from_stage} with these filters.")
        return
    recent = sorted(table["cohort"].unique())[-SHOWN[period]:]
    shown = table[table["cohort"].isin(recent)]
    st.caption(f"Share of the leads reaching {spec.from_stage} in each {period} that went on to {spec.to_stage} "
               f"({window_words(spec)}), after 0, 1, 2 ... {period}s; the last {len(recent)} cohorts, with how many "
               "entered in brackets.")
    st.plotly_chart(_heatmap(shown, period), width="stretch")
    st.caption("Grey cells marked ≥ have not ended yet at the as-of date: their share can only rise, it is not a "
               "drop. Projected: each cohort's converters plus its open leads' chances, from the curve of all "
               "cohorts (younger cohorts are assumed to convert like older ones did at the same age).")
    summary = cohort_summary(table)
    st.dataframe(summary, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(c.replace("_", " "), format="percent")
                                for c in ("converted_share", "projected_share")})


if __name__ == "__main__":
    reroute()
