"""Nurture sequences: what each message step reaches, whether it moves leads on, where leads leave, and the
messages and touches leads had before SQL."""

import streamlit as st

from analytics import charts
from analytics.sequences import exit_summary, list_sequences, messages_before_sql, sequence_report, step_verdict
from dashboard import drawn, run_query, shared_filters
from pages import reroute

DAYS = (1, 2, 3, 7, 14, 30)


def _steps(table, days: int) -> None:
    st.info(step_verdict(table, days), icon=":material/trending_up:")
    left, right = st.columns(2)
    with left:
        st.markdown("**Sent, opened, clicked**")
        st.plotly_chart(drawn(charts.sequence_reach, table), width="stretch", theme=None)
    with right:
        st.markdown(f"**Moved on a stage within {days} days of the message**")
        st.plotly_chart(drawn(charts.sequence_effect, table, days), width="stretch", theme=None)
    st.caption(f"A step's recipients who were still open when it was sent and whose {days} days have passed, against "
               "leads of the same age (days since they came in) and stage that were not in the sequence yet. A step's "
               f"{days} days can include the next messages' effect; a short period credits each message with its own.")
    percent = {c: st.column_config.NumberColumn(label, format="%.1f%%") for c, label in (
        ("open_rate_pct", "Open rate"), ("click_rate_pct", "Click rate"), ("advance_rate_pct", "Moved on"),
        ("expected_rate_pct", "Not in the sequence yet"))}
    points = {c: st.column_config.NumberColumn(label, format="%+.1f pts") for c, label in (
        ("difference_pct", "Difference"), ("difference_ci_low_pct", "95% CI from"), ("difference_ci_high_pct", "to"))}
    rates = ["open_rate", "click_rate", "advance_rate", "expected_rate", "difference", "difference_ci_low",
             "difference_ci_high"]
    shown = table.assign(**{f"{c}_pct": table[c] * 100 for c in rates})
    st.dataframe(shown, hide_index=True, width="stretch", placeholder="–",
                 column_order=("step", "day", "sent", "opened", "clicked", "open_rate_pct", "click_rate_pct",
                               "followed", "advance_rate_pct", "expected_rate_pct", "difference_pct",
                               "difference_ci_low_pct", "difference_ci_high_pct"),
                 column_config={"step": "Step", "day": st.column_config.NumberColumn("Day", format="%.0f"),
                                "sent": st.column_config.NumberColumn("Sent", format="%,d"),
                                "opened": st.column_config.NumberColumn("Opened", format="%,d"),
                                "clicked": st.column_config.NumberColumn("Clicked", format="%,d"),
                                "followed": st.column_config.NumberColumn(
                                    "Followed", format="%,d", help="Recipients still open at the send whose days "
                                                                   "have passed."), **percent, **points})


def _exits(exits) -> None:
    st.subheader("Where leads leave the sequence")
    st.markdown(exit_summary(exits))
    st.plotly_chart(drawn(charts.sequence_exits, exits), width="stretch", theme=None)
    st.caption("Each enrolled lead at the last step it got. Why it got no more: it moved on a stage, unsubscribed or "
               "was lost before the next message was due (1.5 times the usual gap); still in the sequence: the next "
               "one is not due yet.")


def _before_sql(filters) -> None:
    st.subheader("Messages and touches before SQL, by seniority")
    table = run_query(messages_before_sql, filters)
    if table.empty:
        st.info("No lead in this selection has reached SQL yet.")
        return
    st.dataframe(table.assign(seniority=table["seniority"].map(charts.label),
                              enrolled_share=table["enrolled_share"] * 100),
                 hide_index=True, width="stretch", placeholder="–",
                 column_config={
                     "seniority": "Seniority", "sql_leads": st.column_config.NumberColumn("SQL leads", format="%,d"),
                     "enrolled": st.column_config.NumberColumn("Sent messages first", format="%,d"),
                     "enrolled_share": st.column_config.NumberColumn("Share", format="%.0f%%"),
                     "median_messages": st.column_config.NumberColumn("Median messages", format="%.1f"),
                     "p75_messages": st.column_config.NumberColumn("75th percentile", format="%.1f"),
                     "median_opens": st.column_config.NumberColumn("Median opens", format="%.1f"),
                     "median_clicks": st.column_config.NumberColumn("Median clicks", format="%.1f"),
                     "median_touches": st.column_config.NumberColumn(
                         "Median touches", format="%.1f", help="Every touch before SQL (opens, clicks, visits, "
                                                               "webinars ...), over all SQL leads; messages sent are "
                                                               "not touches.")})
    st.caption("Messages, opens and clicks of sequences before the lead's first SQL, over the SQL leads that had been "
               "sent any.")


def render() -> None:
    filters = shared_filters()
    st.title("Nurture sequences")
    sequences = run_query(list_sequences, filters)
    if sequences.empty:
        st.info("No nurture sequence in this selection. A sequence is read from events: `email_sent` for every "
                "message sent to a lead, `email_open`, `email_click` and `email_unsubscribe`, each with the "
                "sequence's name as `campaign_id` (import per-recipient activity exports on the Data page).",
                icon=":material/mail:")
        _before_sql(filters)
        return
    columns = st.columns([2, 1, 2])
    sequence = columns[0].selectbox("Sequence", sequences["sequence"].tolist(), key="sequence", bind="query-params")
    days = columns[1].selectbox("Moved on within", DAYS, index=DAYS.index(3), key="days", bind="query-params",
                                format_func=lambda d: f"{d} day{'s' if d > 1 else ''}")
    row = sequences.set_index("sequence").loc[sequence]
    columns[2].markdown(f"**{row['leads']:,} leads** sent **{row['messages']:,} messages**, "
                        f"{row['first_sent_at']:%d %b %Y} to {row['last_sent_at']:%d %b %Y}.")
    report = run_query(sequence_report, filters, sequence, days)  # steps and exits from one pass over the events
    _steps(report.steps, days)
    _exits(report.exits)
    _before_sql(filters)


if __name__ == "__main__":
    reroute()
