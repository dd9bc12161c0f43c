"""Overview: what the warehouse holds and how many leads come in, week by week."""

import streamlit as st

import charts
from analytics.summary import warehouse_summary, weekly_leads
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
    tiles = st.columns(4)
    tiles[0].metric("Leads", f"{summary.rows['leads']:,}")
    tiles[1].metric("Events", f"{summary.rows['events']:,}")
    tiles[2].metric("Campaign rows", f"{summary.rows['campaigns']:,}")
    tiles[3].metric("Experiments rows", f"{summary.rows['experiment_variants'] + summary.rows['experiment_units']:,}")
    table = run_query(weekly_leads, filters)
    st.subheader("New leads per week")
    if table.empty:
        st.info("No leads match the filters.")
    else:
        st.plotly_chart(charts.weekly_leads(table), width="stretch")


if __name__ == "__main__":
    reroute()
