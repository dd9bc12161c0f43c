"""Every analytics call gives the same answer on DuckDB and on ClickHouse (chdb): counts and exact
quantiles exactly, floating statistics to 1e-9 relative, and the same error when one is raised."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics import imports
from analytics.clickhouse.load import copy_to_clickhouse
from analytics.clickhouse.scenarios import SCENARIOS
from analytics.warehouse import reader, writer

pytestmark = pytest.mark.parity

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
RELATIVE = 1e-9


def outcome(scenario, con) -> object:
    """What a scenario returns, or the error it raises (type and message) as a comparable tuple."""
    try:
        return scenario(con)
    except Exception as error:  # noqa: BLE001 - an error is an answer too: both engines must give the same one
        return ("raised", type(error).__name__, str(error))


def assert_same(duck: object, ch: object, where: str = "result") -> None:
    """DuckDB's answer `duck` equals ClickHouse's `ch`: integers and text exactly, floats to `RELATIVE`."""
    if isinstance(duck, pd.DataFrame):
        assert isinstance(ch, pd.DataFrame), f"{where}: a DataFrame on DuckDB, {type(ch).__name__} on ClickHouse"
        assert list(ch.columns) == list(duck.columns), f"{where}: columns differ"
        assert len(ch) == len(duck), f"{where}: {len(duck)} rows on DuckDB, {len(ch)} on ClickHouse"
        for column in duck.columns:
            if pd.api.types.is_bool_dtype(duck[column]):
                assert pd.api.types.is_bool_dtype(ch[column]), f"{where}.{column}: bool on DuckDB, {ch[column].dtype}"
            for i, (a, b) in enumerate(zip(duck[column].tolist(), ch[column].tolist())):
                assert_same(a, b, f"{where}.{column}[{i}]")
    elif dataclasses.is_dataclass(duck) and not isinstance(duck, type):
        assert type(ch) is type(duck), f"{where}: {type(duck).__name__} vs {type(ch).__name__}"
        for field in dataclasses.fields(duck):
            assert_same(getattr(duck, field.name), getattr(ch, field.name), f"{where}.{field.name}")
    elif isinstance(duck, (list, tuple, np.ndarray)):
        assert isinstance(ch, (list, tuple, np.ndarray)) and len(ch) == len(duck), f"{where}: {duck!r} vs {ch!r}"
        for i, (a, b) in enumerate(zip(duck, ch)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(duck, dict):
        assert isinstance(ch, dict) and ch.keys() == duck.keys(), f"{where}: {duck!r} vs {ch!r}"
        for key in duck:
            assert_same(duck[key], ch[key], f"{where}[{key!r}]")
    elif _missing(duck) or _missing(ch):
        assert _missing(duck) and _missing(ch), f"{where}: {duck!r} on DuckDB, {ch!r} on ClickHouse"
    elif isinstance(duck, (float, np.floating)) or isinstance(ch, (float, np.floating)):
        assert math.isclose(float(duck), float(ch), rel_tol=RELATIVE, abs_tol=1e-12), f"{where}: {duck!r} vs {ch!r}"
    else:
        assert duck == ch, f"{where}: {duck!r} on DuckDB, {ch!r} on ClickHouse"


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_demo_gives_the_same_answer_on_both_engines(name: str, demo_engines) -> None:
    duck, ch = demo_engines
    assert_same(outcome(SCENARIOS[name], duck), outcome(SCENARIOS[name], ch), name)


@pytest.fixture(scope="session")
def shared_engines(clickhouse_url: str, tmp_path_factory):
    """The two public example exports imported as the README shows, on DuckDB and in ClickHouse."""
    if not SHARED.is_dir():
        pytest.skip(f"the shared example data is not at {SHARED}")
    path = tmp_path_factory.mktemp("shared") / "shared.duckdb"
    pipeline = SHARED / "maven_crm" / "sales_pipeline.csv"
    ifood = SHARED / "ifood_campaign" / "marketing_campaign.csv"
    with writer(path) as con:
        imports.import_file(con, "leads", pipeline)
        imports.import_file(con, "events", pipeline, imports.ImportOptions(
            stage_dates={"sql": "engage_date"}, status="deal_stage", status_date="close_date"))
        imports.import_file(con, "leads", ifood)
        imports.import_file(con, "sends", ifood, imports.ImportOptions(
            responses=("AcceptedCmp1", "AcceptedCmp2", "AcceptedCmp3", "AcceptedCmp4", "AcceptedCmp5", "Response")))
    ch = copy_to_clickhouse(path, clickhouse_url, "parity_shared")
    with reader(path) as duck:
        yield duck, ch
    ch.close()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_shared_data_gives_the_same_answer_on_both_engines(name: str, shared_engines) -> None:
    duck, ch = shared_engines
    assert_same(outcome(SCENARIOS[name], duck), outcome(SCENARIOS[name], ch), name)


def test_a_difference_is_caught() -> None:
    frame = pd.DataFrame({"group": ["a"], "count": [3], "rate": [0.5]})
    with pytest.raises(AssertionError, match="count"):
        assert_same(frame, frame.assign(count=4))
    with pytest.raises(AssertionError, match="rate"):
        assert_same(frame, frame.assign(rate=0.5 + 1e-6))
    assert_same(frame, frame.assign(rate=0.5 + 1e-12))
