-- analytics.summary.warehouse_summary: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
SELECT
  CAST(MIN(created_at) AS Nullable(Date32)),
  CAST(MAX(created_at) AS Nullable(Date32))
FROM (
  SELECT
    created_at
  FROM leads
  UNION ALL
  SELECT
    occurred_at
  FROM events
  WHERE
    stage = 'lead'
)
