"""Overview, the landing page: the weekly meeting (a week against the week before) and the selection's funnel.

`present()` draws the same week as slides for a projector; `dashboard.py` calls it for `?present=1`.
"""

from __future__ import annotations

import html
import tempfile
import time
from collections.abc import Callable
from urllib.parse import urlencode
from pathlib import Path

import pandas as pd
import streamlit as st

from analytics import charts
from analytics import report
from analytics.errors import BadInput
from analytics.filters import Filters
from analytics.summary import headline_figures, warehouse_summary
from analytics.weekly import (
    WeekSummary,
    available_weeks,
    experiment_verdicts,
    leads_per_week,
    parse_week,
    recent_cohorts,
    summary_of,
    week_figures,
)
from dashboard import drawn, progress_bar, run_query, shared_filters
from pages import reroute

MIN_ADVANCE_SECONDS = 3
SLIDE_FONT_PX = 30  # body text on a slide: readable from the back of a room at 1920 x 1080
SLIDE_CHART_FONT_PX = 24
REPORT_KEY = "weekly_report"  # session state: (the summary's week and filters, its report HTML)


def _md(text: str) -> str:
    """Text from the data made safe for st.markdown: no LaTeX from '$', no markup from names."""
    return "".join(f"\\{c}" if c in "\\`*_[]<>|~#$" else c for c in str(text))


def _week_choice(filters: Filters) -> str:
    weeks = run_query(available_weeks, filters.as_of)
    # No format_func: a bound widget writes its shown label to the URL, and ?week=2026-W46 is what people share.
    return st.selectbox("Week", weeks, key="week", bind="query-params",
                        help="ISO week. Default: the last complete week before the as-of date (or the end of the "
                             "data).")


def _summary(week: str | None, filters: Filters) -> WeekSummary:
    """`week_summary` from three cached parts: the experiments' verdicts depend on no filter and the cohorts
    on no week, so changing the week or a filter recomputes only what it changes."""
    figures = run_query(week_figures, parse_week(week) if week else None, filters.as_of, filters.channels,
                        filters.campaigns)
    cohorts = run_query(recent_cohorts, figures.as_of, filters.channels, filters.campaigns)
    return summary_of(figures, run_query(experiment_verdicts), cohorts)


def _sentences_html(summary: WeekSummary, size: str = "1rem") -> str:
    items = "".join(f"<li>{html.escape(s)}</li>" for s in summary.sentences)
    return f'<ul class="week-brief" style="font-size:{size};line-height:1.45;margin:0 0 .5em;">{items}</ul>'


def _kpis_html(summary: WeekSummary, size: str, columns: str = "auto-fit") -> str:
    return (f"<style>{report.KPI_CSS}</style>"
            f'<div style="--kpi-size:{size};--kpi-columns:{columns}">{report.kpi_cards_html(summary)}</div>')


def _prepared_report(summary: WeekSummary) -> str | None:
    """The report of `summary` once "Prepare report" has built it in this session (with a progress bar
    while it draws), else None: building it takes a few seconds, so it is not built on every render."""
    identity = (summary.week, summary.as_of, summary.channel_filter, summary.campaign_filter)
    prepared = st.session_state.get(REPORT_KEY)
    if prepared is not None and prepared[0] == identity:
        return prepared[1]
    slot = st.empty()
    if not slot.button("Prepare report", icon=":material/description:", key="prepare_report",
                       help="Builds the week's report as one self-contained file (HTML, or PNG), then offers it."):
        return None
    slot.empty()  # the download takes the button's place
    with progress_bar("Preparing the report") as progress:
        page = report.report_html(summary, progress)
    st.session_state[REPORT_KEY] = (identity, page)
    return page


