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
from typing import NamedTuple

import duckdb
import numpy as np
import pandas as pd

from analytics import journeys
from analytics.campaigns import MESSAGE_SENT, SENIORITY_ORDER, _sql_leads_sql
from analytics.filters import Filters
from analytics.funnel import NONE_GROUP, FunnelSpec, _journey_units_query, _units_query, wilson_interval

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


_ENTRY = FunnelSpec(stages=("lead", "mql", "sql", "won"), mode="implied")  # who enters, and when


def entrants_sql(con: duckdb.DuckDBPyConnection, filters: Filters) -> tuple[str, dict]:
    """SQL with the funnel's entrants as leads (lead_id, entered_at) under `filters`, and its parameters: a
    lead enters at its first `lead` event, or at its first later stage when it has none (implied mode)."""
    units, params = _units_query(con, _ENTRY, filters)
    return f"SELECT unit_id AS lead_id, entered_at FROM ({units})", params


def chooses_leads(filters: Filters) -> bool:
    """Whether `filters` choose some of the leads (an entry range, channels or campaigns): then picking the
    entrants' events before grouping them is cheaper than grouping everyone's."""
    return bool(filters.since or filters.until or filters.channels or filters.campaigns)


def entrant_journeys_sql(con: duckdb.DuckDBPyConnection, filters: Filters) -> tuple[str, dict] | None:
    """`entrants_sql` followed by each entrant's journey columns (`analytics.journeys`), read in the same pass
    over the journey table; None when that table cannot answer (then read the events)."""
    units = _journey_units_query(con, _ENTRY, filters)
    if units is None:
        return None
    sql, params = units
    return f"SELECT unit_id AS lead_id, * EXCLUDE (unit_id) FROM ({sql})", params


def _stage_times_sql(con: duckdb.DuckDBPyConnection, filters: Filters) -> tuple[str, dict]:
    """SQL with each entrant (lead_id, entered_at) and its first MQL, SQL, won and lost time at or after its
    entry and before the as-of instant (t_mql ... t_lost), and its parameters. Read from the entrants' journey
    columns when the journey table answers: its `first_from_sql` is that time exactly (`analytics.journeys`);
    else from the events."""
    entrant_journeys = entrant_journeys_sql(con, filters)
    if entrant_journeys is not None:
        sql, params = entrant_journeys
        firsts = ", ".join(f"{journeys.first_from_sql(stage, 'entered_at')} AS t_{stage}" for stage in _LATER_STAGES)
        return f"SELECT lead_id, entered_at, {firsts} FROM ({sql})", params
    entrants, params = entrants_sql(con, filters)
    firsts = ", ".join(f"min(e.occurred_at) FILTER (WHERE e.stage = '{stage}') AS t_{stage}" for stage in _LATER_STAGES)
    return f"""
        SELECT n.lead_id, n.entered_at, {firsts}
        FROM ({entrants}) n LEFT JOIN events e
          ON e.lead_id = n.lead_id AND e.occurred_at >= n.entered_at AND e.occurred_at < $as_of
         AND e.stage IN ('mql', 'sql', 'won', 'lost')
        GROUP BY ALL""", params


