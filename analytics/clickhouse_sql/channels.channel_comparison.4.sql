-- analytics.channels.channel_comparison: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
WITH units AS (
  WITH entrants AS (
    SELECT
      *
    FROM (
      SELECT
        lead_id AS unit_id,
        CASE WHEN "lead_at" < {as_of:DateTime64(6)} THEN "lead_at" END AS entered_at,
        CAST(empty("lead_times")
        AND empty("mql_times")
        AND empty("sql_times")
        AND empty("won_times") AS Nullable(Bool)) AS simple,
        COALESCE(
          COALESCE(CASE WHEN channel_at < {as_of:DateTime64(6)} THEN "channel" END, "lead_channel"),
          {none:String}
        ) AS a0,
        *
        EXCEPT (lead_id)
      FROM journeys
    )
    WHERE
      NOT (
        entered_at IS NULL
      )
      AND entered_at >= {start:DateTime64(6)}
      AND entered_at < {end:DateTime64(6)}
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
  ), p3 AS (
    SELECT
      *,
      CASE
        WHEN NOT simple
        THEN arrayFilter(
          o -> o < {as_of:DateTime64(6)}
          AND arrayExists(
            x -> x,
            arrayMap(
              r -> r <= o
              AND o <= (
                r + toIntervalMonth({w3_months:Int64}) + toIntervalSecond({w3_seconds:Int64})
              ),
              r2
            )
          ),
          CASE WHEN notEmpty("sql_times") THEN "sql_times" ELSE ["sql_at"] END
        )
        ELSE []
      END AS r3
    FROM p2
  ), p4 AS (
    SELECT
      *,
      CASE
        WHEN NOT simple
        THEN arrayFilter(
          o -> o < {as_of:DateTime64(6)}
          AND arrayExists(
            x -> x,
            arrayMap(
              r -> r <= o
              AND o <= (
                r + toIntervalMonth({w4_months:Int64}) + toIntervalSecond({w4_seconds:Int64})
              ),
              r3
            )
          ),
          CASE WHEN notEmpty("won_times") THEN "won_times" ELSE ["won_at"] END
        )
        ELSE []
      END AS r4
    FROM p3
  ), judged AS (
    SELECT
      *,
      CASE
        WHEN simple
        THEN CASE
          WHEN "mql_at" IS NULL OR "mql_at" >= {as_of:DateTime64(6)} OR "mql_at" < entered_at
          THEN 1
          WHEN "sql_at" IS NULL
          OR "sql_at" >= {as_of:DateTime64(6)}
          OR "sql_at" < "mql_at"
          OR "sql_at" > (
            "mql_at" + toIntervalMonth({w3_months:Int64}) + toIntervalSecond({w3_seconds:Int64})
          )
          THEN 2
          WHEN "won_at" IS NULL
          OR "won_at" >= {as_of:DateTime64(6)}
          OR "won_at" < "sql_at"
          OR "won_at" > (
            "sql_at" + toIntervalMonth({w4_months:Int64}) + toIntervalSecond({w4_seconds:Int64})
          )
          THEN 3
          ELSE 4
        END
        ELSE CASE
          WHEN toInt64(length(r4)) > 0
          THEN 4
          WHEN toInt64(length(r3)) > 0
          THEN 3
          WHEN toInt64(length(r2)) > 0
          THEN 2
          ELSE 1
        END
      END AS reached
    FROM p4
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
      WHEN 3
      THEN CASE WHEN simple THEN "sql_at" ELSE arrayMax(r3) END
      WHEN 4
      THEN CASE WHEN simple THEN "won_at" ELSE arrayMax(r4) END
    END AS last_at,
    CAST(COALESCE(
      CASE reached
        WHEN 2
        THEN CASE
          WHEN simple
          THEN (
            "mql_at" + toIntervalMonth({w3_months:Int64}) + toIntervalSecond({w3_seconds:Int64})
          ) >= {as_of:DateTime64(6)}
          ELSE arrayExists(
            x -> x,
            arrayMap(
              r -> (
                r + toIntervalMonth({w3_months:Int64}) + toIntervalSecond({w3_seconds:Int64})
              ) >= {as_of:DateTime64(6)},
              r2
            )
          )
        END
        WHEN 3
        THEN CASE
          WHEN simple
          THEN (
            "sql_at" + toIntervalMonth({w4_months:Int64}) + toIntervalSecond({w4_seconds:Int64})
          ) >= {as_of:DateTime64(6)}
          ELSE arrayExists(
            x -> x,
            arrayMap(
              r -> (
                r + toIntervalMonth({w4_months:Int64}) + toIntervalSecond({w4_seconds:Int64})
              ) >= {as_of:DateTime64(6)},
              r3
            )
          )
        END
      END,
      FALSE
    ) AS Nullable(Bool)) AS open,
    *
    EXCEPT (unit_id, entered_at, reached, simple, a0, r1, r2, r3, r4)
  FROM judged
), judged AS (
  SELECT
    grp,
    reached,
    CASE
      WHEN reached = 4
      THEN CASE
        WHEN empty(won_times)
        THEN won_value
        ELSE arraySum(
          arrayFilter(
            (v, i) -> arrayElementOrNull(won_times, i) = last_at,
            won_values,
            arrayEnumerate(won_values)
          )
        )
      END
    END AS won_value,
    CAST(reached < 4
    AND CASE
      WHEN "lost_at" >= entered_at
      THEN CASE WHEN "lost_at" < {as_of:DateTime64(6)} THEN "lost_at" END
      WHEN NOT empty("lost_times")
      THEN arrayElementOrNull(arrayFilter(x -> x >= entered_at AND x < {as_of:DateTime64(6)}, "lost_times"), 1)
    END IS NULL
    AND (
      open
      OR (
        reached = 1
        AND (
          (
            entered_at + toIntervalMonth({horizon3_months:Int64}) + toIntervalSecond({horizon3_seconds:Int64})
          ) + toIntervalMonth({horizon4_months:Int64}) + toIntervalSecond({horizon4_seconds:Int64})
        ) > {as_of:DateTime64(6)}
      )
    ) AS Nullable(Bool)) AS unfinished
  FROM units
), funnel_side AS (
  SELECT
    grp,
    toInt64(COUNT(*)) AS leads,
    toInt64(COUNT(*) FILTER(WHERE
      reached >= 2)) AS mql,
    toInt64(COUNT(*) FILTER(WHERE
      reached >= 3)) AS sql,
    toInt64(COUNT(*) FILTER(WHERE
      reached >= 4)) AS won,
    SUM(won_value) AS won_value,
    toInt64(COUNT(*) FILTER(WHERE
      unfinished)) AS unfinished
  FROM judged
  GROUP BY
    grp
), spend_rows AS (
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
  COALESCE(f.grp, s.grp) AS "group",
  CAST(CASE
    WHEN s.impressions < 0
    THEN -floor(0.5 - s.impressions)
    ELSE floor(s.impressions + 0.5)
  END AS Nullable(Int64)) AS impressions,
  CAST(CASE WHEN s.clicks < 0 THEN -floor(0.5 - s.clicks) ELSE floor(s.clicks + 0.5) END AS Nullable(Int64)) AS clicks,
  (
    CASE
      WHEN (
        s.spend * 100.0
      ) < 0
      THEN -floor(0.5 - (
        s.spend * 100.0
      ))
      ELSE floor((
        s.spend * 100.0
      ) + 0.5)
    END
  ) / 100.0 AS spend,
  s.undated_spend AS undated_spend,
  COALESCE(f.leads, 0) AS leads,
  COALESCE(f.mql, 0) AS mql,
  COALESCE(f.sql, 0) AS sql,
  COALESCE(f.won, 0) AS won,
  CAST(CASE WHEN COALESCE(f.won, 0) = 0 THEN 0 ELSE f.won_value END AS Nullable(Float64)) AS won_value,
  COALESCE(f.unfinished, 0) AS open_leads
FROM funnel_side AS f
FULL JOIN spend_side AS s
  ON f.grp = s.grp
ORDER BY
  leads DESC,
  s.spend DESC,
  "group"
