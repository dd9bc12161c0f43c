"""Nurture sequences: what each message step reaches, whether it moves leads, and where leads leave.

How a sequence is found in the data (DESIGN.md's events: lead_id, stage, occurred_at, campaign_id): every
message a sequence sends a lead is an event of stage `email_sent` whose `campaign_id` names the sequence;
opens, clicks and unsubscribes are `email_open`, `email_click` and `email_unsubscribe` events with the same
`campaign_id`. This is what the per-recipient activity exports of email tools hold (HubSpot sequence and
email events, Mailchimp journey activity: one row per contact, action and time, with the sequence or
journey name), imported one action per file with `--stage email_sent --map campaign_id="Sequence name"`.

Choices:

- **Steps.** A lead's k-th `email_sent` of a sequence (in time order) is its step k; its day is the time
  since the lead's first message of that sequence (its enrolment). A step is labelled by the median day
  of its messages, so a schedule of day 0, 1, 3, 7, then monthly reads as such.
- **Opens and clicks** of a sequence are credited to the lead's latest message of it at or before them;
  `opened` and `clicked` count leads, and their rates are over messages sent.
- **Stages** at an instant: the furthest of lead (entry), MQL, SQL and won the lead has reached by then,
  each at its first event after entry; a lead is closed once won or lost. A lead *advances* within N days
  (default 3) after an instant when it reaches a further stage in the N days that follow, inclusive.
- **Does a step move leads?** Its recipients that were open at the send and whose N days have passed at
  the as-of date: the share that advanced within N days of the message, against leads of the same age
  and stage that had not been sent anything from the sequence yet (never enrolled, or enrolled later),
  followed for N days from the same age. Ages are whole days since entry up to 60 days, then weeks; the
  comparison leads are looked at the recipients' mean exact age in each of these, and their rates are
  standardised to the recipients' mix of ages and stages, so a step sent to young leads is not credited
  with how fast young leads move anyway. Not yet sent anything (rather than not yet sent this step):
  leads one step behind have just had the previous message, whose effect would count against this one.
  N days after a step can include the next steps' effects (day 1 and day 3 messages follow the day 0
  one closely): a short N (default 3 days) credits each message mostly with its own. Comparison leads
  enrolled during their N days stay in the comparison, which if anything hides some of the effect.
  The 95% interval of the difference is normal, the comparison's variance summed over its cells; a lead
  is compared at several ages, which makes the interval a little narrow. Without leads outside the
  sequence at those ages (everyone enrolled on day 0, no holdout) there is nothing to compare with.
- **Where leads leave**: each enrolled lead's last step so far. It *finished* when that is the last step
  any lead got; it is *still active* when its next message is not due yet (1.5 times the median gap to
  the next step); otherwise the reason is what happened between its last message and the due date:
  unsubscribed, advanced (reached a further stage: sequences usually stop at MQL or SQL), lost, or else
  stopped (no reason recorded).
- The shared filters select leads as on the Funnel page (entry range, first-touch channel and campaign);
  events after the as-of instant do not exist.
"""

from __future__ import annotations

from statistics import NormalDist

import duckdb
import numpy as np
import pandas as pd

from analytics import journeys
from analytics.campaigns import MESSAGE_SENT, SENIORITY_ORDER, _sql_leads_sql
from analytics.filters import Filters
from analytics.funnel import NONE_GROUP, FunnelSpec, _units_query, wilson_interval

MESSAGE_OPENED = "email_open"
MESSAGE_CLICKED = "email_click"
UNSUBSCRIBED = "email_unsubscribe"
EXIT_REASONS = ("finished", "advanced", "unsubscribed", "lost", "stopped", "active")
STEP_COLUMNS = ["step", "day", "sent", "opened", "clicked", "open_rate", "click_rate", "followed", "advanced",
                "advance_rate", "ci_low", "ci_high", "expected_rate", "difference", "difference_ci_low",
                "difference_ci_high", "comparisons", "not_compared"]
