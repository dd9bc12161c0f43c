-- analytics.time_to_convert._outcome_times: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
WITH outcomes AS (
  WITH units AS (
    WITH entrants AS (
      SELECT
        *
      FROM (
        SELECT
          lead_id AS unit_id,
          CASE WHEN "mql_at" < {as_of:DateTime64(6)} THEN "mql_at" END AS entered_at,
          CAST(empty("mql_times") AND empty("sql_times") AS Nullable(Bool)) AS simple,
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
            o -> o < {as_of:DateTime64(6)}
            AND arrayExists(
              x -> x,
              arrayMap(
                r -> r <= o
                AND o <= (
                  r + toIntervalMonth({w2_months:Int64}) + toIntervalSecond({w2_seconds:Int64})
                ),
                r1
              )
            ),
            CASE WHEN notEmpty("sql_times") THEN "sql_times" ELSE ["sql_at"] END
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
            WHEN "sql_at" IS NULL
            OR "sql_at" >= {as_of:DateTime64(6)}
            OR "sql_at" < entered_at
            OR "sql_at" > (
              entered_at + toIntervalMonth({w2_months:Int64}) + toIntervalSecond({w2_seconds:Int64})
            )
            THEN 1
            ELSE 2
          END
          ELSE CASE WHEN toInt64(length(r2)) > 0 THEN 2 ELSE 1 END
        END AS reached
      FROM p2
    )
    SELECT
      unit_id,
      'all' AS grp,
      entered_at,
      reached,
      CASE reached
        WHEN 1
        THEN CASE WHEN simple THEN entered_at ELSE arrayMax(r1) END
        WHEN 2
        THEN CASE WHEN simple THEN "sql_at" ELSE arrayMax(r2) END
      END AS last_at,
      CAST(COALESCE(
        CASE reached
          WHEN 1
          THEN CASE
            WHEN simple
            THEN (
              entered_at + toIntervalMonth({w2_months:Int64}) + toIntervalSecond({w2_seconds:Int64})
            ) >= {as_of:DateTime64(6)}
            ELSE arrayExists(
              x -> x,
              arrayMap(
                r -> (
                  r + toIntervalMonth({w2_months:Int64}) + toIntervalSecond({w2_seconds:Int64})
                ) >= {as_of:DateTime64(6)},
                r1
              )
            )
          END
        END,
        FALSE
      ) AS Nullable(Bool)) AS open,
      *
      EXCEPT (unit_id, entered_at, reached, simple, r1, r2)
    FROM judged
  ), firsts AS (
    SELECT
      unit_id,
      grp,
      entered_at,
      CASE
        WHEN "sql_at" >= entered_at
        THEN CASE WHEN "sql_at" < {as_of:DateTime64(6)} THEN "sql_at" END
        WHEN NOT empty("sql_times")
        THEN arrayElementOrNull(arrayFilter(x -> x >= entered_at AND x < {as_of:DateTime64(6)}, "sql_times"), 1)
      END AS to_at,
      LEAST(
        CASE
          WHEN "lost_at" >= entered_at
          THEN CASE WHEN "lost_at" < {as_of:DateTime64(6)} THEN "lost_at" END
          WHEN NOT empty("lost_times")
          THEN arrayElementOrNull(arrayFilter(x -> x >= entered_at AND x < {as_of:DateTime64(6)}, "lost_times"), 1)
        END
      ) AS end_at,
      CAST(COALESCE("sql_at" < entered_at, FALSE) AS Nullable(Bool)) AS to_before_from
    FROM units
  ), bounded AS (
    SELECT
      *,
      (
        entered_at + toIntervalMonth({ttc_w_months:Int64}) + toIntervalSecond({ttc_w_seconds:Int64})
      ) AS deadline
    FROM firsts
  ), judged AS (
    SELECT
      *,
      LEAST({as_of:DateTime64(6)}, deadline) AS horizon,
      CASE
        WHEN to_at <= LEAST({as_of:DateTime64(6)}, deadline)
        AND (
          end_at IS NULL OR to_at <= end_at
        )
        THEN 'converted'
        WHEN end_at <= LEAST({as_of:DateTime64(6)}, deadline)
        THEN 'lost'
        ELSE 'open'
      END AS outcome
    FROM bounded
  )
  SELECT
    unit_id,
    grp,
    entered_at,
    deadline,
    outcome,
    to_before_from,
    CASE outcome WHEN 'converted' THEN to_at WHEN 'lost' THEN end_at ELSE horizon END AS ended_at,
    (
      toUnixTimestamp64Micro(ended_at) - toUnixTimestamp64Micro(entered_at)
    ) / 86400e6 AS days,
    CAST(outcome = 'open' AND COALESCE(deadline < {as_of:DateTime64(6)}, FALSE) AS Nullable(Bool)) AS expired
  FROM judged
), placed AS (
  SELECT
    unit_id,
    grp,
    entered_at,
    deadline,
    outcome,
    to_before_from,
    ended_at,
    expired,
    CASE
      WHEN outcome <> 'open' OR days = MAX(days) OVER (PARTITION BY grp)
      THEN days
      ELSE GREATEST(
        FLOOR(days),
        COALESCE(
          MAX(CASE WHEN outcome <> 'open' THEN days END) OVER (
            PARTITION BY grp
            ORDER BY days, outcome = 'open'
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
          ),
          0
        )
      )
    END AS days
  FROM outcomes
)
SELECT
  grp AS "group",
  days,
  toInt64(COUNT(*) FILTER(WHERE
    outcome = 'converted')) AS converted,
  toInt64(COUNT(*) FILTER(WHERE
    outcome = 'lost')) AS lost,
  toInt64(COUNT(*) FILTER(WHERE
    outcome = 'open')) AS censored,
  toInt64(COUNT(*) FILTER(WHERE
    expired)) AS expired,
  toInt64(COUNT(*) FILTER(WHERE
    to_before_from)) AS to_before_from
FROM placed
GROUP BY
  grp,
  days
