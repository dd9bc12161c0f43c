"""Page speed in a real browser: `python -m bench.pages [--db PATH | --events 10M] [--pages /funnel ...]`.

Starts the dashboard on a warehouse (an existing file, or a demo warehouse of about that many events
built first), opens every page in headless Chromium and prints, per page: the first render on a fresh
server cache (cold), the first render in a new browser session once the cache is filled (warm), a
filter change (one channel picked in the sidebar), and the first render of a returning visitor (a new
session in a new tab of the warm browser, whose cache holds the front end's scripts), next to a one-line
Streamlit app measured the same way: the floor no page can go below. Also the megabytes of JavaScript the
warm session had loaded when its render finished: a fresh browser downloads and compiles the code of every
kind of element a page shows (Plotly's alone is 4.7 MB; it often arrives after the render has finished),
which a returning visitor's browser has cached. A render ends when Streamlit's script has finished
running after the action: the time comes from the browser's clock, so it includes the round trip, the
queries and drawing the elements (Plotly finishes its SVG a few frames later). Asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from analytics import demo
from analytics.warehouse import writer
from bench.queries import events_per_lead
from bench.server import CHROMIUM, CHROMIUM_ARGS, ROOT, Server

# The floor: what Streamlit itself needs to load a page in this browser on this machine.
FLOOR_APP = """import streamlit as st
st.title("A one-line app")
st.sidebar.multiselect("Channel", ["display", "email", "webinar"])
"""
# Records every change of Streamlit's script state with the browser's clock, from the first paint on. A fast
# run can go from running back to notRunning between two observer callbacks: each record's old value keeps it.
# A run faster still may never show "running" on the page at all, so the frame after each message from the
# server is recorded too.
RECORD_SCRIPT_STATES = """
window.__scriptStates = [];
window.__messageFrames = [];
const __seen = state => {
  const states = window.__scriptStates;
  if (state && (!states.length || states[states.length - 1][1] !== state)) states.push([performance.now(), state]);
};
new MutationObserver(records => {
  for (const record of records) if (record.type === 'attributes') __seen(record.oldValue);
  const node = document.querySelector('[data-test-script-state]');
  __seen(node && node.getAttribute('data-test-script-state'));
}).observe(document, {subtree: true, childList: true, attributes: true, attributeOldValue: true,
                      attributeFilter: ['data-test-script-state']});
window.WebSocket = class extends window.WebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', () => requestAnimationFrame(() => window.__messageFrames.push(performance.now())));
  }
};
"""
# The time the script last finished after it ran at or after `since` (ms on the browser clock), or null. A run
# that never showed "running" has finished at the frame after the server's last message, once the page says
# notRunning and nothing has come for half a second.
FINISHED_SINCE = """since => {
  const states = window.__scriptStates;
  const ran = states.findIndex(([t, s]) => t >= since && s === 'running');
  if (ran >= 0) {
    const done = states.slice(ran).find(([, s]) => s === 'notRunning');
    return done ? done[0] : null;
  }
  const frames = window.__messageFrames.filter(t => t >= since);
  const node = document.querySelector('[data-test-script-state]');
  if (!frames.length || !node || node.getAttribute('data-test-script-state') !== 'notRunning') return null;
  const last = frames[frames.length - 1];
  return performance.now() - last > 500 ? last : null;
}"""


def page_paths() -> list[str]:
    """Every page's address: the Overview at "/", the others at their file names."""
    names = sorted(p.stem for p in (ROOT / "pages").glob("*.py") if p.stem not in {"__init__", "overview"})
    return ["/", *(f"/{name}" for name in names)]


def _finished(tab, since: float) -> float:
    """Milliseconds from `since` until the script run it started has finished."""
    handle = tab.wait_for_function(FINISHED_SINCE, arg=since, timeout=300_000, polling=20)
    return handle.json_value() - since


def _open(browser, url: str, context=None):
    """A new session on `url`, in a fresh browser context or a new tab of `context`: (tab, milliseconds until
    its first render finished)."""
    if context is None:
        context = browser.new_context(viewport={"width": 1920, "height": 1080})
        context.add_init_script(RECORD_SCRIPT_STATES)
    tab = context.new_page()
    tab.goto(url)
    return tab, _finished(tab, 0.0)  # 0 on the browser clock = the start of navigation


