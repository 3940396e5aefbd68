"""The ``ashr-labs`` command: run the local server and manage its keys and notes.

    ashr-labs serve [--host 127.0.0.1] [--port N] [--data-dir PATH] [--allow-public]
    ashr-labs keys create [--name NAME] | keys list | keys revoke ID
    ashr-labs notes add --title T --content C [--category ...] [--severity ...] | notes list

``serve`` prints the base URL alone on the first line of stdout. On the first start of a data
directory it creates a tenant and a user and prints one API key, to the terminal only (never to
a log). The data directory defaults to ``$ASHR_LABS_DATA_DIR`` or ``~/.ashr-labs``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from ._settings import ASHR_LABS_DATA_DIR

if TYPE_CHECKING:
    from .server._db import Database

__all__ = ["COMMANDS", "Command", "default_data_dir", "main"]


def default_data_dir() -> Path:
    """``$ASHR_LABS_DATA_DIR`` or ``~/.ashr-labs``."""
    env = os.environ.get(ASHR_LABS_DATA_DIR)
    return Path(env).expanduser() if env else Path.home() / ".ashr-labs"


def _data_dir_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"folder holding the SQLite database (default ${ASHR_LABS_DATA_DIR} or ~/.ashr-labs)",
    )


def _open_db(args: argparse.Namespace) -> Database:
    """The data dir's database with every table created (no server needed)."""
    from .server import DB_FILENAME, _handlers  # noqa: F401 - registers every schema
    from .server._db import Database

    data_dir: Path = args.data_dir or default_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    return Database(data_dir / DB_FILENAME)


