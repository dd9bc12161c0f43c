-- analytics.weekly.leads_per_week: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
WITH units AS (
  WITH entrants AS (
    SELECT
      *
    FROM (
      SELECT
        lead_id AS unit_id,
        CASE WHEN "lead_at" < {as_of:DateTime64(6)} THEN "lead_at" END AS entered_at,
        CAST(empty("lead_times") AND empty("mql_times") AS Nullable(Bool)) AS simple,
        COALESCE(
          COALESCE(CASE WHEN channel_at < {as_of:DateTime64(6)} THEN "channel" END, "lead_channel"),
          {none:String}
        ) AS a0,
        COALESCE(
          COALESCE(
            CASE WHEN campaign_at < {as_of:DateTime64(6)} THEN "campaign_id" END,
            "lead_campaign_id"
          ),
          {none:String}
        ) AS a1,
        *
        EXCEPT (lead_id)
      FROM journeys
    )
    WHERE
      NOT (
        entered_at IS NULL
      )
      AND has({channels:Array(String)}, a0)
      AND has({campaigns:Array(String)}, a1)
  ), p1 AS (
    SELECT
      *,
      CASE WHEN NOT simple THEN [entered_at] ELSE [] END AS r1
    FROM entrants
  ), p2 AS (
    SELECT
      *,
      CASE
        WHEN NOT simple
        THEN arrayFilter(
          o -> o < {as_of:DateTime64(6)} AND arrayExists(x -> x, arrayMap(r -> r <= o, r1)),
          CASE WHEN notEmpty("mql_times") THEN "mql_times" ELSE ["mql_at"] END
        )
        ELSE []
      END AS r2
    FROM p1
  ), judged AS (
    SELECT
      *,
      CASE
        WHEN simple
        THEN CASE
          WHEN "mql_at" IS NULL OR "mql_at" >= {as_of:DateTime64(6)} OR "mql_at" < entered_at
          THEN 1
          ELSE 2
        END
        ELSE CASE WHEN toInt64(length(r2)) > 0 THEN 2 ELSE 1 END
      END AS reached
    FROM p2
  )
  SELECT
    unit_id,
    a0 AS grp,
    entered_at,
    reached,
    CASE reached
      WHEN 1
      THEN CASE WHEN simple THEN entered_at ELSE arrayMax(r1) END
      WHEN 2
      THEN CASE WHEN simple THEN "mql_at" ELSE arrayMax(r2) END
    END AS last_at,
    FALSE AS open,
    *
    EXCEPT (unit_id, entered_at, reached, simple, a0, a1, r1, r2)
  FROM judged
), entries AS (
  SELECT
    toDateTime64(dateTrunc('week', entered_at), 6) AS monday,
    grp
  FROM units
), first_entry AS (
  SELECT
    toDateTime64(dateTrunc('week', MIN(occurred_at)), 6) AS first_monday,
    MIN(occurred_at) AS first_at
  FROM events
  WHERE
    stage = 'lead' AND occurred_at < {as_of:DateTime64(6)}
)
SELECT
  CAST(monday AS Nullable(Date32)) AS week,
  grp AS channel,
  toInt64(COUNT(*)) AS leads,
  CAST(monday < first_monday + INTERVAL '7' DAY
  AND first_at > first_monday
  OR monday + INTERVAL '7' DAY > {as_of:DateTime64(6)} AS Nullable(Bool)) AS partial
FROM entries, first_entry
GROUP BY ALL
ORDER BY
  week,
  channel
