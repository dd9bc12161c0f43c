-- analytics.scoring._check_groups: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
WITH timed AS (
  SELECT
    lead_id,
    entered_at + toIntervalDay({score_at:Int64}) AS scored_at,
    CASE WHEN "sql_at" < {as_of:DateTime64(6)} THEN "sql_at" END AS first_target,
    CASE
      WHEN CASE WHEN "lost_at" < {as_of:DateTime64(6)} THEN "lost_at" END IS NULL
      OR CASE WHEN "won_at" < {as_of:DateTime64(6)} THEN "won_at" END <= CASE WHEN "lost_at" < {as_of:DateTime64(6)} THEN "lost_at" END
      THEN CASE WHEN "won_at" < {as_of:DateTime64(6)} THEN "won_at" END
      ELSE CASE WHEN "lost_at" < {as_of:DateTime64(6)} THEN "lost_at" END
    END AS closed_at
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
        EXCEPT (unit_id, entered_at, reached, simple, r1, r2, r3, r4)
      FROM judged
    )
  )
), classified AS (
  SELECT
    *,
    CASE
      WHEN first_target <= scored_at
      THEN 'already'
      WHEN closed_at <= scored_at
      THEN 'closed'
      WHEN scored_at + toIntervalDay({within:Int64}) > {as_of:DateTime64(6)}
      THEN 'too_young'
      ELSE 'scored'
    END AS status,
    CAST(COALESCE(first_target <= scored_at + toIntervalDay({within:Int64}), FALSE) AS Nullable(Bool)) AS converted
  FROM timed
), moments AS (
  SELECT
    lead_id,
    scored_at
  FROM classified
  WHERE
    status = 'scored'
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
    COALESCE(
      CAST(toInt64(COUNT(e.stage) FILTER(WHERE
        e.stage = {signal0:String})) AS Nullable(Float64)),
      0
    ) AS s0,
    COALESCE(
      CAST(toInt64(COUNT(e.stage) FILTER(WHERE
        e.stage = {signal1:String})) AS Nullable(Float64)),
      0
    ) AS s1,
    COALESCE(
      CAST(toInt64(COUNT(e.stage) FILTER(WHERE
        e.stage = {signal2:String})) AS Nullable(Float64)),
      0
    ) AS s2,
    COALESCE(
      CAST(toInt64(COUNT(e.stage) FILTER(WHERE
        e.stage = {signal3:String})) AS Nullable(Float64)),
      0
    ) AS s3,
    COALESCE(
      CAST(toInt64(COUNT(e.stage) FILTER(WHERE
        e.stage = {signal4:String})) AS Nullable(Float64)),
      0
    ) AS s4,
    COALESCE(
      CAST(toInt64(COUNT(e.stage) FILTER(WHERE
        e.stage = {signal5:String})) AS Nullable(Float64)),
      0
    ) AS s5,
    COALESCE(
      CAST(toInt64(COUNT(e.stage) FILTER(WHERE
        e.stage = {signal6:String})) AS Nullable(Float64)),
      0
    ) AS s6,
    COALESCE(
      CAST(toInt64(COUNT(e.stage) FILTER(WHERE
        e.stage = {signal7:String})) AS Nullable(Float64)),
      0
    ) AS s7,
    COALESCE(
      CAST(toInt64(COUNT(e.stage) FILTER(WHERE
        e.stage = {signal8:String})) AS Nullable(Float64)),
      0
    ) AS s8,
    COALESCE(
      CAST(toInt64(COUNT(e.stage) FILTER(WHERE
        e.stage = {signal9:String})) AS Nullable(Float64)),
      0
    ) AS s9,
    toInt64(COUNT(e.stage) FILTER(WHERE
      has({ruled:Array(String)}, e.stage))) AS touches,
    MAX(e.occurred_at) FILTER(WHERE
      has({ruled:Array(String)}, e.stage)) AS last_touch_at
  FROM moments AS m
  LEFT JOIN events AS e
    ON e.lead_id = m.lead_id
    AND e.occurred_at < m.scored_at
    AND has({signals:Array(String)}, e.stage)
  GROUP BY
    m.lead_id,
    m.scored_at
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
  'scored' AS status,
  COALESCE(s.seniority_key, '') AS seniority_key,
  (
    CASE
      WHEN (
        s0 * 1000000.0
      ) < 0
      THEN -floor(0.5 - (
        s0 * 1000000.0
      ))
      ELSE floor((
        s0 * 1000000.0
      ) + 0.5)
    END
  ) / 1000000.0 AS s0,
  (
    CASE
      WHEN (
        s1 * 1000000.0
      ) < 0
      THEN -floor(0.5 - (
        s1 * 1000000.0
      ))
      ELSE floor((
        s1 * 1000000.0
      ) + 0.5)
    END
  ) / 1000000.0 AS s1,
  (
    CASE
      WHEN (
        s2 * 1000000.0
      ) < 0
      THEN -floor(0.5 - (
        s2 * 1000000.0
      ))
      ELSE floor((
        s2 * 1000000.0
      ) + 0.5)
    END
  ) / 1000000.0 AS s2,
  (
    CASE
      WHEN (
        s3 * 1000000.0
      ) < 0
      THEN -floor(0.5 - (
        s3 * 1000000.0
      ))
      ELSE floor((
        s3 * 1000000.0
      ) + 0.5)
    END
  ) / 1000000.0 AS s3,
  (
    CASE
      WHEN (
        s4 * 1000000.0
      ) < 0
      THEN -floor(0.5 - (
        s4 * 1000000.0
      ))
      ELSE floor((
        s4 * 1000000.0
      ) + 0.5)
    END
  ) / 1000000.0 AS s4,
  (
    CASE
      WHEN (
        s5 * 1000000.0
      ) < 0
      THEN -floor(0.5 - (
        s5 * 1000000.0
      ))
      ELSE floor((
        s5 * 1000000.0
      ) + 0.5)
    END
  ) / 1000000.0 AS s5,
  (
    CASE
      WHEN (
        s6 * 1000000.0
      ) < 0
      THEN -floor(0.5 - (
        s6 * 1000000.0
      ))
      ELSE floor((
        s6 * 1000000.0
      ) + 0.5)
    END
  ) / 1000000.0 AS s6,
  (
    CASE
      WHEN (
        s7 * 1000000.0
      ) < 0
      THEN -floor(0.5 - (
        s7 * 1000000.0
      ))
      ELSE floor((
        s7 * 1000000.0
      ) + 0.5)
    END
  ) / 1000000.0 AS s7,
  (
    CASE
      WHEN (
        s8 * 1000000.0
      ) < 0
      THEN -floor(0.5 - (
        s8 * 1000000.0
      ))
      ELSE floor((
        s8 * 1000000.0
      ) + 0.5)
    END
  ) / 1000000.0 AS s8,
  (
    CASE
      WHEN (
        s9 * 1000000.0
      ) < 0
      THEN -floor(0.5 - (
        s9 * 1000000.0
      ))
      ELSE floor((
        s9 * 1000000.0
      ) + 0.5)
    END
  ) / 1000000.0 AS s9,
  s.score AS score,
  CASE
    WHEN s.score >= {hot:Int64}
    THEN 'hot'
    WHEN s.score >= {warm:Int64}
    THEN 'warm'
    ELSE 'cold'
  END AS band,
  toInt64(COUNT(*)) AS leads,
  toInt64(COUNT(*) FILTER(WHERE
    c.converted)) AS converted
FROM signals AS s
JOIN classified AS c
  USING (lead_id)
GROUP BY ALL
UNION ALL
SELECT
  status,
  NULL,
  NULL,
  NULL,
  NULL,
  NULL,
  NULL,
  NULL,
  NULL,
  NULL,
  NULL,
  NULL,
  NULL,
  NULL,
  toInt64(COUNT(*)),
  0
FROM classified
WHERE
  status <> 'scored'
GROUP BY
  status
