-- analytics.scoring.signal_names: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
SELECT
  stage
FROM events
WHERE
  occurred_at < {as_of:DateTime64(6)} AND NOT has({skip:Array(String)}, stage)
GROUP BY
  stage
ORDER BY
  toInt64(COUNT(DISTINCT lead_id)) DESC,
  stage
LIMIT {limit:Int64}
