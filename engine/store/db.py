"""Finding, checking, migrating and connecting to the case-store database.

Where the database is: ``--db`` (a path or any SQLAlchemy URL) beats ``$POXSCREEN_DB`` beats
``<user data dir>/poxscreen.db``. Before anything writes, the schema is inspected without writing
(SQLite files are opened read-only): an empty database is created, an older PoxScreen schema is
backed up and migrated with Alembic, and anything else -- not SQLite, someone else's tables, a
revision from a newer PoxScreen -- raises :class:`StoreVersionError` with the file untouched.

A database server gets a connect timeout (10 s; ``connect_timeout`` in the URL, else
``$POXSCREEN_DB_TIMEOUT``, overrides it) and a 5 min statement timeout (unless the URL sets
``options``), so a server that takes the connection and never answers is named in a message
instead of hanging the command. A URL whose driver is not installed is a message, too.

SQLite connections run in WAL mode with foreign keys on, ``synchronous=FULL`` (a clinician's
correction survives a power cut) and a 30 s busy timeout. Transactions are opened explicitly:
sessions bound to :func:`writer` start with ``BEGIN IMMEDIATE`` so two writers queue on the lock
instead of failing half-way, while readers start a plain deferred ``BEGIN``.
"""

from __future__ import annotations

import ast
import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from engine.atomic import free_bytes
from engine.paths import user_data_dir
from engine.store.errors import StoreError, StoreVersionError

log = logging.getLogger(__name__)

DB_ENV = "POXSCREEN_DB"
TIMEOUT_ENV = "POXSCREEN_DB_TIMEOUT"
CONNECT_TIMEOUT_S = 10
STATEMENT_TIMEOUT_S = 300
DB_FILENAME = "poxscreen.db"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_MAGIC = b"SQLite format 3\x00"
_WRITE_OPTION = "poxscreen_write"
_LOW_SPACE = 64 * 1024  # below this, SQLite cannot grow its journal: the disk is full


def default_db_path() -> Path:
    """The per-user database file used when neither ``--db`` nor ``$POXSCREEN_DB`` is given."""
    return user_data_dir() / DB_FILENAME


def resolve_db_url(db: str | os.PathLike[str] | URL | None = None) -> URL:
    """Turn ``--db`` / ``$POXSCREEN_DB`` / the default into an SQLAlchemy URL."""
    if isinstance(db, URL):
        return db
    value: str | os.PathLike[str] | None = db if db is not None else os.environ.get(DB_ENV) or None
    if value is None:
        value = default_db_path()
    text_value = os.fspath(value)
    if isinstance(value, str) and "://" in text_value:
        try:
            return make_url(text_value)
        except (ArgumentError, ValueError) as exc:  # e.g. a port that is not a number
            raise StoreError(
                f"{text_value}: not a database path or SQLAlchemy URL ({exc})"
            ) from exc
    path = Path(text_value).expanduser().resolve()
    return URL.create("sqlite", database=str(path))


def missing_sqlite_file(db: str | os.PathLike[str] | URL | None = None) -> Path | None:
    """The SQLite file ``db`` names when it does not exist yet (so opening it creates it)."""
    try:
        path = sqlite_file(resolve_db_url(db))
    except StoreError:
        return None
    return path if path is not None and not path.exists() else None


