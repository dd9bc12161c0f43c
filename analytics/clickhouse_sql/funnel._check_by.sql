-- analytics.funnel._check_by: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
SELECT DISTINCT
  arrayJoin(mapKeys(attributes))
FROM leads
ORDER BY
  1
