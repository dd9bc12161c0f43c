-- analytics.summary.breakdown_attributes: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
SELECT DISTINCT
  arrayJoin(mapKeys(attributes)) AS k
FROM leads
ORDER BY
  k