def sqlite_file(url: URL) -> Path | None:
    """The database file behind an SQLite URL, or None for other back ends and memory DBs."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or url.query.get("mode"):
        return None
    return Path(database)


def describe(url: URL) -> str:
    """A location for messages: the file path, or the URL without its password."""
    path = sqlite_file(url)
    return str(path) if path is not None else url.render_as_string(hide_password=True)


def setting_text(db: str | os.PathLike[str] | URL | None) -> str:
    """What a settings file may keep for ``db``: the URL *without* its password. The password
    belongs in the server's password file (``~/.pgpass``, ``PGPASSFILE``) or ``PGPASSWORD``,
    which the PostgreSQL driver reads by itself when the URL has none."""
    url = resolve_db_url(db)
    if sqlite_file(url) is not None:
        return str(sqlite_file(url))
    bare = URL.create(
        url.drivername, url.username, None, url.host, url.port, url.database, url.query
    )
    return bare.render_as_string(hide_password=False)


def _alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def _revision_ids(path: Path) -> tuple[str, str | None] | None:
    """``(revision, down_revision)`` of a migration file when both are plain literals."""
    found: dict[str, Any] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            try:
                found[target.id] = ast.literal_eval(node.value)  # type: ignore[arg-type]
            except ValueError:
                return None
    rev, down = found.get("revision"), found.get("down_revision")
    if not isinstance(rev, str) or not (down is None or isinstance(down, str)):
        return None
    return rev, down


def known_revisions() -> list[str]:
    """Schema revisions this version can read, oldest first (the last one is the head).

    Read from the migration files' ``revision``/``down_revision`` literals, so opening an
    up-to-date database never imports Alembic (a third of a second); anything but one straight
    chain is left to Alembic itself.
    """
    ids = [_revision_ids(p) for p in sorted((MIGRATIONS_DIR / "versions").glob("*.py"))]
    chain: list[str] = []
    if ids and all(ids):
        parent_of = dict(ids)  # type: ignore[arg-type]
        child_of = {down: rev for rev, down in parent_of.items()}
        rev = child_of.get(None)
        while rev is not None and rev not in chain:
            chain.append(rev)
            rev = child_of.get(rev)
        if len(chain) == len(parent_of) == len(child_of):
            return chain
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def head_revision() -> str:
    return known_revisions()[-1]


@dataclass(frozen=True)
class SchemaState:
    """What an inspection found: ``revision`` is None for an empty database."""

    revision: str | None
    tables: tuple[str, ...]


def sqlite_cause(path: Path, exc: BaseException) -> str:
    """The real reason SQLite failed on ``path``: a full disk, a read-only file or folder, or
    (only when none of those) SQLite's own words. SQLite says "unable to open" or "disk I/O
    error" for all of them, and a WAL database needs to write beside itself even to read."""
    message = str(exc)
    folder = path.parent
    free = free_bytes(folder)
    if free is not None and free < _LOW_SPACE:
        return f"the disk is full ({free // 1024} KiB free in {folder})"
    if path.exists() and not os.access(path, os.R_OK):
        return "permission denied: the database file cannot be read"
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"the database file or its folder {folder} is read-only ({message})"
    if "readonly" in message or "read-only" in message:
        return f"the database is read-only ({message})"
    if "disk is full" in message:
        return f"the disk is full ({message})"
    return message


def inspect_sqlite_file(path: Path) -> SchemaState:
    """Read tables and the Alembic revision of an SQLite file without writing to it."""
    with path.open("rb") as f:
        header = f.read(len(SQLITE_MAGIC))
    if header and header != SQLITE_MAGIC:
        raise StoreVersionError(str(path), "not an SQLite database; refusing to touch it")
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open it: {sqlite_cause(path, exc)}") from exc
    try:
        tables = tuple(
            sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"))
        )
        revisions: list[str] = []
        if "alembic_version" in tables:
            revisions = [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]
    except sqlite3.Error as exc:
        cause = sqlite_cause(path, exc)
        if cause == str(exc):  # nothing about the file system explains it: the file is damaged
            raise StoreVersionError(str(path), f"unreadable SQLite database ({exc})") from exc
        raise StoreError(f"{path}: cannot open it: {cause}") from exc
    finally:
        conn.close()
    return _state(str(path), tables, revisions)


