"""Channels: what each channel (or campaign) costs and how its leads convert, side by side."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import charts
from analytics.channels import MOSTLY_OPEN, SMALL_GROUP, channel_comparison, compare_groups
from dashboard import run_query, shared_filters
from pages import reroute

STAGE_NAMES = {"lead": "lead", "mql": "MQL", "sql": "SQL", "won": "won deal"}
BUTTONS = {"lead": "lead", "MQL": "mql", "SQL": "sql", "won": "won"}  # label (also in the URL) -> stage
RATE_TO = {"lead": ("impression_to_lead", "Impressions → lead"), "mql": ("lead_to_mql", "Leads → MQL"),
           "sql": ("lead_to_sql", "Leads → SQL"), "won": ("lead_to_won", "Leads → won")}
SANKEY_GROUPS = 10  # more groups than this are drawn as "other" in the flow diagram
GREY = "#c0c4cc"


def _cost_and_conversion(table: pd.DataFrame, stage: str) -> go.Figure:
    """Cost per `stage` beside the rate of reaching it, one bar per group (largest on top); small groups grey."""
    rows = table.iloc[::-1]
    rate_column, rate_title = RATE_TO[stage]
    labels = [f"{g} (small)" if small else str(g) for g, small in zip(rows["group"], rows["small"])]
    colours = [GREY if small else charts.PALETTE[0] for small in rows["small"]]
    figure = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                           subplot_titles=(f"Cost per {STAGE_NAMES[stage]}", rate_title))
    for col, values, text, hover in (
        (1, rows[f"cost_per_{stage}"], [f"{v:,.0f}" if pd.notna(v) else "n/a" for v in rows[f"cost_per_{stage}"]],
         "%{y}: %{x:,.2f}<extra></extra>"),
        (2, rows[rate_column], [f"{v:.1%}" if pd.notna(v) else "n/a" for v in rows[rate_column]],
         "%{y}: %{x:.2%}<extra></extra>"),
    ):
        figure.add_trace(go.Bar(y=labels, x=values.fillna(0), orientation="h", marker_color=colours, text=text,
                                textposition="outside", cliponaxis=False, hovertemplate=hover, showlegend=False),
                         row=1, col=col)
    figure.update_xaxes(tickformat=",.0f", rangemode="tozero", row=1, col=1)
    figure.update_xaxes(tickformat=".0%" if stage != "lead" else ".2%", rangemode="tozero", row=1, col=2)
    figure = charts.styled(figure, height=160 + 40 * len(rows))
    figure.update_xaxes(automargin=True)
    figure.update_yaxes(automargin=True)
    figure.update_layout(hovermode="closest", margin={"r": 60})
    return figure


def _flow(table: pd.DataFrame) -> go.Figure:
    """Sankey: each group's leads into MQL, then SQL, then won; the rest into "no MQL / SQL / win (yet)"."""
    groups = table[table["leads"] > 0].set_index("group")[["leads", "mql", "sql", "won"]]
    if len(groups) > SANKEY_GROUPS:
        top = groups.iloc[:SANKEY_GROUPS - 1]
        groups = pd.concat([top, groups.iloc[SANKEY_GROUPS - 1:].sum().to_frame("other").T])
    totals = groups.sum()
    stages = [f"MQL {totals['mql']:,}", f"SQL {totals['sql']:,}", f"won {totals['won']:,}",
              f"no MQL (yet) {totals['leads'] - totals['mql']:,}", f"no SQL (yet) {totals['mql'] - totals['sql']:,}",
              f"not won (yet) {totals['sql'] - totals['won']:,}"]
    labels = [f"{g} {n:,}" for g, n in groups["leads"].items()] + stages
    mql, sql, won, no_mql, no_sql, no_won = range(len(groups), len(groups) + 6)
    colours = [GREY if g == "other" else charts.PALETTE[i % len(charts.PALETTE)] for i, g in enumerate(groups.index)]
    source, target, value, link_colours = [], [], [], []
    for i, (group, row) in enumerate(groups.iterrows()):
        tint = colours[i] + "88"
        source += [i, i]
        target += [mql, no_mql]
        value += [row["mql"], row["leads"] - row["mql"]]
        link_colours += [tint, tint]
    source += [mql, mql, sql, sql]
    target += [sql, no_sql, won, no_won]
    value += [totals["sql"], totals["mql"] - totals["sql"], totals["won"], totals["sql"] - totals["won"]]
    link_colours += ["#0072B288", "#d1d5db88", "#009E7388", "#d1d5db88"]
    figure = go.Figure(go.Sankey(
        arrangement="snap",
        node={"label": labels, "pad": 18, "thickness": 22,
              "color": colours + [charts.PALETTE[0], charts.PALETTE[0], charts.PALETTE[2], GREY, GREY, GREY]},
        link={"source": source, "target": target, "value": value, "color": link_colours},
    ))
    figure = charts.styled(figure, height=200 + 40 * len(groups))
    figure.update_layout(font={"size": 16})
    return figure


