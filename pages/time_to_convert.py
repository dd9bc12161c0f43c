"""Time to convert: how long leads take from one stage to the next, and how many get there, open leads included."""

from dataclasses import replace

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import charts
from analytics.durations import parse_duration
from analytics.errors import BadInput
from analytics.summary import breakdown_attributes, stage_names
from analytics.time_to_convert import (
    DEFAULT,
    ConversionSpec,
    compare_groups,
    conversion_curves,
    conversion_histogram,
    naive_vs_honest,
    speed_sentence,
    time_to_convert,
)
from dashboard import run_query, shared_filters
from pages import reroute

AT_RISK_ROWS = 8  # groups shown in the at-risk table under the curves
PERCENT = ("p_convert_in_window", "p_convert_ci_low", "p_convert_ci_high", "p_lost_in_window")
TABLE = ["group", "entered", "converted", "lost", "open", "median_days", "p90_days", "km_median_days", *PERCENT]


def transition_controls(by: bool) -> ConversionSpec | None:
    """Sidebar controls for the transition, bound to the URL; None (with a message) when they do not add up."""
    names = list(run_query(stage_names))
    if not names:
        st.info("There are no events in the warehouse yet: build the demo or import events on the Data page.")
        return None
    with st.sidebar:
        st.markdown("#### Transition")
        start = st.selectbox("From stage", names, index=names.index("mql") if "mql" in names else 0, key="from",
                             bind="query-params")
        end = st.selectbox("To stage", names, index=names.index("sql") if "sql" in names else len(names) - 1,
                           key="to", bind="query-params")
        window = st.text_input("Window", key="window", bind="query-params", placeholder="default",
                               help="How long a lead has to convert: 183d, 6mo, none. Default: MQL→SQL 6 months, "
                                    "SQL→won 5 months, no limit otherwise. Later conversions count as expired.")
        group = (st.selectbox("Compare by", ["(none)", *run_query(breakdown_attributes)], key="by",
                              bind="query-params") if by else "(none)")
    try:
        return ConversionSpec(start, end, window=parse_duration(window) if window.strip() else DEFAULT,
                              by=None if group == "(none)" else group)
    except BadInput as error:
        st.warning(f"{error}.")
        return None


def window_words(spec: ConversionSpec) -> str:
    """The window in force, in words."""
    return "no time limit" if spec.limit is None else f"a window of {spec.limit}"


def _curves_figure(curves: pd.DataFrame, to_stage: str) -> go.Figure:
    """Share converted by day per group with its 95% band, and the number still at risk underneath."""
    groups = list(dict.fromkeys(curves["group"]))
    shown = groups[:AT_RISK_ROWS]
    plot, table = 420, 26 * len(shown) + 20  # pixels: the curves, then one line of at-risk counts per group
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[plot, table], vertical_spacing=0.06)
    for i, group in enumerate(groups):
        part = curves[curves["group"] == group]
        colour = charts.PALETTE[i % len(charts.PALETTE)]
        figure.add_trace(go.Scatter(x=pd.concat([part["day"], part["day"][::-1]]),
                                    y=pd.concat([part["ci_high"], part["ci_low"][::-1]]), fill="toself",
                                    fillcolor=colour, opacity=0.15, line={"width": 0}, hoverinfo="skip",
                                    showlegend=False, legendgroup=group), row=1, col=1)
        figure.add_trace(go.Scatter(x=part["day"], y=part["converted_share"], name=group, legendgroup=group,
                                    line={"color": colour, "width": 3, "shape": "hv"},
                                    customdata=part["at_risk"],
                                    hovertemplate=f"{group}: %{{y:.1%}} by day %{{x}} (%{{customdata:,}} at risk)"
                                                  "<extra></extra>"), row=1, col=1)
    ticks = _tick_days(int(curves["day"].max()))
    for group in shown:
        at_risk = curves[(curves["group"] == group) & curves["day"].isin(ticks)]
        figure.add_trace(go.Scatter(x=at_risk["day"], y=at_risk["group"], mode="text",
                                    text=[f"{n:,}" for n in at_risk["at_risk"]],
                                    textfont={"size": 13, "color": "#374151"},
                                    showlegend=False, hoverinfo="skip"), row=2, col=1)
    figure.update_yaxes(tickformat=".0%", rangemode="tozero", title=f"Share reaching {to_stage}", row=1, col=1)
    figure.update_yaxes(title="At risk", categoryorder="array", categoryarray=shown[::-1], showgrid=False, row=2, col=1)
    figure.update_xaxes(tickvals=ticks, title="Days since entry", row=2, col=1)
    figure = charts.styled(figure, height=plot + table + 110)
    figure.update_layout(hovermode="closest")
    return figure


def _outcomes_figure(curve: pd.DataFrame, to_stage: str) -> go.Figure:
    """Converted, lost and still open, stacked: they add up to 100% on every day."""
    figure = go.Figure()
    for column, name, colour in (("converted_share", f"reached {to_stage}", charts.PALETTE[2]),
                                 ("lost_share", "lost", charts.PALETTE[5]),
                                 ("open_share", "still open", "#d1d5db")):
        figure.add_trace(go.Scatter(x=curve["day"], y=curve[column], name=name, stackgroup="outcome",
                                    line={"color": colour, "shape": "hv", "width": 0.5}, fillcolor=colour,
                                    hovertemplate=f"{name}: %{{y:.1%}}<extra></extra>"))
    figure.update_yaxes(tickformat=".0%", range=[0, 1], title="Share of entrants")
    figure.update_xaxes(title="Days since entry")
    return charts.styled(figure)


