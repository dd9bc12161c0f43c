-- analytics.sequences.messages_before_sql: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
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
), sequences AS (
  SELECT DISTINCT
    campaign_id
  FROM events
  WHERE
    stage = {sent:String} AND NOT (
      campaign_id IS NULL
    )
), counted AS (
  SELECT
    l.unit_id AS unit_id,
    l.seniority AS seniority,
    toInt64(
      COUNT(*) FILTER(WHERE
        e.stage = {sent:String} AND NOT (
          s.campaign_id IS NULL
        ))
    ) AS messages,
    toInt64(
      COUNT(*) FILTER(WHERE
        e.stage = {opened:String} AND NOT (
          s.campaign_id IS NULL
        ))
    ) AS opens,
    toInt64(
      COUNT(*) FILTER(WHERE
        e.stage = {clicked:String} AND NOT (
          s.campaign_id IS NULL
        ))
    ) AS clicks,
    toInt64(COUNT(e.stage) FILTER(WHERE
      NOT has({not_touches:Array(String)}, e.stage))) AS touches
  FROM leads AS l
  LEFT JOIN events AS e
    ON e.lead_id = l.unit_id AND e.occurred_at < l.sql_at
  LEFT JOIN sequences AS s
    ON s.campaign_id = e.campaign_id
  WHERE
    l.reached_sql
  GROUP BY ALL
)
SELECT
  seniority,
  toInt64(COUNT(*)) AS sql_leads,
  toInt64(COUNT(*) FILTER(WHERE
    messages > 0)) AS enrolled,
  toInt64(COUNT(*) FILTER(WHERE
    messages > 0)) / toInt64(COUNT(*)) AS enrolled_share,
  quantileExactInclusive(0.5)(messages) FILTER(WHERE
    messages > 0) AS median_messages,
  quantileExactInclusive(0.75)(messages) FILTER(WHERE
    messages > 0) AS p75_messages,
  quantileExactInclusive(0.5)(opens) FILTER(WHERE
    messages > 0) AS median_opens,
  quantileExactInclusive(0.5)(clicks) FILTER(WHERE
    messages > 0) AS median_clicks,
  quantileExactInclusive(0.5)(touches) AS median_touches
FROM counted
GROUP BY
  seniority
ORDER BY
  COALESCE(nullIf(indexOf({order:Array(String)}, seniority), 0), 99),
  seniority = {none:String},
  seniority
