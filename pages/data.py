"""Data: upload exports into the warehouse, see every import, remove one."""

import tempfile
from pathlib import Path

import streamlit as st

from analytics import imports
from analytics.errors import BadInput, WarehouseBusy
from analytics.summary import warehouse_summary
from dashboard import run_query, run_write
from pages import reroute

KIND_HELP = {
    "leads": "one row per lead: lead_id, created_at, channel, campaign_id, account_id, seniority, more attributes",
    "events": "one row per event: lead_id, stage, occurred_at, optional channel, campaign_id, value",
    "campaigns": "campaign_id, name, channel, date or start_date/end_date, spend, impressions, clicks",
    "sends": "campaign_id, variant, medium, sent_at, sent, delivered, opened, clicked, converted, unsubscribed",
    "experiments": "per variant (experiment, variant, units, conversions ...) or per unit (experiment, unit_id, "
                   "variant, converted, value)",
}


def _parse_mapping(text: str) -> dict[str, str]:
    mapping = {}
    for line in text.splitlines():
        if line.strip():
            target, sep, source = line.partition("=")
            if not sep:
                raise BadInput(f"mapping line '{line}' should read canonical_column=File header")
            mapping[target.strip()] = source.strip()
    return mapping


def _import_uploads(uploads: list, kind: str, stage: str, mapping_text: str) -> None:
    for upload in uploads:
        suffix = Path(upload.name).suffix or ".csv"
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"upload{suffix}"
            path.write_bytes(upload.getbuffer())
            try:
                mapping = _parse_mapping(mapping_text)
                result = run_write(lambda con: imports.import_file(
                    con, kind, path, stage=stage or None, mapping=mapping, imported_by="dashboard",
                    file_name=upload.name))
            except (BadInput, WarehouseBusy) as error:
                st.error(f"Not imported: {error}. Nothing was stored from this file.", icon=":material/error:")
                continue
        (st.info if result.already_imported else st.success)(result.message)


def render() -> None:
    st.title("Data")
    summary = run_query(warehouse_summary)
    st.caption(" · ".join(f"{table.replace('_', ' ')}: {count:,}" for table, count in summary.rows.items()))

    st.subheader("Upload files")
    with st.form("upload", clear_on_submit=True, border=True):
        uploads = st.file_uploader("CSV or Parquet files", type=["csv", "txt", "tsv", "parquet"],
                                   accept_multiple_files=True)
        left, right = st.columns(2)
        kind = left.selectbox("What the files hold", imports.KINDS, format_func=str.capitalize,
                              help="\n\n".join(f"**{k}**: {v}" for k, v in KIND_HELP.items()))
        stage = right.text_input("Stage for every row", placeholder="e.g. webinar",
                                 help="Only for an events file without a stage column.")
        mapping_text = st.text_area("Column mapping (optional)", placeholder="occurred_at=Event time\nlead_id=Email",
                                    help="One line per column: the canonical name = the file's header. Headers "
                                         "that already use the canonical names need no mapping.")
        submitted = st.form_submit_button("Import", type="primary", icon=":material/upload:")
    if submitted:
        if uploads:
            _import_uploads(uploads, kind, stage, mapping_text)
        else:
            st.warning("Choose at least one file first.")

    st.subheader("Imports")
    log = run_query(imports.import_log)
    if log.empty:
        st.info("Nothing imported yet.")
        return
    st.dataframe(log.drop(columns=["content_hash"]), hide_index=True, width="stretch",
                 column_config={"imported_at": st.column_config.DatetimeColumn("Imported at", format="YYYY-MM-DD HH:mm")})
    with st.expander("Remove an import"):
        chosen = st.selectbox("Import", log["import_id"].tolist(),
                              format_func=lambda i: f"#{i} {log.set_index('import_id').at[i, 'file_name']}")
        if st.button("Remove its rows", icon=":material/delete:"):
            removed = run_write(lambda con: imports.remove_import(con, int(chosen)))
            st.success(f"Removed import #{chosen}: " + (", ".join(f"{n:,} {t}" for t, n in removed.items())
                                                       or "it had added no rows") + ".")
            st.rerun()


if __name__ == "__main__":
    reroute()
