"""Who may do what in the dashboard: roles from a small TOML file, permissions per role as data.

Sign-in itself is Streamlit's (`st.login` with an OpenID Connect provider configured in the `[auth]`
section of `.streamlit/secrets.toml`); this module only decides what a signed-in email may do, so it
never imports streamlit and the command line is unaffected.

The roles file is `.streamlit/roles.toml` beside `config.toml` and `secrets.toml` (or the file named
by `$ANALYTICS_ROLES`). It holds no secret, so it can be committed:

    default = "none"                  # a signed-in user the file does not list: "none" (refused) or a role

    [users]
    "ana@example.com" = "admin"       # one person
    "*@example.com" = "viewer"        # everyone with an address at that domain
    "guest@example.com" = "none"      # refused, although the domain may read

Roles: viewers read; analysts also import, remove imports and edit rules; admins also manage. An exact
address beats its domain's line, and a line beats `default`. Addresses are compared without case.

The default is "none": an OpenID Connect provider such as Google signs in anyone with an account, so
an address the team did not list sees nothing until an admin adds it (a domain line lets a whole
company read). Without a roles file every signed-in user is refused, and the sign-in screen says which
file to write. With no sign-in configured the dashboard runs open (see `open_role`).
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from analytics.errors import BadInput
from analytics.warehouse import PROJECT_ROOT

DEFAULT_ROLES_FILE = PROJECT_ROOT / ".streamlit" / "roles.toml"
ACTIONS: tuple[str, ...] = ("import", "remove_import", "edit_rules", "manage")
PERMISSIONS: Mapping[str, frozenset[str]] = {
    "viewer": frozenset(),
    "analyst": frozenset({"import", "remove_import", "edit_rules"}),
    "admin": frozenset(ACTIONS),
}
ACTION_WORDS: Mapping[str, str] = {"import": "Importing files", "remove_import": "Removing an import",
                                   "edit_rules": "Editing rules", "manage": "Managing the dashboard"}
NO_ROLE = "none"
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


@dataclass(frozen=True)
class Roles:
    """The roles file, read: exact addresses and `*@domain` lines (lower case), and the default role."""

    users: Mapping[str, str | None] = field(default_factory=dict)
    domains: Mapping[str, str | None] = field(default_factory=dict)
    default: str | None = None
    source: Path | None = None


def roles_path() -> Path:
    """The roles file: `$ANALYTICS_ROLES`, else `.streamlit/roles.toml` in the project."""
    chosen = os.environ.get("ANALYTICS_ROLES")
    return Path(chosen).expanduser() if chosen else DEFAULT_ROLES_FILE


def load_roles(path: Path | None = None) -> Roles:
    """Read the roles file; a missing file lists nobody (every signed-in user is refused)."""
    source = path or roles_path()
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Roles(source=source)
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(f"the roles file cannot be read: {error}", file=str(source)) from error
    return parse_roles(text, source)


def _role(value: object, key: str, source: Path) -> str | None:
    """A role named in the file; "none" is None (refused)."""
    if value == NO_ROLE:
        return None
    if isinstance(value, str) and value in PERMISSIONS:
        return value
    raise BadInput(f"key {key}: {value!r} is not a role; use {', '.join(PERMISSIONS)} or {NO_ROLE}",
                   file=str(source))


def parse_roles(text: str, source: Path) -> Roles:
    """The roles in TOML `text`; BadInput naming the file and the key for anything it does not expect."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise BadInput(f"not valid TOML: {error}", file=str(source)) from error
    unknown = sorted(set(data) - {"default", "users"})
    if unknown:
        raise BadInput(f"key {unknown[0]} is not understood; the file has `default` and a [users] table",
                       file=str(source))
    listed = data.get("users", {})
    if not isinstance(listed, dict):
        raise BadInput("key users must be a table: [users] then \"name@example.com\" = \"analyst\" lines",
                       file=str(source))
    users: dict[str, str | None] = {}
    domains: dict[str, str | None] = {}
    for address, value in listed.items():
        key = f'users."{address}"'
        local, at, domain = address.strip().lower().rpartition("@")
        if not at or not local or not domain or ("*" in local and local != "*") or "*" in domain:
            raise BadInput(f"key {key}: write an email address or *@domain", file=str(source))
        if local == "*":
            domains[domain] = _role(value, key, source)
        else:
            users[f"{local}@{domain}"] = _role(value, key, source)
    return Roles(users, domains, _role(data.get("default", NO_ROLE), "default", source), source)


def role_for(roles: Roles, email: str | None, email_verified: bool | None = None) -> str | None:
    """The role of a signed-in address, or None when it is refused.

    An address the provider says it has not verified (`email_verified` false) is refused: anyone could
    type it.
    """
    if not email or email_verified is False:
        return None
    address = email.strip().lower()
    if address in roles.users:
        return roles.users[address]
    return roles.domains.get(address.rpartition("@")[2], roles.default)


def allowed(role: str | None, action: str) -> bool:
    """Whether `role` may do `action`; an unknown action is a bug, not a refusal."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action '{action}'; actions are {', '.join(ACTIONS)}")
    return role is not None and action in PERMISSIONS[role]


def roles_allowed(action: str) -> tuple[str, ...]:
    """The roles that may do `action`, least powerful first: ("analyst", "admin") for "import"."""
    return tuple(role for role in PERMISSIONS if allowed(role, action))


def is_loopback(address: str | None) -> bool:
    """Whether a server bound to `address` (the `server.address` option) is reachable from this computer only.

    Unset means every interface; a Unix socket is usually published by a proxy, so neither counts.
    """
    if not address:
        return False
    host = address.strip().strip("[]").lower()
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_role(address: str | None) -> str:
    """The role of every visitor when no sign-in is configured: admin on localhost, else viewer (read-only)."""
    return "admin" if is_loopback(address) else "viewer"
