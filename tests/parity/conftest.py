"""Parity fixtures: DuckDB warehouses and the same data in ClickHouse (chdb, in this process).

chdb runs one ClickHouse engine per process on one folder, so every warehouse of a test run is a
database in that one engine. `CLICKHOUSE_URL` points the suite at a real server instead
(`CLICKHOUSE_URL=http://user:password@host:8123 pytest -m parity`); it creates and replaces the
databases `parity_*` there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics.clickhouse.connection import ClickHouseConnection
from analytics.clickhouse.golden import DEMO_LEADS
from analytics.clickhouse.load import copy_to_clickhouse
from analytics.clickhouse.scenarios import AS_OF
from analytics.demo import generate
from analytics.warehouse import reader, writer


@pytest.fixture(scope="session")
def clickhouse_url(tmp_path_factory) -> str:
    """The ClickHouse the suite runs on: $CLICKHOUSE_URL, else chdb in a fresh folder."""
    return os.environ.get("CLICKHOUSE_URL") or f"chdb://{tmp_path_factory.mktemp('chdb')}"


@pytest.fixture(scope="session")
def parity_demo(tmp_path_factory) -> Path:
    """A demo warehouse of a few hundred leads ending on the scenarios' as-of date."""
    path = tmp_path_factory.mktemp("parity") / "demo.duckdb"
    with writer(path) as con:
        generate(con, leads=DEMO_LEADS, seed=5, end=AS_OF)
    return path


@pytest.fixture(scope="session")
def demo_engines(clickhouse_url: str, parity_demo: Path) -> Iterator[tuple[object, ClickHouseConnection]]:
    """(DuckDB connection, ClickHouse connection) on the same demo data."""
    ch = copy_to_clickhouse(parity_demo, clickhouse_url, "parity_demo")
    with reader(parity_demo) as duck:
        yield duck, ch
    ch.close()
