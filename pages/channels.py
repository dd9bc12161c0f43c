"""Channels: what each channel (or campaign) costs and how its leads convert, side by side."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from analytics import charts
from analytics.abstats import format_p
from analytics.channels import MOSTLY_OPEN, SMALL_GROUP, channel_comparison, compare_groups
from dashboard import drawn, run_query, shared_filters
from pages import reroute

CURRENCY = "$"  # the warehouse keeps amounts without a currency: the sign money is shown with
STAGE_NAMES = {"lead": "lead", "mql": "MQL", "sql": "SQL", "won": "won deal"}
BUTTONS = {"lead": "lead", "MQL": "mql", "SQL": "sql", "won": "won"}  # label (also in the URL) -> stage
RATE_TO = {"lead": ("impression_to_lead", "Impressions → lead"), "mql": ("lead_to_mql", "Leads → MQL"),
           "sql": ("lead_to_sql", "Leads → SQL"), "won": ("lead_to_won", "Leads → won")}
SANKEY_GROUPS = 10  # more groups than this are drawn as "other" in the flow diagram
TOP = 10  # with more than twice this many groups, the cost chart shows the TOP most and TOP least expensive
GREY = "#c0c4cc"
STAGE_COLOUR, WON_COLOUR = "#334155", "#15803d"  # the stage nodes: neutral, so no channel's colour is reused
HALO = "0 0 2px #fff, 0 0 3px #fff, 0 0 4px #fff, 0 0 6px #fff"  # a white glow behind text drawn over colour

COUNTS = ("impressions", "clicks", "leads", "mql", "sql", "won")
MONEY = ("spend", "won_value", "cost_per_lead", "cost_per_mql", "cost_per_sql", "cost_per_won", "cost_per_projected_won")
RATES = ("ctr", "impression_to_lead", "lead_to_mql", "mql_to_sql", "sql_to_won", "lead_to_sql", "lead_to_won",
         "unfinished")
SMALL_RATES = ("ctr", "impression_to_lead")  # well under 1%: two decimals
KEY_COLUMNS = ("group", "leads", "mql", "sql", "won", "spend", "cost_per_lead", "cost_per_sql", "cost_per_won",
               "cost_per_projected_won", "lead_to_sql", "unfinished")
MORE_COLUMNS = ("impressions", "clicks", "ctr", "impression_to_lead", "lead_to_mql", "mql_to_sql", "sql_to_won",
                "lead_to_won", "won_value", "cost_per_mql", "projected_won", "note")
HEADERS = {"mql": "MQLs", "sql": "SQLs", "won": "Won deals", "unfinished": "Still open", "ctr": "Click-through rate",
           "lead_to_sql": "Lead → SQL", "lead_to_mql": "Lead → MQL", "mql_to_sql": "MQL → SQL",
           "sql_to_won": "SQL → won", "lead_to_won": "Lead → won", "impression_to_lead": "Impression → lead",
           "cost_per_projected_won": "Cost per won (expected)", "projected_won": "Won deals expected"}
HELP = {
    "unfinished": "Share of leads that have neither won nor been lost and can still get further: inside their "
                  "window to the next stage, or not yet MQL and younger than the funnel's windows.",
    "spend": "Spend in the date range; a row spanning several days counts for its days inside the range.",
    "note": "Why a figure is blank or needs care.",
    "cost_per_projected_won": "Spend over the won deals the leads are expected to bring once the open ones have "
                              "converted or been lost, estimated from how earlier leads converted (time to convert).",
}


def _header(column: str) -> str:
    return HEADERS.get(column, charts.label(column))


def _pct(column: str) -> str:
    """The name a rate column has in a table that shows it in percent."""
    return f"{column}_pct" if column in RATES else column


def _few(names: list, shown: int = 3) -> str:
    """'A, B and C', or 'A, B, C and 5 more' for a long list."""
    names = [charts.label(n) for n in names]
    if len(names) <= shown + 1:
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"{', '.join(names[:shown])} and {len(names) - shown} more"


def _money(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{CURRENCY}{value:,.0f}"


def _cost_and_conversion(table: pd.DataFrame, stage: str, noun: str) -> tuple[go.Figure, str]:
    """Cost per `stage` beside the rate of reaching it, one bar per group, dearest on top; small groups faded.

    With more than 2 x TOP groups only the TOP dearest and the TOP cheapest are drawn. Returns the figure
    and a sentence saying what was left out (empty when nothing).
    """
    cost = f"cost_per_{stage}"
    rate_column, rate_title = RATE_TO[stage]
    ranked = table[table[cost].notna()].sort_values(cost, ascending=False, kind="stable")
    missing = table[table[cost].isna()]
    note, gap = "", None
    if len(ranked) > 2 * TOP:
        gap = f"<i>⋮ {len(ranked) - 2 * TOP} more {noun}s</i>"
        note = (f"Showing the {TOP} most and the {TOP} least expensive of the {len(ranked)} {noun}s with a cost per "
                f"{STAGE_NAMES[stage]}")
        note += f"; {len(missing)} more have none." if len(missing) else "."
        top, bottom = ranked.head(TOP), ranked.tail(TOP)
    else:
        top, bottom = pd.concat([ranked, missing]), ranked.iloc[:0]
    names = {g: f"{charts.label(g)} (small)" if small else charts.label(g) for g, small in
             zip(table["group"], table["small"])}
    order = [names[g] for g in top["group"]] + ([gap] if gap else []) + [names[g] for g in bottom["group"]]
    rows = pd.concat([top, bottom])
    labels = [names[g] for g in rows["group"]]
    colours = [charts.colour_of(str(g)) for g in rows["group"]]
    opacity = [0.35 if small else 1.0 for small in rows["small"]]
    decimals = 2 if stage == "lead" else 1  # impressions turn into leads at well under 1%
    count = {"lead": "leads", "mql": "mql", "sql": "sql", "won": "won"}[stage]
    figure = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.05,
                           subplot_titles=(f"Cost per {STAGE_NAMES[stage]}", rate_title))
    costs = [_money(v) for v in rows[cost]]
    rates = ["n/a" if pd.isna(v) else f"{v:.{decimals}%}" for v in rows[rate_column]]
    hover = [f"{name}: {c} per {STAGE_NAMES[stage]}<br>{_money(spend)} spend, {n:,} {STAGE_NAMES[stage]}s"
             for name, c, spend, n in zip(labels, costs, rows["spend"], rows[count])]
    for col, values, text in ((1, rows[cost], costs), (2, rows[rate_column], rates)):
        figure.add_trace(go.Bar(y=labels, x=values.fillna(0), orientation="h", text=text, textposition="outside",
                                cliponaxis=False, marker={"color": colours, "opacity": opacity},
                                hovertext=[f"{h}<br>{rate_title}: {r}" for h, r in zip(hover, rates)],
                                hoverinfo="text", showlegend=False), row=1, col=col)
    figure.update_xaxes(tickprefix=CURRENCY, tickformat=",.0f", rangemode="tozero", row=1, col=1)
    figure.update_xaxes(tickformat=".0%" if stage != "lead" else ".2%", rangemode="tozero", row=1, col=2)
    figure = charts.styled(figure, height=170 + 36 * len(order))
    figure.update_xaxes(automargin=True)
    figure.update_yaxes(automargin=True, categoryorder="array", categoryarray=order[::-1], ticksuffix="  ")
    figure.update_layout(hovermode="closest", margin={"r": 70})
    return figure, note


def _flow(table: pd.DataFrame, noun: str) -> go.Figure:
    """Sankey: each group's leads into MQL, then SQL, then won; the rest into "no MQL / SQL / win (yet)"."""
    groups = table[table["leads"] > 0].set_index("group")[["leads", "mql", "sql", "won"]]
    other = "Other"
    if len(groups) > SANKEY_GROUPS:
        rest = groups.iloc[SANKEY_GROUPS - 1:]
        groups = pd.concat([groups.iloc[:SANKEY_GROUPS - 1], rest.sum().to_frame("other").T])
        other = f"{len(rest)} other {noun}s"
    totals = groups.sum()
    stages = [f"MQL  {totals['mql']:,}", f"SQL  {totals['sql']:,}", f"Won  {totals['won']:,}",
              f"No MQL (yet)  {totals['leads'] - totals['mql']:,}",
              f"No SQL (yet)  {totals['mql'] - totals['sql']:,}", f"Not won (yet)  {totals['sql'] - totals['won']:,}"]
    labels = [f"{other if g == 'other' else charts.label(g)}  {n:,}" for g, n in groups["leads"].items()] + stages
    mql, sql, won, no_mql, no_sql, no_won = range(len(groups), len(groups) + 6)
    colours = [GREY if g == "other" else charts.colour_of(str(g)) for g in groups.index]
    source, target, value, link_colours = [], [], [], []
    for i, (_, row) in enumerate(groups.iterrows()):
        source += [i, i]
        target += [mql, no_mql]
        value += [row["mql"], row["leads"] - row["mql"]]
        link_colours += [colours[i] + "77", colours[i] + "40"]
    source += [mql, mql, sql, sql]
    target += [sql, no_sql, won, no_won]
    value += [totals["sql"], totals["mql"] - totals["sql"], totals["won"], totals["sql"] - totals["won"]]
    link_colours += [STAGE_COLOUR + "55", "#d1d5db88", WON_COLOUR + "77", "#d1d5db88"]
    # The groups' nodes top to bottom in the table's order (largest first, "other" last): placed, not left
    # to the layout, which may put "other" among them.
    gap = 0.02
    scale = (1 - gap * (len(groups) - 1)) / totals["leads"]
    tops = (groups["leads"] * scale + gap).cumsum().shift(fill_value=0)
    centres = (tops + groups["leads"] * scale / 2).clip(0.001, 0.999).tolist()
    figure = go.Figure(go.Sankey(
        arrangement="snap",
        textfont={"size": 16, "color": "#111827", "shadow": HALO, "weight": 600},
        node={"label": labels, "pad": 18, "thickness": 22, "line": {"width": 0},
              "x": [0.001] * len(groups), "y": centres,
              "color": colours + [STAGE_COLOUR, STAGE_COLOUR, WON_COLOUR, GREY, GREY, GREY],
              "hovertemplate": "%{label}<extra></extra>"},
        link={"source": source, "target": target, "value": value, "color": link_colours,
              "hovertemplate": "%{source.label} → %{target.label}: %{value:,} leads<extra></extra>"},
    ))
    return charts.styled(figure, height=200 + 40 * len(groups))


