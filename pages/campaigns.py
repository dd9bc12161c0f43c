"""Campaigns: message sends (email, SMS, push) per campaign and variant, when to send, and nurture touches."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import charts
from analytics.campaigns import (SENIOR_TOUCHES, message_campaigns, send_times, touch_types_before_sql,
                                 touches_before_sql, variant_comparison, variant_verdicts)
from dashboard import run_query, shared_filters
from pages import reroute

HEATMAP_METRICS = {"Click rate": "click_rate", "Conversion rate": "conversion_rate", "Open rate": "open_rate",
                   "Messages sent": "sent"}  # label (also in the URL) -> column
PERCENT = {c: st.column_config.NumberColumn(c.replace("_", " "), format="percent")
           for c in ("delivery_rate", "open_rate", "click_rate", "click_to_open_rate", "conversion_rate",
                     "unsubscribe_rate", "share_of_leads", "share_of_conversions", "sql_rate", "share_7_plus",
                     "share_of_sql_leads", "last_touch_share")}


def _variant_rates(table: pd.DataFrame) -> go.Figure:
    """Click rate and conversion rate per variant, side by side, one colour per variant; the best outlined."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Click rate", "Conversion rate"), horizontal_spacing=0.08)
    variants = sorted(table["variant"].unique())
    for i, variant in enumerate(variants):
        rows = table[table["variant"] == variant]
        for col, metric in ((1, "click_rate"), (2, "conversion_rate")):
            figure.add_trace(go.Bar(
                x=rows["medium"], y=rows[metric], name=f"Variant {variant}", legendgroup=variant, showlegend=col == 1,
                marker={"color": charts.PALETTE[i % len(charts.PALETTE)],
                        "line": {"color": "#111827", "width": [3 if b else 0 for b in rows[f"best_{metric}"]]}},
                text=[f"{v:.2%}" for v in rows[metric]], textposition="outside", cliponaxis=False,
                hovertemplate=f"Variant {variant}, " + "%{x}: %{y:.2%}<extra></extra>"), row=1, col=col)
    figure.update_yaxes(tickformat=".1%", rangemode="tozero")
    figure = charts.styled(figure, height=420)
    figure.update_xaxes(automargin=True)
    figure.update_yaxes(automargin=True)
    figure.update_layout(hovermode="closest", barmode="group")
    return figure


def _heatmap(cells: pd.DataFrame, metric: str) -> go.Figure:
    """Weekday x hour of sending, coloured by `metric`; hours without sends left blank."""
    grid = cells.pivot(index="day", columns="hour", values=metric).reindex(cells["day"].unique())
    percent = metric != "sent"
    text = grid.map(lambda v: "" if pd.isna(v) else (f"{v:.1%}" if percent else f"{v:,.0f}"))
    figure = go.Figure(go.Heatmap(
        z=grid.to_numpy(dtype=float), x=[f"{h:02d}h" for h in grid.columns], y=grid.index, text=text.to_numpy(),
        texttemplate="%{text}", textfont={"size": 14}, colorscale=[[0, "#c6dbef"], [1, "#08306b"]], xgap=2, ygap=2,
        colorbar={"tickformat": ".1%" if percent else ",.0f"},
        hovertemplate="%{y} %{x}: %{text}<extra></extra>"))
    figure = charts.styled(figure, height=380)
    figure.update_xaxes(automargin=True)
    figure.update_yaxes(autorange="reversed", showgrid=False, automargin=True)
    figure.update_layout(hovermode="closest")
    return figure


