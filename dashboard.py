"""The dashboard's router: page config, theme, the shared filter bar (kept in the URL) and navigation.

Start it with `make dashboard`, or `streamlit run dashboard.py` once the requirements are installed.
Pages import `shared_filters`, `run_query`, `drawn`, `run_write` and `can` from here; the app itself runs only as
the main script.

Engine: the pages read the DuckDB warehouse file (`$ANALYTICS_DB`), or a ClickHouse database with
`ANALYTICS_ENGINE=clickhouse` and `CLICKHOUSE_URL` / `CLICKHOUSE_DATABASE` (as the command line), or with
`url` and `database` in a `[connections.clickhouse]` section of `.streamlit/secrets.toml`; the environment
wins. The same analytics functions run on either (docs/clickhouse.md).

Access: with an `[auth]` section in `.streamlit/secrets.toml` visitors sign in (`st.login`) and get the
role `analytics.access` reads from the roles file; without one the app runs open, as admin when the
server listens on localhost only (`server.address`) and read-only otherwise.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb
import streamlit as st

from analytics import access, demo
from analytics.errors import BadInput, WarehouseBusy, WarehouseUnavailable
from analytics.filters import Filters
from analytics.progress import Progress
from analytics.summary import filter_choices, warehouse_summary
from analytics.warehouse import data_version, db_path, reader, writer

if TYPE_CHECKING:
    from analytics.clickhouse.connection import ClickHouseConnection

T = TypeVar("T")
BUSY_WAIT_SECONDS = 20.0
# What one query may hold before DuckDB spills to disk. At 10M events the heaviest page queries (sequence
# steps) peak at 2.0 GB without it and 1.2 GB with it, in the same time: it keeps the dashboard under 2 GB.
QUERY_MEMORY = "1GB"
OPEN_USER = "dashboard"  # who the imports log records when no sign-in is configured
_run = threading.local()  # the script run of this thread: whether it holds the warehouse open, and its hold


@dataclass(frozen=True)
class Visitor:
    """Who is looking: the signed-in address (None when the app runs open) and the role (None: refused)."""

    email: str | None
    role: str | None
    signed_in: bool


@dataclass(frozen=True)
class Engine:
    """Where the pages read and write: the DuckDB warehouse file, or a ClickHouse database."""

    name: str  # "duckdb" or "clickhouse"
    url: str | None = None
    database: str | None = None

    @property
    def on_clickhouse(self) -> bool:
        return self.name == "clickhouse"

    @property
    def source(self) -> str:
        """Where the data is read from, in words for the page (a ClickHouse URL without its password)."""
        if not self.on_clickhouse:
            return f"DuckDB, the file `{db_path()}`"
        from analytics.clickhouse.connection import redacted

        return f"ClickHouse at `{redacted(self.url or '')}`" + (f", database `{self.database}`" if self.database else "")


def engine() -> Engine:
    """The engine the pages use: `$ANALYTICS_ENGINE` (duckdb or clickhouse), else ClickHouse when the secrets
    have a `[connections.clickhouse]` section; its URL and database from `$CLICKHOUSE_URL` and
    `$CLICKHOUSE_DATABASE`, else from that section. A setting that cannot work stops the page with why."""
    section = (_secrets("connections") or {}).get("clickhouse") or {}
    name = (os.environ.get("ANALYTICS_ENGINE") or ("clickhouse" if section else "duckdb")).strip().lower()
    if name == "duckdb":
        return Engine("duckdb")
    url = os.environ.get("CLICKHOUSE_URL") or section.get("url")
    if name != "clickhouse" or not url:
        problem = (f"ANALYTICS_ENGINE is '{name}'; it can be duckdb (the default) or clickhouse" if name != "clickhouse"
                   else "The ClickHouse engine is chosen but no URL is set")
        st.error(f"{problem}. Set CLICKHOUSE_URL (e.g. http://user:password@host:8123) or `url` under "
                 "`[connections.clickhouse]` in .streamlit/secrets.toml, then reload.", icon=":material/error:")
        st.stop()
    return Engine("clickhouse", url, os.environ.get("CLICKHOUSE_DATABASE") or section.get("database"))


@st.cache_resource(show_spinner=False)
def _clickhouse_pool(url: str, database: str | None) -> queue.SimpleQueue:
    """Idle ClickHouse connections for (url, database), shared by every session: opening one costs a
    few round trips (a quarter of a second on chdb), and one connection runs one query at a time."""
    return queue.SimpleQueue()


@contextmanager
def _clickhouse(current: Engine) -> Iterator[ClickHouseConnection]:
    """A ClickHouse connection borrowed from the pool for one query or write, opened when none is idle."""
    from analytics.clickhouse.connection import connect

    pool = _clickhouse_pool(current.url, current.database)
    try:
        con = pool.get_nowait()
    except queue.Empty:
        con = connect(current.url, current.database)
    try:
        yield con
    finally:
        pool.put(con)


@st.cache_data(show_spinner="Reading the warehouse ...", max_entries=512)
def _cached_query(_query: Callable[..., Any], query_name: str, source: str, version: tuple[int, ...], hour: str,
                  _connection: Callable[[], AbstractContextManager[Any]], *args: Any) -> Any:
    with _connection() as con:
        return _query(con, *args)


@contextmanager
def _warehouse_held() -> Iterator[None]:
    """Keep the DuckDB warehouse that the run's first query opens open until the run ends.

    DuckDB shares one open database among a process's connections to the file: the run's later queries (a filter
    change runs three on the Funnel page) find its catalog and the columns read so far in memory instead of
    opening the file afresh (at 10M events those three take a sixth less CPU). Nothing stays open between runs,
    so writers in other processes wait for a run at most, and a run that hits only the cache opens nothing.
    """
    _run.holding, _run.hold = True, None
    try:
        yield
    finally:
        _release_warehouse()
        _run.holding = False


def _release_warehouse() -> None:
    """Close the run's hold on the warehouse: before a write, which DuckDB refuses while a reader is open."""
    hold, _run.hold = getattr(_run, "hold", None), None
    if hold is not None:
        hold.close()


