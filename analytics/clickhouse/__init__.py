"""The analytics on ClickHouse: DuckDB SQL translated (`translate`), a connection the analytics functions
use as DuckDB's (`connection`), loading data (`load`) and the reviewed translations (`golden`).
See docs/clickhouse.md."""

from analytics.clickhouse.connection import ClickHouseConnection, connect
from analytics.clickhouse.translate import translate

__all__ = ["ClickHouseConnection", "connect", "translate"]
