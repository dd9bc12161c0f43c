"""A realistic, deterministic B2B demo warehouse, generated inside DuckDB.

The data tells the stories of DESIGN.md so every page has something true to show:
- eight channels whose funnels differ: display ads bring volume with the worst drop-off, webinars the
  best lead -> sales-inquiry rate;
- seniority levels: senior buyers need more nurture touches (7-10), and engaged senior leads convert
  more, disengaged ones less; leads on their way to sales show more intent (proposals, meetings ...);
- MQL -> SQL takes up to 6 months and SQL -> won / lost up to 5 months, so recent leads are still open
  when the data ends;
- daily campaign spend, impressions and clicks; weekly newsletter sends with an A/B test in which the
  variant with the better click rate converts worse; experiments aggregated and per unit;
- a nurture sequence (`NURTURE_STEPS`: day 0, 1, 3, 7, then monthly) sent to three leads in four from a
  few days after they come in until they become MQL, are lost or unsubscribe, with opens and clicks
  (engaged leads open more, senior ones less); a click sometimes makes a lead an MQL within days, most
  of all after the day-3 case study, so the sequence genuinely moves leads.

Randomness comes from DuckDB's `hash()` of (row number, seed, purpose), so the same seed and end date
give the same rows whatever the thread count, and nothing is held in Python memory: 10 million leads
are as easy as a thousand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import duckdb

from analytics import journeys
from analytics.errors import BadInput
from analytics.progress import Progress, silent, watched
from analytics.schema import DATA_TABLES

SPAN_DAYS = 540  # eighteen months of leads before the end date


@dataclass(frozen=True)
class Channel:
    """How one acquisition channel behaves: its share of leads, stage conversion and media economics."""

    name: str
    share: float
    p_mql: float  # lead -> MQL
    p_sql: float  # MQL -> SQL
    p_won: float  # SQL -> won (the rest is lost)
    ctr: float | None  # clicks per impression; None where there are no impressions
    click_to_lead: float | None
    cost_per_click: float
    daily_fee: float  # fixed daily cost (tools, fees) on top of clicks


CHANNELS: tuple[Channel, ...] = (
    Channel("display", 0.30, 0.20, 0.15, 0.18, 0.0012, 0.012, 1.10, 40.0),
    Channel("paid_search", 0.18, 0.42, 0.32, 0.25, 0.035, 0.045, 3.80, 0.0),
    Channel("newsletter", 0.12, 0.35, 0.26, 0.22, 0.020, 0.030, 0.05, 30.0),
    Channel("webinar", 0.08, 0.72, 0.58, 0.30, 0.015, 0.080, 2.50, 120.0),
    Channel("whitepaper", 0.10, 0.45, 0.26, 0.22, 0.010, 0.060, 2.20, 20.0),
    Channel("proposal_download", 0.06, 0.60, 0.44, 0.30, 0.012, 0.070, 2.80, 10.0),
    Channel("free_trial", 0.10, 0.55, 0.40, 0.27, 0.025, 0.050, 3.10, 60.0),
    Channel("referral", 0.06, 0.50, 0.46, 0.36, None, None, 0.0, 80.0),
)

# (seniority, share of leads, typical nurture touches, touches an engaged lead of that level has)
SENIORITY: tuple[tuple[str, float, float, int], ...] = (
    ("staff", 0.40, 3.0, 2),
    ("manager", 0.30, 4.0, 3),
    ("head", 0.20, 6.5, 7),
    ("executive", 0.10, 8.5, 8),
)

# (touch name, weight): the nurture events between lead creation and a sales conversation.
TOUCHES: tuple[tuple[str, float], ...] = (
    ("email_open", 0.30), ("email_click", 0.12), ("visit", 0.20), ("long_visit", 0.10),
    ("webinar", 0.08), ("whitepaper", 0.07), ("proposal", 0.06), ("trial", 0.04), ("meeting", 0.03),
)

INTENT_FROM = sum(w for _, w in TOUCHES[:3]) / sum(w for _, w in TOUCHES)  # touches after email and visit

NURTURE_SEQUENCE = "nurture-welcome"  # the campaign_id of its email_sent / email_open / email_click events
# (day after enrolment, chance of an open, chance of a click once opened, chance a click makes a lead an MQL)
NURTURE_STEPS: tuple[tuple[int, float, float, float], ...] = (
    (0, 0.32, 0.12, 0.35), (1, 0.26, 0.12, 0.35), (3, 0.26, 0.30, 0.60), (7, 0.22, 0.12, 0.35),
    (30, 0.20, 0.10, 0.30), (60, 0.18, 0.08, 0.30), (90, 0.16, 0.08, 0.30), (120, 0.15, 0.08, 0.30),
)
NURTURE_SHARE = 0.75  # leads enrolled; the others never get the sequence
NURTURE_UNSUBSCRIBE = 0.012  # chance per message that the lead unsubscribes after it


@dataclass(frozen=True)
class DemoSummary:
    """Row counts of what the generator wrote, and the import that owns it."""

    import_id: int
    leads: int
    events: int
    campaigns: int
    sends: int
    experiment_variants: int
    experiment_units: int


def _values(rows: list[tuple[object, ...]]) -> str:
    """Render small literal tables (the parameters above) as a SQL VALUES list."""
    def literal(v: object) -> str:
        if v is None:
            return "NULL"
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"
        return repr(float(v)) if isinstance(v, float) else str(v)
    return ", ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)


def _cumulative(rows: list[tuple[str, float]]) -> list[tuple[str, float, float]]:
    """(name, lower, upper) bounds of each weight on [0, 1), for picking by a uniform number."""
    total = sum(w for _, w in rows)
    bounds, low = [], 0.0
    for name, weight in rows:
        bounds.append((name, low, low + weight / total))
        low += weight / total
    return [(n, lo, 1.0 if i == len(bounds) - 1 else hi) for i, (n, lo, hi) in enumerate(bounds)]


def generate(
    con: duckdb.DuckDBPyConnection,
    leads: int = 20_000,
    seed: int = 7,
    end: date | None = None,
    replace: bool = False,
    progress: Progress | None = None,
) -> DemoSummary:
    """Fill the warehouse behind `con` (a writer) with demo data ending the day before `end` (default today).

    Refuses a warehouse that already holds data unless `replace` is set, which empties it first.
    `progress` hears each table as it is built, ending at 1.0.
    """
    if not 100 <= leads <= 50_000_000:
        raise BadInput(f"--leads must be between 100 and 50,000,000, not {leads:,}")
    end_day = end or date.today()
    end_ts = datetime.combine(end_day, time.min)
    start_ts = end_ts - timedelta(days=SPAN_DAYS)
    has_data = any(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in DATA_TABLES)
    if has_data and not replace:
        raise BadInput("the warehouse already holds data; use --replace to empty it and build the demo, "
                       "or --db to build it in another file")
    report = progress or silent
    report(0.0, "preparing")
    con.execute("BEGIN TRANSACTION")
    try:
        if replace:
            report(0.0, "emptying the warehouse")
            for table in (*DATA_TABLES, "imports"):
                con.execute(f"DELETE FROM {table}")
        import_id = con.execute(
            "INSERT INTO imports (file_name, content_hash, kind, options, imported_by) "
            "VALUES (?, ?, 'demo', ?, 'demo generator') RETURNING import_id",
            [f"demo data ({leads:,} leads, seed {seed})", f"demo:{leads}:{seed}:{end_day}",
             f"leads={leads}; seed={seed}; end={end_day}"],
        ).fetchone()[0]
        _build(con, leads, seed, start_ts, end_ts, import_id, progress)
        watched(con, lambda: journeys.rebuild(con), progress, "building journeys", 0.85, 0.98, 2)
        report(0.98, "counting rows")
        counts = {t: con.execute(f"SELECT count(*) FROM {t} WHERE import_id = ?", [import_id]).fetchone()[0]
                  for t in DATA_TABLES}
        total = sum(counts.values())
        con.execute("UPDATE imports SET rows_read = ?, rows_added = ? WHERE import_id = ?",
                    [total, total, import_id])
        report(0.99, "saving")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        for name in ("demo_channels", "demo_seniority", "demo_touches", "demo_leads"):
            con.execute(f"DROP TABLE IF EXISTS temp.{name}")
    report(1.0, "done")
    return DemoSummary(import_id, *(counts[t] for t in DATA_TABLES))


# Each step of the build: what it is called and where it ends, as a share of the whole demo.
# Measured at 2 million leads: the leads, nurture emails and events take most of the time.
_STEPS = (("leads", 0.14), ("nurture emails", 0.34), ("leads and events", 0.64), ("nurture sends", 0.81),
          ("campaigns", 0.82), ("sends", 0.83), ("experiments", 0.85))


def _build(con: duckdb.DuckDBPyConnection, n: int, seed: int, start_ts: datetime, end_ts: datetime,
           import_id: int, progress: Progress | None = None) -> None:
    span = int((end_ts - start_ts).total_seconds())
    con.execute(f"CREATE OR REPLACE TEMP MACRO u(i, k) AS (hash(i, {int(seed)}, k) % 1000000007) / 1000000007.0")
    # A standard normal from two uniforms (Box-Muller), for deal values and noisy counts.
    con.execute("CREATE OR REPLACE TEMP MACRO z(i, k) AS "
                "sqrt(-2 * ln(greatest(u(i, k), 1e-12))) * cos(2 * pi() * u(i, k + 1000))")
    con.execute("CREATE OR REPLACE TEMP MACRO secs(x) AS to_seconds(CAST(x AS BIGINT))")
    channels = _cumulative([(c.name, c.share) for c in CHANNELS])
    con.execute(
        "CREATE TEMP TABLE demo_channels AS SELECT * FROM (VALUES "
        + _values([(c.name, lo, hi, c.p_mql, c.p_sql, c.p_won, c.ctr, c.click_to_lead, c.cost_per_click,
                    c.daily_fee) for c, (_, lo, hi) in zip(CHANNELS, channels)])
        + ") t(channel, lo, hi, p_mql, p_sql, p_won, ctr, click_to_lead, cpc, daily_fee)"
    )
    seniority = _cumulative([(s[0], s[1]) for s in SENIORITY])
    con.execute(
        "CREATE TEMP TABLE demo_seniority AS SELECT * FROM (VALUES "
        + _values([(s[0], lo, hi, s[2], s[3]) for s, (_, lo, hi) in zip(SENIORITY, seniority)])
        + ") t(seniority, lo, hi, typical_touches, engaged_touches)"
    )
    con.execute(
        "CREATE TEMP TABLE demo_touches AS SELECT * FROM (VALUES "
        + _values(_cumulative(list(TOUCHES))) + ") t(touch, lo, hi)"
    )
    work = (lambda: _build_leads(con, n, start_ts, span), lambda: _build_nurture(con),
            lambda: _write_leads_and_events(con, end_ts, import_id), lambda: _write_nurture(con, end_ts, import_id),
            lambda: _write_campaigns(con, start_ts, end_ts, import_id),
            lambda: _write_sends(con, n, start_ts, end_ts, import_id),
            lambda: _write_experiments(con, n, end_ts, import_id))
    begin = 0.02
    for (step, end), run, statements in zip(_STEPS, work, (1, 3, 3, 2, 1, 1, 2)):
        watched(con, run, progress, f"building {step}", begin, end, statements)
        begin = end


def _build_leads(con: duckdb.DuckDBPyConnection, n: int, start_ts: datetime, span: int) -> None:
    """One row per lead with its whole (future included) journey; later steps cut it at the end date."""
    con.execute(
        f"""
        CREATE TEMP TABLE demo_leads AS
        WITH base AS (
            SELECT i,
                   -- volume grows over time: later days get more leads
                   ? + secs({span} * pow(u(i, 1), 0.8)) AS created_at,
                   u(i, 2) AS u_channel, u(i, 3) AS u_seniority
            FROM range({int(n)}) r(i)
        ), placed AS (
            SELECT b.*, c.channel, c.p_mql, c.p_sql, c.p_won, s.seniority, s.typical_touches,
                   s.engaged_touches
            FROM base b
            JOIN demo_channels c ON b.u_channel >= c.lo AND b.u_channel < c.hi
            JOIN demo_seniority s ON b.u_seniority >= s.lo AND b.u_seniority < s.hi
        ), touched AS (
            SELECT *,
                   CAST(floor(typical_touches * (0.3 + 1.4 * u(i, 4))) AS INTEGER) AS touches
            FROM placed
        ), journey AS (
            SELECT *,
                   touches >= engaged_touches AS engaged,
                   u(i, 5) < p_mql AS is_mql,
                   created_at + secs(86400 * 60 * pow(u(i, 6), 2)) AS mql_at,
                   u(i, 7) < least(0.95, p_sql * CASE
                       WHEN seniority IN ('head', 'executive') AND touches >= engaged_touches THEN 1.45
                       WHEN seniority IN ('head', 'executive') THEN 0.55
                       WHEN touches >= engaged_touches THEN 1.1 ELSE 0.85 END) AS sql_if_mql,
                   86400 * 180 * pow(u(i, 8), 1.6) AS mql_to_sql_seconds,
                   u(i, 9) < p_won AS won_if_sql,
                   86400 * 150 * pow(u(i, 10), 1.3) AS sql_to_close_seconds,
                   u(i, 11) < 0.35 AS disqualified_if_stuck,
                   86400 * 120 * u(i, 12) AS disqualify_seconds,
                   round(9000 * CASE seniority WHEN 'executive' THEN 2.6 WHEN 'head' THEN 1.8
                         WHEN 'manager' THEN 1.2 ELSE 1.0 END * exp(0.45 * z(i, 13)), -1) AS deal_value,
                   'A' || lpad(CAST(hash(i, 14) % {max(n // 3, 1)} AS VARCHAR), 7, '0') AS account_id
            FROM touched
        )
        SELECT i,
               'L' || lpad(CAST(i + 1 AS VARCHAR), 8, '0') AS lead_id,
               created_at, channel, seniority, account_id, touches, engaged,
               upper(left(replace(channel, '_', ''), 3)) || '-' || strftime(created_at, '%Y') || 'Q'
                   || CAST(quarter(created_at) AS VARCHAR) AS campaign_id,
               CASE WHEN is_mql THEN mql_at END AS mql_at,
               CASE WHEN is_mql AND sql_if_mql THEN mql_at + secs(mql_to_sql_seconds) END AS sql_at,
               CASE WHEN is_mql AND sql_if_mql AND won_if_sql
                    THEN mql_at + secs(mql_to_sql_seconds + sql_to_close_seconds) END AS won_at,
               CASE WHEN is_mql AND sql_if_mql AND NOT won_if_sql
                         THEN mql_at + secs(mql_to_sql_seconds + sql_to_close_seconds)
                    WHEN is_mql AND NOT sql_if_mql AND disqualified_if_stuck
                         THEN mql_at + secs(disqualify_seconds) END AS lost_at,
               deal_value
        FROM journey
        """,
        [start_ts],
    )


def _write_leads_and_events(con: duckdb.DuckDBPyConnection, end_ts: datetime, import_id: int) -> None:
    con.execute(
        "INSERT INTO leads (lead_id, created_at, channel, campaign_id, account_id, seniority, attributes, "
        "import_id) SELECT lead_id, created_at, channel, campaign_id, account_id, seniority, "
        "MAP {'company_size': CASE WHEN hash(i, 21) % 10 < 5 THEN '1-50' WHEN hash(i, 21) % 10 < 8 "
        "THEN '51-500' ELSE '500+' END}, ? FROM demo_leads",
        [import_id],
    )
    # Funnel stages: the lead event carries the first touch (channel, campaign); later ones do not.
    con.execute(
        """
        INSERT INTO events (lead_id, stage, occurred_at, channel, campaign_id, value, import_id)
        SELECT lead_id, stage, occurred_at, channel, campaign_id, value, ? FROM (
            SELECT lead_id, 'lead' AS stage, created_at AS occurred_at, channel, campaign_id,
                   NULL::DOUBLE AS value FROM demo_leads
            UNION ALL SELECT lead_id, 'mql', mql_at, NULL, NULL, NULL FROM demo_leads WHERE mql_at IS NOT NULL
            UNION ALL SELECT lead_id, 'sql', sql_at, NULL, NULL, NULL FROM demo_leads WHERE sql_at IS NOT NULL
            UNION ALL SELECT lead_id, 'won', won_at, NULL, NULL, deal_value FROM demo_leads WHERE won_at IS NOT NULL
            UNION ALL SELECT lead_id, 'lost', lost_at, NULL, NULL, NULL FROM demo_leads WHERE lost_at IS NOT NULL
        ) WHERE occurred_at < ?
        """,
        [import_id, end_ts],
    )
    # Nurture touches between lead creation and the sales conversation (or 120 days), most in the first
    # weeks; a lead on its way to sales shows more intent: about a third of its touches are long visits,
    # webinars, whitepapers, proposals, trials or meetings on top of the usual mix.
    con.execute(
        f"""
        INSERT INTO events (lead_id, stage, occurred_at, channel, campaign_id, value, import_id)
        SELECT lead_id, t.touch, occurred_at, NULL, NULL, NULL, ? FROM (
            SELECT lead_id, i, k,
                   created_at + secs(1 + pow(u(i * 64 + k, 31), 1.6) *
                       coalesce(epoch(sql_at) - epoch(created_at) - 2, 86400 * 120)) AS occurred_at,
                   CASE WHEN sql_at IS NOT NULL AND u(i * 64 + k, 33) < 0.35
                        THEN {INTENT_FROM} + (1 - {INTENT_FROM}) * u(i * 64 + k, 32)
                        ELSE u(i * 64 + k, 32) END AS u_touch
            FROM (SELECT lead_id, i, created_at, sql_at, unnest(range(touches)) AS k FROM demo_leads)
        ) x JOIN demo_touches t ON x.u_touch >= t.lo AND x.u_touch < t.hi
        WHERE occurred_at < ?
        """,
        [import_id, end_ts],
    )


def _build_nurture(con: duckdb.DuckDBPyConnection) -> None:
    """The nurture sequence's messages, opens, clicks and unsubscribes per enrolled lead (`demo_nurture`),
    and its effect: a lead that would not have become an MQL, and whose click converts, becomes one within
    two days (and goes no further). The sequence stops at MQL, at a loss or at an unsubscribe."""
    steps = _values([(k, *step) for k, step in enumerate(NURTURE_STEPS, start=1)])
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE demo_nurture AS
        WITH steps AS (SELECT * FROM (VALUES {steps}) t(step, day, p_open, p_click, p_mql)),
        enrolled AS (
            SELECT i, lead_id, engaged, mql_at, sql_at, lost_at,
                   -- senior people open less marketing email
                   CASE seniority WHEN 'executive' THEN 0.5 WHEN 'head' THEN 0.7 WHEN 'manager' THEN 0.9
                        ELSE 1.1 END AS reads,
                   created_at + secs(60 + 86400 * 10 * pow(u(i, 50), 2)) AS enrolled_at
            FROM demo_leads WHERE u(i, 51) < {NURTURE_SHARE}),
        planned AS (
            SELECT e.*, s.step, s.p_mql, i * 16 + s.step AS j, e.enrolled_at + secs(86400 * s.day) AS sent_at,
                   u(j, 52) < {NURTURE_UNSUBSCRIBE} AS unsubscribes,
                   u(j, 53) < s.p_open * e.reads * CASE WHEN e.engaged THEN 1.5 ELSE 0.7 END AS opens,
                   u(j, 54) < s.p_click AS clicks_once_open
            FROM enrolled e CROSS JOIN steps s),
        kept AS (
            SELECT *, coalesce(bool_or(unsubscribes) OVER (PARTITION BY i ORDER BY step
                               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), false) AS gone
            FROM planned),
        timed AS (
            SELECT *, CASE WHEN opens THEN sent_at + secs(3600 * (0.2 + 47 * pow(u(j, 55), 2))) END AS open_at
            FROM kept
            WHERE NOT gone AND sent_at < coalesce(least(mql_at, sql_at, lost_at), 'infinity'::TIMESTAMP))
        SELECT i, lead_id, step, sent_at, open_at,
               CASE WHEN clicks_once_open THEN open_at + secs(30 + 600 * u(j, 56)) END AS click_at,
               CASE WHEN unsubscribes THEN sent_at + secs(600 + 7200 * u(j, 57)) END AS unsubscribed_at,
               CASE WHEN clicks_once_open AND u(j, 58) < p_mql
                    THEN open_at + secs(30 + 600 * u(j, 56) + 86400 * (0.25 + 1.75 * u(j, 59))) END AS mql_from_click
        FROM timed
        """
    )
    con.execute(
        """
        UPDATE demo_leads SET mql_at = n.mql_at
        FROM (SELECT i, min(mql_from_click) AS mql_at FROM demo_nurture GROUP BY i) n
        WHERE demo_leads.i = n.i AND n.mql_at IS NOT NULL AND demo_leads.mql_at IS NULL
        """
    )
    con.execute("DELETE FROM demo_nurture n USING demo_leads l WHERE n.i = l.i AND n.sent_at >= l.mql_at")


def _write_nurture(con: duckdb.DuckDBPyConnection, end_ts: datetime, import_id: int) -> None:
    """The sequence as events of its campaign_id: email_sent, email_open, email_click, email_unsubscribe."""
    try:
        con.execute(
            """
            INSERT INTO events (lead_id, stage, occurred_at, channel, campaign_id, value, import_id)
            SELECT lead_id, stage, occurred_at, NULL, ?, NULL, ? FROM (
                SELECT lead_id, 'email_sent' AS stage, sent_at AS occurred_at FROM demo_nurture
                UNION ALL SELECT lead_id, 'email_open', open_at FROM demo_nurture WHERE open_at IS NOT NULL
                UNION ALL SELECT lead_id, 'email_click', click_at FROM demo_nurture WHERE click_at IS NOT NULL
                UNION ALL SELECT lead_id, 'email_unsubscribe', unsubscribed_at FROM demo_nurture
                          WHERE unsubscribed_at IS NOT NULL
            ) WHERE occurred_at < ?
            """,
            [NURTURE_SEQUENCE, import_id, end_ts],
        )
    finally:
        con.execute("DROP TABLE IF EXISTS temp.demo_nurture")


def _write_campaigns(con: duckdb.DuckDBPyConnection, start_ts: datetime, end_ts: datetime, import_id: int) -> None:
    """Daily rows per quarterly campaign: clicks follow the leads it brought, impressions the CTR."""
    con.execute(
        """
        INSERT INTO campaigns (campaign_id, name, channel, date, start_date, end_date, spend, impressions,
                               clicks, import_id)
        WITH per_campaign AS (
            SELECT campaign_id, channel, min(created_at)::DATE AS first_day FROM demo_leads GROUP BY ALL
        ), days AS (
            SELECT p.campaign_id, p.channel, CAST(d AS DATE) AS day,
                   date_trunc('quarter', p.first_day)::DATE AS q_start
            FROM per_campaign p,
                 range(greatest(date_trunc('quarter', p.first_day), ?::DATE),
                       least(date_trunc('quarter', p.first_day) + INTERVAL 3 MONTH, ?::DATE),
                       INTERVAL 1 DAY) r(d)
        ), daily_leads AS (
            SELECT campaign_id, created_at::DATE AS day, count(*) AS leads FROM demo_leads GROUP BY ALL
        ), shaped AS (
            SELECT d.*, c.ctr, c.click_to_lead, c.cpc, c.daily_fee,
                   coalesce(l.leads, 0) AS leads,
                   hash(d.campaign_id, d.day) AS h
            FROM days d JOIN demo_channels c USING (channel)
            LEFT JOIN daily_leads l USING (campaign_id, day)
        ), counted AS (
            SELECT *, CASE WHEN click_to_lead IS NOT NULL THEN CAST(round((leads + 0.5) / click_to_lead
                      * (0.85 + 0.3 * (h % 1000) / 1000.0)) AS BIGINT) END AS clicks
            FROM shaped
        )
        SELECT campaign_id,
               CASE channel WHEN 'display' THEN 'Display' WHEN 'paid_search' THEN 'Paid search'
                    WHEN 'newsletter' THEN 'Newsletter' WHEN 'webinar' THEN 'Webinars'
                    WHEN 'whitepaper' THEN 'Whitepapers' WHEN 'proposal_download' THEN 'Proposal download'
                    WHEN 'free_trial' THEN 'Free trial' ELSE 'Referral programme' END
                   || ' ' || strftime(q_start, '%Y') || ' Q' || CAST(quarter(q_start) AS VARCHAR) AS name,
               channel, day, NULL, NULL,
               round(coalesce(clicks, 0) * cpc * (0.9 + 0.2 * (h % 997) / 997.0) + daily_fee, 2) AS spend,
               CASE WHEN ctr IS NOT NULL THEN CAST(round(clicks / ctr * (0.9 + 0.2 * (h % 991) / 991.0))
                    AS BIGINT) END AS impressions,
               clicks, ?
        FROM counted
        """,
        [start_ts, end_ts, import_id],
    )


def _write_sends(con: duckdb.DuckDBPyConnection, n: int, start_ts: datetime, end_ts: datetime,
                 import_id: int) -> None:
    """Weekly newsletter A/B sends (B: better clicks, worse conversions), monthly SMS and push."""
    audience = max(500, n // 4)
    con.execute(
        f"""
        INSERT INTO sends (campaign_id, variant, medium, sent_at, sent, delivered, opened, clicked, converted,
                           unsubscribed, import_id)
        WITH plan AS (
            SELECT 'NL-' || strftime(w, '%G-W%V') AS campaign_id, v.variant, 'email' AS medium,
                   w + INTERVAL 2 DAY + INTERVAL 9 HOUR AS sent_at, {audience // 2} AS sent,
                   0.97 AS p_delivered, v.p_open, v.p_click, v.p_convert, 0.002 AS p_unsub
            FROM range(date_trunc('week', ?::TIMESTAMP), ?::TIMESTAMP, INTERVAL 7 DAY) r(w),
                 (VALUES ('A', 0.22, 0.030, 0.0060), ('B', 0.25, 0.038, 0.0042))
                     v(variant, p_open, p_click, p_convert)
            UNION ALL
            SELECT 'SMS-' || strftime(m, '%Y-%m'), NULL, 'sms', m + INTERVAL 14 DAY + INTERVAL 11 HOUR,
                   {audience // 5}, 0.99, 0.0, 0.045, 0.004, 0.006
            FROM range(date_trunc('month', ?::TIMESTAMP), ?::TIMESTAMP, INTERVAL 1 MONTH) r(m)
            UNION ALL
            SELECT 'PUSH-' || strftime(m, '%Y-%m'), NULL, 'push', m + INTERVAL 20 DAY + INTERVAL 16 HOUR,
                   {audience // 3}, 0.92, 0.0, 0.021, 0.0015, 0.001
            FROM range(date_trunc('month', ?::TIMESTAMP), ?::TIMESTAMP, INTERVAL 1 MONTH) r(m)
        ), noisy AS (
            -- deterministic noise per send, so rates wobble from week to week
            SELECT *, hash(campaign_id, variant) AS h FROM plan WHERE sent_at < ?
        ), counted AS (
            SELECT *, CAST(round(sent * p_delivered) AS BIGINT) AS delivered FROM noisy
        )
        SELECT campaign_id, variant, medium, sent_at, sent, delivered,
               CASE WHEN p_open > 0 THEN CAST(round(delivered * p_open * (0.94 + 0.12 * (h % 101) / 101.0)) AS BIGINT) END,
               CAST(round(delivered * p_click * (0.94 + 0.12 * (h % 103) / 103.0)) AS BIGINT),
               CAST(round(delivered * p_convert * (0.9 + 0.2 * (h % 107) / 107.0)) AS BIGINT),
               CAST(round(delivered * p_unsub * (0.8 + 0.4 * (h % 109) / 109.0)) AS BIGINT),
               ?
        FROM counted
        """,
        [start_ts, end_ts, start_ts, end_ts, start_ts, end_ts, end_ts, import_id],
    )


def _write_experiments(con: duckdb.DuckDBPyConnection, n: int, end_ts: datetime, import_id: int) -> None:
    """Three tests: a clear winner, a three-way test without one yet, and a per-unit nurture test."""
    units = max(2_000, n // 2)
    con.execute(
        """
        INSERT INTO experiment_variants (experiment, variant, metric, units, conversions, revenue_sum,
                                         revenue_sumsq, import_id)
        SELECT experiment, variant, 'conversion', units, conversions,
               CASE WHEN mean_value > 0 THEN conversions * mean_value END,
               CASE WHEN mean_value > 0 THEN conversions * (mean_value * mean_value + sd * sd) END, ?
        FROM (VALUES
            ('pricing-page-cta', 'control', ?, 0.024, 5200.0, 2600.0),
            ('pricing-page-cta', 'B', ?, 0.029, 5100.0, 2500.0),
            ('webinar-reminder', 'control', ?, 0.310, 0.0, 0.0),
            ('webinar-reminder', 'sms_1h', ?, 0.318, 0.0, 0.0),
            ('webinar-reminder', 'sms_24h', ?, 0.305, 0.0, 0.0)
        ) t(experiment, variant, units, rate, mean_value, sd)
        CROSS JOIN LATERAL (SELECT CAST(round(units * rate) AS BIGINT) AS conversions)
        """,
        [import_id, units, units + units // 200, units // 3, units // 3 - 7, units // 3 + 11],
    )
    # Per unit: recent leads randomly assigned to the old or new nurture sequence; the new one
    # converts to a meeting a little more often.
    con.execute(
        """
        INSERT INTO experiment_units (experiment, unit_id, variant, converted, value, import_id)
        SELECT 'nurture-sequence', lead_id, variant,
               u(i, 41) < CASE variant WHEN 'control' THEN 0.080 ELSE 0.094 END,
               CASE WHEN u(i, 41) < CASE variant WHEN 'control' THEN 0.080 ELSE 0.094 END
                    THEN round(deal_value / 10, 2) ELSE 0 END,
               ?
        FROM (SELECT *, CASE WHEN hash(i, 40) % 2 = 0 THEN 'control' ELSE 'new_sequence' END AS variant
              FROM demo_leads WHERE created_at >= ?::TIMESTAMP - INTERVAL 120 DAY AND created_at < ?)
        """,
        [import_id, end_ts, end_ts],
    )
