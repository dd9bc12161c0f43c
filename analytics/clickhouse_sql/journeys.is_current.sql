-- analytics.journeys.is_current: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
SELECT
  CAST(events = (
    SELECT
      toInt64(COUNT(*))
    FROM events
  )
  AND leads = (
    SELECT
      toInt64(COUNT(*))
    FROM leads
  ) AS Nullable(Bool))
FROM journey_state
