"""Fixtures shared by every test: throwaway warehouses and small files written on the fly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from analytics.demo import generate
from analytics.warehouse import writer



@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """Path of a new, empty, migrated warehouse file."""
    path = tmp_path / "warehouse.duckdb"
    with writer(path):
        pass
    return path


@pytest.fixture
def wcon(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writer connection to a fresh warehouse."""
    with writer(warehouse) as con:
        yield con


@pytest.fixture
def write_file(tmp_path: Path):
    """Write text to a file in the test's folder and return its path: write_file('a.csv', 'x,y\\n1,2\\n')."""
    def write(name: str, text: str, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding=encoding)
        return path
    return write


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory) -> Path:
    """A 3,000-lead demo warehouse ending 2026-11-01, built once per run. Read it; copy it to write."""
    path = tmp_path_factory.mktemp("small_demo") / "demo.duckdb"
    with writer(path) as con:
        generate(con, leads=3_000, seed=5, end=date(2026, 11, 1))
    return path
