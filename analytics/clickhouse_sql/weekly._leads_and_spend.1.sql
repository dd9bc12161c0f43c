-- analytics.weekly._leads_and_spend: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
WITH spend_rows AS (
  SELECT
    channel AS grp,
    COALESCE(date, start_date, end_date) AS first_day,
    GREATEST(COALESCE(date, end_date, start_date), COALESCE(date, start_date, end_date)) AS last_day,
    spend,
    impressions,
    clicks
  FROM (
    SELECT
      *
      REPLACE (COALESCE(nullIf(TRIM(channel), ''), {none:String}) AS channel, COALESCE(nullIf(TRIM(campaign_id), ''), {none:String}) AS campaign_id)
    FROM campaigns
  )
  WHERE
    TRUE
), shares AS (
  SELECT
    *,
    CASE
      WHEN first_day IS NULL
      THEN CASE WHEN {ranged:Bool} THEN 0.0 ELSE 1.0 END
      ELSE GREATEST(
        0,
        DATE_DIFF(
          DAY,
          GREATEST(first_day, COALESCE(CAST({spend_from:Date32} AS Nullable(Date32)), first_day)),
          LEAST(last_day, CAST({spend_to:Date32} AS Nullable(Date32)))
        ) + 1
      ) / (
        DATE_DIFF(DAY, first_day, last_day) + 1
      )
    END AS share
  FROM spend_rows
), spend_side AS (
  SELECT
    grp,
    SUM(spend * share) FILTER(WHERE
      share > 0) AS spend,
    SUM(impressions * share) FILTER(WHERE
      share > 0) AS impressions,
    SUM(clicks * share) FILTER(WHERE
      share > 0) AS clicks,
    SUM(spend) FILTER(WHERE
      share = 0) AS undated_spend
  FROM shares
  WHERE
    share > 0 OR first_day IS NULL
  GROUP BY
    grp
)
SELECT
  grp AS "group",
  (
    CASE
      WHEN (
        spend * 100.0
      ) < 0
      THEN -floor(0.5 - (
        spend * 100.0
      ))
      ELSE floor((
        spend * 100.0
      ) + 0.5)
    END
  ) / 100.0 AS spend
FROM spend_side
