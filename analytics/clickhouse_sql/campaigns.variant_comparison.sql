-- analytics.campaigns.variant_comparison: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
WITH chosen AS (
  SELECT
    *
    REPLACE (COALESCE(nullIf(TRIM(variant), ''), {none:String}) AS variant, COALESCE(nullIf(TRIM(medium), ''), {none:String}) AS medium)
  FROM sends
  WHERE
    (
      sent_at IS NULL OR sent_at < {as_of:DateTime64(6)}
    )
), per_variant AS (
  SELECT
    medium,
    variant,
    toInt64(COUNT(*)) AS sends,
    CAST(SUM(delivered) AS Nullable(Int64)) AS delivered,
    CAST(SUM(clicked) AS Nullable(Int64)) AS clicked,
    CAST(SUM(converted) AS Nullable(Int64)) AS converted
  FROM chosen
  WHERE
    variant <> {none:String}
  GROUP BY ALL
)
SELECT
  *
FROM per_variant
WHERE
  medium IN (
    SELECT
      medium
    FROM per_variant
    GROUP BY
      medium
    HAVING
      toInt64(COUNT(*)) >= 2
  )
ORDER BY
  medium,
  variant
