"""Sign-in and roles through AppTest with a seeded user: each role can do exactly what it should."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics.imports import import_file, import_log
from analytics.warehouse import reader, writer

# Placeholder provider settings: AppTest never contacts the provider, the app only needs [auth] to exist.
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "not-a-secret",
        "client_id": "placeholder", "client_secret": "placeholder",
        "server_metadata_url": "https://accounts.example.com/.well-known/openid-configuration"}
ROLES = """\
[users]
"vera@example.com" = "viewer"
"ana@example.com" = "analyst"
"adam@example.com" = "admin"
"""
EMAILS = {"viewer": "vera@example.com", "analyst": "ana@example.com", "admin": "adam@example.com"}
LEADS = b"lead_id,created_at,channel\nA1,2026-01-05,webinar\nA2,2026-01-06,paid_search\n"


@pytest.fixture
def roles_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "roles.toml"
    path.write_text(ROLES)
    monkeypatch.setenv("ANALYTICS_ROLES", str(path))
    return path


@pytest.fixture
def imported_db(tmp_path, write_file) -> Path:
    """A warehouse holding one import, so there is something to remove."""
    db = tmp_path / "one-import.duckdb"
    with writer(db) as con:
        import_file(con, "leads", write_file("first.csv", "lead_id\nF1\n"), imported_by="setup")
    return db


def _signed_in(app: AppTest, email: str | None) -> AppTest:
    """Configure sign-in and seed `st.user`: signed in as `email`, or signed out when it is None."""
    app.secrets["auth"] = AUTH
    app.user = {"is_logged_in": True, "email": email, "email_verified": True} if email else {"is_logged_in": False}
    return app


def _permissions() -> None:
    import streamlit as st

    from analytics.access import ACTIONS
    from dashboard import can

    st.text(",".join(action for action in ACTIONS if can(action)))


@pytest.mark.parametrize("role", ["viewer", "analyst", "admin"])
def test_each_role_may_do_exactly_its_actions(roles_file, role):
    app = _signed_in(AppTest.from_function(_permissions, default_timeout=30), EMAILS[role]).run()
    assert not app.exception
    expected = {"viewer": "", "analyst": "import,remove_import,edit_rules",
                "admin": "import,remove_import,edit_rules,manage"}[role]
    assert app.text[0].value == expected


def test_a_viewer_sees_the_imports_but_neither_upload_nor_removal(page_app, roles_file, imported_db):
    app = _signed_in(page_app("data", imported_db), EMAILS["viewer"]).run()
    assert not app.exception
    assert not app.file_uploader
    assert "Remove its rows" not in [b.label for b in app.button]
    refusals = [i.value for i in app.info]
    assert any(r.startswith("Importing files needs the analyst or admin role") for r in refusals)
    assert any(r.startswith("Removing an import needs the analyst or admin role") for r in refusals)
    assert app.dataframe  # the imports log is there to read


def test_an_analyst_imports_and_removes_and_the_log_says_who(page_app, roles_file, imported_db):
    app = _signed_in(page_app("data", imported_db), EMAILS["analyst"]).run()
    app.file_uploader[0].set_value(("webinar.csv", LEADS, "text/csv")).run()
    next(b for b in app.button if b.label == "Import").click().run()
    assert not app.exception
    assert any("2 rows added to leads" in s.value for s in app.success)
    with reader(imported_db) as con:
        log = import_log(con)
    added = log[log["file_name"] == "webinar.csv"].iloc[0]
    assert added["imported_by"] == "ana@example.com"

    chooser = next(s for s in app.selectbox if s.label == "Import")
    chooser.set_value(int(added["import_id"])).run()
    next(b for b in app.button if b.label == "Remove its rows").click().run()
    assert not app.exception
    with reader(imported_db) as con:
        log = import_log(con).set_index("import_id")
        leads = con.execute("SELECT count(*) FROM leads").fetchone()[0]
    assert log.at[int(added["import_id"]), "removed_by"] == "ana@example.com"
    assert leads == 1  # the first import's lead stays


def test_only_an_admin_may_build_the_demo_into_an_empty_warehouse(router_app, roles_file, tmp_path):
    for role, may in (("analyst", False), ("admin", True)):
        app = _signed_in(router_app(tmp_path / "empty.duckdb"), EMAILS[role]).run()
        assert not app.exception
        assert app.title[0].value == "Welcome: the warehouse is empty"
        assert ("Build the demo warehouse" in [b.label for b in app.button]) is may
        assert any(c.value == f"Signed in as `{EMAILS[role]}` ({role})" for c in app.sidebar.caption)


def test_with_sign_in_configured_a_visitor_who_is_not_signed_in_sees_only_the_sign_in_screen(
        router_app, roles_file, demo_db):
    app = _signed_in(router_app(demo_db), None).run()
    assert not app.exception
    assert [t.value for t in app.title] == ["Sign in"]
    assert [b.label for b in app.button] == ["Sign in"]
    assert not app.metric


def test_a_signed_in_address_the_roles_file_does_not_list_is_refused(router_app, roles_file, demo_db):
    app = _signed_in(router_app(demo_db), "stranger@gmail.com").run()
    assert not app.exception
    assert app.title[0].value == "No access"
    assert "`stranger@gmail.com`, but the roles file gives this address no role" in app.markdown[0].value
    assert [b.label for b in app.button] == ["Sign out"]
    assert not app.metric


def test_an_invalid_roles_file_stops_the_app_with_the_file_and_the_key(router_app, roles_file, demo_db):
    roles_file.write_text('[users]\n"ana@example.com" = "editor"\n')
    app = _signed_in(router_app(demo_db), "ana@example.com").run()
    assert not app.exception
    assert app.error[0].value.startswith(
        f"The roles file is invalid, so nobody is let in: {roles_file}: key users.\"ana@example.com\": 'editor'")
    assert not app.metric


def test_without_sign_in_the_app_on_localhost_is_open_and_says_so(router_app, demo_db):
    app = router_app(demo_db).run()
    assert not app.exception
    assert app.sidebar.caption[0].value.startswith("Open: no sign-in is configured")


def test_without_sign_in_a_server_reachable_from_other_computers_is_read_only(
        router_app, page_app, imported_db, server_address):
    server_address("0.0.0.0")
    app = router_app(imported_db).run()
    assert not app.exception
    assert app.sidebar.warning[0].value.startswith("Read-only: no sign-in is configured")
    app = page_app("data", imported_db).run()
    assert not app.file_uploader
    assert "Remove its rows" not in [b.label for b in app.button]
    assert any(i.value.startswith("Importing files is switched off: no sign-in is configured") for i in app.info)
