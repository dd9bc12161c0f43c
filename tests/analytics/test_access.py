"""Roles from the roles file, permissions per role, and when the open dashboard counts as local."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analytics.access import ACTIONS, allowed, load_roles, open_role, parse_roles, role_for, roles_allowed
from analytics.errors import BadInput

SOURCE = Path("roles.toml")
TEAM = parse_roles("""
default = "none"
[users]
"Ana@Example.com" = "admin"
"*@example.com" = "viewer"
"guest@example.com" = "none"
"bo@partner.org" = "analyst"
""", SOURCE)


@pytest.mark.parametrize(("email", "role"), [
    ("ana@example.com", "admin"),         # an exact line beats its domain's line, whatever the case
    ("ANA@EXAMPLE.COM ", "admin"),
    ("zoe@example.com", "viewer"),        # the domain line
    ("guest@example.com", None),          # refused by name although the domain may read
    ("bo@partner.org", "analyst"),
    ("someone@gmail.com", None),          # not listed: the default, none
    ("zoe@sub.example.com", None),        # a domain line covers that domain only
    (None, None),
])
def test_an_address_gets_its_line_then_its_domain_then_the_default(email, role):
    assert role_for(TEAM, email) == role


def test_an_address_the_provider_has_not_verified_is_refused():
    assert role_for(TEAM, "ana@example.com", email_verified=False) is None
    assert role_for(TEAM, "ana@example.com", email_verified=True) == "admin"


def test_a_default_role_admits_every_signed_in_address():
    assert role_for(parse_roles('default = "viewer"\n', SOURCE), "someone@gmail.com") == "viewer"


def test_without_a_roles_file_everyone_signed_in_is_refused(tmp_path):
    roles = load_roles(tmp_path / "missing.toml")
    assert role_for(roles, "ana@example.com") is None
    assert roles.source == tmp_path / "missing.toml"


def test_viewers_do_nothing_analysts_import_and_remove_admins_everything():
    assert [a for a in ACTIONS if allowed("viewer", a)] == []
    assert [a for a in ACTIONS if allowed("analyst", a)] == ["import", "remove_import", "edit_rules"]
    assert [a for a in ACTIONS if allowed("admin", a)] == list(ACTIONS)
    assert not any(allowed(None, a) for a in ACTIONS)
    assert roles_allowed("import") == ("analyst", "admin") and roles_allowed("manage") == ("admin",)


def test_an_unknown_action_is_a_bug_not_a_refusal():
    with pytest.raises(ValueError, match="unknown action 'delete'"):
        allowed("admin", "delete")


@pytest.mark.parametrize(("text", "message"), [
    ('[users]\n"ana@example.com" = "editor"\n',
     "roles.toml: key users.\"ana@example.com\": 'editor' is not a role; use viewer, analyst, admin or none"),
    ('default = "guest"\n', "roles.toml: key default: 'guest' is not a role"),
    ('[users]\n"ana" = "admin"\n', "roles.toml: key users.\"ana\": write an email address or *@domain"),
    ('[users]\n"a*@example.com" = "admin"\n', "roles.toml: key users.\"a*@example.com\": write an email"),
    ('admins = ["ana@example.com"]\n', "roles.toml: key admins is not understood"),
    ('users = "ana@example.com"\n', "roles.toml: key users must be a table"),
    ('[users\n', "roles.toml: not valid TOML"),
])
def test_an_invalid_roles_file_names_the_file_and_the_key(text, message):
    with pytest.raises(BadInput, match=re.escape(message)):
        parse_roles(text, SOURCE)


@pytest.mark.parametrize(("address", "role"), [
    ("localhost", "admin"), ("127.0.0.1", "admin"), ("127.0.1.1", "admin"), ("::1", "admin"), ("[::1]", "admin"),
    (None, "viewer"),        # unset: Streamlit listens on every interface
    ("", "viewer"), ("0.0.0.0", "viewer"), ("::", "viewer"), ("192.168.1.20", "viewer"),
    ("dashboard.example.com", "viewer"), ("unix:///run/dashboard.sock", "viewer"),
])
def test_the_open_dashboard_is_admin_on_localhost_only_and_read_only_elsewhere(address, role):
    assert open_role(address) == role
