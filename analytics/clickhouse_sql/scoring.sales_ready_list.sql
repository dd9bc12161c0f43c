-- analytics.scoring.sales_ready_list: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
WITH entrants AS (
  SELECT
    lead_id,
    entered_at,
    CASE
      WHEN NOT (
        CASE
          WHEN "won_at" < {as_of:DateTime64(6)}
          THEN arrayMax(
            arrayFilter(
              x -> x < {as_of:DateTime64(6)},
              CASE WHEN notEmpty("won_times") THEN "won_times" ELSE ["won_at"] END
            )
          )
        END IS NULL
      )
      AND (
        CASE
          WHEN "lost_at" < {as_of:DateTime64(6)}
          THEN arrayMax(
            arrayFilter(
              x -> x < {as_of:DateTime64(6)},
              CASE WHEN notEmpty("lost_times") THEN "lost_times" ELSE ["lost_at"] END
            )
          )
        END IS NULL
        OR CASE
          WHEN "won_at" < {as_of:DateTime64(6)}
          THEN arrayMax(
            arrayFilter(
              x -> x < {as_of:DateTime64(6)},
              CASE WHEN notEmpty("won_times") THEN "won_times" ELSE ["won_at"] END
            )
          )
        END >= CASE
          WHEN "lost_at" < {as_of:DateTime64(6)}
          THEN arrayMax(
            arrayFilter(
              x -> x < {as_of:DateTime64(6)},
              CASE WHEN notEmpty("lost_times") THEN "lost_times" ELSE ["lost_at"] END
            )
          )
        END
      )
      THEN 'won'
      WHEN NOT (
        CASE
          WHEN "lost_at" < {as_of:DateTime64(6)}
          THEN arrayMax(
            arrayFilter(
              x -> x < {as_of:DateTime64(6)},
              CASE WHEN notEmpty("lost_times") THEN "lost_times" ELSE ["lost_at"] END
            )
          )
        END IS NULL
      )
      THEN 'lost'
    END AS closed,
    CASE
      WHEN NOT (
        CASE WHEN "sql_at" < {as_of:DateTime64(6)} THEN "sql_at" END IS NULL
      )
      THEN 'sql'
      WHEN NOT (
        CASE WHEN "mql_at" < {as_of:DateTime64(6)} THEN "mql_at" END IS NULL
      )
      THEN 'mql'
      ELSE 'lead'
    END AS reached
  FROM (
    SELECT
      unit_id AS lead_id,
      *
      EXCEPT (unit_id)
    FROM (
      WITH entrants AS (
        SELECT
          *
        FROM (
          SELECT
            lead_id AS unit_id,
            CASE
              WHEN "lead_at" < {as_of:DateTime64(6)}
              THEN "lead_at"
              ELSE LEAST(
                CASE WHEN "mql_at" < {as_of:DateTime64(6)} THEN "mql_at" END,
                CASE WHEN "sql_at" < {as_of:DateTime64(6)} THEN "sql_at" END,
                CASE WHEN "won_at" < {as_of:DateTime64(6)} THEN "won_at" END
              )
            END AS entered_at,
            FALSE AS simple,
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
              CASE
                WHEN "mql_at" < {as_of:DateTime64(6)}
                THEN CASE WHEN notEmpty("mql_times") THEN "mql_times" ELSE ["mql_at"] END
                ELSE FLATTEN(
                  [
                    CASE WHEN notEmpty("sql_times") THEN "sql_times" ELSE ["sql_at"] END,
                    CASE WHEN notEmpty("won_times") THEN "won_times" ELSE ["won_at"] END
                  ]
                )
              END
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
              CASE
                WHEN "sql_at" < {as_of:DateTime64(6)}
                THEN CASE WHEN notEmpty("sql_times") THEN "sql_times" ELSE ["sql_at"] END
                ELSE FLATTEN([CASE WHEN notEmpty("won_times") THEN "won_times" ELSE ["won_at"] END])
              END
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
        EXCEPT (unit_id, entered_at, reached, simple, a0, a1, r1, r2, r3, r4)
      FROM judged
    )
  )
), moments AS (
  SELECT
    lead_id,
    {as_of:DateTime64(6)} AS scored_at
  FROM entrants
), seniority AS (
  SELECT
    lead_id,
    MAX(nullIf(TRIM(seniority), '')) AS seniority
  FROM leads
  WHERE
    lead_id IN (
      SELECT
        lead_id
      FROM moments
    )
  GROUP BY
    lead_id
), counted AS (
  SELECT
    m.lead_id AS lead_id,
    m.scored_at AS scored_at,
    COALESCE(t.s0, 0) AS s0,
    COALESCE(t.s1, 0) AS s1,
    COALESCE(t.s2, 0) AS s2,
    COALESCE(t.s3, 0) AS s3,
    COALESCE(t.s4, 0) AS s4,
    COALESCE(t.s5, 0) AS s5,
    COALESCE(t.touches, 0) AS touches,
    t.last_touch_at AS last_touch_at
  FROM moments AS m
  LEFT JOIN (
    SELECT
      e.lead_id AS lead_id,
      CAST(toInt64(COUNT(e.stage) FILTER(WHERE
        e.stage = {signal0:String})) AS Nullable(Float64)) AS s0,
      CAST(toInt64(COUNT(e.stage) FILTER(WHERE
        e.stage = {signal1:String})) AS Nullable(Float64)) AS s1,
      CAST(toInt64(COUNT(e.stage) FILTER(WHERE
        e.stage = {signal2:String})) AS Nullable(Float64)) AS s2,
      CAST(toInt64(COUNT(e.stage) FILTER(WHERE
        e.stage = {signal3:String})) AS Nullable(Float64)) AS s3,
      CAST(toInt64(COUNT(e.stage) FILTER(WHERE
        e.stage = {signal4:String})) AS Nullable(Float64)) AS s4,
      CAST(toInt64(COUNT(e.stage) FILTER(WHERE
        e.stage = {signal5:String})) AS Nullable(Float64)) AS s5,
      toInt64(COUNT(e.stage) FILTER(WHERE
        has({ruled:Array(String)}, e.stage))) AS touches,
      MAX(e.occurred_at) FILTER(WHERE
        has({ruled:Array(String)}, e.stage)) AS last_touch_at
    FROM events AS e
    WHERE
      e.occurred_at < {as_of:DateTime64(6)}
      AND has({signals:Array(String)}, e.stage)
      AND e.lead_id IN (
        SELECT
          lead_id
        FROM moments
      )
    GROUP BY
      e.lead_id
  ) AS t
    USING (lead_id)
), signals AS (
  SELECT
    c.*,
    s.seniority AS seniority,
    LOWER(s.seniority) AS seniority_key,
    CAST(COALESCE(
      arrayElementOrNull(
        {level_points:Array(Float64)},
        nullIf(indexOf({levels:Array(String)}, LOWER(s.seniority)), 0)
      ),
      0
    ) AS Nullable(Float64)) AS seniority_points,
    CAST({points0:Float64} * s0 + {points1:Float64} * s1 + {points2:Float64} * s2 + {points3:Float64} * s3 + {points4:Float64} * s4 + {points5:Float64} * s5 AS Nullable(Float64)) AS touch_points,
    (
      CASE
        WHEN (
          (
            seniority_points + touch_points
          ) * 1000000000.0
        ) < 0
        THEN -floor(0.5 - (
          (
            seniority_points + touch_points
          ) * 1000000000.0
        ))
        ELSE floor((
          (
            seniority_points + touch_points
          ) * 1000000000.0
        ) + 0.5)
      END
    ) / 1000000000.0 AS score
  FROM counted AS c
  LEFT JOIN seniority AS s
    USING (lead_id)
)
SELECT
  s.lead_id AS lead_id,
  s.seniority AS seniority,
  s.score AS score,
  CASE
    WHEN s.score >= {hot:Int64}
    THEN 'hot'
    WHEN s.score >= {warm:Int64}
    THEN 'warm'
    ELSE 'cold'
  END AS band,
  CAST(s.score >= {sales_ready:Int64} AS Nullable(Bool)) AS sales_ready,
  COALESCE(st.closed, st.reached) AS stage,
  s.touches AS touches,
  s.last_touch_at AS last_touch_at,
  s.seniority_points AS seniority_points,
  s.touch_points AS touch_points
FROM signals AS s
JOIN entrants AS st
  USING (lead_id)
WHERE
  s.score >= {sales_ready:Int64}
  AND COALESCE(st.closed, st.reached) IN ('lead', 'mql')
ORDER BY
  s.score DESC,
  s.lead_id
