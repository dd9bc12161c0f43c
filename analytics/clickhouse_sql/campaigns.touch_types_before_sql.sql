-- analytics.campaigns.touch_types_before_sql: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
WITH leads AS (
  SELECT
    unit_id,
    grp AS seniority,
    CAST(reached = 3 AS Nullable(Bool)) AS reached_sql,
    CASE
      WHEN reached = 3
      THEN CASE
        WHEN "sql_at" >= entered_at
        THEN CASE WHEN "sql_at" < {as_of:DateTime64(6)} THEN "sql_at" END
        WHEN NOT empty("sql_times")
        THEN arrayElementOrNull(arrayFilter(x -> x >= entered_at AND x < {as_of:DateTime64(6)}, "sql_times"), 1)
      END
    END AS sql_at
  FROM (
    WITH entrants AS (
      SELECT
        *
      FROM (
        SELECT
          lead_id AS unit_id,
          CASE WHEN "lead_at" < {as_of:DateTime64(6)} THEN "lead_at" END AS entered_at,
          CAST(empty("lead_times") AND empty("mql_times") AND empty("sql_times") AS Nullable(Bool)) AS simple,
          COALESCE("seniority", {none:String}) AS a0,
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
            ELSE 3
          END
          ELSE CASE
            WHEN toInt64(length(r3)) > 0
            THEN 3
            WHEN toInt64(length(r2)) > 0
            THEN 2
            ELSE 1
          END
        END AS reached
      FROM p3
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
        END,
        FALSE
      ) AS Nullable(Bool)) AS open,
      *
      EXCEPT (unit_id, entered_at, reached, simple, a0, r1, r2, r3)
    FROM judged
  )
), sql_leads AS (
  SELECT
    *
  FROM leads
  WHERE
    reached_sql
), touches AS (
  SELECT
    l.unit_id AS unit_id,
    e.stage AS touch,
    e.occurred_at AS occurred_at
  FROM sql_leads AS l
  JOIN events AS e
    ON e.lead_id = l.unit_id
    AND e.occurred_at < l.sql_at
    AND NOT has({not_touches:Array(String)}, e.stage)
), last_touches AS (
  SELECT
    unit_id,
    argMax(touch, (occurred_at, touch)) AS touch
  FROM touches
  GROUP BY
    unit_id
), per_type AS (
  SELECT
    touch,
    toInt64(COUNT(DISTINCT unit_id)) AS sql_leads,
    toInt64(COUNT(*)) AS touches
  FROM touches
  GROUP BY
    touch
), per_last AS (
  SELECT
    touch,
    toInt64(COUNT(*)) AS last_touch
  FROM last_touches
  GROUP BY
    touch
), total AS (
  SELECT
    toInt64(COUNT(*)) AS n
  FROM sql_leads
)
SELECT
  p.touch AS touch,
  p.sql_leads AS sql_leads,
  p.sql_leads / total.n AS share_of_sql_leads,
  p.touches AS touches,
  COALESCE(l.last_touch, 0) AS last_touch,
  COALESCE(l.last_touch, 0) / total.n AS last_touch_share
FROM per_type AS p
LEFT JOIN per_last AS l
  USING (touch)
CROSS JOIN total
ORDER BY
  last_touch DESC,
  p.sql_leads DESC,
  p.touch
