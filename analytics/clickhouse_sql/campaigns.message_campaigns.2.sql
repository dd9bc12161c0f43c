-- analytics.campaigns.message_campaigns: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
WITH chosen AS (
  SELECT
    *
    REPLACE (COALESCE(nullIf(TRIM(variant), ''), {none:String}) AS variant, COALESCE(nullIf(TRIM(medium), ''), {none:String}) AS medium)
  FROM sends
  WHERE
    (
      sent_at IS NULL OR sent_at < {as_of:DateTime64(6)}
    )
    AND sent_at >= {start:DateTime64(6)}
    AND sent_at < {end:DateTime64(6)}
), periods AS (
  SELECT
    campaign_id,
    MIN(sent_at) AS period_start,
    MAX(sent_at) + toIntervalDay({period_days:Int64}) AS period_end
  FROM chosen
  GROUP BY
    campaign_id
), entries AS (
  SELECT
    lead_id,
    lead_at AS t
  FROM journeys
  WHERE
    lead_at < {as_of:DateTime64(6)}
), edges AS (
  SELECT
    campaign_id,
    edge,
    SUM(is_entry) OVER (ORDER BY t, is_entry ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS entered_before
  FROM (
    SELECT
      period_start AS t,
      0 AS is_entry,
      campaign_id,
      'start' AS edge
    FROM periods
    WHERE
      NOT (
        period_start IS NULL
      )
    UNION ALL
    SELECT
      period_end,
      0,
      campaign_id,
      'end'
    FROM periods
    WHERE
      NOT (
        period_start IS NULL
      )
    UNION ALL
    SELECT
      t,
      1,
      NULL,
      NULL
    FROM entries
  )
), period_leads AS (
  SELECT
    campaign_id,
    CAST(MAX(entered_before) FILTER(WHERE
      edge = 'end') - MAX(entered_before) FILTER(WHERE
      edge = 'start') AS Nullable(Int64)) AS leads_in_period
  FROM edges
  WHERE
    NOT (
      edge IS NULL
    )
  GROUP BY
    campaign_id
), period_conversions AS (
  SELECT
    p.campaign_id AS campaign_id,
    SUM(s.converted) AS conversions_in_period
  FROM periods AS p
  JOIN sends AS s
    ON s.sent_at >= p.period_start
    AND s.sent_at < p.period_end
    AND s.sent_at < {as_of:DateTime64(6)}
  GROUP BY
    p.campaign_id
), per_variant AS (
  SELECT
    campaign_id,
    variant,
    CASE
      WHEN COUNT(medium) = 0
      THEN NULL
      ELSE arrayStringConcat(arraySort(groupUniqArray(medium)), ', ')
    END AS medium,
    MIN(sent_at) AS first_sent_at,
    toInt64(COUNT(*)) AS sends,
    CAST(SUM(sent) AS Nullable(Int64)) AS sent,
    CAST(SUM(delivered) AS Nullable(Int64)) AS delivered,
    CAST(SUM(opened) AS Nullable(Int64)) AS opened,
    CAST(SUM(clicked) AS Nullable(Int64)) AS clicked,
    CAST(SUM(converted) AS Nullable(Int64)) AS converted,
    CAST(SUM(unsubscribed) AS Nullable(Int64)) AS unsubscribed
  FROM chosen
  GROUP BY
    campaign_id,
    variant
)
SELECT
  v.*,
  p.period_start AS period_start,
  p.period_end AS period_end,
  l.leads_in_period AS leads_in_period,
  c.conversions_in_period AS conversions_in_period
FROM per_variant AS v
JOIN periods AS p
  USING (campaign_id)
LEFT JOIN period_leads AS l
  USING (campaign_id)
LEFT JOIN period_conversions AS c
  USING (campaign_id)
ORDER BY
  v.first_sent_at,
  v.campaign_id,
  v.variant
