"""The weekly report: one self-contained HTML file (plotly.js inline, no network needed), and its PNG or PDF.

`report_html(summary)` renders a `weekly.WeekSummary`; `build_report(con, ...)` computes the summary first.
The Overview page offers the same file as a download and the presentation slides use the same figures
(`figures`) and KPI cards (`kpi_cards_html`), so the page, the slides, the report and
`python -m analytics weekly` always show the same numbers. Every piece of text that comes from the data
(channel, campaign and experiment names, verdicts) is HTML-escaped; chart text too, which plotly shows as
text.
"""

from __future__ import annotations

import html
import math
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import plotly.graph_objects as go

from analytics import charts
from analytics import abstats
from analytics.progress import Progress, part, silent
from analytics.weekly import WeekSummary, format_amount, week_label, week_summary

CHROMIUM = "/usr/bin/chromium"
THIS_WEEK, WEEK_BEFORE = charts.PALETTE[0], "#9ca3af"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


class ExportUnavailable(RuntimeError):
    """PNG or PDF export needs Playwright and a headless Chromium; this machine lacks one of them."""


KPI_CSS = """
.kpis { display: grid; grid-template-columns: repeat(var(--kpi-columns, auto-fit), minmax(var(--kpi-min, 8em), 1fr));
        gap: 0.6em; font-size: var(--kpi-size, 16px); margin: 0.4em 0 1em; font-family: inherit; }
.kpi { background: #f3f5f9; border-radius: 0.5em; padding: 0.55em 0.75em; min-width: 0; line-height: 1.3; }
.kpi .kpi-label { color: #4b5563; font-weight: 600; }
.kpi .kpi-value { font-size: 2em; font-weight: 700; color: #111827; line-height: 1.2; white-space: nowrap; }
.kpi .kpi-change { font-weight: 600; }
.kpi .kpi-change.good { color: #15803d; } .kpi .kpi-change.bad { color: #b91c1c; }
.kpi .kpi-change.flat { color: #6b7280; }
.kpi .kpi-before { color: #6b7280; }
"""


REPORT_CSS = """
body { font-family: "Source Sans Pro", "Source Sans 3", -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1f2937; margin: 0; background: #fff; font-size: 17px; line-height: 1.45; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 32px 48px; }
h1 { font-size: 2em; margin: 0 0 0.1em; } h2 { font-size: 1.35em; margin: 1.6em 0 0.4em; }
.meta { color: #6b7280; margin: 0 0 1em; }
ul.brief { padding-left: 1.2em; } ul.brief li { margin: 0.25em 0; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0; }
th, td { text-align: left; padding: 0.35em 0.6em; border-bottom: 1px solid #e5e7eb; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #6b7280; font-size: 0.92em; }
.verdict { margin: 0.3em 0 0.7em; } .decided { color: #15803d; font-weight: 700; }
.pending { color: #6b7280; font-weight: 700; }
.chart { margin: 0.3em 0 0.6em; }
footer { margin-top: 2.5em; color: #6b7280; font-size: 0.88em; border-top: 1px solid #e5e7eb; padding-top: 1em; }
""" + KPI_CSS


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _pct(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1%}"


# --- pieces shared with the page and the slides ---------------------------------------------------


def kpi_cards_html(summary: WeekSummary) -> str:
    """The KPI tiles: value, change against the week before (green good, red bad) and the week before's value.

    Each tile carries data-metric and data-value (the JSON figure), so tests can read the numbers back.
    """
    cards = []
    for kpi in summary.kpis:
        record = kpi.record()
        tone = {True: "good", False: "bad", None: "flat"}[kpi.good]
        value = "" if record["value"] is None else record["value"]
        cards.append(
            f'<div class="kpi" data-metric="{_e(kpi.key)}" data-value="{_e(value)}">'
            f'<div class="kpi-label">{_e(kpi.label)}</div>'
            f'<div class="kpi-value">{_e(kpi.text)}</div>'
            f'<div class="kpi-change {tone}">{_e(kpi.change_text)}</div>'
            f'<div class="kpi-before">week before {_e(kpi.previous_text)}</div></div>')
    return f'<div class="kpis">{"".join(cards)}</div>'