def _base_ctes(con: duckdb.DuckDBPyConnection, filters: Filters, sequence: str) -> tuple[str, dict]:
    """CTEs `stage_times` (the entrants with their stage times: `_stage_times_sql`), `enrolled` (the entrants
    the sequence sent a message: their stage times, `sent_times` (their messages' times in order),
    `open_times`, `click_times` and `unsubscribe_times` (unordered)) and `sends` (one row per message: lead_id,
    step, sent_at, next_sent_at, enrolled_at, the lead's entered_at and stage times, and whether it was opened
    and clicked) of one sequence.

    The sequence's events are grouped per lead once: a message's step is its place in the lead's list, its
    responses are the lead's times between it and the next message (`_responded`), so the messages are
    neither sorted as a whole nor joined to their responses; only the messages' list is sorted, the responses
    are only looked for. The join with `stage_times` keeps the entrants' lists; when the filters choose some
    leads, their events are also picked before grouping (`chooses_leads`).
    """
    stage_times, params = _stage_times_sql(con, filters)
    chosen = "AND lead_id IN (SELECT lead_id FROM stage_times)" if chooses_leads(filters) else ""
    responses = ", ".join(f"list(occurred_at) FILTER (WHERE stage = ${kind}) AS {name}_times"
                          for kind, name in (("opened", "open"), ("clicked", "click"), ("unsubscribed", "unsubscribe")))
    sql = f"""
        stage_times AS ({stage_times}),
        activity AS (
            SELECT lead_id, list_sort(list(occurred_at) FILTER (WHERE stage = $sent)) AS sent_times, {responses}
            FROM events
            WHERE campaign_id = $sequence AND occurred_at < $as_of
              AND stage IN ($sent, $opened, $clicked, $unsubscribed) {chosen}
            GROUP BY lead_id HAVING count(*) FILTER (WHERE stage = $sent) > 0),
        enrolled AS (SELECT * FROM stage_times JOIN activity USING (lead_id)),
        sends AS (
            SELECT lead_id, step, sent_at, next_sent_at, sent_times[1] AS enrolled_at, entered_at,
                   {', '.join(f't_{stage}' for stage in _LATER_STAGES)},
                   {_responded('open_times')} AS opened, {_responded('click_times')} AS clicked
            FROM (SELECT *, sent_times[step + 1] AS next_sent_at
                  FROM (SELECT *, unnest(sent_times) AS sent_at, generate_subscripts(sent_times, 1) AS step
                        FROM enrolled)))"""
    return sql, params | {"sequence": sequence, "sent": MESSAGE_SENT, "opened": MESSAGE_OPENED,
                          "clicked": MESSAGE_CLICKED, "unsubscribed": UNSUBSCRIBED}


def _responded(times: str) -> str:
    """SQL: whether the lead has one of `times` (a list column) at or after the message (`sent_at`) and
    before its next one (`next_sent_at`), which credits it to this message."""
    return (f"coalesce(len(list_filter({times}, lambda x: x >= sent_at "
            "AND (next_sent_at IS NULL OR x < next_sent_at))) > 0, false)")


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


def _per_step_cte(gaps: bool) -> str:
    """CTE `per_step` over `sends`: per step its median day since enrolment, messages sent, opened and clicked;
    with `gaps`, also the median time to the next message in seconds (`gap`, for `sequence_exits`)."""
    gap = ", median(epoch(next_sent_at) - epoch(sent_at)) AS gap" if gaps else ""
    return f"""
        per_step AS (
            SELECT step, median(epoch(sent_at) - epoch(enrolled_at)) / 86400 AS day, count(*) AS sent,
                   count(*) FILTER (WHERE opened) AS opened, count(*) FILTER (WHERE clicked) AS clicked{gap}
            FROM sends GROUP BY step)"""


