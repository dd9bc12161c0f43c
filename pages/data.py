"""Data: upload exports, check the guessed mapping on a preview, import, see every import, remove one.

On ClickHouse the same page imports and removes through `analytics.clickhouse.load` (each file lands whole
or not at all, a removal drops the import's partitions)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from analytics import imports
from analytics.errors import BadInput, WarehouseUnavailable
from analytics.summary import warehouse_summary
from dashboard import can, engine, progress_bar, refusal, run_query, run_write, who
from pages import reroute

if TYPE_CHECKING:
    import duckdb

    from analytics.clickhouse.connection import ClickHouseConnection

KIND_HELP = {
    "leads": "one row per lead: lead_id, created_at, channel, campaign_id, account_id, seniority, more attributes",
    "events": "one row per event (lead_id, stage, occurred_at ...), or one row per lead with a date column per "
              "stage (wide lifecycle or pipeline exports)",
    "campaigns": "campaign_id, name, channel, date or start_date/end_date, spend, impressions, clicks",
    "sends": "campaign_id, variant, medium, sent_at, sent, delivered, opened, clicked, converted, unsubscribed; "
             "or one row per customer with a 0/1 response column per campaign",
    "experiments": "per variant (experiment, variant, units, conversions ...) or per unit (experiment, unit_id, "
                   "variant, converted, value)",
}
NOT_USED = "(not used)"
DATE_ORDER = {"As the data shows": None, "Day first (31/01)": True, "Month first (01/31)": False}


def _pairs(text: str, what: str) -> dict[str, str]:
    """'a=b, c=d' as {'a': 'b', 'c': 'd'}."""
    pairs = {}
    for part in text.split(","):
        if part.strip():
            key, sep, value = part.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise BadInput(f"{what}: write NAME=COLUMN pairs separated by commas, not '{part.strip()}'")
            pairs[key.strip()] = value.strip()
    return pairs


def _options_form() -> imports.ImportOptions:
    with st.expander("Options for unusual files"):
        left, right = st.columns(2)
        stage = left.text_input("Stage for every row", placeholder="e.g. webinar",
                                help="Events file without a stage column: every row is this stage.")
        order = right.selectbox("Dates like 04/09/2012", list(DATE_ORDER))
        stage_dates = left.text_input("Stage date columns (wide files)", placeholder="sql=engage_date",
                                      help="One row per lead with a date column per stage: STAGE=COLUMN pairs. "
                                           "An empty date means the stage was not reached. HubSpot's "
                                           "'Became a ... Date' columns are found without this.")
        status = right.text_input("Status column and its date column", placeholder="deal_stage, close_date",
                                  help="A column whose values are stages (Won, Lost ...) and the column that "
                                       "dates them.")
        responses = left.text_input("Response columns (sends)", placeholder="AcceptedCmp1, Response",
                                    help="One row per customer with a 0/1 column per campaign.")
        encoding = right.text_input("Encoding", placeholder="detected: UTF-8 or CP949")
    status_column, _, status_date = (part.strip() for part in status.partition(","))
    return imports.ImportOptions(
        stage=stage.strip() or None, stage_dates=_pairs(stage_dates, "Stage date columns"),
        status=status_column or None, status_date=status_date or None,
        responses=tuple(c.strip() for c in responses.split(",") if c.strip()),
        encoding=encoding.strip() or None, dayfirst=DATE_ORDER[order])


def _saved(upload, folder: str) -> Path:
    path = Path(folder) / f"upload{Path(upload.name).suffix.lower() or '.csv'}"
    path.write_bytes(upload.getbuffer())
    return path


def _mapping_editor(upload, kind: str, options: imports.ImportOptions, path: Path) -> dict[str, str] | None:
    """Preview and mapping of one file; returns the corrections to the guessed mapping, or None when unreadable."""
    try:
        plan, head = imports.preview_file(kind, path, options, file_name=upload.name)
    except BadInput as error:
        st.error(str(error), icon=":material/error:")
        return None
    st.dataframe(head, hide_index=True, width="stretch")
    st.caption("Mapping: the file column each canonical column is read from (guessed; correct it if needed).")
    choices = [NOT_USED, *plan.headers]
    mapping = {}
    cells = st.columns(3)
    for i, column in enumerate(plan.table.columns):
        guess = plan.resolved.get(column.name, NOT_USED)
        chosen = cells[i % 3].selectbox(f"{column.name}{' (required)' if column.required else ''}", choices,
                                        index=choices.index(guess), key=f"map-{upload.name}-{kind}-{column.name}")
        if chosen not in (NOT_USED, guess):
            mapping[column.name] = chosen
    if plan.stage_dates:
        st.caption("One event per stage date: " + ", ".join(f"{s} from '{h}'" for s, h in plan.stage_dates.items()))
    return mapping


def _import(upload, kind: str, options: imports.ImportOptions, path: Path, mapping: dict[str, str]) -> None:
    chosen = imports.ImportOptions(**{**options.__dict__, "mapping": mapping})
    try:
        if engine().on_clickhouse:
            from analytics.clickhouse import load

            with st.spinner(f"Importing {upload.name} into ClickHouse ..."):
                result = run_write(lambda ch: load.import_file(ch, kind, path, chosen, imported_by=who(),
                                                               file_name=upload.name))
        else:
            with progress_bar(f"Importing {upload.name}") as progress:
                result = run_write(lambda con: imports.import_file(con, kind, path, chosen, imported_by=who(),
                                                                   file_name=upload.name, progress=progress))
    except (BadInput, WarehouseUnavailable) as error:
        st.error(f"Not imported: {error}. Nothing was stored from this file.", icon=":material/error:")
        bad_row = error.row if isinstance(error, BadInput) else None
        if bad_row:
            _, around = imports.preview_file(kind, path, chosen, file_name=upload.name,
                                             first_row=max(1, bad_row - 2), rows=5)
            st.caption(f"Row {bad_row} and its neighbours, as the file has them:")
            st.dataframe(around.style.apply(lambda r: ["background-color: #fde2e2" if r["row"] == bad_row else ""
                                                       for _ in r], axis=1), hide_index=True, width="stretch")
        return
    (st.info if result.already_imported else st.success)(result.message)


def _uploads() -> None:
    """Upload files, preview each with its guessed mapping, import them."""
    uploads = st.file_uploader("CSV, Excel or Parquet files (up to 1 GB each)", accept_multiple_files=True,
                               type=["csv", "txt", "tsv", "xlsx", "xlsm", "xls", "ods", "parquet"])
    kind = st.selectbox("What the files hold", imports.KINDS, format_func=str.capitalize,
                        help="\n\n".join(f"**{k}**: {v}" for k, v in KIND_HELP.items()))
    try:
        options = _options_form()
    except BadInput as error:
        st.error(str(error))
        return
    if uploads:
        with tempfile.TemporaryDirectory(prefix="upload-") as folder:
            ready = []
            for upload in uploads:
                st.markdown(f"**{upload.name}**: preview and mapping")
                path = _saved(upload, folder)
                mapping = _mapping_editor(upload, kind, options, path)
                if mapping is not None:
                    ready.append((upload, path, mapping))
            if st.button("Import", type="primary", icon=":material/upload:", disabled=not ready):
                for upload, path, mapping in ready:
                    _import(upload, kind, options, path, mapping)


def _removal(active: pd.DataFrame) -> None:
    """Choose one of the `active` imports and remove the rows it added."""
    chosen = st.selectbox("Import", active["import_id"].tolist(),
                          format_func=lambda i: f"#{i} {active.set_index('import_id').at[i, 'file_name']}")
    if chosen is not None and st.button("Remove its rows", icon=":material/delete:"):
        try:
            removed = run_write(lambda con: _remove(con, int(chosen)))
        except (BadInput, WarehouseUnavailable) as error:
            st.error(f"Not removed: {error}.", icon=":material/error:")
            return
        st.success(f"Removed import #{chosen}: " + (", ".join(f"{n:,} {t}" for t, n in removed.items())
                                                   or "it had added no rows") + ".")
        st.rerun()


def _remove(con: duckdb.DuckDBPyConnection | ClickHouseConnection, import_id: int) -> dict[str, int]:
    """Remove import `import_id` on the dashboard's engine; the rows removed per table."""
    if not engine().on_clickhouse:
        return imports.remove_import(con, import_id, removed_by=who())
    from analytics.clickhouse import load

    return load.remove_import(con, import_id, removed_by=who())


