"""The dashboard's router: page config, theme, the shared filter bar (kept in the URL) and navigation.

Start it with `make dashboard`, or `streamlit run dashboard.py` once the requirements are installed.
Pages import `shared_filters` and `run_query` from here; the app itself runs only as the main script.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

import duckdb
import streamlit as st

from analytics import demo
from analytics.errors import BadInput, WarehouseBusy
from analytics.filters import Filters
from analytics.summary import filter_choices, warehouse_summary
from analytics.warehouse import data_version, db_path, reader, writer

T = TypeVar("T")
BUSY_WAIT_SECONDS = 20.0


@st.cache_data(show_spinner="Reading the warehouse ...", max_entries=512)
def _cached_query(_query: Callable[..., Any], query_name: str, path: str, version: tuple[int, int],
                  *args: Any) -> Any:
    with reader(path, timeout=BUSY_WAIT_SECONDS) as con:
        return _query(con, *args)


def run_query(query: Callable[..., T], *args: Any) -> T:
    """Run `query(con, *args)` on a short-lived read-only connection, cached until the data changes.

    When an import holds the warehouse for longer than we wait, the page says so and stops.
    """
    path = str(db_path())
    try:
        return _cached_query(query, f"{query.__module__}.{query.__qualname__}", path, data_version(path), *args)
    except WarehouseBusy:
        st.warning("An import is writing to the warehouse right now. The figures appear as soon as it "
                   "has finished: reload the page in a moment.", icon=":material/hourglass_top:")
        st.stop()
        raise


def run_write(action: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Run a write (an upload, a removal, the demo) on a connection held only for that write."""
    try:
        with writer(db_path(), timeout=BUSY_WAIT_SECONDS) as con:
            return action(con)
    finally:
        _cached_query.clear()


def shared_filters() -> Filters:
    """The filter bar in the sidebar: entry date range, channels, campaigns; every choice is in the URL."""
    choices = run_query(filter_choices)
    with st.sidebar:
        st.markdown("#### Filters")
        since = st.date_input("Leads from", value=None, key="since", bind="query-params",
                              help="Entry date range: who enters the funnel. Later steps may fall after it.")
        until = st.date_input("Leads until", value=None, key="until", bind="query-params")
        channels = st.multiselect("Channel", choices.channels, key="channel", bind="query-params",
                                  placeholder="All channels")
        campaigns = st.multiselect("Campaign", choices.campaigns, key="campaign", bind="query-params",
                                   placeholder="All campaigns")
        as_of = st.date_input("As of", value=None, key="as_of", bind="query-params",
                              help="See the data as it was exported at the end of this day: later events are "
                                   "ignored and leads still inside their window are open. Empty: now.")
    if since and until and since > until:
        st.sidebar.error("'Leads from' is after 'Leads until': showing no date limit.")
        since = until = None
    return Filters(since=since, until=until, channels=tuple(channels), campaigns=tuple(campaigns), as_of=as_of)


def _empty_state() -> None:
    st.title("Welcome: the warehouse is empty")
    st.write(
        f"There is no data in `{db_path()}` yet. Build a realistic demo warehouse to look around "
        "(20,000 B2B leads over eighteen months, eight channels, campaigns, sends and experiments), "
        "or load your own exports on the **Data** page or with `python -m analytics import`."
    )
    if st.button("Build the demo warehouse", type="primary", icon=":material/database:", key="build_demo"):
        with st.spinner("Building the demo warehouse ..."):
            try:
                summary = run_write(lambda con: demo.generate(con))
            except (BadInput, WarehouseBusy) as error:
                st.error(str(error))
                return
        st.success(f"Built {summary.leads:,} leads and {summary.events:,} events.")
        st.rerun()


def _page(module: ModuleType, title: str, icon: str) -> st.Page:
    """A page whose address is its file's name: on a fresh server Streamlit's legacy `pages/` discovery
    sees the first request, and an address it does not know from the file names shows "Page not found"."""
    return st.Page(module.render, title=title, icon=f":material/{icon}:", url_path=module.__name__.rpartition(".")[2])


def main() -> None:
    st.set_page_config(page_title="Funnel dashboard", page_icon=":material/filter_alt:", layout="wide")
    from pages import campaigns, channels, cohorts, data, experiments, funnel, overview, time_to_convert

    pages = [
        st.Page(overview.render, title="Overview", icon=":material/dashboard:", default=True),
        *(_page(module, title, icon) for module, title, icon in (
            (funnel, "Funnel", "filter_alt"), (time_to_convert, "Time to convert", "timer"),
            (cohorts, "Cohorts", "grid_on"), (channels, "Channels", "hub"), (campaigns, "Campaigns", "campaign"),
            (experiments, "Experiments", "science"), (data, "Data", "upload_file"))),
    ]
    presenting = st.query_params.get("present") == "1"  # presentation mode: the week as slides, no chrome
    navigation = st.navigation(pages, position="hidden" if presenting else "sidebar")
    if navigation.url_path != "data" and run_query(warehouse_summary).is_empty:
        _empty_state()
        return
    if presenting:
        overview.present()
        return
    navigation.run()


if __name__ == "__main__":
    main()