def _comparison_ctes() -> str:
    """CTEs `cells` (followed recipients per step, stage and age: n, adv) and `controls` (the comparison leads
    per stage and age: control_n, control_adv) of `sequence_steps`, over `_base_ctes` with parameter `$days`."""
    daily = _DAILY_AGES
    return f"""
        exposed AS (
            SELECT step, age_days, {_stage_at('sent_at')} AS stage_idx,
                   {_stage_at('sent_at + to_days($days)')} > {_stage_at('sent_at')} AS advanced,
                   CASE WHEN d < {daily} THEN d ELSE d - (d - {daily}) % 7 END AS age
            FROM (SELECT *, (epoch(sent_at) - epoch(entered_at)) / 86400 AS age_days,
                         CAST(floor(age_days) AS BIGINT) AS d
                  FROM sends)
            WHERE d >= 0 AND NOT {_closed_at('sent_at')} AND sent_at + to_days($days) <= $as_of),
        cells AS (
            SELECT step, stage_idx, age, count(*) AS n, count(*) FILTER (WHERE advanced) AS adv,
                   sum(age_days) AS age_days
            FROM exposed GROUP BY ALL),
        ages AS (  -- each age's landmark: the recipients' mean exact age, in microseconds since entry
            SELECT age, CAST(round(sum(age_days) / sum(n) * 86400) AS BIGINT) * 1000000 AS u FROM cells GROUP BY age),
        enrolments AS (SELECT lead_id, sent_times[1] AS enrolled_at FROM enrolled),
        offsets AS (  -- per entrant, microseconds from its entry to each stage, to the end of its comparison
            -- (closed or enrolled: it compares before then) and to the last landmark its days have passed after
            SELECT epoch_us(t_mql) - e AS m, epoch_us(t_sql) - e AS s, epoch_us(t_won) - e AS w,
                   least(epoch_us(t_won), epoch_us(t_lost), epoch_us(enrolled_at)) - e AS stop,
                   epoch_us($as_of) - e - $days * {_DAY_US} AS last
            FROM (SELECT *, epoch_us(entered_at) AS e FROM stage_times) LEFT JOIN enrolments USING (lead_id)),
        spans AS (  -- per entrant, the last instant it compares at (at landmarks u <= until) and whether it
            -- is still: it reaches no further stage by then and its days after, so it is a lead that does not
            -- advance at every landmark it compares at
            SELECT *, {' AND '.join(f'({x} IS NULL OR {x} > until + $days * {_DAY_US})' for x in 'msw')} AS still
            FROM (SELECT *, CASE WHEN stop IS NULL OR stop - 1 > last THEN last ELSE stop - 1 END AS until
                  FROM offsets)),
        controls AS (
            SELECT stage_idx, age, CAST(sum(n) AS BIGINT) AS control_n, CAST(sum(adv) AS BIGINT) AS control_adv
            FROM (SELECT age, {_offset_stage('u')} AS stage_idx, 1 AS n,
                         CASE WHEN {_offset_stage(f'u + $days * {_DAY_US}')} > {_offset_stage('u')} THEN 1 ELSE 0 END
                             AS adv
                  FROM spans JOIN ages ON u <= until WHERE NOT still
                  UNION ALL  -- still entrants, counted at each landmark in one sorted pass (until >= u), not
                  -- joined to every landmark they reach
                  SELECT age, 1, n, 0
                  FROM (SELECT age, landmark,
                               sum(1 - landmark) OVER (ORDER BY pos DESC, landmark ROWS UNBOUNDED PRECEDING) AS n
                        FROM (SELECT until AS pos, 0 AS landmark, NULL AS age FROM spans WHERE still
                              UNION ALL SELECT u, 1, age FROM ages))
                  WHERE landmark = 1)
            GROUP BY ALL)"""


_STEP_ROWS = """
        SELECT r.step, r.day, r.sent, r.opened, r.clicked, c.n, c.adv, coalesce(k.control_n, 0) AS control_n,
               coalesce(k.control_adv, 0) AS control_adv
        FROM per_step r LEFT JOIN cells c USING (step) LEFT JOIN controls k USING (stage_idx, age)"""


def _exit_ctes() -> str:
    """CTE `exits` of `sequence_exits` (step, day, reason, o: the reason's place in `EXIT_REASONS`, leads,
    share) over `_base_ctes` and `per_step` with gaps, with parameter `$reasons`."""
    return f"""
        last_sends AS (  -- its first unsubscribe after any of its messages: the first at or after its first
            SELECT *, len(sent_times) AS last_step, list_max(sent_times) AS last_sent,
                   list_min(list_filter(unsubscribe_times, lambda x: x >= sent_times[1])) AS unsubscribed_at
            FROM enrolled),
        final AS (SELECT max(step) AS final_step FROM per_step),
        timed AS (
            SELECT l.*, l.last_sent + to_seconds(CAST(1.5 * g.gap AS BIGINT)) AS due, f.final_step
            FROM last_sends l JOIN per_step g ON g.step = l.last_step, final f),
        classified AS (
            SELECT last_step,
                   CASE WHEN last_step = final_step THEN 'finished'
                        WHEN due > $as_of THEN 'active'
                        WHEN unsubscribed_at BETWEEN last_sent AND due THEN 'unsubscribed'
                        WHEN {_stage_at('due')} > {_stage_at('last_sent')} THEN 'advanced'
                        WHEN t_lost BETWEEN last_sent AND due THEN 'lost'
                        ELSE 'stopped' END AS reason
            FROM timed),
        counts AS (SELECT last_step AS step, reason, count(*) AS leads FROM classified GROUP BY ALL),
        exits AS (
            SELECT g.step, g.day, r.reason, r.o, coalesce(c.leads, 0) AS leads,
                   coalesce(c.leads, 0) / (SELECT count(*) FROM classified) AS share
            FROM per_step g CROSS JOIN (SELECT unnest($reasons) AS reason, generate_subscripts($reasons, 1) AS o) r
            LEFT JOIN counts c ON c.step = g.step AND c.reason = r.reason)"""


