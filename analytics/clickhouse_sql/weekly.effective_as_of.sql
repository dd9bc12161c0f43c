-- analytics.weekly.effective_as_of: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
SELECT
  MAX(occurred_at)
FROM events
WHERE
  occurred_at < {p1:DateTime64(6)}