def _downloads(summary: WeekSummary) -> None:
    columns = st.columns([1, 1, 1, 3])
    with columns[0]:
        page = _prepared_report(summary)
    if page is not None:
        columns[0].download_button(
            "Report (HTML)", data=page, file_name=f"weekly-report-{summary.week}.html", mime="text/html",
            on_click="ignore", icon=":material/download:", key="report_html",
            help="One self-contained file: opens offline, charts stay interactive.")
    if page is not None and report.chromium_path():
        def png() -> bytes:
            with tempfile.TemporaryDirectory() as folder:
                source = Path(folder) / "report.html"
                source.write_text(page, encoding="utf-8")
                return report.render_file(source, Path(folder) / "report.png", "png").read_bytes()

        columns[1].download_button("Report (PNG)", data=png, file_name=f"weekly-report-{summary.week}.png",
                                   mime="image/png", on_click="ignore", icon=":material/image:", key="report_png",
                                   help="The report as one long image, rendered by headless Chromium.")
    shared = [(k, v) for k in st.query_params if k not in ("week", "present", "slide", "advance")
              for v in st.query_params.get_all(k)]
    present = "?" + urlencode([*shared, ("present", "1"), ("week", summary.week)])
    columns[2].link_button("Present", present, icon=":material/slideshow:",
                           help="The week as slides for a projector, in a new tab: arrow keys move between slides.")


def _week_section(filters: Filters) -> None:
    left, _ = st.columns([1, 2])
    with left:
        week = _week_choice(filters)
    summary = _summary(week, filters)
    st.subheader(f"Week {summary.monday.isocalendar()[1]}: {summary.label}")
    st.caption(_md(report.meta_line(summary)))
    if summary.is_empty:
        st.info(f"Nothing happened in week {summary.week} or the week before: no leads, stage changes or spend.")
        return
    st.html(_kpis_html(summary, "15px"))
    st.html(_sentences_html(summary))
    figures = drawn(report.figures, summary)
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("##### Stage rates: this week's leads against last week's at the same age")
        if "stage_rates" in figures:
            st.plotly_chart(figures["stage_rates"], width="stretch", theme=None)
        st.caption(f"Of the leads that entered in each week, seen {summary.age_days} days after their week began. "
                   "Beyond noise: a two-proportion test, p < 0.05 after Holm's adjustment for the three stages.")
    with right:
        st.markdown("##### New leads per channel")
        if "channels" in figures:
            st.plotly_chart(figures["channels"], width="stretch", theme=None)
        st.caption("Coloured bars: this week; grey: the week before. First-touch channel of the leads that entered "
                   "in each week.")
    st.markdown("##### Experiments")
    if not summary.experiments:
        st.caption("No experiments in the warehouse.")
    for verdict in summary.experiments:
        badge = ":green-badge[Verdict]" if verdict.decided else ":gray-badge[Running]"
        st.markdown(f"{badge} **{_md(verdict.experiment)}**: {_md(verdict.headline)}")
    if summary.experiments:
        st.caption("Experiments carry no dates: their results as imported. Verdict: a variant differs significantly "
                   "from control.")
    if "cohorts" in figures:
        st.markdown("##### Cohorts: entrants reaching SQL, by entry month")
        st.plotly_chart(figures["cohorts"], width="stretch", theme=None)
        st.caption("Hollow grey points are unfinished cohorts: their leads can still convert, so the rate will rise; "
                   "it is not a drop.")
    _downloads(summary)
    st.caption("Every chart's toolbar also saves it as a PNG. Week, filters and as-of date are in the address: "
               "copy it to share this view.")


