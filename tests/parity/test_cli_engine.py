"""The command line's `--engine clickhouse`: the same analyses, the same output as on DuckDB."""

from __future__ import annotations

import json

import pytest

from analytics import cli
from analytics.clickhouse.scenarios import AS_OF

pytestmark = pytest.mark.parity


def _json(capsys, *argv: str) -> list[dict]:
    assert cli.main(list(argv)) == cli.EXIT_OK
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("command", [
    ["funnel", "--by", "channel"],
    ["time-to-convert", "--from", "mql", "--to", "sql"],
    ["channels"],
])
def test_an_analysis_prints_the_same_records_on_clickhouse(capsys, monkeypatch, clickhouse_url, parity_demo,
                                                            demo_engines, command):
    options = [*command, "--as-of", AS_OF.isoformat(), "--format", "json"]
    on_duckdb = _json(capsys, "--db", str(parity_demo), *options)
    monkeypatch.setattr(cli, "reader", None)  # the ClickHouse run must not open the DuckDB warehouse
    on_clickhouse = _json(capsys, "--engine", "clickhouse", "--clickhouse-url", clickhouse_url,
                          "--clickhouse-database", "parity_demo", *options)
    assert len(on_clickhouse) == len(on_duckdb) > 0
    for mine, theirs in zip(on_clickhouse, on_duckdb, strict=True):
        assert mine.keys() == theirs.keys()
        for key, value in theirs.items():
            assert mine[key] == (pytest.approx(value, rel=1e-9, nan_ok=True) if isinstance(value, float) else value), key


def test_clickhouse_without_a_url_says_what_it_needs(capsys, monkeypatch):
    monkeypatch.delenv("CLICKHOUSE_URL", raising=False)
    assert cli.main(["--engine", "clickhouse", "funnel"]) == cli.EXIT_BAD_INPUT
    assert "--engine clickhouse needs --clickhouse-url" in capsys.readouterr().err
