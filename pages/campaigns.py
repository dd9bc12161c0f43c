"""Campaigns: message sends (email, SMS, push) per campaign and variant, when to send, and nurture touches."""

from dataclasses import replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from analytics import charts
from analytics.abstats import format_p
from analytics.campaigns import (SENIOR_TOUCHES, message_campaigns, send_times, touch_types_before_sql,
                                 touches_before_sql, variant_comparison, variant_verdicts)
from dashboard import drawn, run_query, shared_filters
from pages import reroute

HEATMAP_METRICS = {"Click rate": "click_rate", "Conversion rate": "conversion_rate", "Open rate": "open_rate",
                   "Messages sent": "sent"}  # label (also in the URL) -> column
MEDIA = {"email": "Email", "sms": "SMS", "push": "Push", "messenger": "Messenger"}
HEADERS = {
    "campaign_id": "Campaign", "first_sent_at": "First sent", "sends": "Send batches", "sent": "Sent",
    "click_to_open_rate": "Click-to-open rate", "period_start": "Period from", "period_end": "Period until",
    "is_control": "Control", "click_p_value": "Click p-value", "conversion_p_value": "Conversion p-value",
    "sql_leads": "SQL leads", "sql_rate": "Reached SQL", "mean_touches": "Mean touches", "median": "Median touches",
    "p25": "25th percentile", "p75": "75th percentile", "p90": "90th percentile", "share_7_plus": "7+ touches",
    "share_of_sql_leads": "Share of SQL leads", "touches": "Touches in all", "last_touch": "Last touch before SQL",
    "last_touch_share": "Share as last touch",
}
HELP = {
    "sends": "Rows in the import: one per campaign, variant and send time.",
    "share_of_leads": "The campaign's conversions over the leads created in its period (first send to 7 days "
                      "after the last).",
    "share_of_conversions": "The campaign's conversions over the conversions of every send in its period.",
    "click_p_value": "Against the control variant: two-proportion test, Holm-adjusted with more than two variants.",
    "conversion_p_value": "Against the control variant: two-proportion test, Holm-adjusted with more than two "
                          "variants.",
    "sql_rate": "Share of the leads that reached SQL.",
    "share_7_plus": "Share of the SQL leads with 7 or more touches before SQL.",
    "sql_leads": "Leads that reached SQL (in the touch table: those that had this touch before SQL).",
}
COUNTS = ("sends", "sent", "delivered", "opened", "clicked", "converted", "unsubscribed", "leads_in_period", "leads",
          "sql_leads", "touches", "last_touch")
RATES = ("delivery_rate", "open_rate", "click_rate", "click_to_open_rate", "conversion_rate", "unsubscribe_rate",
         "share_of_leads", "share_of_conversions", "sql_rate", "share_7_plus", "share_of_sql_leads",
         "last_touch_share")
RESULT_COLUMNS = ("campaign_id", "variant", "medium", "first_sent_at", "sent", "open_rate", "click_rate",
                  "conversion_rate", "unsubscribe_rate", "share_of_leads")
MORE_RESULT_COLUMNS = ("sends", "delivered", "opened", "clicked", "converted", "unsubscribed", "delivery_rate",
                       "click_to_open_rate", "period_start", "period_end", "leads_in_period", "share_of_conversions")
DAYS = {"Mon": "Monday", "Tue": "Tuesday", "Wed": "Wednesday", "Thu": "Thursday", "Fri": "Friday",
        "Sat": "Saturday", "Sun": "Sunday"}
EMPTY = "#eef0f3"  # heatmap cells without sends


def _medium(name: str) -> str:
    return ", ".join(MEDIA.get(m, charts.label(m)) for m in str(name).split(", "))


def _header(column: str) -> str:
    return HEADERS.get(column.removesuffix("_pct"), charts.label(column.removesuffix("_pct")))


def _shown(table: pd.DataFrame) -> pd.DataFrame:
    """`table` for display: rates x 100 under `<name>_pct` (also the CSV's header)."""
    rates = [c for c in RATES if c in table]
    return table.assign(**{f"{c}_pct": table[c] * 100 for c in rates}).drop(columns=rates)


