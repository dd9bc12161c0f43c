"""The dashboard on ClickHouse: every page, run with AppTest on the 3,000-lead demo once on DuckDB and once
with the engine switched to ClickHouse (chdb), shows the same figures; writes on the Data page go to
ClickHouse; a ClickHouse that cannot be reached is a message, not a traceback."""

from __future__ import annotations

import base64
import json
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import dashboard
from analytics import filters, imports
from analytics.clickhouse.connection import connect
from analytics.clickhouse.load import copy_to_clickhouse
from analytics.warehouse import reader
from tests.pages import conftest as pages
from tests.parity.test_parity import assert_same

pytestmark = pytest.mark.parity

# The page tests' AppTest fixtures (tests/pages/conftest.py), used here as they are.
page_app, router_app, server_address = pages.page_app, pages.router_app, pages.server_address

PAGES = ["overview", "funnel", "time_to_convert", "cohorts", "channels", "campaigns", "scoring", "sequences",
         "experiments", "data"]
CHOSEN = {"channel": ["webinar", "display"], "since": "2026-01-01", "as_of": "2026-10-15"}  # the URL's filters
FILTERED = [("funnel", CHOSEN | {"by": "channel", "mode": "implied"}), ("time_to_convert", CHOSEN),
            ("cohorts", CHOSEN), ("channels", CHOSEN)]
TEXTS = ["title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success", "text"]
LEADS = b"lead_id,created_at,channel\nW1,2026-03-02,webinar\nW2,2026-03-03,display\nW3,2026-03-04,webinar\n"


@pytest.fixture(autouse=True)
def one_instant(monkeypatch):
    """Both engines see the data from the same instant and compute it afresh: without an as-of date the
    figures are seen from now, which moves between the two runs, and the dashboard's cache may hold results
    an earlier test computed from an earlier now."""
    instant = datetime.now().replace(microsecond=0)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:
            return instant

    monkeypatch.setattr(filters, "datetime", Frozen)
    dashboard._cached_query.clear()


@pytest.fixture(scope="module")
def demo_on_clickhouse(clickhouse_url: str, small_demo: Path) -> str:
    """The small demo copied into the ClickHouse database `parity_dashboard`; its name."""
    copy_to_clickhouse(small_demo, clickhouse_url, "parity_dashboard").close()
    return "parity_dashboard"


@pytest.fixture
def on_engine(monkeypatch, clickhouse_url: str):
    """on_engine("duckdb") or on_engine("clickhouse", database): the engine the dashboard runs on. On
    ClickHouse the dashboard must not open the DuckDB warehouse at all: its reader and writer raise."""
    def switch(name: str, database: str | None = None) -> None:
        for variable in ("ANALYTICS_ENGINE", "CLICKHOUSE_URL", "CLICKHOUSE_DATABASE"):
            monkeypatch.delenv(variable, raising=False)
        if name == "clickhouse":
            monkeypatch.setenv("ANALYTICS_ENGINE", "clickhouse")
            monkeypatch.setenv("CLICKHOUSE_URL", clickhouse_url)
            monkeypatch.setenv("CLICKHOUSE_DATABASE", database)
            for opener in ("reader", "writer"):
                monkeypatch.setattr(dashboard, opener, _duckdb_opened)
    return switch


def _duckdb_opened(*args: object, **kwargs: object) -> None:
    raise AssertionError("the dashboard opened the DuckDB warehouse while running on ClickHouse")


def shown(app: AppTest) -> dict[str, Any]:
    """What a page shows that its data decides: texts, metrics, tables, charts and the choices offered."""
    return {
        "text": [(kind, element.value) for kind in TEXTS for element in getattr(app, kind)],
        "metric": [(m.label, m.value, m.delta) for m in app.metric],
        "dataframe": [d.value for d in app.dataframe],
        "chart": [_decoded(json.loads(c.proto.spec)) for c in app.get("plotly_chart")],
        "choices": [(w.label, [str(o) for o in w.options]) for w in [*app.selectbox, *app.multiselect]],
    }


