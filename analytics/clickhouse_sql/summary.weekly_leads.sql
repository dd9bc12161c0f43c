-- analytics.summary.weekly_leads: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
WITH entries AS (
  SELECT
    lead_id,
    MIN(occurred_at) AS created_at,
    argMin(channel, occurred_at) FILTER(WHERE
      NOT (
        channel IS NULL
      )) AS channel,
    argMin(campaign_id, occurred_at) FILTER(WHERE
      NOT (
        campaign_id IS NULL
      )) AS campaign_id
  FROM events
  WHERE
    stage = 'lead'
  GROUP BY
    lead_id
), leads_seen AS (
  SELECT
    COALESCE(e.lead_id, l.lead_id) AS lead_id,
    COALESCE(e.created_at, l.created_at) AS created_at,
    COALESCE(e.channel, l.channel, '(none)') AS channel,
    COALESCE(e.campaign_id, l.campaign_id) AS campaign_id
  FROM entries AS e
  FULL JOIN leads AS l
    ON l.lead_id = e.lead_id
)
SELECT
  CAST(toDateTime64(dateTrunc('week', created_at), 6) AS Nullable(Date32)) AS week,
  channel,
  toInt64(COUNT(*)) AS leads,
  CAST(toDateTime64(dateTrunc('week', created_at), 6) < toDateTime64(dateTrunc('week', (
    SELECT
      MIN(created_at)
    FROM leads_seen
  )), 6) + INTERVAL '7' DAY
  AND (
    SELECT
      MIN(created_at)
    FROM leads_seen
  ) > toDateTime64(dateTrunc('week', (
    SELECT
      MIN(created_at)
    FROM leads_seen
  )), 6)
  OR toDateTime64(dateTrunc('week', created_at), 6) + INTERVAL '7' DAY > {p1:DateTime64(6)} AS Nullable(Bool)) AS partial
FROM leads_seen
WHERE
  NOT (
    created_at IS NULL
  )
  AND created_at < {p2:DateTime64(6)}
  AND TRUE
  AND channel IN (
    SELECT
      arrayJoin({p3:Array(String)})
  )
  AND campaign_id IN (
    SELECT
      arrayJoin({p4:Array(String)})
  )
GROUP BY ALL
ORDER BY
  week,
  channel