def _inspect_engine(engine: Engine, location: str) -> SchemaState:
    try:
        with engine.connect() as conn:
            tables = tuple(sorted(inspect(conn).get_table_names()))
            revisions: list[str] = []
            if "alembic_version" in tables:
                rows = conn.execute(text("SELECT version_num FROM alembic_version"))
                revisions = [r[0] for r in rows]
    except OperationalError as exc:
        if "timeout expired" not in str(exc):  # not "the server did not answer"
            raise StoreError(f"{location}: cannot inspect the database ({exc})") from exc
        raise StoreError(
            f"the database server {server_of(engine.url)} did not answer within "
            f"{connect_timeout(engine.url)} s ({location}); check that it runs and accepts "
            f"PostgreSQL connections (wait longer: connect_timeout in the URL or {TIMEOUT_ENV})"
        ) from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"{location}: cannot inspect the database ({exc})") from exc
    return _state(location, tables, revisions)


def _state(location: str, tables: tuple[str, ...], revisions: list[str]) -> SchemaState:
    user_tables = tuple(t for t in tables if not t.startswith("sqlite_"))
    if "alembic_version" not in user_tables:
        if user_tables:
            shown = ", ".join(user_tables[:6]) + (", ..." if len(user_tables) > 6 else "")
            raise StoreVersionError(
                location,
                f"holds other tables ({shown}) and is not a PoxScreen case store; "
                "choose another --db",
            )
        return SchemaState(None, user_tables)
    known = known_revisions()
    if len(revisions) != 1:
        raise StoreVersionError(location, f"unexpected schema revisions {revisions!r}")
    revision = revisions[0]
    if revision not in known:
        raise StoreVersionError(
            location,
            f"schema revision {revision!r} is unknown to this PoxScreen (it knows up to "
            f"{known[-1]!r}); it was written by a newer version or another program -- "
            "upgrade PoxScreen or choose another --db",
        )
    return SchemaState(revision, user_tables)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # transactions are begun by _on_begin below
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA busy_timeout = 30000")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = FULL")
            cur.execute("PRAGMA secure_delete = ON")  # a forgotten case's text is overwritten
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def connect_timeout(url: URL) -> int:
    """Seconds to wait for a database server: the URL's ``connect_timeout``, else
    ``$POXSCREEN_DB_TIMEOUT``, else :data:`CONNECT_TIMEOUT_S`."""
    in_url = url.query.get("connect_timeout")
    value, where = (in_url, "the URL") if in_url else (os.environ.get(TIMEOUT_ENV), TIMEOUT_ENV)
    if not value:
        return CONNECT_TIMEOUT_S
    try:
        seconds = int(str(value))
    except ValueError:
        raise StoreError(f"connect_timeout {value!r} in {where}: not whole seconds") from None
    return seconds if seconds > 0 else CONNECT_TIMEOUT_S


def server_of(url: URL) -> str:
    """``host:port`` of a database server, for messages (never the user or password)."""

    def first(value: Any) -> str | None:
        return str(value[0] if isinstance(value, tuple) else value) if value else None

    host = url.host or first(url.query.get("host")) or "localhost"
    port = url.port or first(url.query.get("port")) or ("5432" if _is_postgres(url) else "?")
    return f"{host}:{port}"


def _is_postgres(url: URL) -> bool:
    return url.get_backend_name() in ("postgresql", "postgres")


def _server_args(url: URL) -> dict[str, Any]:
    """Connect and statement timeouts for PostgreSQL; what the URL sets itself is kept."""
    if not _is_postgres(url):
        return {}
    args: dict[str, Any] = {"connect_timeout": connect_timeout(url)}
    if "options" not in url.query:
        args["options"] = f"-c statement_timeout={STATEMENT_TIMEOUT_S * 1000}"
    return args


def create_store_engine(url: URL) -> Engine:
    """An engine with the store's connection settings (no schema check: see open_engine)."""
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    try:
        return create_engine(url, pool_pre_ping=True, connect_args=_server_args(url))
    except (NoSuchModuleError, ImportError, ArgumentError) as exc:
        raise StoreError(
            f"{describe(url)}: no driver for {url.drivername} ({exc}); PoxScreen supports "
            "SQLite files and postgresql:// servers"
        ) from exc


