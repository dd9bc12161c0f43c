"""Time to convert: how long leads take from one stage to the next, and how many get there, open leads included."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from analytics import charts
from analytics.durations import Duration, parse_duration
from analytics.errors import BadInput
from analytics.funnel import ALL_GROUP
from analytics.summary import breakdown_attributes, stage_names
from analytics.time_to_convert import (
    DEFAULT,
    ConversionSpec,
    conversion_report,
    naive_vs_honest,
    speed_sentence,
)
from dashboard import drawn, run_query, shared_filters
from pages import reroute

AT_RISK_ROWS = 8  # groups shown in the at-risk table under the curves
BANDS_UP_TO = 3  # draw the 95% bands only when comparing this many groups or fewer: more overlap
NO_BREAKDOWN = "(none)"
TECHNICAL = ("Estimates: Aalen-Johansen cumulative incidence of conversion, with lost leads as a competing "
             "outcome and open leads right-censored (1 − Kaplan-Meier when no lead is lost); 95% intervals "
             "with the log(−log) transform. Groups are compared with the log-rank test on the conversion "
             "hazard (lost leads censored).")


def stage_name(name: str) -> str:
    """A stage or attribute as it reads inside a sentence: 'mql' -> 'MQL', 'won' -> 'won', 'paid_search' ->
    'paid search'."""
    text = charts.label(name)
    first = text.split(" ")[0]
    return text if len(first) > 1 and first.isupper() else text[:1].lower() + text[1:]


def _duration_words(duration: Duration) -> str:
    """'6mo' -> '6 months', '183d' -> '183 days', '1mo 2w' -> '1 month and 2 weeks'."""
    parts = [f"{duration.months} month{'s' if duration.months != 1 else ''}"] if duration.months else []
    seconds = duration.seconds
    for unit, length in (("week", 604_800), ("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1)):
        if seconds >= length and (seconds % length == 0 or unit == "second"):
            parts.append(f"{seconds // length} {unit}{'s' if seconds // length != 1 else ''}")
            seconds %= length
    return " and ".join(parts) or "0 days"


def window_words(spec: ConversionSpec) -> str:
    """The window in force, in words."""
    return "no time limit" if spec.limit is None else f"a window of {_duration_words(spec.limit)}"


def transition_controls(by: bool) -> ConversionSpec | None:
    """Sidebar controls for the transition, bound to the URL; None (with a message) when they do not add up."""
    names = list(run_query(stage_names))
    if not names:
        st.info("There are no events in the warehouse yet: build the demo or import events on the Data page.")
        return None
    with st.sidebar:
        # No format_func on these: a bound selectbox keeps its formatted option in the URL, and links use
        # the stage names (?from=sql&to=won&by=channel).
        st.markdown("#### Transition")
        start = st.selectbox("From stage", names, index=names.index("mql") if "mql" in names else 0, key="from",
                             bind="query-params")
        end = st.selectbox("To stage", names, index=names.index("sql") if "sql" in names else len(names) - 1,
                           key="to", bind="query-params")
        window = st.text_input("Window", key="window", bind="query-params", placeholder="default",
                               help="How long a lead has to convert: 183d, 6mo, none. Default: MQL→SQL 6 months, "
                                    "SQL→won 5 months, no limit otherwise. Later conversions count as not "
                                    "converted (the window passed).")
        group = (st.selectbox("Compare by", [NO_BREAKDOWN, *run_query(breakdown_attributes)], key="by",
                              bind="query-params") if by else NO_BREAKDOWN)
    try:
        return ConversionSpec(start, end, window=parse_duration(window) if window.strip() else DEFAULT,
                              by=None if group == NO_BREAKDOWN else group)
    except BadInput as error:
        st.warning(f"{error}.")
        return None


def _group_name(group: str) -> str:
    return "All leads" if group == ALL_GROUP else charts.label(group)


def _spread(values: list[float], gap: float) -> list[float]:
    """Label positions near `values`, at least `gap` apart, in the same order."""
    placed, last = {}, -float("inf")
    for i in sorted(range(len(values)), key=lambda i: values[i]):
        placed[i] = last = max(values[i], last + gap)
    return [placed[i] for i in range(len(values))]


def _curves_figure(curves: pd.DataFrame, to_stage: str) -> go.Figure:
    """Share converted by day per group (its 95% band when few groups), labelled at the line ends, and
    the number still at risk underneath."""
    groups = list(dict.fromkeys(curves["group"]))
    several = len(groups) > 1
    bands = len(groups) <= BANDS_UP_TO
    shown = groups[:AT_RISK_ROWS]
    plot, table = 440, 28 * len(shown) + 24  # pixels: the curves, then one line of at-risk counts per group
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[plot, table], vertical_spacing=0.05)
    last_day = int(curves["day"].max())
    ends = []
    for group in groups:
        part = curves[curves["group"] == group]
        colour = charts.colour_of(group) if several else charts.PALETTE[0]
        name = _group_name(group)
        if bands:
            figure.add_trace(go.Scatter(x=pd.concat([part["day"], part["day"][::-1]]),
                                        y=pd.concat([part["ci_high"], part["ci_low"][::-1]]), fill="toself",
                                        fillcolor=colour, opacity=0.18, line={"width": 0}, hoverinfo="skip",
                                        showlegend=False, legendgroup=group), row=1, col=1)
        figure.add_trace(go.Scatter(x=part["day"], y=part["converted_share"], name=name, legendgroup=group,
                                    line={"color": colour, "width": 4 if several else 3.5, "shape": "hv"},
                                    customdata=part["at_risk"], showlegend=several,
                                    hovertemplate=f"{name}: %{{y:.1%}} by day %{{x}} "
                                                  "(%{customdata:,} still open)<extra></extra>"), row=1, col=1)
        ends.append((name, colour, float(part["converted_share"].iloc[-1])))
    if several:  # the names at the line ends: no need to match colours with the legend
        top = max(float(curves["converted_share"].max()), float(curves["ci_high"].max()) if bands else 0, 0.01)
        for (name, colour, end), y in zip(ends, _spread([e[2] for e in ends], gap=top * 22 / plot)):
            figure.add_annotation(x=last_day, y=y, xref="x", yref="y", xanchor="left", xshift=8, showarrow=False,
                                  text=f"<span style='color:{colour}'>■</span> {name} {end:.0%}",
                                  font={"size": 14, "color": "#111827"})
    ticks = _tick_days(last_day)
    for group in shown:
        at_risk = curves[(curves["group"] == group) & curves["day"].isin(ticks)]
        figure.add_trace(go.Scatter(x=at_risk["day"], y=[_group_name(group)] * len(at_risk), mode="text",
                                    text=[f"{n:,}" for n in at_risk["at_risk"]],
                                    textfont={"size": 14, "color": "#374151"},
                                    showlegend=False, hoverinfo="skip"), row=2, col=1)
    figure.update_yaxes(tickformat=".0%", rangemode="tozero", title=f"Share reaching {to_stage}", row=1, col=1)
    figure.update_yaxes(title="Still open", categoryorder="array",
                        categoryarray=[_group_name(g) for g in shown[::-1]], showgrid=False, row=2, col=1)
    figure.update_xaxes(tickvals=ticks, title="Days since entry", row=2, col=1)
    figure.update_xaxes(zeroline=False)
    figure = charts.styled(figure, height=plot + table + 120)
    figure.update_layout(hovermode="closest", margin={"r": 190 if several else 10})
    return figure


def _outcomes_figure(curve: pd.DataFrame, to_stage: str) -> go.Figure:
    """Converted, lost and still open, stacked: they add up to 100% on every day."""
    figure = go.Figure()
    for column, name, colour in (("converted_share", f"Reached {to_stage}", charts.PALETTE[2]),
                                 ("lost_share", "Lost", charts.PALETTE[5]),
                                 ("open_share", "Still open", "#d1d5db")):
        figure.add_trace(go.Scatter(x=curve["day"], y=curve[column], name=name, stackgroup="outcome",
                                    line={"color": colour, "shape": "hv", "width": 0.5}, fillcolor=colour,
                                    hovertemplate=f"{name}: %{{y:.1%}}<extra></extra>"))
    figure.update_yaxes(tickformat=".0%", range=[0, 1], title="Share of entrants")
    figure.update_xaxes(title="Days since entry", zeroline=False)
    figure = charts.styled(figure)
    figure.update_layout(legend={"entrywidth": 130})  # measured before the web font loads, the last entry is clipped
    return figure


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


def _tiles(overall: pd.Series, spec: ConversionSpec, from_stage: str, to_stage: str) -> None:
    """Entrants, then what became of them: the outcome tiles add up to the entrants."""
    still_open = int(overall["open"] - overall["expired"])
    windowed = spec.limit is not None
    tiles = st.columns(5 if windowed else 4)
    tiles[0].metric(f"Reached {from_stage}", f"{overall['entered']:,}",
                    help=f"Leads that reached {from_stage} in the selection: the starting point.")
    tiles[1].metric(f"Reached {to_stage}", f"{overall['converted']:,}",
                    help=f"Reached {to_stage} within the window, before being lost.")
    tiles[2].metric("Lost", f"{overall['lost']:,}", help=f"Lost within the window, before reaching {to_stage}.")
    tiles[3].metric("Still open", f"{still_open:,}",
                    help=f"Neither {to_stage} nor lost yet, and still inside their window: they may convert.")
    parts = [f"{overall['converted']:,} reached {to_stage}", f"{overall['lost']:,} lost",
             f"{still_open:,} still open (inside their window)"]
    if windowed:
        tiles[4].metric("Window passed", f"{overall['expired']:,}",
                        help=f"Their {_duration_words(spec.limit)} passed without {to_stage} or a loss: they "
                             f"count as not converted, even if they reach {to_stage} later.")
        parts.append(f"{overall['expired']:,} whose window passed without converting")
    st.caption(f"The {overall['entered']:,} leads that reached {from_stage} = {' + '.join(parts)}.")


def _estimates(overall: pd.Series, spec: ConversionSpec, from_stage: str, to_stage: str) -> None:
    """What we see so far next to what we expect once the open leads have had their time."""
    st.subheader("Seen so far and expected")
    so_far, expected, converters_median, all_median = st.columns(4)
    so_far.metric("Converted so far", f"{overall['converted'] / overall['entered']:.1%}",
                  help=f"Of everyone who reached {from_stage}, the share that reached {to_stage} so far. Leads still "
                       "open count as not converted, so this understates the final share (the naive share).")
    interval = ("" if pd.isna(overall["p_convert_ci_low"])
                else f" Likely between {overall['p_convert_ci_low']:.1%} and {overall['p_convert_ci_high']:.1%} "
                     "(95% interval).")
    expected.metric("Expected to convert", f"{overall['p_convert_in_window']:.1%}",
                    help=f"The share expected to reach {to_stage} within {window_words(spec)}, counting each lead "
                         f"still open by how earlier leads converted at the same age.{interval} Technically: the "
                         "Aalen-Johansen estimate, lost leads a competing outcome, open leads censored.")
    converters_median.metric("Median, converters", _days(overall["median_days"]),
                             help=f"Half of those who reached {to_stage} did so within this many days. It ignores "
                                  "the slow leads that have not converted yet, so it is optimistic.")
    all_median.metric("Median time to convert", _days(overall["km_median_days"]),
                      help=f"The day by which half of everyone who reached {from_stage} is expected to have reached "
                           f"{to_stage}; not reached when fewer than half are expected to. Technically: the median "
                           "of the Aalen-Johansen (Kaplan-Meier) curve.")
    st.info(naive_vs_honest(overall, from_stage, to_stage), icon=":material/insights:")


def _group_table(groups: pd.DataFrame, by: str, from_stage: str, to_stage: str) -> None:
    """The key figures per group, the others in an expander; counts and shares stay numbers, so they sort."""
    table = groups.assign(still_open=groups["open"] - groups["expired"])
    # Days as text: a missing median reads "not reached" (a styler's na_rep is not shown for missing values).
    for column, missing in (("median_days", "–"), ("p90_days", "–"), ("km_median_days", "not reached")):
        table[column] = [missing if pd.isna(v) else f"{v:.0f} days" for v in table[column]]
    table["interval"] = ["–" if pd.isna(low) else f"{low:.1%} to {high:.1%}"
                         for low, high in zip(table["p_convert_ci_low"], table["p_convert_ci_high"])]
    styled = table.style.format(_group_name, subset=["group"]).format("{:,}", subset=[
        "entered", "converted", "lost", "still_open", "expired"]).format(
        "{:.1%}", subset=["p_convert_in_window", "p_lost_in_window"], na_rep="–")
    column, text = st.column_config.Column, st.column_config.TextColumn
    config = {
        "group": column(charts.label(by)),
        "entered": column(f"Reached {from_stage}"),
        "converted": column(f"Reached {to_stage}", help="So far, within the window."),
        "p_convert_in_window": column("Expected to convert",
                                      help=f"Estimated share reaching {to_stage} within the window, open leads "
                                           "included (Aalen-Johansen)."),
        "km_median_days": text("Median time to convert", alignment="right",
                                 help=f"The day by which half of the group is expected to have reached {to_stage}; "
                                      "not reached when fewer than half are expected to."),
        "median_days": text("Median, converters", alignment="right", help="Over those who converted only."),
        "lost": column("Lost"),
        "still_open": column("Still open", help="Inside their window."),
        "expired": column("Window passed", help="The window passed without converting or a loss."),
        "p90_days": text("90% of converters within", alignment="right", help="Over those who converted only."),
        "interval": text("Expected to convert: likely between", alignment="right",
                         help="The 95% interval of the expected share."),
        "p_lost_in_window": column("Expected lost", help="Estimated share lost within the window."),
    }
    key = ["group", "entered", "converted", "p_convert_in_window", "km_median_days", "median_days"]
    st.dataframe(styled, hide_index=True, width="stretch", column_order=key, column_config=config)
    with st.expander(f"More figures per {stage_name(by)}: lost, still open, window passed, intervals"):
        st.dataframe(styled, hide_index=True, width="stretch", column_config=config, column_order=[
            "group", "entered", "converted", "lost", "still_open", "expired", "p_convert_in_window", "interval",
            "p_lost_in_window", "p90_days"])
    st.caption(f"Expected to convert counts the leads still open by how earlier ones converted; median time to "
               f"convert: the day by which half of the group reached {to_stage}.", help=TECHNICAL)


def render() -> None:
    filters = shared_filters()
    st.title("Time to convert")
    spec = transition_controls(by=True)
    if spec is None:
        return
    from_stage, to_stage = stage_name(spec.from_stage), stage_name(spec.to_stage)
    report = run_query(conversion_report, spec, filters)  # one query for every figure below
    overall = report.overall.iloc[0]
    if overall["entered"] == 0:
        st.info(f"No one reached {from_stage} with these filters.")
        return
    st.caption(f"{charts.label(spec.from_stage)} → {charts.label(spec.to_stage)}, {window_words(spec)}. Leads still "
               "open are followed until today (or the end of their window), not dropped.", help=TECHNICAL)
    if overall["to_before_from"]:
        st.warning(f"{overall['to_before_from']:,} leads have a {to_stage} before their {from_stage}: "
                   "bad data, never counted as a conversion.", icon=":material/warning:")
    _tiles(overall, spec, from_stage, to_stage)
    _estimates(overall, spec, from_stage, to_stage)

    by = stage_name(spec.by) if spec.by else None
    st.subheader(f"Share reaching {to_stage} by days since entry" + (f", per {by}" if by else ""))
    curves = report.curves
    st.plotly_chart(drawn(_curves_figure, curves, to_stage), width="stretch", theme=None)
    count = curves["group"].nunique()
    bands = ("Shaded: the 95% interval, where the true share likely is. " if count <= BANDS_UP_TO
             else f"The 95% intervals are drawn only when comparing up to {BANDS_UP_TO} groups, so that the lines "
                  "stay readable: the table below has them all (More figures). ")
    largest = f" (the {AT_RISK_ROWS} largest groups)" if count > AT_RISK_ROWS else ""
    legend = " Click a name in the legend to hide its line." if count > 1 else ""
    st.caption(f"{bands}Numbers under the chart: leads still open that many days after entry{largest}; where they "
               f"get few, the curve is uncertain.{legend}")
    if spec.by:
        labelled = report.groups.assign(group=report.groups["group"].map(_group_name))
        st.info(speed_sentence(labelled, report.test, by), icon=":material/speed:")
        _group_table(report.groups, spec.by, from_stage, to_stage)

    left, right = st.columns(2)
    with left:
        st.markdown(f"**Reached {to_stage}, lost or still open, by days since entry**")
        st.plotly_chart(drawn(_outcomes_figure, report.overall_curve, to_stage), width="stretch", theme=None)
    with right:
        st.markdown(f"**How long those who reached {to_stage} took**")
        histogram = report.histogram
        if histogram.empty:
            st.info(f"No one has reached {to_stage} yet.")
        else:
            st.plotly_chart(drawn(_histogram_figure, histogram, overall["median_days"], to_stage), width="stretch",
                            theme=None)


if __name__ == "__main__":
    reroute()
