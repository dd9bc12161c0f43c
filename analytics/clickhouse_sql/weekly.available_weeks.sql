-- analytics.weekly.available_weeks: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
SELECT
  MIN(occurred_at)
FROM events
WHERE
  stage = 'lead'
