-- analytics.summary.stage_names: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
SELECT
  stage
FROM events
GROUP BY
  stage
ORDER BY
  toInt64(COUNT(*)) DESC