def _touch_chart(table: pd.DataFrame) -> go.Figure:
    """Median touches before SQL per seniority, with the middle half as a range and the 7-10 band."""
    figure = go.Figure(go.Bar(
        x=table["seniority"], y=table["median"], marker_color=charts.PALETTE[0],
        error_y={"type": "data", "symmetric": False, "array": table["p75"] - table["median"],
                 "arrayminus": table["median"] - table["p25"], "thickness": 2, "width": 10},
        text=[f"{v:g}" for v in table["median"]], textposition="inside", insidetextanchor="start",
        textfont={"size": 16},
        customdata=table[["p25", "p75", "sql_leads"]].to_numpy(),
        hovertemplate="%{x}: median %{y:g} (middle half %{customdata[0]:g}-%{customdata[1]:g}), "
                      "%{customdata[2]:,} SQL leads<extra></extra>"))
    figure.add_hrect(y0=SENIOR_TOUCHES, y1=10, fillcolor=charts.PALETTE[1], opacity=0.2, line_width=0, layer="below",
                     annotation_text="senior buyers said to need 7-10", annotation_position="top left")
    figure = charts.styled(figure)
    figure.update_xaxes(automargin=True)
    figure.update_yaxes(title="Touches before SQL", rangemode="tozero", automargin=True)
    figure.update_layout(hovermode="closest")
    return figure


def _variants(filters) -> None:
    st.subheader("Variants: clicks against conversions")
    table = run_query(variant_comparison, filters)
    if table.empty:
        st.info("No medium has two or more variants in this selection.")
        return
    for sentence in variant_verdicts(table):
        st.info(sentence, icon=":material/ads_click:")
    st.plotly_chart(_variant_rates(table), width="stretch")
    st.dataframe(table, hide_index=True, width="stretch", column_config=PERCENT)
    st.caption("Rates over delivered messages, pooled over every campaign of the medium. p-values against the "
               "control variant (two-proportion test; Holm-adjusted with more than two variants). Outlined bar: "
               "the best of its medium.")


def _send_times(filters) -> None:
    st.subheader("When to send")
    columns = st.columns(2)
    metric = HEATMAP_METRICS[columns[0].selectbox("Colour by", list(HEATMAP_METRICS), key="send_metric",
                                                  bind="query-params")]
    media = ["all media", *sorted(run_query(message_campaigns, filters)["medium"].unique())]
    medium = columns[1].selectbox("Medium", media, key="send_medium", bind="query-params")
    cells = run_query(send_times, filters, None if medium == "all media" else medium)
    st.plotly_chart(_heatmap(cells, metric), width="stretch")
    st.caption("By the weekday and hour of the send; blank cells had no sends.")


def _touches(filters) -> None:
    st.subheader("Nurture touches before SQL")
    per_seniority = run_query(touches_before_sql, filters)
    if per_seniority.empty or per_seniority["sql_leads"].sum() == 0:
        st.info("No lead in this selection has reached SQL yet, so there are no touches before SQL to count.")
        return
    st.plotly_chart(_touch_chart(per_seniority[per_seniority["sql_leads"] > 0]), width="stretch")
    st.caption("Touches: events that are not a funnel stage (email opens, visits, webinars ...), counted before "
               "the lead's first SQL; bars are medians, whiskers the middle half of the SQL leads.")
    st.dataframe(per_seniority, hide_index=True, width="stretch", column_config=PERCENT)
    types = run_query(touch_types_before_sql, filters)
    if types.empty:
        return
    top = types.iloc[0]
    st.markdown(f"**Most often the last touch before SQL: {top['touch']}** ({top['last_touch_share']:.0%} of SQL "
                f"leads); {types.sort_values('sql_leads').iloc[-1]['touch']} is the touch most SQL leads had before.")
    st.dataframe(types, hide_index=True, width="stretch", column_config=PERCENT)


def render() -> None:
    filters = shared_filters()
    st.title("Campaigns")
    results = run_query(message_campaigns, filters)
    if results.empty:
        st.info("No message sends in this selection. Import sends (campaign_id, variant, medium, sent_at, sent, "
                "delivered, opened, clicked, converted, unsubscribed) on the Data page.")
    else:
        _variants(filters)
        st.subheader("Results per campaign and variant")
        st.dataframe(results.iloc[::-1], hide_index=True, width="stretch", column_config=PERCENT)
        st.caption("Newest first. Open, click, conversion and unsubscribe rates are over delivered messages. A "
                   "campaign's period runs from its first send to 7 days after its last; its share of leads is its "
                   "conversions over the leads created in that period.")
        _send_times(filters)
    _touches(filters)


if __name__ == "__main__":
    reroute()
