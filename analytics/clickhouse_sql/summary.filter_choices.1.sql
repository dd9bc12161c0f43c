-- analytics.summary.filter_choices: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
SELECT DISTINCT
  channel
FROM (
  SELECT
    channel
  FROM leads
  UNION ALL
  SELECT
    channel
  FROM events
  UNION ALL
  SELECT
    channel
  FROM campaigns
)
WHERE
  NOT (
    channel IS NULL
  )
ORDER BY
  1
