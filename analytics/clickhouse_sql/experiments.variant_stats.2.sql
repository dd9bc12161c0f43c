-- analytics.experiments.variant_stats: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
SELECT
  variant,
  toInt64(COUNT(*)) AS units,
  CASE
    WHEN toInt64(COUNT(converted)) > 0
    THEN toInt64(COUNT(*) FILTER(WHERE
      converted))
  END AS conversions,
  CASE WHEN toInt64(COUNT(value)) > 0 THEN COALESCE(SUM(value), 0) END AS revenue_sum,
  CASE WHEN toInt64(COUNT(value)) > 0 THEN COALESCE(SUM(value * value), 0) END AS revenue_sumsq
FROM experiment_units
WHERE
  experiment = {p1:String}
GROUP BY
  variant
ORDER BY
  variant