def filter_words(summary: WeekSummary) -> str:
    """'all channels and campaigns', or the chosen ones."""
    parts = []
    if summary.channel_filter:
        parts.append("channel " + ", ".join(charts.label(c) for c in summary.channel_filter))
    if summary.campaign_filter:
        parts.append("campaign " + ", ".join(summary.campaign_filter))
    return "; ".join(parts) if parts else "all channels and campaigns"


def meta_line(summary: WeekSummary) -> str:
    partial = "" if summary.complete else " (not over yet: its first days against the same days of the week before)"
    return (f"{summary.label}{partial}, against the week before ({week_label(summary.previous_monday)}); seen as of "
            f"the end of {summary.as_of:%-d %b %Y}; {filter_words(summary)}.")


def figures(summary: WeekSummary) -> dict[str, go.Figure]:
    """The report's and the slides' charts: 'stage_rates', 'channels' and 'cohorts' (when there is data)."""
    shown: dict[str, go.Figure] = {}
    rates = [r for r in summary.stage_rates if r.units or r.previous_units]
    if rates:
        figure = go.Figure()
        names = [r.transition for r in rates]
        for name, colour, values, counts in (
            ("Week before", WEEK_BEFORE, [r.previous_rate for r in rates],
             [(r.previous_converted, r.previous_units) for r in rates]),
            ("This week", THIS_WEEK, [r.rate for r in rates], [(r.converted, r.units) for r in rates]),
        ):
            figure.add_trace(go.Bar(
                x=names, y=[0 if math.isnan(v) else v for v in values], name=name, marker_color=colour,
                text=[_pct(v) for v in values], textposition="outside", cliponaxis=False, customdata=counts,
                hovertemplate="%{x}: %{y:.1%} (%{customdata[0]:,} of %{customdata[1]:,})<extra>" + name + "</extra>"))
        figure = charts.styled(figure, height=360)
        top = max([v for r in rates for v in (r.rate, r.previous_rate) if not math.isnan(v)] or [0.0])
        figure.update_yaxes(tickformat=".0%", range=[0, max(top * 1.25, 0.05)], title="Reached the next stage")
        figure.update_layout(barmode="group", hovermode="closest", bargap=0.3)
        shown["stage_rates"] = _legend_room(figure, 14)
    table = summary.channels[(summary.channels["leads"] > 0) | (summary.channels["previous_leads"] > 0)]
    if not table.empty:
        table = table.iloc[::-1]  # busiest on top
        labels = [_e(charts.label(g)) for g in table["group"]]
        figure = go.Figure()
        figure.add_trace(go.Bar(y=labels, x=table["previous_leads"], name="Week before", orientation="h",
                                marker_color=WEEK_BEFORE, text=table["previous_leads"], textposition="outside",
                                cliponaxis=False, hovertemplate="%{y}: %{x:,} new leads<extra>Week before</extra>"))
        figure.add_trace(go.Bar(y=labels, x=table["leads"], name="This week", orientation="h",
                                marker_color=[charts.colour_of(str(g)) for g in table["group"]],
                                text=table["leads"], textposition="outside", cliponaxis=False,
                                hovertemplate="%{y}: %{x:,} new leads<extra>This week</extra>"))
        figure = charts.styled(figure, height=110 + 44 * len(table))
        figure.update_layout(barmode="group", hovermode="closest", bargap=0.25, showlegend=False,
                             margin={"t": 10})
        figure.update_xaxes(title="New leads: coloured this week, grey the week before", rangemode="tozero")
        figure.update_yaxes(ticksuffix="  ")
        shown["channels"] = figure
    if not summary.cohorts.empty and summary.cohorts["count"].sum() > 0:
        figure = charts.over_time(summary.cohorts, "sql")
        figure.update_xaxes(title="Entry month", tickformat="%b %Y")
        shown["cohorts"] = _legend_room(figure, 14)
    return shown


def _legend_room(figure: go.Figure, size: int) -> go.Figure:
    """Give each legend entry room for its text: plotly measures it before the page's font arrives, which
    otherwise clips the last entry."""
    names = [str(t.name or "") for t in figure.data if t.showlegend is not False]
    if names:
        figure.update_layout(legend={"entrywidth": int(size * 0.62 * max(map(len, names)) + 3 * size + 10),
                                     "entrywidthmode": "pixels"})
    return figure


