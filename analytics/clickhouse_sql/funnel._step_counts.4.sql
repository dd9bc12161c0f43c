-- analytics.funnel._step_counts: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
WITH units AS (
  WITH unit_events AS (
    SELECT
      a.account_id AS unit_id,
      e.*
    FROM events AS e
    JOIN (
      SELECT
        lead_id,
        MAX(nullIf(TRIM(account_id), '')) AS account_id
      FROM leads
      GROUP BY
        lead_id
    ) AS a
      ON a.lead_id = e.lead_id AND NOT (
        a.account_id IS NULL
      )
    WHERE
      e.occurred_at < {as_of:DateTime64(6)}
  ), ev AS (
    SELECT
      unit_id,
      occurred_at AS t,
      nullIf(indexOf({stages:Array(String)}, stage), 0) AS idx
    FROM unit_events
    WHERE
      has({stages:Array(String)}, stage)
  ), entry AS (
    SELECT
      unit_id,
      MIN(t) AS t1
    FROM ev
    WHERE
      idx = 1
    GROUP BY
      unit_id
    HAVING
      TRUE
  ), entrants AS (
    SELECT
      unit_id,
      t1,
      'all' AS grp
    FROM entry
  ), s1 AS (
    SELECT
      ev.*,
      CAST((
        idx = 1 AND ev.t = en.t1
      ) AS Nullable(Bool)) AS r1
    FROM ev
    JOIN entrants AS en
      USING (unit_id)
    WHERE
      ev.t >= en.t1
  ), s2 AS (
    SELECT
      *,
      CAST(COALESCE(
        idx = 2
        AND t <= MAX(
          CASE
            WHEN r1
            THEN (
              t + toIntervalMonth({w2_months:Int64}) + toIntervalSecond({w2_seconds:Int64})
            )
          END
        ) OVER earlier,
        FALSE
      ) AS Nullable(Bool)) AS r2
    FROM s1
    WINDOW earlier AS (PARTITION BY unit_id ORDER BY t RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
  ), s3 AS (
    SELECT
      *,
      CAST(COALESCE(
        idx = 3
        AND t <= MAX(
          CASE
            WHEN r2
            THEN (
              t + toIntervalMonth({w3_months:Int64}) + toIntervalSecond({w3_seconds:Int64})
            )
          END
        ) OVER earlier,
        FALSE
      ) AS Nullable(Bool)) AS r3
    FROM s2
    WINDOW earlier AS (PARTITION BY unit_id ORDER BY t RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
  ), s4 AS (
    SELECT
      *,
      CAST(COALESCE(
        idx = 4
        AND t <= MAX(
          CASE
            WHEN r3
            THEN (
              t + toIntervalMonth({w4_months:Int64}) + toIntervalSecond({w4_seconds:Int64})
            )
          END
        ) OVER earlier,
        FALSE
      ) AS Nullable(Bool)) AS r4
    FROM s3
    WINDOW earlier AS (PARTITION BY unit_id ORDER BY t RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
  ), steps AS (
    SELECT
      unit_id,
      MAX(CASE WHEN r4 THEN 4 WHEN r3 THEN 3 WHEN r2 THEN 2 WHEN r1 THEN 1 ELSE 0 END) AS reached,
      MAX(t) FILTER(WHERE
        r1) AS last1,
      MAX(t) FILTER(WHERE
        r2) AS last2,
      MAX(t) FILTER(WHERE
        r3) AS last3,
      MAX(t) FILTER(WHERE
        r4) AS last4,
      MAX(
        (
          t + toIntervalMonth({w2_months:Int64}) + toIntervalSecond({w2_seconds:Int64})
        )
      ) FILTER(WHERE
        r1) AS due1,
      MAX(
        (
          t + toIntervalMonth({w3_months:Int64}) + toIntervalSecond({w3_seconds:Int64})
        )
      ) FILTER(WHERE
        r2) AS due2,
      MAX(
        (
          t + toIntervalMonth({w4_months:Int64}) + toIntervalSecond({w4_seconds:Int64})
        )
      ) FILTER(WHERE
        r3) AS due3
    FROM s4
    GROUP BY
      unit_id
  )
  SELECT
    steps.unit_id AS unit_id,
    entrants.grp AS grp,
    entrants.t1 AS entered_at,
    steps.reached AS reached,
    CASE steps.reached
      WHEN 1
      THEN last1
      WHEN 2
      THEN last2
      WHEN 3
      THEN last3
      WHEN 4
      THEN last4
    END AS last_at,
    CAST(CASE steps.reached
      WHEN 1
      THEN due1 >= {as_of:DateTime64(6)}
      WHEN 2
      THEN due2 >= {as_of:DateTime64(6)}
      WHEN 3
      THEN due3 >= {as_of:DateTime64(6)}
      ELSE FALSE
    END AS Nullable(Bool)) AS open
  FROM steps
  JOIN entrants
    USING (unit_id)
), per_reached AS (
  SELECT
    grp AS grp,
    reached,
    toInt64(COUNT(*)) AS n,
    toInt64(COUNT(*) FILTER(WHERE
      open)) AS n_open
  FROM units
  GROUP BY ALL
)
SELECT
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
  grp,
  step