def _histogram_figure(histogram: pd.DataFrame, median: float, to_stage: str) -> go.Figure:
    """Converters per bin of days, with the converters' median marked."""
    figure = go.Figure(go.Bar(x=(histogram["bin_start_days"] + histogram["bin_end_days"]) / 2, y=histogram["converters"],
                              width=histogram["bin_end_days"] - histogram["bin_start_days"],
                              marker={"color": charts.PALETTE[0], "line": {"color": "white", "width": 1}},
                              customdata=histogram[["bin_start_days", "bin_end_days"]],
                              hovertemplate="%{customdata[0]}–%{customdata[1]} days: %{y:,}<extra></extra>"))
    figure.add_vline(x=median, line_dash="dash", line_color="#374151",
                     annotation_text=f"median {median:.0f} days", annotation_position="top right",
                     annotation_bgcolor="white")
    figure.update_xaxes(title=f"Days to reach {to_stage} (converters only)", rangemode="tozero")
    figure.update_yaxes(title="Converters")
    return charts.styled(figure)


def _tick_days(last: int) -> list[int]:
    step = next(s for s in (1, 7, 14, 30, 60, 90, 180, 365) if last / s <= 10)
    return list(range(0, last + 1, step))


def _days(value: float) -> str:
    return "not reached" if pd.isna(value) else f"{value:.0f} days"


def render() -> None:
    filters = shared_filters()
    st.title("Time to convert")
    spec = transition_controls(by=True)
    if spec is None:
        return
    overall = run_query(time_to_convert, replace(spec, by=None), filters).iloc[0]
    if overall["entered"] == 0:
        st.info(f"No one reached {spec.from_stage} with these filters.")
        return
    st.caption(f"{spec.from_stage} → {spec.to_stage}, {window_words(spec)}. Leads still open are counted until "
               "today (or their window end), not dropped; a lost lead is a competing outcome.")
    if overall["to_before_from"]:
        st.warning(f"{overall['to_before_from']:,} leads have a {spec.to_stage} before their {spec.from_stage}: "
                   "bad data, never counted as a conversion.", icon=":material/warning:")

    tiles = st.columns(4)
    tiles[0].metric(f"Reached {spec.from_stage}", f"{overall['entered']:,}")
    tiles[1].metric(f"Reached {spec.to_stage}", f"{overall['converted']:,}")
    tiles[2].metric("Lost", f"{overall['lost']:,}")
    tiles[3].metric("Still open", f"{overall['open'] - overall['expired']:,}",
                    help=f"Inside their window today. Another {overall['expired']:,} are past it (expired).")

    st.subheader("Naive and honest")
    naive, honest, converters_median, all_median = st.columns(4)
    naive.metric("Converted so far (naive)", f"{overall['converted'] / overall['entered']:.1%}",
                 help="Conversions seen so far over everyone who entered: leads still open count as failures.")
    ci = ("no interval at 0% or 100%" if pd.isna(overall["p_convert_ci_low"])
          else f"95% CI {overall['p_convert_ci_low']:.1%} to {overall['p_convert_ci_high']:.1%}")
    honest.metric("Within the window (estimated)", f"{overall['p_convert_in_window']:.1%}",
                  help=f"Aalen-Johansen estimate, {ci}: open leads are censored, lost leads compete.")
    converters_median.metric("Median, converters only (naive)", _days(overall["median_days"]),
                             help="Ignores the slow converters who have not converted yet.")
    all_median.metric("Median time to convert (estimated)", _days(overall["km_median_days"]),
                      help="When the estimated share converted reaches 50%; not reached when fewer than half convert.")
    st.info(naive_vs_honest(overall, spec.from_stage, spec.to_stage), icon=":material/insights:")

    st.subheader(f"Share reaching {spec.to_stage} by days since entry")
    curves = run_query(conversion_curves, spec, filters)
    st.plotly_chart(_curves_figure(curves, spec.to_stage), width="stretch")
    st.caption("Shaded: 95% interval. Numbers under the chart: leads still at risk (entered long enough ago and "
               "still open) on that day; where they get few, the curve is uncertain.")
    if spec.by:
        groups = run_query(time_to_convert, spec, filters)
        st.info(speed_sentence(groups, run_query(compare_groups, spec, filters), spec.by.replace("_", " ")),
                icon=":material/speed:")
        st.dataframe(groups[TABLE], hide_index=True, width="stretch",
                     column_config={c: st.column_config.NumberColumn(c.replace("_", " "),
                                                                     format="percent" if c in PERCENT else "%.1f")
                                    for c in TABLE[5:]})
        st.caption("Days columns: median and p90 over converters only; km median: when the estimated share "
                   "converted reaches 50% (empty: not reached). p convert: estimated share converting within "
                   "the window with its 95% interval.")

    left, right = st.columns(2)
    with left:
        st.markdown(f"**Reached {spec.to_stage}, lost, still open**")
        overall_curve = run_query(conversion_curves, replace(spec, by=None), filters)
        st.plotly_chart(_outcomes_figure(overall_curve, spec.to_stage), width="stretch")
    with right:
        st.markdown("**How long converters took**")
        histogram = run_query(conversion_histogram, replace(spec, by=None), filters)
        if histogram.empty:
            st.info(f"No one has reached {spec.to_stage} yet.")
        else:
            st.plotly_chart(_histogram_figure(histogram, overall["median_days"], spec.to_stage), width="stretch")


if __name__ == "__main__":
    reroute()