def enlarged(figure: go.Figure, size: int = 24, height: int | None = None) -> go.Figure:
    """A copy of `figure` for a projector: every text at least `size` px, optionally taller."""
    big = go.Figure(figure)
    big.update_layout(font={"size": size}, legend={"font": {"size": size}},
                      margin={"l": 20, "r": 30, "t": 70, "b": 20}, hoverlabel={"font": {"size": size}})
    big.update_xaxes(tickfont={"size": size}, title_font={"size": size})
    big.update_yaxes(tickfont={"size": size}, title_font={"size": size})
    big.update_traces(textfont={"size": size}, constraintext="none", selector={"type": "bar"})
    big.update_traces(textfont={"size": size}, selector={"type": "funnel"})
    big.update_traces(marker={"size": 14}, line={"width": 4}, selector={"type": "scatter"})
    if height:
        big.update_layout(height=height)
    return _legend_room(big, size)


# --- the report ----------------------------------------------------------------------------------


def _stage_table(summary: WeekSummary) -> str:
    rows = []
    for r in summary.stage_rates:
        noise = {True: "beyond noise", False: "within noise", None: _e(r.reason or "no test")}[r.beyond_noise]
        p = "" if math.isnan(r.p_value) else _e(abstats.format_p(r.p_value))
        rows.append(f"<tr><td>{_e(r.transition)}</td>"
                    f'<td class="num">{_pct(r.previous_rate)} ({r.previous_converted:,} of {r.previous_units:,})</td>'
                    f'<td class="num">{_pct(r.rate)} ({r.converted:,} of {r.units:,})</td>'
                    f"<td>{p} {noise}</td></tr>")
    return ('<table class="stage-rates"><tr><th>Stage</th><th class="num">Week before</th>'
            '<th class="num">This week</th><th>Change (Holm-adjusted)</th></tr>' + "".join(rows) + "</table>")


def _channel_table(summary: WeekSummary) -> str:
    rows = "".join(
        f"<tr><td>{_e(charts.label(r.group))}</td><td class='num'>{r.leads:,}</td>"
        f"<td class='num'>{r.previous_leads:,}</td>"
        f"<td class='num'>{_e(_money(r.spend))}</td><td class='num'>{_e(_money(r.previous_spend))}</td></tr>"
        for r in summary.channels.itertuples(index=False))
    return ('<table class="channels"><tr><th>Channel</th><th class="num">New leads</th><th class="num">Week before</th>'
            '<th class="num">Spend</th><th class="num">Week before</th></tr>' + rows + "</table>")


def _money(value: float) -> str:
    return format_amount(None if pd.isna(value) else float(value), "money")


def _experiments(summary: WeekSummary) -> str:
    if not summary.experiments:
        return '<p class="note">No experiments in the warehouse.</p>'
    items = []
    for e in summary.experiments:
        mark = '<span class="decided">Verdict</span>' if e.decided else '<span class="pending">Running</span>'
        items.append(f'<p class="verdict">{mark} <b>{_e(e.experiment)}</b>: {_e(e.headline)}</p>')
    return "".join(items) + ('<p class="note">Experiments carry no dates in the warehouse: these are their results '
                             "as imported. A verdict: a variant differs significantly from control.</p>")


