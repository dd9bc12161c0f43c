"""Funnel: how many leads reach each stage, where they drop off, per channel or campaign, and over time."""

import streamlit as st

from analytics import charts
from analytics.durations import parse_window_option
from analytics.errors import BadInput
from analytics.exports import safe_csv
from analytics.funnel import FunnelSpec, dropped_leads, funnel, funnel_over_time, largest_dropoff
from analytics.summary import breakdown_attributes, stage_names
from dashboard import drawn, read_once, run_query, shared_filters
from pages import reroute

SMALL_GROUP = 30  # groups with fewer units at a step are flagged, not ranked
DEFAULT_STAGES = ["lead", "mql", "sql", "won"]
SHOWN_DROPPED = 1000  # dropped units listed on the page; the download builds the whole list when clicked


def _spec_from_controls() -> FunnelSpec | None:
    names = run_query(stage_names)
    defaults = [s for s in DEFAULT_STAGES if s in names]
    with st.sidebar:
        st.markdown("#### Funnel")
        stages = st.multiselect("Stages, in order", names, default=defaults, key="stages", bind="query-params")
        mode = st.segmented_control("Skipped stages", ["strict", "implied"], default="strict", key="mode",
                                    bind="query-params", help="strict: a lead that skips a stage stops there. "
                                    "implied: reaching SQL implies MQL (for exports that lack earlier dates).")
        by = st.selectbox("Break down by", ["(none)", *run_query(breakdown_attributes)], key="by", bind="query-params")
        period = st.segmented_control("Over time per", ["week", "month"], default="month", key="period",
                                      bind="query-params")
        unit = st.segmented_control("Count", ["lead", "account"], default="lead", key="unit", bind="query-params")
        windows = st.text_input("Windows", key="windows", bind="query-params", placeholder="sql=6mo, won=5mo",
                                help="Limit on reaching a stage from the one before it: 183d, 6mo, none. "
                                     "Defaults: MQL→SQL 6 months, SQL→won 5 months, others none.")
    try:
        return FunnelSpec(stages=tuple(stages), mode=mode or "strict", by=None if by == "(none)" else by,
                          unit=unit or "lead", period=period or "month",
                          windows=dict(parse_window_option(w) for w in windows.split(",") if w.strip()))
    except BadInput as error:
        st.warning(f"{error}.")
        return None


def render() -> None:
    filters = shared_filters()
    st.title("Funnel")
    spec = _spec_from_controls()
    if spec is None:
        return
    overall = run_query(funnel, FunnelSpec(**{**spec.__dict__, "by": None}), filters)
    if overall["count"].iloc[0] == 0:
        st.info("No one entered the funnel with these filters.")
        return
    st.info(largest_dropoff(overall, spec), icon=":material/trending_down:")
    st.plotly_chart(drawn(charts.funnel, overall), width="stretch", theme=None)
    st.dataframe(
        overall.drop(columns=["group"]).assign(stage=overall["stage"].map(charts.label)),
        hide_index=True, width="stretch", placeholder="–",
        column_config={
            "stage": "Stage", "step": None,
            "count": st.column_config.NumberColumn("Reached", format="localized"),
            "dropoff": st.column_config.NumberColumn("Dropped", format="localized"),
            "rate_from_previous": st.column_config.NumberColumn("Of previous step", format="percent"),
            "rate_from_first": st.column_config.NumberColumn("Of entrants", format="percent"),
            "ci_low": st.column_config.NumberColumn("95% interval from", format="percent"),
            "ci_high": st.column_config.NumberColumn("95% interval to", format="percent"),
            "unfinished": st.column_config.NumberColumn("Still inside window", format="localized"),
        })
    st.caption("Rates are over all entrants; the 95% interval (Wilson) is that of the rate of the previous step. "
               "Still inside window: leads that have not reached the stage yet but still may.")

    if spec.by:
        st.subheader(f"By {charts.label(spec.by).lower()}")
        groups = run_query(funnel, spec, filters)
        st.plotly_chart(drawn(charts.breakdown, groups, SMALL_GROUP), width="stretch", theme=None)
        st.caption(f"Rate from the previous step with its 95% interval. Grey bars: fewer than {SMALL_GROUP} "
                   "units reached the step before, too few to rank. First-touch attribution; "
                   "'(none)' holds units without a value, so groups add up to the total.")

    st.subheader("Conversion over time")
    by_period = run_query(funnel_over_time, FunnelSpec(**{**spec.__dict__, "by": None}), filters)
    target = st.selectbox("Entrants reaching", spec.stages[1:], index=min(1, len(spec.stages) - 2), key="reaching",
                          bind="query-params")
    st.plotly_chart(drawn(charts.over_time, by_period, target), width="stretch", theme=None)
    st.caption("Hollow grey points are periods whose leads may still convert (period end plus the windows "
               "along the funnel is after the as-of date): their rates can still rise, they are not a drop.")

    st.subheader("Who dropped off")
    step = st.selectbox("Reached the step before but not", spec.stages[1:], key="dropped", bind="query-params")
    number = spec.stages.index(step) + 1
    totals = overall.set_index("step").loc[number]  # the drop-off at a step counts exactly these units
    count, still_open = int(totals["dropoff"]), int(totals["unfinished"])
    st.caption(f"{count:,} {spec.unit}s reached {spec.stages[number - 2]} but not {step}"
               f" ({still_open:,} still inside their window)."
               + (f" The first {SHOWN_DROPPED:,} by entry are listed; the download holds all of them."
                  if count > SHOWN_DROPPED else ""))
    dropped = run_query(dropped_leads, spec, filters, number, SHOWN_DROPPED)
    shown = dropped if spec.by else dropped.drop(columns="group")
    st.dataframe(shown, hide_index=True, width="stretch",
                 column_config={"lead_id": "Lead", "account_id": "Account", "group": charts.label(spec.by or "group"),
                                "entered_at": st.column_config.DatetimeColumn("Entered", format="YYYY-MM-DD HH:mm"),
                                "last_step_at": st.column_config.DatetimeColumn("Last step reached", format="YYYY-MM-DD HH:mm"),
                                "unfinished": st.column_config.CheckboxColumn("Still inside window")})
    st.download_button("Download as CSV", lambda: safe_csv(read_once(dropped_leads, spec, filters, number)),
                       file_name=f"dropped_before_{step}.csv", mime="text/csv", icon=":material/download:")


if __name__ == "__main__":
    reroute()
