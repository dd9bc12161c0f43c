-- analytics.imports.import_log: ClickHouse translation of its DuckDB query (python -m analytics.clickhouse.golden regenerates this file)
SELECT
  import_id,
  imported_at,
  file_name,
  kind AS table_name,
  rows_read,
  rows_added,
  rows_skipped,
  options,
  imported_by,
  removed_at,
  removed_by,
  content_hash
FROM imports
ORDER BY
  import_id DESC
