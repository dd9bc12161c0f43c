-- analytics.summary.warehouse_summary: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
SELECT
  toInt64(COUNT(*))
FROM sends
