-- analytics.weekly._activity: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
WITH firsts AS (
  SELECT
    lead_id,
    stage,
    MIN(occurred_at) AS t,
    argMin(value, occurred_at) AS value
  FROM events
  WHERE
    stage IN ('mql', 'sql', 'won') AND occurred_at < {end:DateTime64(6)}
  GROUP BY
    lead_id,
    stage
)
SELECT
  stage,
  toInt64(COUNT(*)) AS n,
  COALESCE(SUM(value), 0) AS value
FROM firsts
WHERE
  t >= {start:DateTime64(6)}
GROUP BY
  stage