def _duckdb_reader(path: str) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
    """A read-only connection for one query; in a run that holds the warehouse (`_warehouse_held`) the first
    one also opens the connection that keeps it open."""
    if getattr(_run, "holding", False) and _run.hold is None:
        hold = ExitStack()
        hold.enter_context(reader(path, timeout=BUSY_WAIT_SECONDS, memory_limit=QUERY_MEMORY))
        _run.hold = hold
    return reader(path, timeout=BUSY_WAIT_SECONDS, memory_limit=QUERY_MEMORY)


def run_query(query: Callable[..., T], *args: Any) -> T:
    """Run `query(con, *args)` on the engine's connection (DuckDB: read-only, open for one run at most), cached until
    the data changes or the hour turns.

    When an import holds the warehouse for longer than we wait, or the data cannot be reached, the page
    says so and stops.
    """
    current = engine()
    name = f"{query.__module__}.{query.__qualname__}"
    # Without an as-of date the figures are seen from now (open leads age): kept at most within the hour.
    hour = datetime.now().strftime("%Y-%m-%d %H")
    try:
        if not current.on_clickhouse:
            path = str(db_path())
            return _cached_query(query, name, path, data_version(path), hour, lambda: _duckdb_reader(path), *args)
        from analytics.clickhouse.connection import data_version as clickhouse_version

        with _clickhouse(current) as con:
            return _cached_query(query, name, f"{current.url}|{current.database}", clickhouse_version(con), hour,
                                 lambda: nullcontext(con), *args)
    except WarehouseBusy:
        st.warning("An import is writing to the warehouse right now. The figures appear as soon as it "
                   "has finished: reload the page in a moment.", icon=":material/hourglass_top:")
        st.stop()
        raise
    except WarehouseUnavailable as error:
        st.error(f"The data cannot be read: {error}.", icon=":material/cloud_off:")
        st.stop()
        raise


@st.cache_resource(show_spinner=False, max_entries=256)
def _drawn(_draw: Callable[..., T], draw_name: str, *data: Any) -> T:
    return _draw(*data)


def drawn(draw: Callable[..., T], *data: Any) -> T:
    """`draw(*data)`, a Plotly figure or a dict of them, cached on `data` (query results, choices): Plotly
    spends 0.05 to 0.3 s building and checking a figure, on every rerun without it. Every session gets the
    same figure, so it is only drawn, never changed (st.cache_data would copy it, and checking the copy
    costs as much). `draw` is a module-level function: its name is the key. For charts of aggregates: Streamlit
    hashes a table of 50,000 rows or more by a sample of its rows."""
    return _drawn(draw, f"{draw.__module__}.{draw.__qualname__}", *data)


