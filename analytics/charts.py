"""Plotly figures shared by the pages and the report: one look (colours, fonts, margins) for every chart."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.names import label  # noqa: F401  (charts.label: the pages' name for it)

# Colour-blind-safe qualitative palette (Okabe-Ito, without black), then Tableau's for more groups.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#7f7f7f"]
EXTRA = ["#4E79A7", "#F28E2B", "#59A14F", "#B07AA1", "#9C755F", "#EDC948", "#76B7B2", "#FF9DA7"]
# A group keeps its colour on every page and under every filter: the common channels are fixed, any
# other name gets a colour from its letters.
FIXED_COLOURS = {
    "display": PALETTE[0], "paid_search": PALETTE[1], "newsletter": PALETTE[2], "webinar": PALETTE[3],
    "whitepaper": PALETTE[4], "proposal_download": "#882255", "free_trial": PALETTE[6], "referral": PALETTE[7],
    "(none)": "#bdbdbd",
    "staff": EXTRA[0], "manager": EXTRA[1], "head": EXTRA[2], "executive": EXTRA[3],
}


def colour_of(group: str) -> str:
    """The colour `group` (a channel, campaign, seniority ...) has on every chart."""
    if group in FIXED_COLOURS:
        return FIXED_COLOURS[group]
    return EXTRA[sum(ord(c) * (i + 1) for i, c in enumerate(group)) % len(EXTRA)]


def styled(figure: go.Figure, height: int = 380) -> go.Figure:
    """The common layout: readable type, a light grid, the legend above the plot."""
    figure.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        font={"size": 14, "family": "Source Sans Pro, Source Sans 3, sans-serif", "color": "#1f2937"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "title": None},
        plot_bgcolor="white",
        hovermode="x unified",
    )
    figure.update_xaxes(showgrid=False, automargin=True, title_standoff=12)
    figure.update_yaxes(gridcolor="#e5e7eb", zeroline=False, automargin=True, title_standoff=12)
    return figure


def weekly_leads(table: pd.DataFrame) -> go.Figure:
    """Stacked weekly new leads per channel."""
    figure = px.bar(table, x="week", y="leads", color="channel",
                    color_discrete_map={c: colour_of(c) for c in table["channel"].unique()},
                    labels={"week": "Week starting", "leads": "New leads", "channel": "Channel"})
    partial = table.groupby("week")["partial"].first()
    figure.for_each_trace(lambda trace: trace.update(
        name=label(trace.name), marker_opacity=[0.35 if partial.get(pd.Timestamp(w).date(), False) else 1.0
                                                for w in trace.x]))
    return styled(figure)


def _percent(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:.1%}"


def funnel(table: pd.DataFrame) -> go.Figure:
    """The overall funnel: bars per stage labelled with count, rate from previous and from first."""
    labels = [f"{int(c):,} · {_percent(p)} of previous · {_percent(f)} of first" if s > 1 else f"{int(c):,}"
              for c, p, f, s in zip(table["count"], table["rate_from_previous"], table["rate_from_first"], table["step"])]
    widest = max(int(table["count"].max()), 1)
    # Text inside bars wide enough to hold it, beside narrow ones.
    positions = ["inside" if c / widest > 0.55 else "outside" for c in table["count"]]
    labels = [text if where == "inside" else "\u00a0" * 5 + text for text, where in zip(labels, positions)]
    figure = go.Figure(go.Funnel(y=[label(s) for s in table["stage"]], x=table["count"], text=labels,
                                 textinfo="text", textposition=positions, cliponaxis=False,
                                 textfont={"size": 15}, insidetextfont={"color": "white"},
                                 marker={"color": PALETTE[0]}, connector={"fillcolor": "#dbeafe"},
                                 hovertemplate="%{y}: %{x:,}<extra></extra>"))
    figure = styled(figure, height=120 + 70 * len(table))
    figure.update_yaxes(tickfont={"size": 16})
    return figure


def breakdown(table: pd.DataFrame, small: int) -> go.Figure:
    """Per transition, the rate from previous of each group with its 95% interval, on one shared scale.

    Groups with fewer than `small` units at the step before are grey and marked "small": too few to rank.
    """
    steps = table[table["step"] > 1]
    stages = table.drop_duplicates("step").set_index("step")["stage"]
    transitions = [f"{label(stages[k - 1])} → {label(stages[k])}" for k in sorted(steps["step"].unique())]
    figure = make_subplots(rows=1, cols=len(transitions), subplot_titles=transitions, shared_yaxes=True,
                           horizontal_spacing=0.04)
    entrants = table[table["step"] == 1].set_index("group")["count"]
    order = entrants.sort_values().index.tolist()
    top = float(steps["ci_high"].max()) if steps["ci_high"].notna().any() else 1.0
    for col, (_, part) in enumerate(steps.groupby("step", sort=True), start=1):
        part = part.set_index("group").reindex(order)
        previous = part["count"] + part["dropoff"].fillna(0)
        figure.add_trace(go.Bar(
            y=[f"{label(g)} (small)" if n < small else label(g) for g, n in zip(part.index, previous)],
            x=part["rate_from_previous"], orientation="h", showlegend=False,
            marker_color=[colour_of(g) if n >= small else "#c0c4cc" for g, n in zip(part.index, previous)],
            text=[_percent(r) for r in part["rate_from_previous"]], textposition="outside", cliponaxis=False,
            error_x={"type": "data", "symmetric": False, "array": part["ci_high"] - part["rate_from_previous"],
                     "arrayminus": part["rate_from_previous"] - part["ci_low"], "color": "#6b7280", "thickness": 1},
            customdata=list(zip(part["count"], previous)),
            hovertemplate="%{y}: %{x:.1%} (%{customdata[0]:,} of %{customdata[1]:,})<extra></extra>"), row=1, col=col)
        figure.update_xaxes(tickformat=".0%", range=[0, top * 1.25], row=1, col=col)
    figure = styled(figure, height=140 + 36 * len(order))
    figure.update_layout(hovermode="closest")
    return figure


def over_time(table: pd.DataFrame, stage: str) -> go.Figure:
    """Rate from first to `stage` per entry period; unfinished periods drawn hollow and dashed."""
    part = table[table["stage"] == stage].sort_values("period")
    figure = go.Figure()
    for finished, name, dash, symbol in ((True, "finished", "solid", "circle"),
                                         (False, "unfinished: can still rise", "dot", "circle-open")):
        rows = part[part["finished"] == finished]
        figure.add_trace(go.Scatter(
            x=pd.to_datetime(rows["period"]), y=rows["rate_from_first"], name=name, mode="lines+markers",
            line={"color": PALETTE[0] if finished else "#9ca3af", "dash": dash}, marker={"symbol": symbol, "size": 8},
            hovertemplate="%{x|%d %b %Y}: %{y:.1%}<extra>" + name + "</extra>"))
    figure.update_yaxes(tickformat=".0%", rangemode="tozero", title=f"Entrants reaching {label(stage)}")
    figure.update_xaxes(title="Entry period")
    return styled(figure)


BAND_COLOURS = {"cold": PALETTE[4], "warm": PALETTE[1], "hot": PALETTE[5]}


def score_bands(table: pd.DataFrame, outcome: str) -> go.Figure:
    """Conversion rate per score band (a `scoring.score_check` band table) with its 95% interval; the rate
    inside each bar, its score range and number of leads under it."""
    limits = {"cold": "below {warm:g}", "warm": "{warm:g} to below {hot:g}", "hot": "{hot:g} and more"}
    bounds = {"warm": table["min_score"].iloc[1], "hot": table["min_score"].iloc[2]}
    names = [f"<b>{label(b)}</b><br>score {limits[b].format(**bounds)} · {n:,} leads"
             for b, n in zip(table["band"], table["leads"])]
    figure = go.Figure(go.Bar(
        x=names, y=table["rate"], marker_color=[BAND_COLOURS.get(b, PALETTE[7]) for b in table["band"]],
        error_y={"type": "data", "symmetric": False, "array": table["ci_high"] - table["rate"],
                 "arrayminus": table["rate"] - table["ci_low"], "color": "#374151", "thickness": 1.5, "width": 10},
        text=[_percent(r) for r in table["rate"]], textposition="inside", insidetextanchor="start",
        textfont={"size": 20, "color": "#111827"},
        customdata=table[["converted", "leads"]].to_numpy(),
        hovertemplate="%{x}: %{y:.1%} (%{customdata[0]:,} of %{customdata[1]:,})<extra></extra>"))
    figure = styled(figure, height=400)
    top = float(table["ci_high"].max()) if table["ci_high"].notna().any() else 1.0
    figure.update_yaxes(tickformat=".0%", range=[0, top * 1.1], title=f"Reached {label(outcome)}")
    figure.update_xaxes(tickfont={"size": 15})
    figure.update_layout(hovermode="closest", margin={"t": 30})
    return figure


def rule_power(table: pd.DataFrame) -> go.Figure:
    """What each rule adds to the ranking: the AUC with every rule minus the AUC without it (a
    `score_check` rule-power table), in AUC points; rules that hurt the ranking in red."""
    table = table.assign(power=-table["change"] * 100).sort_values("power")
    figure = go.Figure(go.Bar(
        y=[f"{label(r.split('.', 1)[1])} ({r.split('.', 1)[0]})" for r in table["rule"]], x=table["power"],
        orientation="h", marker_color=[PALETTE[2] if p >= 0 else PALETTE[5] for p in table["power"]],
        text=[f"{p:+.1f}" for p in table["power"]], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:+.2f} AUC points<extra></extra>"))
    figure = styled(figure, height=120 + 34 * len(table))
    figure.update_xaxes(title="AUC points the rule adds (red: the ranking is better without it)", zeroline=True,
                        zerolinecolor="#9ca3af")
    figure.update_layout(hovermode="closest")
    return figure


def _step_names(table: pd.DataFrame) -> list[str]:
    return [f"Step {s}<br>day {d:.0f}" for s, d in zip(table["step"], table["day"])]


def sequence_reach(table: pd.DataFrame) -> go.Figure:
    """Messages sent, opened and clicked per step of a sequence (a `sequences.sequence_steps` table)."""
    figure = go.Figure([
        go.Bar(x=_step_names(table), y=table[column], name=name, marker_color=colour,
               hovertemplate=name + " %{x}: %{y:,}<extra></extra>")
        for column, name, colour in (("sent", "Sent", "#c7d2fe"), ("opened", "Opened", PALETTE[0]),
                                     ("clicked", "Clicked", PALETTE[1]))])
    figure = styled(figure, height=360)
    figure.update_yaxes(title="Leads", tickformat=",")
    figure.update_layout(barmode="group", hovermode="closest")
    return figure


def sequence_effect(table: pd.DataFrame, days: int) -> go.Figure:
    """Per step, the share of recipients that moved on a stage within `days` (with its 95% interval)
    against comparable leads not in the sequence yet; the hover gives the difference in points."""
    names = _step_names(table)
    figure = go.Figure([
        go.Scatter(x=names, y=table["expected_rate"], name="Not in the sequence yet",
                   mode="markers", marker={"color": "#6b7280", "size": 11, "symbol": "diamond"},
                   hovertemplate="%{x}: %{y:.1%} of comparable leads<extra></extra>"),
        go.Scatter(x=names, y=table["advance_rate"], name="Sent the step",
                   mode="markers", marker={"color": PALETTE[2], "size": 13},
                   error_y={"type": "data", "symmetric": False, "array": table["ci_high"] - table["advance_rate"],
                            "arrayminus": table["advance_rate"] - table["ci_low"], "thickness": 1.5},
                   customdata=(table["difference"] * 100).round(1),
                   hovertemplate="%{x}: %{y:.1%} (%{customdata:+.1f} points)<extra></extra>"),
    ])
    figure = styled(figure, height=380)
    figure.update_yaxes(tickformat=".0%", rangemode="tozero", title=f"Moved on a stage within {days} days")
    figure.update_layout(hovermode="closest")
    return figure


EXIT_COLOURS = {"finished": PALETTE[2], "advanced": PALETTE[0], "unsubscribed": PALETTE[5], "lost": "#882255",
                "stopped": "#9ca3af", "active": "#dbeafe"}
EXIT_NAMES = {"finished": "Got every step", "advanced": "Moved on a stage", "unsubscribed": "Unsubscribed",
              "lost": "Lost", "stopped": "Stopped (no reason)", "active": "Still in it"}


def sequence_exits(table: pd.DataFrame) -> go.Figure:
    """Enrolled leads by the last step they got, stacked by why they left (a `sequences.sequence_exits` table)."""
    steps = table.drop_duplicates("step")
    figure = go.Figure([
        go.Bar(x=_step_names(steps), y=part["leads"], name=EXIT_NAMES.get(reason, label(reason)),
               marker_color=EXIT_COLOURS.get(reason, PALETTE[7]),
               hovertemplate=EXIT_NAMES.get(reason, label(reason)) + " after %{x}: %{y:,}<extra></extra>")
        for reason, part in table.groupby("reason", sort=False)])
    figure = styled(figure, height=380)
    figure.update_yaxes(title="Leads whose last step it was", tickformat=",")
    # Entries of a fixed width: measured before the web font loads, the last one would be clipped.
    figure.update_layout(barmode="stack", hovermode="closest", legend={"entrywidth": 175})
    return figure
