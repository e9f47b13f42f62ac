"""``poxscreen admin init-roles`` and ``poxscreen admin add-user NAME --role clinician|admin``:
the two roles of a shared PostgreSQL store (engine.store.roles).

The new user's password is asked at a prompt (twice); the connection itself authenticates with
``~/.pgpass`` or ``PGPASSWORD``. No password is ever taken from the command line.
"""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from engine.cli.common import add_db, err, guarded


def _password(name: str) -> str | None:
    """The new user's password, typed twice at a prompt (None when the two differ)."""
    first = getpass.getpass(f"password for {name}: ")
    if first != getpass.getpass(f"password for {name} (again): "):
        err("the two passwords differ; nothing was changed")
        return None
    return first


def cmd_init_roles(args: argparse.Namespace, store: Any) -> int:
    from engine.store.roles import ADMIN, CLINICIAN, init_roles

    init_roles(store.engine)
    print(f"{store.location}: roles {CLINICIAN} and {ADMIN} are set up")
    return 0


def cmd_add_user(args: argparse.Namespace, store: Any) -> int:
    from engine.store.roles import add_user

    password = _password(args.name)
    if password is None:
        return 2
    add_user(store.engine, args.name, args.role, password)
    print(f"{store.location}: {args.name} can log in as {args.role}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``admin`` and its sub-commands to ``poxscreen``'s sub-parsers."""
    p = subparsers.add_parser("admin", help="roles on a shared PostgreSQL store")
    sub = p.add_subparsers(dest="admin_command", required=True)
    q = sub.add_parser("init-roles", help="create the clinician and admin roles and their grants")
    add_db(q)
    q.set_defaults(func=guarded(cmd_init_roles))
    q = sub.add_parser("add-user", help="a login for a clinician or an admin (password prompted)")
    q.add_argument("name", help="the PostgreSQL user name (lower-case letters, digits, _)")
    q.add_argument("--role", choices=("clinician", "admin"), required=True)
    add_db(q)
    q.set_defaults(func=guarded(cmd_add_user))