def render() -> None:
    st.title("Data")
    summary = run_query(warehouse_summary)
    st.caption(" · ".join(f"{table.replace('_', ' ')}: {count:,}" for table, count in summary.rows.items()))
    st.caption(f"Read from {engine().source}.")

    st.subheader("Upload files")
    if can("import"):
        _uploads()
    else:
        st.info(refusal("import"), icon=":material/lock:")

    st.subheader("Imports")
    log = run_query(imports.import_log)
    if log.empty:
        st.info("Nothing imported yet.")
        return
    latest = log.iloc[0]
    st.caption(f"Latest: #{latest['import_id']} {latest['file_name']}, {latest['rows_added']:,} rows added to "
               f"{latest['table_name']} on {latest['imported_at']:%Y-%m-%d %H:%M} UTC.")
    st.dataframe(log.drop(columns=["content_hash"]), hide_index=True, width="stretch", placeholder="–",
                 column_config={"import_id": st.column_config.NumberColumn("#", format="%d"), "file_name": "File",
                                "table_name": "Table", "options": "Options", "imported_by": "By",
                                "removed_by": "Removed by",
                                **{c: st.column_config.NumberColumn(c.replace("_", " ").capitalize(), format="%,d")
                                   for c in ("rows_read", "rows_added", "rows_skipped")},
                                "imported_at": st.column_config.DatetimeColumn("Imported at", format="YYYY-MM-DD HH:mm"),
                                "removed_at": st.column_config.DatetimeColumn("Removed at", format="YYYY-MM-DD HH:mm")})
    with st.expander("Remove an import"):
        if can("remove_import"):
            _removal(log[log["removed_at"].isna()])
        else:
            st.info(refusal("remove_import"), icon=":material/lock:")


if __name__ == "__main__":
    reroute()