def _config(table: pd.DataFrame, decimals: int = 1) -> dict:
    """Column labels and formats for a `_shown` table: counts with separators, rates in percent."""
    config = {}
    for column in table.columns:
        name, help_text = _header(column), HELP.get(column.removesuffix("_pct"))
        if column.endswith("_pct"):
            config[column] = st.column_config.NumberColumn(name, format=f"%.{decimals}f%%", help=help_text)
        elif column in COUNTS:
            config[column] = st.column_config.NumberColumn(name, format="%,d", help=help_text)
        elif column in ("first_sent_at",):
            config[column] = st.column_config.DatetimeColumn(name, format="D MMM YYYY, HH:mm", help=help_text)
        elif column in ("period_start", "period_end"):
            config[column] = st.column_config.DatetimeColumn(name, format="D MMM YYYY", help=help_text)
        else:
            config[column] = st.column_config.Column(name, help=help_text)
    return config


def _variant_rates(table: pd.DataFrame) -> go.Figure:
    """Click rate and conversion rate per variant, side by side, one colour per variant; the best outlined."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Click rate", "Conversion rate"), horizontal_spacing=0.08)
    variants = sorted(table["variant"].unique())
    for i, variant in enumerate(variants):
        rows = table[table["variant"] == variant]
        for col, metric in ((1, "click_rate"), (2, "conversion_rate")):
            figure.add_trace(go.Bar(
                x=rows["medium"].map(_medium), y=rows[metric], name=f"Variant {variant}", legendgroup=variant,
                showlegend=col == 1,
                marker={"color": charts.PALETTE[i % len(charts.PALETTE)],
                        "line": {"color": "#111827", "width": [3 if b else 0 for b in rows[f"best_{metric}"]]}},
                text=[f"{v:.2%}" for v in rows[metric]], textposition="outside", cliponaxis=False,
                hovertemplate=f"Variant {variant}, " + "%{x}: %{y:.2%}<extra></extra>"), row=1, col=col)
    figure.update_yaxes(tickformat=".1%", rangemode="tozero")
    figure = charts.styled(figure, height=440)
    figure.update_xaxes(automargin=True)
    figure.update_yaxes(automargin=True)
    # The legend at the top right, above the plots: the common top-left place is the first subplot's title.
    figure.update_layout(hovermode="closest", barmode="group", margin={"t": 80},
                         legend={"x": 1, "xanchor": "right", "y": 1.12, "yanchor": "bottom"})
    return figure


def _heatmap(cells: pd.DataFrame, metric: str, name: str) -> go.Figure:
    """Weekday x hour of sending, coloured by `metric`; hours without any send left out, empty cells grey."""
    hours = cells.groupby("hour")["sends"].sum()
    cells = cells[cells["hour"].isin(hours[hours > 0].index)]
    grid = cells.pivot(index="day", columns="hour", values=metric).reindex(cells["day"].unique())
    sent = cells.pivot(index="day", columns="hour", values="sends").reindex(grid.index)
    percent = metric != "sent"
    text = grid.map(lambda v: "" if pd.isna(v) else (f"{v:.1%}" if percent else f"{v:,.0f}"))
    x = [f"{h:02d}:00" for h in grid.columns]
    empty = np.where(sent.to_numpy() == 0, 1.0, np.nan)
    figure = go.Figure([
        go.Heatmap(z=empty, x=x, y=grid.index, colorscale=[[0, EMPTY], [1, EMPTY]], showscale=False, xgap=3, ygap=3,
                   text=np.where(sent.to_numpy() == 0, "no sends", ""), texttemplate="%{text}",
                   textfont={"size": 14, "color": "#6b7280"}, hoverinfo="skip"),
        go.Heatmap(z=grid.to_numpy(dtype=float), x=x, y=grid.index, text=text.to_numpy(), texttemplate="%{text}",
                   textfont={"size": 15}, colorscale=[[0, "#deebf7"], [1, "#08306b"]], xgap=3, ygap=3,
                   # From zero: a gap of a tenth of a point should not look like night and day.
                   zmin=0, zmax=float(np.nanmax(grid.to_numpy(dtype=float))),
                   colorbar={"tickformat": ".1%" if percent else ",.0f", "title": {"text": name, "side": "right"}},
                   hovertemplate="%{y} %{x}: %{text}<extra></extra>"),
    ])
    figure = charts.styled(figure, height=400)
    figure.update_xaxes(automargin=True, type="category", title="Hour sent")
    figure.update_yaxes(autorange="reversed", showgrid=False, automargin=True)
    figure.update_layout(hovermode="closest", plot_bgcolor="white")
    return figure


def _touch_chart(table: pd.DataFrame) -> go.Figure:
    """Median touches before SQL per seniority, with the middle half as a range and the 7-10 band."""
    figure = go.Figure(go.Bar(
        x=table["seniority"].map(charts.label), y=table["median"],
        marker_color=[charts.colour_of(str(s)) for s in table["seniority"]],
        error_y={"type": "data", "symmetric": False, "array": table["p75"] - table["median"],
                 "arrayminus": table["median"] - table["p25"], "thickness": 2, "width": 10},
        text=[f"{v:g}" for v in table["median"]], textposition="inside", insidetextanchor="start",
        textfont={"size": 16, "color": "#111827", "shadow": "0 0 2px #fff, 0 0 3px #fff, 0 0 4px #fff"},
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
    st.plotly_chart(drawn(_variant_rates, table), width="stretch", theme=None)
    shown = _shown(table.assign(
        medium=table["medium"].map(_medium),
        **{c: table[c].map(lambda p: None if pd.isna(p) else format_p(p)) for c in ("click_p_value",
                                                                                      "conversion_p_value")}))
    st.dataframe(shown, hide_index=True, width="stretch", placeholder="–", column_config=_config(shown, decimals=2),
                 column_order=("medium", "variant", "is_control", "delivered", "clicked", "converted", "click_rate_pct",
                               "click_p_value", "conversion_rate_pct", "conversion_p_value"))
    st.caption("Rates over delivered messages, pooled over every campaign of the medium; the outlined bar is the "
               "best of its medium. The p-values say how likely a gap this large would be by chance alone: below "
               "0.05, it is unlikely to be chance.",
               help="Each variant against the control: two-proportion test, p-values Holm-adjusted when there are "
                    "more than two variants.")


def _results(results: pd.DataFrame) -> None:
    st.subheader("Results per campaign and variant")
    extra = st.multiselect("More columns", MORE_RESULT_COLUMNS, format_func=_header, key="result_columns",
                           placeholder="Delivered, opened, clicked, click-to-open rate, period ...", width=700)
    shown = _shown(results.iloc[::-1].assign(medium=results["medium"].map(_medium),
                                             variant=results["variant"].where(results["variant"] != "(none)")))
    order = [c if c in shown else f"{c}_pct" for c in (*RESULT_COLUMNS, *extra)]
    st.dataframe(shown, hide_index=True, width="stretch", placeholder="–", column_config=_config(shown),
                 column_order=order)
    st.caption("Newest first. Open, click, conversion and unsubscribe rates are over delivered messages; –: not "
               "tracked (SMS and push have no opens). A campaign's period runs from its first send to 7 days after "
               "its last; its share of leads is its conversions over the leads created in that period.")


def _send_times(filters, results: pd.DataFrame) -> None:
    st.subheader("When to send")
    sent = (results.assign(medium=results["medium"].str.split(", ")).explode("medium")
            .groupby("medium")["sent"].sum().sort_values(ascending=False, kind="stable"))
    columns = st.columns(3)
    medium = columns[0].selectbox("Medium", sent.index.tolist(), format_func=_medium, key="send_medium",
                                  bind="query-params", help="One medium at a time: their rates differ too much to "
                                                            "share a colour scale.")
    label = columns[1].selectbox("Colour by", list(HEATMAP_METRICS), key="send_metric", bind="query-params")
    metric = HEATMAP_METRICS[label]
    cells = run_query(send_times, filters, medium)
    if cells["sends"].sum() == 0:
        st.info(f"No {_medium(medium)} sends with a send time in this selection.")
        return
    used = cells[cells["sends"] > 0]
    if len(used) == 1:
        only = used.iloc[0]
        value = "n/a" if pd.isna(only[metric]) else (f"{only[metric]:,.0f}" if metric == "sent" else
                                                     f"{only[metric]:.1%}")
        st.info(f"Every {_medium(medium)} message in this selection went out on a {DAYS[only['day']]} at "
                f"{only['hour']:02d}:00 ({label.lower()}: {value}), so there is no other send time to compare it "
                "with. Pick another medium, or test other days and hours.", icon=":material/schedule:")
        return
    if cells[metric].isna().all():
        st.info(f"{_medium(medium)} has no {label.lower()} to show: it is not tracked for this medium.")
        return
    st.plotly_chart(drawn(_heatmap, cells, metric, label), width="stretch", theme=None)
    st.caption(f"{_medium(medium)} messages by the weekday and hour they were sent. Only hours with at least one "
               "send are shown; grey: no sends at that hour on that day.")


def _touches(filters) -> None:
    st.subheader("Nurture touches before SQL")
    per_seniority = run_query(touches_before_sql, filters)
    if per_seniority.empty or per_seniority["sql_leads"].sum() == 0:
        st.info("No lead in this selection has reached SQL yet, so there are no touches before SQL to count.")
        return
    st.plotly_chart(drawn(_touch_chart, per_seniority[per_seniority["sql_leads"] > 0]), width="stretch", theme=None)
    st.caption("Touches: events that are not a funnel stage (email opens, visits, webinars ...), counted before "
               "the lead's first SQL; bars are medians, whiskers the middle half of the SQL leads.")
    shown = _shown(per_seniority.assign(seniority=per_seniority["seniority"].map(charts.label)))
    config = _config(shown) | {c: st.column_config.NumberColumn(_header(c), format="%.1f")
                               for c in ("mean_touches", "p25", "median", "p75", "p90")}
    st.dataframe(shown, hide_index=True, width="stretch", placeholder="–", column_config=config,
                 column_order=("seniority", "leads", "sql_leads", "sql_rate_pct", "median", "p25", "p75", "p90",
                               "mean_touches", "share_7_plus_pct"))
    types = run_query(touch_types_before_sql, filters)
    if types.empty:
        return
    top = types.iloc[0]
    most = types.sort_values("sql_leads").iloc[-1]["touch"]
    st.markdown(f"**Most often the last touch before SQL: {charts.label(top['touch'])}** "
                f"({top['last_touch_share']:.0%} of SQL leads); {charts.label(most)} is the touch most SQL leads "
                "had before.")
    shown = _shown(types.assign(touch=types["touch"].map(charts.label)))
    st.dataframe(shown, hide_index=True, width="stretch", placeholder="–", column_config=_config(shown),
                 column_order=("touch", "sql_leads", "share_of_sql_leads_pct", "touches", "last_touch",
                               "last_touch_share_pct"))


def render() -> None:
    filters = shared_filters()
    st.title("Campaigns")
    if filters.channels:
        st.info("The Channel filter applies to the nurture touches only. Message campaigns are filtered by date "
                "and campaign: a send has a medium (email, SMS, push), not a channel.", icon=":material/filter_alt:")
    else:
        st.caption("Message campaigns are filtered by date and campaign only: a send has a medium (email, SMS, "
                   "push), not a channel. The Channel filter applies to the nurture touches.")
    # The sends' queries without the channels they ignore: a channel change reuses their cached results.
    sends = replace(filters, channels=())
    results = run_query(message_campaigns, sends)
    if results.empty:
        st.info("No message sends in this selection. Import sends (campaign_id, variant, medium, sent_at, sent, "
                "delivered, opened, clicked, converted, unsubscribed) on the Data page.")
    else:
        _variants(sends)
        _results(results)
        _send_times(sends, results)
    _touches(filters)


if __name__ == "__main__":
    reroute()