def _best_and_worst(table: pd.DataFrame, noun: str) -> None:
    """Per step, the best and the worst group in words; the tests behind them in a tooltip and an expander."""
    tests = compare_groups(table.assign(group=table["group"].map(charts.label)), SMALL_GROUP, noun)
    st.markdown("\n".join(f"- {sentence}" for sentence in tests.steps["sentence"]))
    small = [f"{row.step}: {len(row.small_groups.split(', '))} {noun}s ({_few(row.small_groups.split(', '))})"
             for row in tests.steps.itertuples() if row.small_groups]
    pairs = tests.pairs.groupby("step").size()
    details = " ".join(
        f"{row.step}: best vs worst {format_p(row.p_best_vs_worst)} (Holm-adjusted over {pairs.get(row.step, 0)} "
        f"pairs); chi-square across all {row.groups} {noun}s {format_p(row.p_value)}."
        for row in tests.steps.itertuples() if pd.notna(row.p_value))
    st.caption(f"Only {noun}s with at least {SMALL_GROUP} leads (MQLs, SQLs) at a step are ranked"
               + (f"; too few to rank at {'; at '.join(small)}." if small else "."),
               help="Significant: the gap between the best and the worst is larger than chance would make it "
                    "(two-proportion test, 5% level, p-values corrected for the number of pairs compared). "
                    + details)
    with st.expander(f"Every pair of {noun}s compared"):
        pairs = tests.pairs.assign(rate_a_pct=tests.pairs["rate_a"] * 100, rate_b_pct=tests.pairs["rate_b"] * 100,
                                   diff_points=tests.pairs["diff"] * 100, p_value=tests.pairs["p_value"].map(format_p))
        rate = {f"{c}_pct": st.column_config.NumberColumn(h, format="%.1f%%") for c, h in (("rate_a", "Rate A"),
                                                                                         ("rate_b", "Rate B"))}
        st.dataframe(pairs, hide_index=True, width="stretch", placeholder="–",
                     column_order=("step", "group_a", "group_b", "rate_a_pct", "rate_b_pct", "diff_points",
                                   "p_value", "significant"),
                     column_config=rate | {
                         "step": "Step", "group_a": f"{noun.capitalize()} A", "group_b": f"{noun.capitalize()} B",
                         "diff_points": st.column_config.NumberColumn("B − A", format="%+.1f pts",
                                                                      help="Difference in percentage points."),
                         "p_value": st.column_config.TextColumn(
                             "p-value", help="Two-proportion test, Holm-adjusted over the step's pairs."),
                         "significant": st.column_config.CheckboxColumn("Significant")})