def _read_only_engine(url: URL, path: Path) -> Engine:
    """An engine whose connections open the file with ``mode=ro``: no journal-mode change, no
    write, so reading a backup or a colleague's copy leaves its bytes as they were."""

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)

    engine = create_engine(url, creator=connect)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA busy_timeout = 30000")
        dbapi_conn.execute("PRAGMA query_only = ON")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def writer(engine: Engine) -> Engine:
    """The same engine, whose transactions take the write lock up front (SQLite)."""
    return engine.execution_options(**{_WRITE_OPTION: True})


def _backup(path: Path, revision: str) -> Path:
    """Copy an SQLite file (consistently, via the backup API) before migrating it."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.rev{revision}-{stamp}.bak")
    src = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    return target


def migrate(engine: Engine) -> None:
    """Upgrade to the head revision in one transaction (a failed upgrade changes nothing)."""
    from alembic import command

    with writer(engine).begin() as conn:
        command.upgrade(_alembic_config(conn), "head")


def _open_read_only(url: URL, path: Path) -> Engine:
    if not path.is_file():
        _check_new_file(path, create=False)
        raise StoreError(f"{path}: is a folder; --db needs a database file")
    state = inspect_sqlite_file(path)
    if state.revision != head_revision():
        raise StoreVersionError(
            str(path),
            f"schema revision {state.revision!r} is older than {head_revision()!r}; a command "
            "that only reads does not upgrade it (any command that writes, or the app, does)",
        )
    return _read_only_engine(url, path)


def _check_new_file(path: Path, create: bool) -> None:
    """A missing database file is created only when asked, and only in a folder that exists
    (the default data folder excepted): a mistyped --db must not become an empty store."""
    if not create:
        raise StoreError(
            f"{path}: no case store there; check --db (commands that only read never create one)"
        )
    if path.parent.is_dir():
        return
    if path != default_db_path().expanduser().resolve():
        raise StoreError(f"{path.parent}: folder does not exist; check --db")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{path}: cannot create its folder ({exc})") from exc


def open_engine(
    db: str | os.PathLike[str] | URL | None = None,
    *,
    upgrade: bool = True,
    create: bool = True,
    read_only: bool = False,
) -> Engine:
    """Resolve, check and (when needed and allowed) create or migrate the database.

    Raises StoreVersionError, leaving the database untouched, for a foreign or newer database,
    and for an older one when ``upgrade`` is False; StoreError for a missing SQLite file when
    ``create`` is False. ``read_only`` opens an SQLite file with ``mode=ro`` (never created,
    migrated or switched to WAL); a server database opens as usual.
    """
    url = resolve_db_url(db)
    location = describe(url)
    path = sqlite_file(url)
    if path is not None and read_only:
        return _open_read_only(url, path)
    if path is not None:
        if path.is_dir():
            raise StoreError(f"{path}: is a folder; --db needs a database file")
        state = inspect_sqlite_file(path) if path.exists() else SchemaState(None, ())
        if not path.exists():
            _check_new_file(path, create)
        engine = create_store_engine(url)
    else:
        if url.password:
            log.warning(
                "%s: the database URL holds a password; keep it in ~/.pgpass or PGPASSWORD "
                "instead, so it is never written to settings",
                location,
            )
        engine = create_store_engine(url)
        state = _inspect_engine(engine, location)

    head = head_revision()
    if state.revision != head:
        if state.revision is not None and not upgrade:
            engine.dispose()
            raise StoreVersionError(
                location, f"schema revision {state.revision!r} is older than {head!r}"
            )
        if state.revision is not None and path is not None:
            _backup(path, state.revision)
        try:
            migrate(engine)
        except SQLAlchemyError as exc:
            engine.dispose()
            raise StoreError(f"{location}: schema migration failed ({exc})") from exc
    try:  # connect once now, so a read-only file or folder fails here with a clear message
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        engine.dispose()
        cause = getattr(exc, "orig", None) or exc
        if path is not None:
            cause = sqlite_cause(path, cause)
        raise StoreError(f"{location}: cannot open the database ({cause})") from exc
    return engine
