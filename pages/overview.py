"""Overview: what the warehouse holds and how many leads come in, week by week."""

import streamlit as st

import charts
from analytics.summary import headline_figures, warehouse_summary, weekly_leads
from dashboard import run_query, shared_filters
from pages import reroute


def render() -> None:
    filters = shared_filters()
    summary = run_query(warehouse_summary)
    st.title("Overview")
    span = (f"{summary.first_lead:%d %b %Y} to {summary.last_lead:%d %b %Y}"
            if summary.first_lead else "no lead dates yet")
    st.caption(f"In the warehouse: leads created {span}, from {summary.imports:,} "
               f"import{'s' if summary.imports != 1 else ''}.")
    kpis = run_query(headline_figures, filters)
    tiles = st.columns(5)
    tiles[0].metric("New leads", f"{kpis.leads:,}")
    tiles[1].metric("MQL", f"{kpis.mql:,}")
    tiles[2].metric("SQL", f"{kpis.sql:,}")
    tiles[3].metric("Won deals", f"{kpis.won:,}")
    tiles[4].metric("Spend", "–" if kpis.spend is None else f"{kpis.spend:,.0f}")
    st.caption("Leads that entered in the selected range and how far they got by the as-of date; spend in the "
               "same range.")
    table = run_query(weekly_leads, filters)
    st.subheader("New leads per week")
    if table.empty:
        st.info("No leads match the filters.")
    else:
        st.plotly_chart(charts.weekly_leads(table), width="stretch", theme=None)
        st.caption("Pale bars: weeks the data covers only in part (the first week and the current one).")

if __name__ == "__main__":
    reroute()
