-- analytics.funnel._step_counts: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
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
      AND has({channels:Array(String)}, a0)
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
    'all' AS grp,
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
), per_reached AS (
  SELECT
    formatDateTime(toDateTime64(dateTrunc({period:String}, entered_at), 6), '%Y-%m-%d') AS period,
    CAST((
      (
        (
          toDateTime64(dateTrunc({period:String}, entered_at), 6) + toIntervalMonth({period_months:Int64}) + toIntervalSecond({period_seconds:Int64})
        ) + toIntervalMonth({w3_months:Int64}) + toIntervalSecond({w3_seconds:Int64})
      ) + toIntervalMonth({w4_months:Int64}) + toIntervalSecond({w4_seconds:Int64})
    ) <= {as_of:DateTime64(6)} AS Nullable(Bool)) AS finished,
    grp AS grp,
    reached,
    toInt64(COUNT(*)) AS n,
    toInt64(COUNT(*) FILTER(WHERE
      open)) AS n_open
  FROM units
  GROUP BY ALL
)
SELECT
  period,
  finished,
  grp,
  step,
  COALESCE(SUM(n) FILTER(WHERE
    reached >= step), 0) AS count,
  CASE
    WHEN step > 1
    THEN COALESCE(SUM(n_open) FILTER(WHERE
      reached = step - 1), 0)
  END AS unfinished
FROM per_reached, (
  SELECT
    arrayJoin(range(1, {n_steps:Int64} + 1)) AS step
) AS steps
GROUP BY
  period,
  finished,
  grp,
  step