def _best_and_worst(table: pd.DataFrame, noun: str) -> None:
    tests = compare_groups(table, SMALL_GROUP, noun)
    st.markdown("\n".join(f"- {sentence}" for sentence in tests.steps["sentence"]))
    small = [f"{row.step}: {row.small_groups}" for row in tests.steps.itertuples() if row.small_groups]
    st.caption(f"Best and worst among {noun}s with at least {SMALL_GROUP} at the step's first stage; smaller "
               "ones are flagged, not ranked" + (f" ({'; '.join(small)})." if small else "."))
    with st.expander("Every pair, with Holm-adjusted p-values"):
        st.dataframe(tests.pairs, hide_index=True, width="stretch",
                     column_config={c: st.column_config.NumberColumn(c.replace("_", " "), format="percent")
                                    for c in ("rate_a", "rate_b", "diff")})


def render() -> None:
    filters = shared_filters()
    st.title("Channels")
    with st.sidebar:
        st.markdown("#### Channels")
        by = st.segmented_control("Compare", ["channel", "campaign"], default="channel", key="compare",
                                  bind="query-params") or "channel"
        choice = st.segmented_control("Cost of a", list(BUTTONS), default="SQL", key="cost_stage",
                                      bind="query-params")
    stage = BUTTONS.get(choice, "sql")
    table = run_query(channel_comparison, filters, by)
    if table.empty:
        st.info("No leads or spend match these filters. Import leads, events and campaign spend on the Data page.")
        return

    _best_and_worst(table, by)
    mostly_open = table.loc[table["unfinished"] >= MOSTLY_OPEN, "group"].tolist()
    if mostly_open:
        st.warning(f"Most leads of {len(mostly_open)} {by}{'s' if len(mostly_open) != 1 else ''} are still open "
                   f"({', '.join(map(str, mostly_open[:8]))}{' ...' if len(mostly_open) > 8 else ''}): their cost "
                   "per SQL and per won deal will fall as those leads convert. Projected deals will replace these "
                   "naive figures once time to conversion is in.", icon=":material/hourglass_top:")

    st.subheader(f"Cost per {STAGE_NAMES[stage]} and conversion")
    st.plotly_chart(_cost_and_conversion(table, stage), width="stretch")
    st.caption(f"Spend in the date range over the leads created in it and their later conversions. n/a: no "
               f"denominator (no spend recorded, or no {STAGE_NAMES[stage]}s). Grey: fewer than {SMALL_GROUP} leads.")

    st.subheader(f"From {by} to stage")
    st.plotly_chart(_flow(table), width="stretch")

    st.subheader("All figures")
    money = {c: st.column_config.NumberColumn(c.replace("_", " "), format="%,.2f")
             for c in ("spend", "won_value", "cost_per_lead", "cost_per_mql", "cost_per_sql", "cost_per_won")}
    rates = {c: st.column_config.NumberColumn(c.replace("_", " "), format="percent")
             for c in ("ctr", "impression_to_lead", "lead_to_mql", "mql_to_sql", "sql_to_won", "lead_to_sql",
                       "lead_to_won", "unfinished")}
    st.dataframe(table, hide_index=True, width="stretch", column_config=money | rates)
    st.caption("unfinished: share of leads that have neither won nor been lost and can still get further (inside "
               "their window to the next stage, or not yet MQL and younger than the funnel's windows). First-touch "
               "attribution; '(none)' holds leads without a value.")


if __name__ == "__main__":
    reroute()