def read_once(query: Callable[..., T], *args: Any) -> T:
    """Run `query(con, *args)` without caching its result: for a download built on click (a whole list of
    leads), which would otherwise stay in the dashboard's memory after it has been sent."""
    current = engine()
    if current.on_clickhouse:
        with _clickhouse(current) as con:
            return query(con, *args)
    with reader(db_path(), timeout=BUSY_WAIT_SECONDS, memory_limit=QUERY_MEMORY) as con:
        return query(con, *args)


def run_write(action: Callable[[duckdb.DuckDBPyConnection | ClickHouseConnection], T]) -> T:
    """Run a write (an upload, a removal, the demo) on a connection held only for that write: DuckDB's
    writer, or a ClickHouse connection when the dashboard runs there."""
    current = engine()
    try:
        if current.on_clickhouse:
            with _clickhouse(current) as con:
                return action(con)
        _release_warehouse()
        with writer(db_path(), timeout=BUSY_WAIT_SECONDS) as con:
            return action(con)
    finally:
        _cached_query.clear()


def _secrets(section: str) -> Mapping[str, Any] | None:
    """A section of `.streamlit/secrets.toml`, or None when there is no such section or no secrets file."""
    if not st.secrets.load_if_toml_exists():
        return None
    return st.secrets.get(section) or None


def _auth() -> Mapping[str, Any] | None:
    """The `[auth]` section of the secrets, or None when no sign-in is configured."""
    return _secrets("auth")


def visitor() -> Visitor:
    """The current visitor and their role; an invalid roles file stops the app with its message."""
    if _auth() is None:
        return Visitor(None, access.open_role(st.get_option("server.address")), signed_in=False)
    if not st.user.get("is_logged_in"):
        return Visitor(None, None, signed_in=False)
    email = st.user.get("email")
    try:
        roles = access.load_roles()
    except BadInput as error:
        st.error(f"The roles file is invalid, so nobody is let in: {error}", icon=":material/error:")
        st.stop()
        raise
    return Visitor(email, access.role_for(roles, email, st.user.get("email_verified")), signed_in=True)


def can(action: str) -> bool:
    """Whether the current visitor may do `action` ("import", "remove_import", "edit_rules", "manage")."""
    return access.allowed(visitor().role, action)


def who() -> str:
    """Who the imports log records for a write from this session: the signed-in address, or "dashboard"."""
    return visitor().email or OPEN_USER


def refusal(action: str) -> str:
    """Why the current visitor sees no control for `action`, in words; shown where the control would be."""
    needed = " or ".join(access.roles_allowed(action))
    current = visitor()
    if current.signed_in:
        return (f"{access.ACTION_WORDS[action]} needs the {needed} role; yours is {current.role}. "
                "Ask an admin to change it in the roles file.")
    return (f"{access.ACTION_WORDS[action]} is switched off: no sign-in is configured and this server can be "
            "reached from other computers. Serve it on localhost, or configure sign-in.")


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


def bar_progress(bar: Any, what: str) -> Progress:
    """A Progress that moves the `st.progress` element `bar`, labelled "what: step (n%)"."""
    shown: list[tuple[int, str]] = []

    def report(fraction: float, step: str) -> None:
        state = (round(min(max(fraction, 0.0), 1.0) * 100), step)
        if not shown or state != shown[-1]:
            shown[:] = [state]
            bar.progress(state[0], text=f"{what}: {step} ({state[0]}%)")

    return report


@contextmanager
def progress_bar(what: str) -> Iterator[Progress]:
    """A Progress shown as `st.progress` while the block runs, removed when it ends."""
    bar = st.progress(0, text=f"{what} ...")
    try:
        yield bar_progress(bar, what)
    finally:
        bar.empty()


def _empty_state() -> None:
    st.title("Welcome: the warehouse is empty")
    if engine().on_clickhouse:
        st.write(f"There is no data in {engine().source} yet. Load your exports on the **Data** page, or copy "
                 "a DuckDB warehouse over with `analytics.clickhouse.load.copy_to_clickhouse` (docs/clickhouse.md).")
        st.info("The demo warehouse is built in DuckDB only: build it there (`python -m analytics demo`), "
                "then copy it into ClickHouse.", icon=":material/info:")
        return
    st.write(
        f"There is no data in `{db_path()}` yet. Build a realistic demo warehouse to look around "
        "(20,000 B2B leads over eighteen months, eight channels, campaigns, sends and experiments), "
        "or load your own exports on the **Data** page or with `python -m analytics import`."
    )
    if not can("manage"):
        st.info(refusal("manage"), icon=":material/lock:")
        return
    if st.button("Build the demo warehouse", type="primary", icon=":material/database:", key="build_demo"):
        with progress_bar("Building the demo warehouse") as progress:
            try:
                summary = run_write(lambda con: demo.generate(con, progress=progress))
            except (BadInput, WarehouseUnavailable) as error:
                st.error(str(error))
                return
        st.success(f"Built {summary.leads:,} leads and {summary.events:,} events.")
        st.rerun()