def render() -> None:
    filters = shared_filters()
    summary = run_query(warehouse_summary)
    st.title("Overview")
    span = (f"{summary.first_lead:%d %b %Y} to {summary.last_lead:%d %b %Y}"
            if summary.first_lead else "no lead dates yet")
    st.caption(f"In the warehouse: leads created {span}, from {summary.imports:,} "
               f"import{'s' if summary.imports != 1 else ''}.")
    _week_section(filters)

    st.divider()
    st.subheader("All leads in the selection")
    kpis = run_query(headline_figures, filters)
    tiles = st.columns(5)
    tiles[0].metric("New leads", f"{kpis.leads:,}")
    tiles[1].metric("MQL", f"{kpis.mql:,}")
    tiles[2].metric("SQL", f"{kpis.sql:,}")
    tiles[3].metric("Won deals", f"{kpis.won:,}")
    tiles[4].metric("Spend", "–" if kpis.spend is None else f"{kpis.spend:,.0f}")
    st.caption("Leads that entered in the selected range and how far they got by the as-of date; spend in the "
               "same range.")
    table = run_query(leads_per_week, filters)
    st.markdown("##### New leads per week")
    if table.empty:
        st.info("No leads match the filters.")
    else:
        st.plotly_chart(drawn(charts.weekly_leads, table), width="stretch", theme=None)
        st.caption("Each lead in the week it entered, by its first-touch channel. Pale bars: weeks the data covers "
                   "only in part (the first week and the current one).")


# --- presentation mode ------------------------------------------------------------------------------

SLIDE_CSS = f"""
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
[data-testid="stToolbar"], [data-testid="stDecoration"], [data-testid="stStatusWidget"],
[data-testid="stMainMenu"], .stDeployButton, footer {{ display: none !important; }}
[data-testid="stMain"] .block-container, [data-testid="stMainBlockContainer"] {{
    max-width: 100% !important; padding: 28px 64px 12px !important; }}
[data-testid="stMain"] h1 {{ font-size: 60px !important; line-height: 1.15 !important; padding: 0 0 4px !important; }}
[data-testid="stMain"] h2 {{ font-size: 46px !important; line-height: 1.2 !important; padding: 0 0 4px !important; }}
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] li,
[data-testid="stMain"] ul.week-brief li,
[data-testid="stMain"] [data-testid="stCaptionContainer"] p {{ font-size: {SLIDE_FONT_PX}px !important;
    line-height: 1.4 !important; }}
[data-testid="stMain"] [data-testid="stCaptionContainer"] p {{ font-size: 24px !important; color: #4b5563; }}
[data-testid="stMain"] [data-testid="stMarkdownContainer"] span[class*="Badge"],
[data-testid="stMain"] [data-testid="stMarkdownContainer"] span {{ font-size: inherit; }}
[data-testid="stMain"] button p, [data-testid="stMain"] button div,
[data-testid="stMain"] button kbd {{ font-size: 24px !important; }}
[data-testid="stMain"] button {{ min-height: 56px; padding: 6px 28px !important; }}
.st-key-deck_nav {{ position: fixed; left: 64px; right: 64px; bottom: 14px; width: auto !important; z-index: 100;
    background: #fff; }}
</style>
"""


def _slide_number(total: int) -> int:
    try:
        number = int(st.query_params.get("slide", "1"))
    except ValueError:
        number = 1
    return min(max(number, 1), total)


def _go_to(number: int) -> None:
    st.query_params["slide"] = str(number)


def _exit() -> None:
    for key in ("present", "slide", "advance"):
        st.query_params.pop(key, None)


def _advance_seconds() -> int | None:
    try:
        seconds = int(st.query_params.get("advance", "0"))
    except ValueError:
        return None
    return max(seconds, MIN_ADVANCE_SECONDS) if seconds > 0 else None