# -- serve -----------------------------------------------------------------------------------------
def _serve_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to bind (loopback unless told)")
    p.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    _data_dir_arg(p)
    p.add_argument(
        "--allow-public",
        action="store_true",
        help="allow a non-loopback --host; put a TLS-terminating proxy in front",
    )
    p.add_argument("--tls-cert", default=None, help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", default=None, help="private key for --tls-cert (PEM)")


def _serve(args: argparse.Namespace) -> int:
    from .server import LocalServer

    try:
        server = LocalServer(
            data_dir=args.data_dir or default_data_dir(),
            host=args.host,
            port=args.port,
            issue_key=False,
            allow_public=args.allow_public,
            tls_certfile=args.tls_cert,
            tls_keyfile=args.tls_key,
        )
        server.start()
    except (ValueError, OSError) as exc:
        print(f"ashr-labs serve: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        print(server.url, flush=True)
        if server.first_start_key is not None:
            print(
                "Created a tenant and this API key (shown once, keep it):\n"
                f"ASHR_LABS_API_KEY={server.first_start_key}",
                flush=True,
            )
        print(f"ASHR_LABS_BASE_URL={server.url}  (Ctrl-C stops)", file=sys.stderr, flush=True)
        stop.wait()
    finally:
        server.stop()
    return 0


# -- keys and notes: operator actions on the database file ----------------------------------------
def _admin_leaf(
    sub: Any, name: str, help_text: str, action: Callable[[Database, argparse.Namespace], int]
) -> argparse.ArgumentParser:
    """A ``keys``/``notes`` subcommand: ``--data-dir`` plus the action run on its database."""
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
    _data_dir_arg(parser)
    parser.set_defaults(admin_action=action)
    return parser


def _admin_command(label: str) -> Callable[[argparse.Namespace], int]:
    """Run the chosen leaf's action on the data dir's database; a ValueError exits 2."""

    def run(args: argparse.Namespace) -> int:
        db = _open_db(args)
        try:
            code: int = args.admin_action(db, args)
        except ValueError as exc:
            print(f"ashr-labs {label}: {exc}", file=sys.stderr)
            return 2
        finally:
            db.close()
        return code

    return run


def _print_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Tab-separated lines, header first (easy to read and to ``cut``); no value shows as ``-``."""
    print("\t".join(header))
    for row in rows:
        print("\t".join("-" if value is None else str(value) for value in row))


def _yes_no(flag: Any) -> str:
    return "yes" if flag else "no"


def _keys_parser(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="keys_command", required=True, metavar="{create,list,revoke}")
    create = _admin_leaf(sub, "create", "make a key and print it alone on stdout", _keys_create)
    create.add_argument("--name", default="default", help="a label for the key")
    create.add_argument("--tenant-id", type=int, default=None, help="tenant (default: the first)")
    _admin_leaf(sub, "list", "list keys (prefixes only)", _keys_list)
    revoke = _admin_leaf(sub, "revoke", "deactivate a key by id", _keys_revoke)
    revoke.add_argument("id", type=int)


def _keys_create(db: Database, args: argparse.Namespace) -> int:
    from .server import _admin

    tenant_id = args.tenant_id or _admin.ensure_default_tenant(db)[0]
    _kid, key = _admin.create_api_key(db, tenant_id, name=args.name)
    print(key, flush=True)
    return 0


def _keys_list(db: Database, args: argparse.Namespace) -> int:
    from .server import _admin

    _print_table(
        ("id", "prefix", "name", "tenant", "active", "created_at", "last_used_at"),
        (
            (
                k["id"],
                f"{k['key_prefix']}...",
                k["name"],
                k["tenant_id"],
                _yes_no(k["is_active"]),
                k["created_at"],
                k["last_used_at"],
            )
            for k in _admin.list_api_keys(db)
        ),
    )
    return 0


def _keys_revoke(db: Database, args: argparse.Namespace) -> int:
    from .server import _admin

    if not _admin.revoke_api_key(db, args.id):
        print(f"ashr-labs keys revoke: no key with id {args.id}", file=sys.stderr)
        return 1
    print(f"revoked key {args.id}")
    return 0


def _notes_parser(p: argparse.ArgumentParser) -> None:
    from .server._admin import NOTE_CATEGORIES, NOTE_SEVERITIES

    sub = p.add_subparsers(dest="notes_command", required=True, metavar="{add,list}")
    add = _admin_leaf(
        sub, "add", "add an SDK note (global unless a tenant/agent is given)", _notes_add
    )
    add.add_argument("--title", required=True)
    add.add_argument("--content", required=True)
    add.add_argument("--category", default="info", choices=NOTE_CATEGORIES)
    add.add_argument("--severity", default="info", choices=NOTE_SEVERITIES)
    add.add_argument("--tenant-id", type=int, default=None)
    add.add_argument("--agent-id", type=int, default=None)
    add.add_argument("--expires-at", default=None, help="UTC timestamp, e.g. 2030-01-01T00:00:00Z")
    _admin_leaf(sub, "list", "list every note", _notes_list)


def _notes_add(db: Database, args: argparse.Namespace) -> int:
    from .server import _admin

    note_id = _admin.add_note(
        db,
        args.title,
        args.content,
        category=args.category,
        severity=args.severity,
        tenant_id=args.tenant_id,
        agent_id=args.agent_id,
        expires_at=args.expires_at,
    )
    print(note_id)
    return 0


def _notes_list(db: Database, args: argparse.Namespace) -> int:
    from .server import _admin

    _print_table(
        ("id", "category", "severity", "tenant", "agent", "archived", "title"),
        (
            (
                n["id"],
                n["category"],
                n["severity"],
                n["tenant_id"],
                n["agent_id"],
                _yes_no(n["is_archived"]),
                n["title"],
            )
            for n in _admin.list_notes(db)
        ),
    )
    return 0


# -- the subcommand table --------------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    """One ``ashr-labs`` subcommand: help text, argument setup, and what it runs."""

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {
    "serve": Command("run the local Ashr server", _serve_parser, _serve),
    "keys": Command("create, list or revoke API keys", _keys_parser, _admin_command("keys")),
    "notes": Command("add or list SDK notes", _notes_parser, _admin_command("notes")),
    # Integrator: register further subcommands (e.g. "quickstart") here.
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="ashr-labs", description="Ashr Labs: local server and tools"
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}"
    )
    for name, command in COMMANDS.items():
        command.configure(sub.add_parser(name, help=command.help, description=command.help))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ashr-labs`` console script; returns the exit code."""
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    return COMMANDS[args.command].run(args)


if __name__ == "__main__":
    sys.exit(main())
