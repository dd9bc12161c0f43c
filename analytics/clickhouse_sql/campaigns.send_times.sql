-- analytics.campaigns.send_times: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
WITH chosen AS (
  SELECT
    *
    REPLACE (COALESCE(nullIf(TRIM(variant), ''), {none:String}) AS variant, COALESCE(nullIf(TRIM(medium), ''), {none:String}) AS medium)
  FROM sends
  WHERE
    (
      sent_at IS NULL OR sent_at < {as_of:DateTime64(6)}
    )
), cells AS (
  SELECT
    toDayOfWeek(sent_at) AS weekday,
    HOUR(sent_at) AS hour,
    toInt64(COUNT(*)) AS sends,
    CAST(SUM(sent) AS Nullable(Int64)) AS sent,
    CAST(SUM(delivered) AS Nullable(Int64)) AS delivered,
    CAST(SUM(opened) AS Nullable(Int64)) AS opened,
    CAST(SUM(clicked) AS Nullable(Int64)) AS clicked,
    CAST(SUM(converted) AS Nullable(Int64)) AS converted,
    CAST(SUM(unsubscribed) AS Nullable(Int64)) AS unsubscribed
  FROM chosen
  WHERE
    NOT (
      sent_at IS NULL
    ) AND medium = {medium:String}
  GROUP BY ALL
)
SELECT
  d.weekday AS weekday,
  arrayElementOrNull(['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'], d.weekday) AS day,
  h.hour AS hour,
  COALESCE(c.sends, 0) AS sends,
  c.*
  EXCEPT (weekday, hour, sends)
FROM (
  SELECT
    arrayJoin(range(1, 8)) AS weekday
) AS d
CROSS JOIN (
  SELECT
    arrayJoin(range(0, 24)) AS hour
) AS h
LEFT JOIN cells AS c
  ON c.weekday = d.weekday AND c.hour = h.hour
ORDER BY
  d.weekday,
  h.hour