def _figures(table: pd.DataFrame, noun: str, stage: str) -> None:
    """Every figure per group: the key columns, and the others on request."""
    key = list(KEY_COLUMNS) + ([f"cost_per_{stage}"] if f"cost_per_{stage}" not in KEY_COLUMNS else [])
    extra = st.multiselect("More columns", [c for c in MORE_COLUMNS if c not in key], format_func=_header,
                           key="figure_columns", placeholder="Impressions, clicks, every conversion rate, notes ...",
                           width=700)
    # Rates as percentages with one decimal: x 100, under a name that says so (it is also the CSV's header).
    shown = table.assign(**{f"{c}_pct": table[c] * 100 for c in RATES}).drop(columns=list(RATES))
    key, extra = [_pct(c) for c in key], [_pct(c) for c in extra]
    config = {
        "group": st.column_config.SelectboxColumn(noun.capitalize(), options=table["group"].tolist(),
                                                  format_func=charts.label, disabled=False),
        "note": st.column_config.TextColumn("Note", width="large", help=HELP["note"]),
    } | {c: st.column_config.NumberColumn(_header(c), format="%,d", help=HELP.get(c)) for c in COUNTS} | {
        c: st.column_config.NumberColumn(_header(c), format=f"{CURRENCY}%,.0f", help=HELP.get(c)) for c in MONEY
    } | {_pct(c): st.column_config.NumberColumn(_header(c), format="%.2f%%" if c in SMALL_RATES else "%.1f%%",
                                                help=HELP.get(c)) for c in RATES}
    st.dataframe(shown, hide_index=True, width="stretch", column_order=key + extra, column_config=config,
                 placeholder="–")
    st.caption("Leads by first touch; '(none)': leads without a value. –: no denominator (no spend recorded, or "
               "nothing reached that stage). Still open: share of leads that can still convert further.")


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
        who = (f"{len(mostly_open)} {by}s are still open ({_few(mostly_open)}): their" if len(mostly_open) > 1
               else f"{charts.label(mostly_open[0])} are still open: its")
        st.warning(f"Most leads of {who} cost per SQL and per won deal will still fall as those leads convert.",
                   icon=":material/hourglass_top:")

    st.subheader(f"Cost per {STAGE_NAMES[stage]} and conversion")
    figure, note = drawn(_cost_and_conversion, table, stage, by)
    st.plotly_chart(figure, width="stretch", theme=None)
    st.caption(f"{note + ' ' if note else ''}Spend in the date range over the leads created in it and their later "
               f"conversions. n/a: no spend recorded, or no {STAGE_NAMES[stage]}s. Faded: fewer than {SMALL_GROUP} "
               "leads.")

    if table["leads"].sum() > 0:
        st.subheader(f"From {by} to stage")
        st.plotly_chart(drawn(_flow, table, by), width="stretch", theme=None)
        st.caption("(yet): some of these leads are still open and may still get further.")

    st.subheader("All figures")
    _figures(table, by, stage)


if __name__ == "__main__":
    reroute()