def _decoded(spec: Any) -> Any:
    """A plotly figure's JSON with its packed number arrays ({"dtype": "f8", "bdata": base64, "shape": "4, 3"})
    as lists of numbers, so that values are compared to the last bits' tolerance rather than byte for byte."""
    if isinstance(spec, dict) and "bdata" in spec and "dtype" in spec:
        values = np.frombuffer(base64.b64decode(spec["bdata"]), dtype=spec["dtype"])
        shape = [int(n) for n in str(spec.get("shape", len(values))).split(",")]
        return values.reshape(shape).tolist()
    if isinstance(spec, dict):
        return {key: _decoded(value) for key, value in spec.items()}
    if isinstance(spec, list):
        return [_decoded(value) for value in spec]
    return spec


@pytest.mark.parametrize(("page", "choices"), [(page, {}) for page in PAGES] + FILTERED,
                         ids=PAGES + [f"{page}-filtered" for page, _ in FILTERED])
def test_each_page_shows_the_same_figures_on_clickhouse(page, choices, page_app, on_engine, small_demo,
                                                        clickhouse_url, demo_on_clickhouse):
    on_engine("duckdb")
    on_duckdb = page_app(page, small_demo)
    on_duckdb.query_params.update(choices)
    on_duckdb.run()
    on_engine("clickhouse", demo_on_clickhouse)
    on_clickhouse = page_app(page, small_demo)
    on_clickhouse.query_params.update(choices)
    on_clickhouse.run()
    assert not on_duckdb.exception and not on_clickhouse.exception
    duck, ch = shown(on_duckdb), shown(on_clickhouse)
    if page == "data":  # the one text that differs: where the data is read from
        sources = []
        for figures in (duck, ch):
            sources += [t for t in figures["text"] if t[1].startswith("Read from")]
            figures["text"] = [t for t in figures["text"] if not t[1].startswith("Read from")]
        assert sources == [("caption", f"Read from DuckDB, the file `{small_demo}`."),
                           ("caption", f"Read from ClickHouse at `{clickhouse_url}`, database `{demo_on_clickhouse}`.")]
    assert duck["text"] and (duck["metric"] or duck["dataframe"] or duck["chart"]), f"{page} shows no figures"
    assert_same(duck, ch, page)


def test_the_router_on_clickhouse_lands_on_the_overview_and_says_where_the_data_is(
        router_app, on_engine, small_demo, clickhouse_url, demo_on_clickhouse):
    on_engine("clickhouse", demo_on_clickhouse)
    app = router_app(small_demo).run()
    assert not app.exception
    assert app.title[0].value == "Overview"
    assert {m.label: m.value for m in app.metric}["New leads"] == "3,000"
    assert app.sidebar.caption[-1].value == f"Data: ClickHouse at `{clickhouse_url}`, database `{demo_on_clickhouse}`"


def test_an_empty_clickhouse_database_says_how_to_fill_it_and_offers_no_demo(router_app, on_engine, warehouse,
                                                                             clickhouse_url):
    copy_to_clickhouse(warehouse, clickhouse_url, "parity_dashboard_empty").close()
    on_engine("clickhouse", "parity_dashboard_empty")
    app = router_app(warehouse).run()
    assert not app.exception
    assert app.title[0].value == "Welcome: the warehouse is empty"
    assert app.info[0].value.startswith("The demo warehouse is built in DuckDB only")
    assert not app.button


def test_a_clickhouse_database_without_the_warehouse_tables_says_so(page_app, on_engine, small_demo, clickhouse_url):
    on_engine("clickhouse", "default")
    app = page_app("overview", small_demo).run()
    assert not app.exception
    assert [e.value for e in app.error] == [(
        f"The data cannot be read: ClickHouse at {clickhouse_url}, database default holds no warehouse (it has no "
        "imports table). Copy one in with analytics.clickhouse.load.copy_to_clickhouse (docs/clickhouse.md), or "
        "point the URL and database at the one that has it.")]