def sequence_steps(con: duckdb.DuckDBPyConnection, filters: Filters, sequence: str, days: int = 3) -> pd.DataFrame:
    """Per step of `sequence`: reach, response, and whether it moves leads (module docstring).

    Columns (`STEP_COLUMNS`): step, day (median days since enrolment), sent, opened, clicked, open_rate,
    click_rate; followed (recipients open at the send whose `days` have passed), advanced, advance_rate
    with its 95% Wilson interval; expected_rate (leads of the same age and stage not sent the step yet),
    difference (advance_rate - expected_rate) with a 95% interval, comparisons (lead-ages compared) and
    not_compared (followed recipients in an age and stage with no comparison lead, left out of both rates).
    """
    base, params = _base_ctes(con, filters, sequence)
    rows = con.execute(f"WITH {base}, {_per_step_cte(False)}, {_comparison_ctes()} {_STEP_ROWS} ORDER BY r.step",
                       params | {"days": days}).df()
    return _steps_table(rows)


def _steps_table(rows: pd.DataFrame) -> pd.DataFrame:
    """`sequence_steps`' table from `_STEP_ROWS` in step order (reach repeats on each cell's row: one query
    reads the sequence's messages and responses once)."""
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
    return con.execute(f"WITH {base}, {_per_step_cte(True)}, {_exit_ctes()} "
                       "SELECT step, day, reason, leads, share FROM exits ORDER BY step, o",
                       params | {"reasons": list(EXIT_REASONS)}).df()


class SequenceReport(NamedTuple):
    """`sequence_steps` and `sequence_exits` of one sequence."""

    steps: pd.DataFrame
    exits: pd.DataFrame


def sequence_report(con: duckdb.DuckDBPyConnection, filters: Filters, sequence: str, days: int = 3) -> SequenceReport:
    """`sequence_steps` and `sequence_exits` in one query, which reads and groups the sequence's events once
    for both (what the page shows together): the steps' rows, then the exits' rows, told apart by `part`."""
    base, params = _base_ctes(con, filters, sequence)
    rows = con.execute(
        f"""
        WITH {base}, {_per_step_cte(True)}, {_comparison_ctes()}, {_exit_ctes()}
        SELECT 1 AS part, step, day, sent, opened, clicked, n, adv, control_n, control_adv, NULL AS reason,
               NULL AS o, NULL AS leads, NULL AS share
        FROM ({_STEP_ROWS})
        UNION ALL
        SELECT 2, step, day, NULL, NULL, NULL, NULL, NULL, NULL, NULL, reason, o, leads, share FROM exits
        ORDER BY part, step, o
        """,
        params | {"days": days, "reasons": list(EXIT_REASONS)},
    ).df()
    counts = {c: "int64" for c in ("step", "sent", "opened", "clicked", "control_n", "control_adv")}
    steps = _steps_table(rows.loc[rows["part"] == 1].astype(counts).reset_index(drop=True))
    exits = rows.loc[rows["part"] == 2, ["step", "day", "reason", "leads", "share"]].reset_index(drop=True)
    return SequenceReport(steps, exits.astype({"step": "int64", "leads": "int64", "share": "float64"}))


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

