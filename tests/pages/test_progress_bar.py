"""Long work on a page shows st.progress with its step in words, and the bar goes once the work is done."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _half_done() -> None:
    import streamlit as st

    from dashboard import bar_progress

    progress = bar_progress(st.progress(0), "Importing leads.csv")
    progress(0.0, "reading leads.csv")
    progress(0.5, "adding rows to leads")


def _finished() -> None:
    import streamlit as st

    from dashboard import progress_bar

    with progress_bar("Importing leads.csv") as progress:
        progress(0.5, "adding rows to leads")
        progress(1.0, "done")
    st.write("imported")


def test_the_bar_shows_the_fraction_and_the_step():
    app = AppTest.from_function(_half_done, default_timeout=30).run()
    assert not app.exception
    bar = app.get("progress")[0]
    assert bar.value == 50
    assert bar.proto.text == "Importing leads.csv: adding rows to leads (50%)"


def test_the_bar_is_gone_when_the_work_is_done():
    app = AppTest.from_function(_finished, default_timeout=30).run()
    assert not app.exception
    assert not app.get("progress")
    assert app.markdown[0].value == "imported"
