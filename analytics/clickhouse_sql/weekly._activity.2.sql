-- analytics.weekly._activity: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
SELECT
  toInt64(
    COUNT(*) FILTER(WHERE
      mql_at >= {start:DateTime64(6)} AND mql_at < {end:DateTime64(6)})
  ),
  toInt64(
    COUNT(*) FILTER(WHERE
      sql_at >= {start:DateTime64(6)} AND sql_at < {end:DateTime64(6)})
  ),
  toInt64(
    COUNT(*) FILTER(WHERE
      won_at >= {start:DateTime64(6)} AND won_at < {end:DateTime64(6)})
  ),
  COALESCE(
    SUM(won_value) FILTER(WHERE
      won_at >= {start:DateTime64(6)} AND won_at < {end:DateTime64(6)}),
    0
  )
FROM journeys
WHERE
  has(
    {channels:Array(String)},
    COALESCE(
      COALESCE(CASE WHEN channel_at < {as_of:DateTime64(6)} THEN "channel" END, "lead_channel"),
      {none:String}
    )
  )
