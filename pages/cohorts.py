"""Cohorts: for leads entering each week or month, the share converted after 0, 1, 2 ... periods."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from analytics import charts
from analytics.cohorts import cohort_summary, cohorts
from dashboard import drawn, run_query, shared_filters
from pages import reroute
from pages.time_to_convert import stage_name, transition_controls, window_words

SHOWN = {"week": 26, "month": 24}  # the most recent cohorts drawn in the heatmap
UNFINISHED = "#e5e7eb"
UNFINISHED_TEXT = "#374151"  # dark grey on light grey: readable on a projector
CELL_TEXT = 13  # px; cell text needs about 40 px of cell width at this size
TEXT_UP_TO = 30  # columns of periods; with more, cells are too narrow for text and only the colours show


def cohort_name(cohort: str, period: str) -> str:
    """An ISO cohort start as people read it: 'Nov 2026' for a month, 'Week of 3 Nov 2026' for a week."""
    start = pd.Timestamp(cohort)
    return f"Week of {start.day} {start:%b %Y}" if period == "week" else f"{start:%b %Y}"


def _heatmap(table: pd.DataFrame, period: str) -> go.Figure:
    """Cohorts x periods since entry; unfinished cells grey with '≥', the projected final share on the right."""
    wide = table.pivot(index="cohort", columns="period_index", values="converted_share").sort_index(ascending=False)
    done = table.pivot(index="cohort", columns="period_index", values="complete").reindex_like(wide)
    entered = table.groupby("cohort")["entered"].first().reindex(wide.index)
    projected = table.groupby("cohort")["projected_share"].first().reindex(wide.index)
    labels = [f"{cohort_name(c, period)} ({n:,} leads)" for c, n in zip(wide.index, entered)]
    finished = wide.where(done == True)  # noqa: E712 (missing cells are NaN, not False)
    unfinished = wide.where(done == False)  # noqa: E712
    top = max(float(table["converted_share"].max()), float(projected.max()), 0.01)
    template = "%{text}" if len(wide.columns) <= TEXT_UP_TO else ""
    figure = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.88, 0.12], horizontal_spacing=0.02)
    figure.add_trace(go.Heatmap(
        z=finished.values, x=wide.columns, y=labels, zmin=0, zmax=top, colorscale="Blues", xgap=2, ygap=2,
        text=finished.map(lambda v: "" if pd.isna(v) else f"{v:.0%}").values, texttemplate=template,
        textfont={"size": CELL_TEXT}, colorbar={"title": "Converted", "tickformat": ".0%"},
        hovertemplate="%{y}, " + period + " %{x}: %{z:.1%} converted<extra></extra>"), row=1, col=1)
    figure.add_trace(go.Heatmap(
        z=unfinished.notna().astype(float).where(unfinished.notna()).values, x=wide.columns, y=labels,
        colorscale=[[0, UNFINISHED], [1, UNFINISHED]], showscale=False, xgap=2, ygap=2,
        text=unfinished.map(lambda v: "" if pd.isna(v) else f"≥{v:.0%}").values, texttemplate=template,
        textfont={"color": UNFINISHED_TEXT, "size": CELL_TEXT}, customdata=unfinished.values,
        hovertemplate="%{y}, " + period + " %{x}: at least %{customdata:.1%} so far, the period has not ended"
                      "<extra></extra>"), row=1, col=1)
    figure.add_trace(go.Heatmap(
        z=projected.to_numpy()[:, None], x=["Projected final"], y=labels, zmin=0, zmax=top, colorscale="Greens",
        showscale=False, xgap=2, ygap=2, text=[[f"{v:.0%}"] for v in projected], texttemplate="%{text}",
        textfont={"size": CELL_TEXT + 1},
        hovertemplate="%{y}: projected %{z:.1%} in the end<extra></extra>"), row=1, col=2)
    figure.update_xaxes(dtick=1, side="top", title=f"{period.capitalize()}s since entry", row=1, col=1)
    figure.update_xaxes(side="top", row=1, col=2)
    figure.update_yaxes(autorange="reversed", type="category", categoryorder="array",
                        categoryarray=labels, row=1, col=1)
    figure.update_yaxes(ticks="")
    figure.update_xaxes(zeroline=False, ticks="")
    figure = charts.styled(figure, height=140 + 32 * len(labels))
    # Room for the row labels: plotly may measure them before the web font has loaded, and clip them.
    figure.update_layout(hovermode="closest", margin={"t": 70, "l": 20 + 8 * max(map(len, labels))})
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
        st.info(f"No one reached {stage_name(spec.from_stage)} with these filters.")
        return
    recent = sorted(table["cohort"].unique())[-SHOWN[period]:]
    shown = table[table["cohort"].isin(recent)]
    from_stage, to_stage = stage_name(spec.from_stage), stage_name(spec.to_stage)
    st.caption(f"Share of the leads reaching {from_stage} in each {period} that went on to {to_stage} "
               f"({window_words(spec)}), after 0, 1, 2 ... {period}s. The last {len(recent)} cohorts, with how many "
               "leads entered in brackets.")
    st.plotly_chart(drawn(_heatmap, shown, period), width="stretch", theme=None)
    st.caption("Grey cells marked ≥ have not ended yet: their share can only rise, it is not a drop. Projected "
               "final: each cohort's conversions so far plus the chances of its leads still open, from how all "
               "cohorts converted (younger cohorts are assumed to convert like older ones did at the same age).")
    summary = cohort_summary(table)
    styled = summary.style.format(lambda c: cohort_name(c, period), subset=["cohort"]).format(
        "{:,}", subset=["entered", "converted"]).format("{:.1%}", subset=["converted_share", "projected_share"])
    column = st.column_config.Column
    st.dataframe(styled, hide_index=True, width="stretch", column_config={
        "cohort": column("Cohort"), "entered": column(f"Reached {from_stage}"),
        "converted": column(f"Reached {to_stage} so far"), "converted_share": column("Share so far"),
        "projected_share": column("Projected final share", help="Conversions so far plus the expected "
                                  "conversions of the leads still inside their window."),
    })


if __name__ == "__main__":
    reroute()