def _slides(summary: WeekSummary) -> list[tuple[str, Callable[[], None]]]:
    """(title, draw) per slide; a topic without data has no slide. The figures are the Overview's, drawn once:
    moving to another slide reruns the page."""
    figures = drawn(report.figures, summary)
    week_no = summary.monday.isocalendar()[1]

    def kpis() -> None:
        st.markdown(f"## Week {week_no}: {summary.label}")
        st.caption(_md(report.meta_line(summary)))
        st.html(_kpis_html(summary, "40px", "4"))

    def brief() -> None:
        st.markdown("## The week in brief")
        st.html(_sentences_html(summary, f"{SLIDE_FONT_PX}px"))

    def chart(name: str, title: str, note: str, height: int) -> Callable[[], None]:
        def draw() -> None:
            st.markdown(f"## {title}")
            st.plotly_chart(report.enlarged(figures[name], SLIDE_CHART_FONT_PX, height), width="stretch", theme=None,
                            config={"displayModeBar": False})
            st.markdown(_md(note))
        return draw

    def tests() -> None:
        st.markdown("## Experiments")
        for verdict in summary.experiments:
            badge = ":green[**Verdict**]" if verdict.decided else ":gray[**Running**]"
            st.markdown(f"{badge} · **{_md(verdict.experiment)}**: {_md(verdict.headline)}")
        st.caption("Experiments carry no dates: their results as imported. Verdict: a variant differs significantly "
                   "from control.")

    slides: list[tuple[str, Callable[[], None]]] = [("Key figures", kpis), ("The week in brief", brief)]
    if "stage_rates" in figures:
        largest = summary.largest_change
        note = (largest.sentence(summary.age_days) if largest else "Too few leads to compare stage rates.")
        slides.append(("Stage rates", chart("stage_rates", "Stage rates: this week's leads against last week's",
                                            note, 620)))
    if "channels" in figures:
        slides.append(("Channels", chart("channels", "New leads per channel",
                                         "Coloured bars: this week; grey: the week before. First-touch channel of "
                                         "the leads that entered in each week.", 640)))
    if summary.experiments:
        slides.append(("Experiments", tests))
    if "cohorts" in figures:
        unfinished = summary.unfinished_cohorts
        note = (f"Hollow grey points (from {pd.Timestamp(unfinished[0]):%B %Y}) are unfinished: their leads can "
                "still convert, so these rates will rise; they are not a drop." if unfinished
                else "Every entry month shown is finished.")
        slides.append(("Cohorts", chart("cohorts", "Cohorts: entrants reaching SQL by entry month", note, 600)))
    return slides


def _auto_advance(seconds: int, number: int, total: int) -> None:
    """Move to the next slide (the first after the last) every `seconds`, via a timed fragment."""
    shown = st.session_state.get("deck_shown")
    if not shown or shown[0] != number:
        st.session_state["deck_shown"] = (number, time.monotonic())

    @st.fragment(run_every=seconds)
    def tick() -> None:
        slide, since = st.session_state["deck_shown"]
        if time.monotonic() - since >= seconds - 0.5:
            st.session_state["deck_shown"] = (slide % total + 1, time.monotonic())
            _go_to(slide % total + 1)
            st.rerun(scope="app")

    tick()


def present() -> None:
    """The week as slides: no sidebar or chrome, large type, one topic per slide, the slide number in the URL.

    Arrow keys or the buttons move between slides; `&advance=30` moves on every 30 seconds.
    """
    st.html(SLIDE_CSS)
    filters = shared_filters()  # hidden, but the URL's channel, campaign and as-of still apply
    week = st.query_params.get("week")
    try:
        summary = _summary(week, filters)
    except BadInput as error:
        st.warning(f"{error}: showing the last complete week.")
        summary = _summary(None, filters)
    slides = _slides(summary)
    number = _slide_number(len(slides))
    with st.container(key=f"slide_{number}"):
        slides[number - 1][1]()
    nav = st.container(key="deck_nav")  # pinned to the bottom of the screen (SLIDE_CSS)
    previous, counter, following, leave = nav.columns([1, 2, 1, 1], vertical_alignment="center")
    previous.button("Previous", key="slide_previous", on_click=_go_to, args=(max(number - 1, 1),),
                    disabled=number == 1, shortcut="ArrowLeft", width="stretch")
    counter.markdown(f'<p style="text-align:center;color:#4b5563">Slide {number} of {len(slides)}: '
                     f"{html.escape(slides[number - 1][0])}</p>", unsafe_allow_html=True)
    following.button("Next", key="slide_next", on_click=_go_to, args=(min(number + 1, len(slides)),),
                      disabled=number == len(slides), shortcut="ArrowRight", width="stretch")
    leave.button("Exit", key="slide_exit", on_click=_exit, width="stretch")
    seconds = _advance_seconds()
    if seconds:
        _auto_advance(seconds, number, len(slides))


if __name__ == "__main__":
    reroute()
