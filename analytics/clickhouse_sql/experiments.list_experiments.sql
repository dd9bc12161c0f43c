-- analytics.experiments.list_experiments: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
SELECT
  *
FROM (
  WITH per_variant AS (
    SELECT
      experiment,
      variant,
      MAX(units) AS units
    FROM experiment_variants
    GROUP BY
      experiment,
      variant
  ), metrics AS (
    SELECT
      experiment,
      arraySort(groupUniqArray(metric)) AS metrics
    FROM experiment_variants
    GROUP BY
      experiment
  )
  SELECT
    p.experiment AS experiment,
    'aggregated' AS source,
    toInt64(COUNT(*)) AS variants,
    CAST(SUM(p.units) AS Nullable(Int64)) AS units,
    any(m.metrics) IGNORE NULLS AS metrics
  FROM per_variant AS p
  JOIN metrics AS m
    USING (experiment)
  GROUP BY
    p.experiment
  UNION ALL
  SELECT
    experiment,
    'per unit',
    toInt64(COUNT(DISTINCT variant)),
    toInt64(COUNT(*)),
    [{p1:String}]
  FROM experiment_units
  GROUP BY
    experiment
) AS _l_0
ORDER BY
  experiment,
  source