def _script_mb(tab) -> float:
    """Megabytes of JavaScript the tab has loaded (as sent, compressed or not)."""
    return tab.evaluate("performance.getEntriesByType('resource').filter(r => r.name.endsWith('.js'))"
                        ".reduce((total, r) => total + r.encodedBodySize, 0)") / 1e6


def _pick_channel(tab, channel: str) -> float | None:
    """Milliseconds from picking `channel` in the sidebar's channel filter until the page has redrawn
    (None on a page without the filter)."""
    picker = tab.get_by_role("combobox", name="Channel")
    try:  # the front end draws a widget's skeleton first: a page busy drawing charts shows the picker late
        picker.wait_for(timeout=30_000)
    except PlaywrightTimeout:
        return None
    picker.click()
    option = tab.get_by_role("option", name=channel, exact=True)
    option.wait_for()
    started = tab.evaluate("performance.now()")
    option.click()
    return _finished(tab, started)


def _peak_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")) / 1024


def _row(browser, label: str, url: str, channel: str) -> None:
    """Print one line: cold first render, warm first render (a new session), a filter change, a returning
    visitor's first render, and the JavaScript of the warm session."""
    cold_tab, cold = _open(browser, url)
    cold_tab.context.close()
    warm_tab, warm = _open(browser, url)
    scripts = _script_mb(warm_tab)
    change = _pick_channel(warm_tab, channel)
    _, revisit = _open(browser, url, warm_tab.context)
    warm_tab.context.close()
    changed = "no filter" if change is None else f"{change / 1000:.2f} s"
    print(f"{label:22s} {cold / 1000:16.2f} s {warm / 1000:6.2f} s {changed:>14s} {revisit / 1000:9.2f} s "
          f"{scripts:7.1f} MB")


def run(db: Path, channel: str, paths: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as folder, sync_playwright() as playwright:
        floor_app = Path(folder) / "floor.py"
        floor_app.write_text(FLOOR_APP, encoding="utf-8")
        server = Server(db, Path(folder) / "streamlit.log")
        floor = Server(db, Path(folder) / "floor.log", script=floor_app)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            print(f"{'page':22s} {'first render cold':>18s} {'warm':>8s} {'filter change':>14s} {'returning':>11s} "
                  f"{'JS warm':>10s}")
            _row(browser, "(a one-line app)", floor.url, channel)
            for path in paths:
                _row(browser, path, server.url + path, channel)
            print(f"peak memory of the dashboard process: {_peak_mb(server.process.pid):,.0f} MB")
        finally:
            browser.close()
            server.stop()
            floor.stop()
        tracebacks = (Path(folder) / "streamlit.log").read_text(encoding="utf-8").count("Traceback")
        if tracebacks:
            print(f"the dashboard logged {tracebacks} tracebacks: see its log")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--db", type=Path, help="an existing warehouse (read only)")
    source.add_argument("--events", type=float, default=1e6, help="build a demo warehouse of about this many events")
    parser.add_argument("--channel", default="webinar", help="the channel picked for the filter change")
    parser.add_argument("--pages", nargs="+", metavar="PATH", choices=page_paths(), default=page_paths(),
                        help="the pages to measure, as addresses (/, /funnel, /cohorts ...); default: all")
    args = parser.parse_args()
    if args.db is not None:
        run(args.db, args.channel, args.pages)
        return
    with tempfile.TemporaryDirectory(prefix="bench-pages-db-") as folder:
        db = Path(folder) / "bench.duckdb"
        started = time.perf_counter()
        with writer(db) as con:
            summary = demo.generate(con, leads=int(args.events / events_per_lead()), seed=1)
        print(f"demo warehouse: {summary.events:,} events, {summary.leads:,} leads in {time.perf_counter() - started:.0f} s "
              f"(peak RSS of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB)")
        run(db, args.channel, args.pages)


if __name__ == "__main__":
    main()