def test_an_upload_on_clickhouse_is_imported_there_and_can_be_removed(page_app, on_engine, warehouse, clickhouse_url):
    copy_to_clickhouse(warehouse, clickhouse_url, "parity_dashboard_writes").close()
    on_engine("clickhouse", "parity_dashboard_writes")
    app = page_app("data", warehouse).run()
    app.file_uploader[0].set_value(("webinar.csv", LEADS, "text/csv")).run()
    next(b for b in app.button if b.label == "Import").click().run()
    assert not app.exception
    assert [s.value for s in app.success] == [
        "webinar.csv: 3 rows added to leads, 0 already present or repeated in the file (import #1)."]
    with connect(clickhouse_url, "parity_dashboard_writes") as ch:
        log = imports.import_log(ch)
        assert ch.execute("SELECT lead_id, channel FROM leads ORDER BY lead_id").fetchall() == [
            ("W1", "webinar"), ("W2", "display"), ("W3", "webinar")]
    assert log[["file_name", "table_name", "rows_added", "imported_by"]].values.tolist() == [
        ["webinar.csv", "leads", 3, "dashboard"]]
    import_id = int(log["import_id"].iloc[0])

    next(s for s in app.selectbox if s.label == "Import").set_value(import_id).run()
    next(b for b in app.button if b.label == "Remove its rows").click().run()
    assert not app.exception
    with connect(clickhouse_url, "parity_dashboard_writes") as ch:
        assert ch.execute("SELECT count(*) FROM leads").fetchone() == (0,)
        assert imports.import_log(ch)["removed_by"].tolist() == ["dashboard"]
    with reader(warehouse) as duck:  # the DuckDB warehouse the page would otherwise write is untouched
        assert imports.import_log(duck).empty


def test_a_clickhouse_that_cannot_be_reached_is_a_message_naming_it_without_the_password(page_app, monkeypatch,
                                                                                        small_demo):
    monkeypatch.setenv("ANALYTICS_ENGINE", "clickhouse")
    monkeypatch.setenv("CLICKHOUSE_URL", "http://analyst:s3cret@127.0.0.1:9")
    monkeypatch.setenv("CLICKHOUSE_DATABASE", "marketing")
    app = page_app("funnel", small_demo).run()
    assert not app.exception
    assert [e.value for e in app.error] == [(
        "The data cannot be read: ClickHouse at http://analyst@127.0.0.1:9, database marketing cannot be used: "
        "Connection refused. Check that the server is running and reachable from this machine, the URL's scheme "
        "(http or https), host and port, the user and password, and that the database exists.")]
    assert not app.dataframe and not app.metric


@pytest.mark.parametrize(("variable", "engine"), [(None, "ClickHouse"), ("duckdb", "DuckDB")])
def test_the_engine_can_be_set_in_the_secrets_and_the_environment_wins(page_app, on_engine, monkeypatch, small_demo,
                                                                       clickhouse_url, demo_on_clickhouse,
                                                                       variable, engine):
    on_engine("duckdb")
    if variable:
        monkeypatch.setenv("ANALYTICS_ENGINE", variable)
    app = page_app("data", small_demo)
    app.secrets["connections"] = {"clickhouse": {"url": clickhouse_url, "database": demo_on_clickhouse}}
    app.run()
    assert not app.exception
    source = next(c.value for c in app.caption if c.value.startswith("Read from"))
    assert source == {"ClickHouse": f"Read from ClickHouse at `{clickhouse_url}`, database `{demo_on_clickhouse}`.",
                      "DuckDB": f"Read from DuckDB, the file `{small_demo}`."}[engine]


def test_an_unknown_engine_says_which_ones_there_are(page_app, monkeypatch, small_demo):
    monkeypatch.setenv("ANALYTICS_ENGINE", "postgres")
    app = page_app("overview", small_demo).run()
    assert not app.exception
    assert app.error[0].value.startswith("ANALYTICS_ENGINE is 'postgres'; it can be duckdb (the default) or clickhouse.")
