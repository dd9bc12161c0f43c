-- analytics.sequences.sequence_report: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
SELECT
  *
FROM (
  WITH stage_times AS (
    SELECT
      lead_id,
      entered_at,
      CASE
        WHEN "mql_at" >= entered_at
        THEN CASE WHEN "mql_at" < {as_of:DateTime64(6)} THEN "mql_at" END
        WHEN NOT empty("mql_times")
        THEN arrayElementOrNull(arrayFilter(x -> x >= entered_at AND x < {as_of:DateTime64(6)}, "mql_times"), 1)
      END AS t_mql,
      CASE
        WHEN "sql_at" >= entered_at
        THEN CASE WHEN "sql_at" < {as_of:DateTime64(6)} THEN "sql_at" END
        WHEN NOT empty("sql_times")
        THEN arrayElementOrNull(arrayFilter(x -> x >= entered_at AND x < {as_of:DateTime64(6)}, "sql_times"), 1)
      END AS t_sql,
      CASE
        WHEN "won_at" >= entered_at
        THEN CASE WHEN "won_at" < {as_of:DateTime64(6)} THEN "won_at" END
        WHEN NOT empty("won_times")
        THEN arrayElementOrNull(arrayFilter(x -> x >= entered_at AND x < {as_of:DateTime64(6)}, "won_times"), 1)
      END AS t_won,
      CASE
        WHEN "lost_at" >= entered_at
        THEN CASE WHEN "lost_at" < {as_of:DateTime64(6)} THEN "lost_at" END
        WHEN NOT empty("lost_times")
        THEN arrayElementOrNull(arrayFilter(x -> x >= entered_at AND x < {as_of:DateTime64(6)}, "lost_times"), 1)
      END AS t_lost
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
  ), activity AS (
    SELECT
      lead_id,
      arraySort(groupArray(occurred_at) FILTER(WHERE
        stage = {sent:String})) AS sent_times,
      groupArray(occurred_at) FILTER(WHERE
        stage = {opened:String}) AS open_times,
      groupArray(occurred_at) FILTER(WHERE
        stage = {clicked:String}) AS click_times,
      groupArray(occurred_at) FILTER(WHERE
        stage = {unsubscribed:String}) AS unsubscribe_times
    FROM events
    WHERE
      campaign_id = {sequence:String}
      AND occurred_at < {as_of:DateTime64(6)}
      AND stage IN ({sent:String}, {opened:String}, {clicked:String}, {unsubscribed:String})
      AND lead_id IN (
        SELECT
          lead_id
        FROM stage_times
      )
    GROUP BY
      lead_id
    HAVING
      toInt64(COUNT(*) FILTER(WHERE
        stage = {sent:String})) > 0
  ), enrolled AS (
    SELECT
      *
    FROM stage_times
    JOIN activity
      USING (lead_id)
  ), sends AS (
    SELECT
      lead_id,
      step,
      sent_at,
      next_sent_at,
      arrayElementOrNull(sent_times, 1) AS enrolled_at,
      entered_at,
      t_mql,
      t_sql,
      t_won,
      t_lost,
      CAST(COALESCE(
        toInt64(
          length(
            arrayFilter(x -> x >= sent_at AND (
              next_sent_at IS NULL OR x < next_sent_at
            ), open_times)
          )
        ) > 0,
        FALSE
      ) AS Nullable(Bool)) AS opened,
      CAST(COALESCE(
        toInt64(
          length(
            arrayFilter(x -> x >= sent_at AND (
              next_sent_at IS NULL OR x < next_sent_at
            ), click_times)
          )
        ) > 0,
        FALSE
      ) AS Nullable(Bool)) AS clicked
    FROM (
      SELECT
        *,
        arrayElementOrNull(sent_times, step + 1) AS next_sent_at
      FROM (
        SELECT
          *,
          arrayElementOrNull(sent_times, step) AS sent_at,
          arrayJoin(arrayEnumerate(sent_times)) AS step
        FROM enrolled
      )
    )
  ), per_step AS (
    SELECT
      step,
      quantileExactInclusive(0.5)(toUnixTimestamp64Micro(toDateTime64(sent_at, 6)) / 1e6 - toUnixTimestamp64Micro(toDateTime64(enrolled_at, 6)) / 1e6) / 86400 AS day,
      toInt64(COUNT(*)) AS sent,
      toInt64(COUNT(*) FILTER(WHERE
        opened)) AS opened,
      toInt64(COUNT(*) FILTER(WHERE
        clicked)) AS clicked,
      quantileExactInclusive(0.5)(toUnixTimestamp64Micro(toDateTime64(next_sent_at, 6)) / 1e6 - toUnixTimestamp64Micro(toDateTime64(sent_at, 6)) / 1e6) AS gap
    FROM sends
    GROUP BY
      step
  ), exposed AS (
    SELECT
      step,
      age_days,
      (
        CASE
          WHEN t_won <= sent_at
          THEN 4
          WHEN t_sql <= sent_at
          THEN 3
          WHEN t_mql <= sent_at
          THEN 2
          ELSE 1
        END
      ) AS stage_idx,
      CAST((
        CASE
          WHEN t_won <= sent_at + toIntervalDay({days:Int64})
          THEN 4
          WHEN t_sql <= sent_at + toIntervalDay({days:Int64})
          THEN 3
          WHEN t_mql <= sent_at + toIntervalDay({days:Int64})
          THEN 2
          ELSE 1
        END
      ) > (
        CASE
          WHEN t_won <= sent_at
          THEN 4
          WHEN t_sql <= sent_at
          THEN 3
          WHEN t_mql <= sent_at
          THEN 2
          ELSE 1
        END
      ) AS Nullable(Bool)) AS advanced,
      CASE WHEN d < 60 THEN d ELSE d - (
        d - 60
      ) % 7 END AS age
    FROM (
      SELECT
        *,
        (
          toUnixTimestamp64Micro(toDateTime64(sent_at, 6)) / 1e6 - toUnixTimestamp64Micro(toDateTime64(entered_at, 6)) / 1e6
        ) / 86400 AS age_days,
        CAST(FLOOR(age_days) AS Nullable(Int64)) AS d
      FROM sends
    )
    WHERE
      d >= 0
      AND NOT (
        COALESCE(t_won <= sent_at, FALSE) OR COALESCE(t_lost <= sent_at, FALSE)
      )
      AND sent_at + toIntervalDay({days:Int64}) <= {as_of:DateTime64(6)}
  ), cells AS (
    SELECT
      step,
      stage_idx,
      age,
      toInt64(COUNT(*)) AS n,
      toInt64(COUNT(*) FILTER(WHERE
        advanced)) AS adv,
      SUM(age_days) AS age_days
    FROM exposed
    GROUP BY ALL
  ), ages AS (
    SELECT
      age,
      CAST(CASE
        WHEN (
          SUM(age_days) / SUM(n) * 86400
        ) < 0
        THEN -floor(0.5 - (
          SUM(age_days) / SUM(n) * 86400
        ))
        ELSE floor((
          SUM(age_days) / SUM(n) * 86400
        ) + 0.5)
      END AS Nullable(Int64)) * 1000000 AS u
    FROM cells
    GROUP BY
      age
  ), enrolments AS (
    SELECT
      lead_id,
      arrayElementOrNull(sent_times, 1) AS enrolled_at
    FROM enrolled
  ), offsets AS (
    /* (closed or enrolled: it compares before then) and to the last landmark its days have passed after */
    SELECT
      toUnixTimestamp64Micro(t_mql) - e AS m,
      toUnixTimestamp64Micro(t_sql) - e AS s,
      toUnixTimestamp64Micro(t_won) - e AS w,
      LEAST(
        toUnixTimestamp64Micro(t_won),
        toUnixTimestamp64Micro(t_lost),
        toUnixTimestamp64Micro(enrolled_at)
      ) - e AS stop,
      toUnixTimestamp64Micro({as_of:DateTime64(6)}) - e - {days:Int64} * 86400000000 AS last
    FROM (
      SELECT
        *,
        toUnixTimestamp64Micro(entered_at) AS e
      FROM stage_times
    )
    LEFT JOIN enrolments
      USING (lead_id)
  ), spans AS (
    /* is still: it reaches no further stage by then and its days after, so it is a lead that does not */
    /* advance at every landmark it compares at */
    SELECT
      *,
      CAST((
        m IS NULL OR m > until + {days:Int64} * 86400000000
      )
      AND (
        s IS NULL OR s > until + {days:Int64} * 86400000000
      )
      AND (
        w IS NULL OR w > until + {days:Int64} * 86400000000
      ) AS Nullable(Bool)) AS still
    FROM (
      SELECT
        *,
        CASE WHEN stop IS NULL OR stop - 1 > last THEN last ELSE stop - 1 END AS until
      FROM offsets
    )
  ), controls AS (
    SELECT
      stage_idx,
      age,
      CAST(SUM(n) AS Nullable(Int64)) AS control_n,
      CAST(SUM(adv) AS Nullable(Int64)) AS control_adv
    FROM (
      SELECT
        age,
        (
          CASE WHEN w <= u THEN 4 WHEN s <= u THEN 3 WHEN m <= u THEN 2 ELSE 1 END
        ) AS stage_idx,
        1 AS n,
        CASE
          WHEN (
            CASE
              WHEN w <= u + {days:Int64} * 86400000000
              THEN 4
              WHEN s <= u + {days:Int64} * 86400000000
              THEN 3
              WHEN m <= u + {days:Int64} * 86400000000
              THEN 2
              ELSE 1
            END
          ) > (
            CASE WHEN w <= u THEN 4 WHEN s <= u THEN 3 WHEN m <= u THEN 2 ELSE 1 END
          )
          THEN 1
          ELSE 0
        END AS adv
      FROM spans
      JOIN ages
        ON u <= until
      WHERE
        NOT still
      UNION ALL
      /* joined to every landmark they reach */
      SELECT
        age,
        1,
        n,
        0
      FROM (
        SELECT
          age,
          landmark,
          SUM(1 - landmark) OVER (ORDER BY pos DESC, landmark ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS n
        FROM (
          SELECT
            until AS pos,
            0 AS landmark,
            NULL AS age
          FROM spans
          WHERE
            still
          UNION ALL
          SELECT
            u,
            1,
            age
          FROM ages
        )
      )
      WHERE
        landmark = 1
    )
    GROUP BY ALL
  ), last_sends AS (
    SELECT
      *,
      toInt64(length(sent_times)) AS last_step,
      arrayMax(sent_times) AS last_sent,
      arrayMin(arrayFilter(x -> x >= arrayElementOrNull(sent_times, 1), unsubscribe_times)) AS unsubscribed_at
    FROM enrolled
  ), final AS (
    SELECT
      MAX(step) AS final_step
    FROM per_step
  ), timed AS (
    SELECT
      l.*,
      l.last_sent + toIntervalSecond(CAST(1.5 * g.gap AS Nullable(Int64))) AS due,
      f.final_step AS final_step
    FROM last_sends AS l
    JOIN per_step AS g
      ON g.step = l.last_step, final AS f
  ), classified AS (
    SELECT
      last_step,
      CASE
        WHEN last_step = final_step
        THEN 'finished'
        WHEN due > {as_of:DateTime64(6)}
        THEN 'active'
        WHEN unsubscribed_at BETWEEN last_sent AND due
        THEN 'unsubscribed'
        WHEN (
          CASE
            WHEN t_won <= due
            THEN 4
            WHEN t_sql <= due
            THEN 3
            WHEN t_mql <= due
            THEN 2
            ELSE 1
          END
        ) > (
          CASE
            WHEN t_won <= last_sent
            THEN 4
            WHEN t_sql <= last_sent
            THEN 3
            WHEN t_mql <= last_sent
            THEN 2
            ELSE 1
          END
        )
        THEN 'advanced'
        WHEN t_lost BETWEEN last_sent AND due
        THEN 'lost'
        ELSE 'stopped'
      END AS reason
    FROM timed
  ), counts AS (
    SELECT
      last_step AS step,
      reason,
      toInt64(COUNT(*)) AS leads
    FROM classified
    GROUP BY ALL
  ), exits AS (
    SELECT
      g.step AS step,
      g.day AS day,
      r.reason AS reason,
      r.o AS o,
      COALESCE(c.leads, 0) AS leads,
      COALESCE(c.leads, 0) / (
        SELECT
          toInt64(COUNT(*))
        FROM classified
      ) AS share
    FROM per_step AS g
    CROSS JOIN (
      SELECT
        arrayElementOrNull({reasons:Array(String)}, o) AS reason,
        arrayJoin(arrayEnumerate({reasons:Array(String)})) AS o
    ) AS r
    LEFT JOIN counts AS c
      ON c.step = g.step AND c.reason = r.reason
  )
  SELECT
    1 AS part,
    step,
    day,
    sent,
    opened,
    clicked,
    n,
    adv,
    control_n,
    control_adv,
    NULL AS reason,
    NULL AS o,
    NULL AS leads,
    NULL AS share
  FROM (
    SELECT
      r.step AS step,
      r.day AS day,
      r.sent AS sent,
      r.opened AS opened,
      r.clicked AS clicked,
      c.n AS n,
      c.adv AS adv,
      COALESCE(k.control_n, 0) AS control_n,
      COALESCE(k.control_adv, 0) AS control_adv
    FROM per_step AS r
    LEFT JOIN cells AS c
      USING (step)
    LEFT JOIN controls AS k
      USING (stage_idx, age)
  )
  UNION ALL
  SELECT
    2,
    step,
    day,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    reason,
    o,
    leads,
    share
  FROM exits
) AS _l_0
ORDER BY
  part,
  step,
  o
