-- analytics.summary.filter_choices: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
SELECT DISTINCT
  campaign_id
FROM (
  SELECT
    COALESCE(channel, lead_channel) AS channel,
    COALESCE(campaign_id, lead_campaign_id) AS campaign_id
  FROM journeys
  UNION ALL
  SELECT
    channel,
    campaign_id
  FROM campaigns
)
WHERE
  NOT (
    campaign_id IS NULL
  )
ORDER BY
  1