def _sign_in(current: Visitor, auth: Mapping[str, Any]) -> None:
    """The screen of a visitor without a role: a sign-in button per provider, or why an address is refused."""
    if not current.signed_in:
        st.title("Sign in")
        st.write("This dashboard shows the team's funnel data to the people its roles file lists.")
        named = [name for name, value in auth.items() if isinstance(value, Mapping)]
        for provider in ([None] if "client_id" in auth or not named else []) + named:
            st.button(f"Sign in with {provider.capitalize()}" if provider else "Sign in", type="primary",
                      icon=":material/login:", on_click=st.login, args=(provider,), key=f"sign_in_{provider}")
        return
    st.title("No access")
    if not current.email:
        why = "You are signed in, but your sign-in provider did not share an email address."
    elif st.user.get("email_verified") is False:
        why = f"You are signed in as `{current.email}`, but your sign-in provider has not verified this address."
    else:
        why = f"You are signed in as `{current.email}`, but the roles file gives this address no role."
    st.write(f"{why} Ask an admin of this dashboard to add you, then reload the page.")
    st.button("Sign out", icon=":material/logout:", on_click=st.logout, key="sign_out")


def _account(current: Visitor) -> None:
    """Who is signed in, with a sign-out button; or a note that the app runs open, and what that allows;
    and where the data is read from."""
    with st.sidebar:
        if current.signed_in:
            st.caption(f"Signed in as `{current.email}` ({current.role})")
            st.button("Sign out", icon=":material/logout:", on_click=st.logout, key="sign_out")
        elif current.role == "admin":
            st.caption("Open: no sign-in is configured and the server listens on localhost only, so whoever "
                       "uses this computer can import and remove data.")
        else:
            st.warning("Read-only: no sign-in is configured and this server can be reached from other "
                       "computers. Serve it on localhost, or configure sign-in.", icon=":material/lock:")
        st.caption(f"Data: {engine().source}")


def _page(module: ModuleType, title: str, icon: str) -> st.Page:
    """A page whose address is its file's name: on a fresh server Streamlit's legacy `pages/` discovery
    sees the first request, and an address it does not know from the file names shows "Page not found"."""
    return st.Page(module.render, title=title, icon=f":material/{icon}:", url_path=module.__name__.rpartition(".")[2])


def main() -> None:
    st.set_page_config(page_title="Funnel dashboard", page_icon=":material/filter_alt:", layout="wide")
    with _warehouse_held():
        _route()


def _route() -> None:
    """Who may see what, the empty warehouse's welcome, presentation mode, or the chosen page."""
    from pages import (campaigns, channels, cohorts, data, experiments, funnel, overview, scoring, sequences,
                       time_to_convert)

    pages = [
        st.Page(overview.render, title="Overview", icon=":material/dashboard:", default=True),
        *(_page(module, title, icon) for module, title, icon in (
            (funnel, "Funnel", "filter_alt"), (time_to_convert, "Time to convert", "timer"),
            (cohorts, "Cohorts", "grid_on"), (channels, "Channels", "hub"), (campaigns, "Campaigns", "campaign"),
            (scoring, "Lead scoring", "thermostat"), (sequences, "Nurture sequences", "schedule_send"),
            (experiments, "Experiments", "science"), (data, "Data", "upload_file"))),
    ]
    presenting = st.query_params.get("present") == "1"  # presentation mode: the week as slides, no chrome
    current = visitor()
    navigation = st.navigation(pages, position="hidden" if presenting or current.role is None else "sidebar")
    if current.role is None:
        _sign_in(current, _auth() or {})
        return
    if not presenting:
        _account(current)
    if navigation.url_path != "data" and run_query(warehouse_summary).is_empty:
        _empty_state()
        return
    if presenting:
        overview.present()
        return
    navigation.run()


if __name__ == "__main__":
    # Run the module the pages import (this file once more, as `dashboard`): one copy of the caches, and the
    # hold on the warehouse that `main` opens is the one the pages' queries see.
    import dashboard

    dashboard.main()