_DAILY_AGES = 60  # recipients are grouped by age in whole days up to here, then in weeks
_DAY_US = 86_400_000_000
_LATER_STAGES = ("mql", "sql", "won", "lost")


def _stage_at(x: str) -> str:
    """SQL: the stage index (1 lead, 2 MQL, 3 SQL, 4 won) reached by instant `x`, over stage_times columns."""
    return f"(CASE WHEN t_won <= {x} THEN 4 WHEN t_sql <= {x} THEN 3 WHEN t_mql <= {x} THEN 2 ELSE 1 END)"


def _offset_stage(u: str) -> str:
    """`_stage_at` at `u` microseconds after entry, over the offsets m, s, w (microseconds from entry to each
    stage): the same comparisons in whole numbers, which the comparison with every entrant at every age makes
    many of."""
    return f"(CASE WHEN w <= {u} THEN 4 WHEN s <= {u} THEN 3 WHEN m <= {u} THEN 2 ELSE 1 END)"


def _closed_at(x: str) -> str:
    return f"(coalesce(t_won <= {x}, false) OR coalesce(t_lost <= {x}, false))"


def entrants_sql(con: duckdb.DuckDBPyConnection, filters: Filters) -> tuple[str, dict]:
    """SQL with the funnel's entrants as leads (lead_id, entered_at) under `filters`, and its parameters: a
    lead enters at its first `lead` event, or at its first later stage when it has none (implied mode)."""
    units, params = _units_query(con, FunnelSpec(stages=("lead", "mql", "sql", "won"), mode="implied"), filters)
    return f"SELECT unit_id AS lead_id, entered_at FROM ({units})", params


def _stage_times_sql(con: duckdb.DuckDBPyConnection) -> str:
    """SQL for each entrant (CTE `entrants`) with its first MQL, SQL, won and lost time at or after its entry
    and before the as-of instant (t_mql ... t_lost). Read from the journey table when it is current: its
    `first_from_sql` is that time exactly (`analytics.journeys`); else from the events."""
    if journeys.is_current(con):
        firsts = ", ".join(f"{journeys.first_from_sql(stage, 'n.entered_at')} AS t_{stage}" for stage in _LATER_STAGES)
        return f"SELECT n.lead_id, n.entered_at, {firsts} FROM entrants n LEFT JOIN journeys USING (lead_id)"
    firsts = ", ".join(f"min(e.occurred_at) FILTER (WHERE e.stage = '{stage}') AS t_{stage}" for stage in _LATER_STAGES)
    return f"""
        SELECT n.lead_id, n.entered_at, {firsts}
        FROM entrants n LEFT JOIN events e
          ON e.lead_id = n.lead_id AND e.occurred_at >= n.entered_at AND e.occurred_at < $as_of
         AND e.stage IN ('mql', 'sql', 'won', 'lost')
        GROUP BY ALL"""


def _base_ctes(con: duckdb.DuckDBPyConnection, filters: Filters, sequence: str) -> tuple[str, dict]:
    """CTEs `stage_times` (entrants with their stage times), `sends` (lead_id, step, sent_at, next_sent_at,
    enrolled_at) and `responses` (lead_id, step, opened, clicked, unsubscribed_at) of one sequence.

    `responses` has a row only for the messages that an open, click or unsubscribe followed (before the
    lead's next message): join it to `sends` with LEFT JOIN. Only those few are grouped, so the messages
    are not joined to themselves.
    """
    entrants, params = entrants_sql(con, filters)
    sql = f"""
        entrants AS ({entrants}),
        stage_times AS ({_stage_times_sql(con)}),
        activity AS (
            SELECT e.lead_id, e.stage, e.occurred_at FROM events e
            WHERE e.campaign_id = $sequence AND e.occurred_at < $as_of
              AND e.stage IN ($sent, $opened, $clicked, $unsubscribed)
              AND e.lead_id IN (SELECT lead_id FROM entrants)),
        sends AS (
            SELECT lead_id, occurred_at AS sent_at,
                   row_number() OVER (PARTITION BY lead_id ORDER BY occurred_at) AS step,
                   lead(occurred_at) OVER (PARTITION BY lead_id ORDER BY occurred_at) AS next_sent_at,
                   min(occurred_at) OVER (PARTITION BY lead_id) AS enrolled_at
            FROM activity WHERE stage = $sent),
        responses AS (
            SELECT s.lead_id, s.step, bool_or(a.stage = $opened) AS opened, bool_or(a.stage = $clicked) AS clicked,
                   min(a.occurred_at) FILTER (WHERE a.stage = $unsubscribed) AS unsubscribed_at
            FROM sends s JOIN activity a
              ON a.lead_id = s.lead_id AND a.stage <> $sent AND a.occurred_at >= s.sent_at
             AND (s.next_sent_at IS NULL OR a.occurred_at < s.next_sent_at)
            GROUP BY s.lead_id, s.step)"""
    return sql, params | {"sequence": sequence, "sent": MESSAGE_SENT, "opened": MESSAGE_OPENED,
                          "clicked": MESSAGE_CLICKED, "unsubscribed": UNSUBSCRIBED}