def report_html(summary: WeekSummary, progress: Progress | None = None) -> str:
    """The whole report as one HTML document; plotly.js is embedded once, inline. `progress` hears each
    chart drawn (the slow part), ending at 1.0."""
    report = progress or silent
    report(0.0, "drawing the charts")
    drawn = figures(summary)
    charts_html: dict[str, str] = {}
    for done, (name, figure) in enumerate(drawn.items()):
        report(done / (len(drawn) + 1), f"drawing the {name.replace('_', ' ')} chart")
        charts_html[name] = figure.to_html(full_html=False, include_plotlyjs=not charts_html, div_id=f"chart-{name}",
                                           config={"displaylogo": False, "responsive": True})
    report(len(drawn) / (len(drawn) + 1), "writing the page")
    unfinished = summary.unfinished_cohorts
    cohort_note = (f"Entry months from {pd.Timestamp(unfinished[0]):%B %Y} on are unfinished (hollow grey points): "
                   "their leads can still convert, so their rates will rise; they are not a drop."
                   if unfinished else "Every entry month shown is finished.")
    brief = "".join(f"<li>{_e(s)}</li>" for s in summary.sentences)
    body = [
        f"<h1>Weekly report: week {summary.monday.isocalendar()[1]}, {summary.monday.isocalendar()[0]}</h1>",
        f'<p class="meta">{_e(meta_line(summary))}</p>',
        '<h2>The week in brief</h2>', f'<ul class="brief">{brief}</ul>',
        "<h2>Key figures</h2>", kpi_cards_html(summary),
        '<p class="note">Activity in the week: leads that entered, and leads whose first MQL, SQL or won deal fell '
        "in it; spend on the days of the week; cost per SQL = spend / SQLs.</p>",
        "<h2>Stage rates</h2>",
        f'<p class="note">Each week\'s new leads at the same age ({summary.age_days} days after their week began): '
        "the share of those reaching a stage that reached the next. A change is beyond normal week-to-week noise "
        "when a two-proportion test gives p &lt; 0.05 after Holm's adjustment for the three stages.</p>",
        charts_html.get("stage_rates", ""), _stage_table(summary),
        "<h2>Channels</h2>", charts_html.get("channels", '<p class="note">No leads in either week.</p>'),
        _channel_table(summary),
        "<h2>Experiments</h2>", _experiments(summary),
        "<h2>Cohorts</h2>",
        '<p class="note">Share of each entry month\'s leads that reached SQL so far.</p>',
        charts_html.get("cohorts", '<p class="note">No entry months to show.</p>'),
        f'<p class="note">{_e(cohort_note)}</p>',
        f"<footer>Made by <code>python -m analytics report --week {_e(summary.week)}</code>. The same figures: "
        f"<code>python -m analytics weekly --week {_e(summary.week)} --as-of {summary.as_of.isoformat()}</code>."
        "</footer>",
    ]
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Weekly report {_e(summary.week)}</title><style>{REPORT_CSS}</style></head>"
            f"<body><main>{''.join(body)}</main></body></html>\n")
    report(1.0, "done")
    return page


def build_report(con: duckdb.DuckDBPyConnection, week: date | str | None = None, as_of: date | None = None,
                 channels: tuple[str, ...] = (), campaigns: tuple[str, ...] = (),
                 progress: Progress | None = None) -> tuple[WeekSummary, str]:
    """The week's summary and its report HTML; `progress` hears both steps, ending at 1.0."""
    report = progress or silent
    report(0.0, "computing the week's figures")
    summary = week_summary(con, week, as_of, channels, campaigns)
    return summary, report_html(summary, part(progress, 0.6, 1.0))


# --- PNG and PDF ---------------------------------------------------------------------------------


def chromium_path() -> str | None:
    """The headless Chromium to render with, or None."""
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


def render_file(html_path: str | Path, out: str | Path, kind: str = "png", width: int = 1200) -> Path:
    """Render a report file to PNG (the whole page) or PDF with headless Chromium, network off.

    Raises ExportUnavailable with the reason when Playwright or Chromium is missing.
    """
    browser_path = chromium_path()
    if browser_path is None:
        raise ExportUnavailable("no headless Chromium found (looked for /usr/bin/chromium); "
                                "the HTML report is complete on its own")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        raise ExportUnavailable("Playwright is not installed (pip install -r requirements-dev.txt); "
                                "the HTML report is complete on its own") from error
    source, target = Path(html_path).resolve(), Path(out)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": width, "height": 900}, offline=True)
            page = context.new_page()
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                       else route.abort())
            page.goto(source.as_uri(), wait_until="load")
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length === "
                                   "document.querySelectorAll('[id^=chart-]').length")
            if kind == "pdf":
                page.emulate_media(media="screen")
                page.pdf(path=str(target), width=f"{width}px", print_background=True)
            else:
                page.screenshot(path=str(target), full_page=True)
        finally:
            browser.close()
    return target
