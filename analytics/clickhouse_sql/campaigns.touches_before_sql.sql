-- analytics.campaigns.touches_before_sql: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
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
), touched AS (
  SELECT
    l.unit_id AS unit_id,
    toInt64(COUNT(*)) AS touches
  FROM leads AS l
  JOIN events AS e
    ON e.lead_id = l.unit_id
    AND e.occurred_at < l.sql_at
    AND NOT has({not_touches:Array(String)}, e.stage)
  WHERE
    l.reached_sql
  GROUP BY
    l.unit_id
), counted AS (
  SELECT
    l.unit_id AS unit_id,
    l.seniority AS seniority,
    l.reached_sql AS reached_sql,
    COALESCE(t.touches, 0) AS touches
  FROM leads AS l
  LEFT JOIN touched AS t
    USING (unit_id)
)
SELECT
  seniority,
  toInt64(COUNT(*)) AS leads,
  toInt64(COUNT(*) FILTER(WHERE
    reached_sql)) AS sql_leads,
  toInt64(COUNT(*) FILTER(WHERE
    reached_sql)) / toInt64(COUNT(*)) AS sql_rate,
  AVG(touches) FILTER(WHERE
    reached_sql) AS mean_touches,
  quantileExactInclusive(0.25)(touches) FILTER(WHERE
    reached_sql) AS p25,
  quantileExactInclusive(0.5)(touches) FILTER(WHERE
    reached_sql) AS median,
  quantileExactInclusive(0.75)(touches) FILTER(WHERE
    reached_sql) AS p75,
  quantileExactInclusive(0.9)(touches) FILTER(WHERE
    reached_sql) AS p90,
  (
    toInt64(COUNT(*) FILTER(WHERE
      reached_sql AND touches >= {senior:Int64}))
  ) / nullIf(toInt64(COUNT(*) FILTER(WHERE
    reached_sql)), 0) AS share_7_plus
FROM counted
GROUP BY
  seniority
ORDER BY
  COALESCE(nullIf(indexOf({order:Array(String)}, seniority), 0), 99),
  seniority = {none:String},
  seniority
