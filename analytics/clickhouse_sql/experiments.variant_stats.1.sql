-- analytics.experiments.variant_stats: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
SELECT
  variant,
  CAST(SUM(units) AS Nullable(Int64)) AS units,
  CAST(SUM(conversions) AS Nullable(Int64)) AS conversions,
  SUM(revenue_sum) AS revenue_sum,
  SUM(revenue_sumsq) AS revenue_sumsq
FROM experiment_variants
WHERE
  experiment = {p1:String} AND metric = {p2:String}
GROUP BY
  variant
ORDER BY
  variant
