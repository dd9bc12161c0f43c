-- analytics.summary.filter_choices: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
SELECT DISTINCT
  campaign_id
FROM (
  SELECT
    campaign_id
  FROM leads
  UNION ALL
  SELECT
    campaign_id
  FROM events
  UNION ALL
  SELECT
    campaign_id
  FROM campaigns
)
WHERE
  NOT (
    campaign_id IS NULL
  )
ORDER BY
  1