def list_sequences(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """The sequences in the data: one row each, most leads first.

    Columns: sequence (the campaign_id of its messages), leads (entrants it sent a message), messages,
    first_sent_at, last_sent_at.
    """
    entrants, params = entrants_sql(con, filters)
    return con.execute(
        f"""
        SELECT campaign_id AS sequence, count(DISTINCT lead_id) AS leads, count(*) AS messages,
               min(occurred_at) AS first_sent_at, max(occurred_at) AS last_sent_at
        FROM events
        WHERE stage = $sent AND campaign_id IS NOT NULL AND occurred_at < $as_of
          AND lead_id IN (SELECT lead_id FROM ({entrants}))
        GROUP BY campaign_id ORDER BY leads DESC, sequence
        """,
        params | {"sent": MESSAGE_SENT},
    ).df()


def sequence_steps(con: duckdb.DuckDBPyConnection, filters: Filters, sequence: str, days: int = 3) -> pd.DataFrame:
    """Per step of `sequence`: reach, response, and whether it moves leads (module docstring).

    Columns (`STEP_COLUMNS`): step, day (median days since enrolment), sent, opened, clicked, open_rate,
    click_rate; followed (recipients open at the send whose `days` have passed), advanced, advance_rate
    with its 95% Wilson interval; expected_rate (leads of the same age and stage not sent the step yet),
    difference (advance_rate - expected_rate) with a 95% interval, comparisons (lead-ages compared) and
    not_compared (followed recipients in an age and stage with no comparison lead, left out of both rates).
    """
    base, params = _base_ctes(con, filters, sequence)
    daily = _DAILY_AGES
    rows = con.execute(
        f"""
        WITH {base},
        exposed AS (
            SELECT step, age_days, {_stage_at('sent_at')} AS stage_idx,
                   {_stage_at('sent_at + to_days($days)')} > {_stage_at('sent_at')} AS advanced,
                   CASE WHEN d < {daily} THEN d ELSE d - (d - {daily}) % 7 END AS age
            FROM (SELECT s.step, s.sent_at, t.*, (epoch(s.sent_at) - epoch(t.entered_at)) / 86400 AS age_days,
                         CAST(floor(age_days) AS BIGINT) AS d
                  FROM sends s JOIN stage_times t USING (lead_id))
            WHERE d >= 0 AND NOT {_closed_at('sent_at')} AND sent_at + to_days($days) <= $as_of),
        cells AS (
            SELECT step, stage_idx, age, count(*) AS n, count(*) FILTER (WHERE advanced) AS adv
            FROM exposed GROUP BY ALL),
        ages AS (  -- each age's landmark: the recipients' mean exact age, in microseconds since entry
            SELECT age, CAST(round(avg(age_days) * 86400) AS BIGINT) * 1000000 AS u FROM exposed GROUP BY age),
        enrolments AS (SELECT lead_id, min(sent_at) AS enrolled_at FROM sends GROUP BY lead_id),
        offsets AS (  -- per entrant, microseconds from its entry to each stage, to the end of its comparison
            -- (closed or enrolled: it compares before then) and to the last landmark its days have passed after
            SELECT epoch_us(t_mql) - e AS m, epoch_us(t_sql) - e AS s, epoch_us(t_won) - e AS w,
                   least(epoch_us(t_won), epoch_us(t_lost), epoch_us(enrolled_at)) - e AS stop,
                   epoch_us($as_of) - e - $days * {_DAY_US} AS last
            FROM (SELECT *, epoch_us(entered_at) AS e FROM stage_times) LEFT JOIN enrolments USING (lead_id)),
        controls AS (
            SELECT stage_idx, age, count(*) AS control_n, count(*) FILTER (WHERE advanced) AS control_adv
            FROM (SELECT age, {_offset_stage('u')} AS stage_idx,
                         {_offset_stage(f'u + $days * {_DAY_US}')} > {_offset_stage('u')} AS advanced
                  FROM offsets JOIN ages ON u <= last AND (stop IS NULL OR u < stop))
            GROUP BY ALL),
        reach AS (
            SELECT s.step, median(epoch(s.sent_at) - epoch(s.enrolled_at)) / 86400 AS day, count(*) AS sent,
                   count(*) FILTER (WHERE r.opened) AS opened, count(*) FILTER (WHERE r.clicked) AS clicked
            FROM sends s LEFT JOIN responses r USING (lead_id, step) GROUP BY s.step)
        SELECT r.*, c.n, c.adv, coalesce(k.control_n, 0) AS control_n, coalesce(k.control_adv, 0) AS control_adv
        FROM reach r LEFT JOIN cells c USING (step) LEFT JOIN controls k USING (stage_idx, age)
        ORDER BY r.step
        """,
        params | {"days": days},
    ).df()
    # One query, so the sequence's messages and responses are read once: reach repeats on each cell's row.
    reach = rows[["step", "day", "sent", "opened", "clicked"]].drop_duplicates("step", ignore_index=True)
    return _with_comparison(reach, rows.loc[rows["n"].notna(), ["step", "n", "adv", "control_n", "control_adv"]])


def _with_comparison(reach: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Per step: the advance rate of compared recipients against the standardised comparison rate."""
    cells = cells.astype(float)
    compared = cells[cells["control_n"] > 0].copy()
    compared["control_rate"] = compared["control_adv"] / compared["control_n"]
    compared["expected"] = compared["n"] * compared["control_rate"]
    compared["control_var_part"] = compared["n"] ** 2 * compared["control_rate"] * (1 - compared["control_rate"]) \
        / compared["control_n"]
    per_step = compared.groupby("step").agg(
        followed=("n", "sum"), advanced=("adv", "sum"), expected=("expected", "sum"),
        control_var=("control_var_part", "sum"), comparisons=("control_n", "sum"))
    uncompared = cells[cells["control_n"] == 0].groupby("step")["n"].sum().rename("not_compared")
    table = reach.set_index("step").join(per_step).join(uncompared)
    followed = table["followed"].fillna(0)
    rate = table["advanced"] / followed.where(followed > 0)
    expected_rate = table["expected"] / followed.where(followed > 0)
    se = np.sqrt(rate * (1 - rate) / followed + table["control_var"] / followed**2)
    z = NormalDist().inv_cdf(0.975)
    low, high = wilson_interval(table["advanced"].fillna(0), followed)
    table = table.assign(
        followed=followed.astype("int64"), advanced=table["advanced"].fillna(0).astype("int64"),
        comparisons=table["comparisons"].fillna(0).astype("int64"),
        not_compared=table["not_compared"].fillna(0).astype("int64"),
        open_rate=table["opened"] / table["sent"], click_rate=table["clicked"] / table["sent"],
        advance_rate=rate, ci_low=low, ci_high=high, expected_rate=expected_rate,
        difference=rate - expected_rate, difference_ci_low=rate - expected_rate - z * se,
        difference_ci_high=rate - expected_rate + z * se,
    )
    return table.reset_index().astype({"step": "int64"})[STEP_COLUMNS]


def sequence_exits(con: duckdb.DuckDBPyConnection, filters: Filters, sequence: str) -> pd.DataFrame:
    """Where enrolled leads leave `sequence`: one row per (step, reason), every reason of every step.

    Columns: step (the last step the leads got), day (its median day), reason (`EXIT_REASONS`: finished,
    advanced, unsubscribed, lost, stopped, active; module docstring), leads, share (of the sequence's
    enrolled leads).
    """
    base, params = _base_ctes(con, filters, sequence)
    return con.execute(
        f"""
        WITH {base},
        last_sends AS (
            SELECT lead_id, max(step) AS last_step, max(sent_at) AS last_sent FROM sends GROUP BY lead_id),
        gaps AS (
            SELECT step, median(epoch(next_sent_at) - epoch(sent_at)) AS gap,
                   median(epoch(sent_at) - epoch(enrolled_at)) / 86400 AS day
            FROM sends GROUP BY step),
        final AS (SELECT max(step) AS final_step FROM sends),
        unsubscribes AS (SELECT lead_id, min(unsubscribed_at) AS unsubscribed_at FROM responses GROUP BY lead_id),
        timed AS (
            SELECT l.*, t.*, l.last_sent + to_seconds(CAST(1.5 * g.gap AS BIGINT)) AS due, f.final_step,
                   u.unsubscribed_at
            FROM last_sends l JOIN stage_times t USING (lead_id) JOIN gaps g ON g.step = l.last_step
            LEFT JOIN unsubscribes u USING (lead_id), final f),
        classified AS (
            SELECT last_step,
                   CASE WHEN last_step = final_step THEN 'finished'
                        WHEN due > $as_of THEN 'active'
                        WHEN unsubscribed_at BETWEEN last_sent AND due THEN 'unsubscribed'
                        WHEN {_stage_at('due')} > {_stage_at('last_sent')} THEN 'advanced'
                        WHEN t_lost BETWEEN last_sent AND due THEN 'lost'
                        ELSE 'stopped' END AS reason
            FROM timed),
        counts AS (SELECT last_step AS step, reason, count(*) AS leads FROM classified GROUP BY ALL)
        SELECT g.step, g.day, r.reason, coalesce(c.leads, 0) AS leads,
               coalesce(c.leads, 0) / (SELECT count(*) FROM classified) AS share
        FROM gaps g CROSS JOIN (SELECT unnest($reasons) AS reason, generate_subscripts($reasons, 1) AS o) r
        LEFT JOIN counts c ON c.step = g.step AND c.reason = r.reason
        ORDER BY g.step, r.o
        """,
        params | {"reasons": list(EXIT_REASONS)},
    ).df()


def messages_before_sql(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """Sequence messages and touches before SQL, per seniority (staff, manager, head, executive, others).

    Columns: seniority, sql_leads (entrants that reached SQL, funnel lead -> MQL -> SQL), enrolled (of them,
    sent a sequence message before SQL), enrolled_share, then over the enrolled: median_messages,
    p75_messages, median_opens, median_clicks (of sequence messages); median_touches over all SQL leads
    (every touch before SQL: events that are neither funnel stages nor messages sent).
    """
    leads, params = _sql_leads_sql(con, filters)
    return con.execute(
        f"""
        WITH leads AS ({leads}),
        sequences AS (SELECT DISTINCT campaign_id FROM events WHERE stage = $sent AND campaign_id IS NOT NULL),
        counted AS (
            SELECT l.unit_id, l.seniority,
                   count(*) FILTER (WHERE e.stage = $sent AND s.campaign_id IS NOT NULL) AS messages,
                   count(*) FILTER (WHERE e.stage = $opened AND s.campaign_id IS NOT NULL) AS opens,
                   count(*) FILTER (WHERE e.stage = $clicked AND s.campaign_id IS NOT NULL) AS clicks,
                   count(e.stage) FILTER (WHERE NOT list_contains($not_touches, e.stage))
                       AS touches
            FROM leads l
            LEFT JOIN events e ON e.lead_id = l.unit_id AND e.occurred_at < l.sql_at
            LEFT JOIN sequences s ON s.campaign_id = e.campaign_id
            WHERE l.reached_sql GROUP BY ALL)
        SELECT seniority, count(*) AS sql_leads, count(*) FILTER (WHERE messages > 0) AS enrolled,
               count(*) FILTER (WHERE messages > 0) / count(*) AS enrolled_share,
               median(messages) FILTER (WHERE messages > 0) AS median_messages,
               quantile_cont(messages, 0.75) FILTER (WHERE messages > 0) AS p75_messages,
               median(opens) FILTER (WHERE messages > 0) AS median_opens,
               median(clicks) FILTER (WHERE messages > 0) AS median_clicks,
               median(touches) AS median_touches
        FROM counted GROUP BY seniority
        ORDER BY coalesce(list_position($order, seniority), 99), seniority = $none, seniority
        """,
        params | {"sent": MESSAGE_SENT, "opened": MESSAGE_OPENED, "clicked": MESSAGE_CLICKED,
                  "order": list(SENIORITY_ORDER),
                  "none": NONE_GROUP},
    ).df()


def _day(day: float) -> str:
    return "n/a" if pd.isna(day) else f"day {day:.0f}"


def step_verdict(table: pd.DataFrame, days: int = 3) -> str:
    """One sentence naming the step that moves leads most, or saying that none does measurably yet."""
    measured = table[table["difference"].notna()]
    if measured.empty:
        return (f"No step can be judged yet: a step is judged once {days} days have passed after its messages and "
                "leads of the same age and stage that are not in the sequence yet exist.")
    clear = measured[measured["difference_ci_low"] > 0]
    best = (clear if not clear.empty else measured).sort_values("difference", ascending=False).iloc[0]
    detail = (f"{best['advance_rate']:.1%} of the leads sent it advanced a stage within {days} days, against "
              f"{best['expected_rate']:.1%} of leads of the same age and stage not in the sequence yet "
              f"({best['difference'] * 100:+.1f} points, 95% CI {best['difference_ci_low'] * 100:+.1f} to "
              f"{best['difference_ci_high'] * 100:+.1f})")
    name = f"Step {int(best['step'])} ({_day(best['day'])})"
    if clear.empty:
        return f"No step moves leads measurably yet. The closest is {name}: {detail}."
    others = len(clear) - 1
    tail = {0: ".", 1: "; 1 other step moves leads too."}.get(others, f"; {others} other steps move leads too.")
    return f"{name} moves leads most: {detail}{tail}"


def exit_summary(exits: pd.DataFrame) -> str:
    """One sentence on where most leads leave a sequence before finishing it, and why."""
    left = exits[~exits["reason"].isin(["finished", "active"])]
    per_step = left.groupby(["step", "day"], as_index=False)["leads"].sum()
    total = int(exits["leads"].sum())
    if total == 0 or per_step["leads"].sum() == 0:
        return "No lead has left this sequence early."
    top = per_step.sort_values(["leads", "step"], ascending=[False, True]).iloc[0]
    reasons = left[left["step"] == top["step"]].sort_values("leads", ascending=False)
    reason = reasons.iloc[0]
    words = {"advanced": "they moved on a stage", "unsubscribed": "they unsubscribed", "lost": "they were lost",
             "stopped": "they stopped being sent messages without a recorded reason"}
    finished = int(exits.loc[exits["reason"] == "finished", "leads"].sum())
    return (f"Most leads that leave early leave after step {int(top['step'])} ({_day(top['day'])}): "
            f"{int(top['leads']):,} of {total:,} enrolled, {reason['leads'] / top['leads']:.0%} of them because "
            f"{words[reason['reason']]}. {finished:,} ({finished / total:.0%}) got every step.")

