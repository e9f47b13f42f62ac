"""The same store on PostgreSQL (a clinic server): a throwaway local server with password
authentication, skipped only when the PostgreSQL binaries or the psycopg driver are not
installed. The binaries are found on PATH or in the usual Debian/Ubuntu place
(/usr/lib/postgresql/<version>/bin); as root the server runs as the ``postgres`` user."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.referral import ReferralRule
from engine.store import REFER, ReviewFilter, Store, StoreError, StoreVersionError
from tests.engine.store.conftest import CLASSES, MODEL_A, MODEL_B, fake_result

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _is_root() -> bool:
    return getattr(os, "geteuid", lambda: -1)() == 0


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb/postgres refuse to run as root: run them as the postgres user then."""
    if _is_root():
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _pg_binary(name: str) -> str | None:
    """``name`` on PATH, else from the newest /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return candidates[-1] if candidates else None


PASSWORD = secrets.token_urlsafe(12)


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    """A throwaway server requiring a password; the tests pass it the way a clinic would,
    through PGPASSWORD (set for this module), never inside the URL."""
    pytest.importorskip("psycopg", reason="psycopg not installed (pip install psycopg[binary])")
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    base = Path(tempfile.mkdtemp(prefix="poxscreen-pg-"))
    base.chmod(0o777)
    data, port = base / "data", _free_port()
    pwfile = base / "pw"
    pwfile.write_text(PASSWORD + "\n")
    try:
        if _is_root():
            shutil.chown(base, "postgres")
            shutil.chown(pwfile, "postgres")
        subprocess.run(
            _as_postgres(
                [
                    initdb,
                    "-D",
                    str(data),
                    "-A",
                    "scram-sha-256",
                    f"--pwfile={pwfile}",
                    "-U",
                    "postgres",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        opts = f"-k {base} -p {port} -c listen_addresses='' -c fsync=off"
        subprocess.run(
            _as_postgres(
                [pg_ctl, "-D", str(data), "-o", opts, "-w", "start", "-l", str(base / "log")]
            ),
            check=True,
            capture_output=True,
        )
    except (subprocess.CalledProcessError, LookupError, OSError) as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"could not start a throwaway PostgreSQL: {exc}")
    previous = os.environ.get("PGPASSWORD")
    os.environ["PGPASSWORD"] = PASSWORD
    try:
        yield f"postgresql+psycopg://postgres@/{{db}}?host={base}&port={port}"
    finally:
        if previous is None:
            os.environ.pop("PGPASSWORD", None)
        else:
            os.environ["PGPASSWORD"] = previous
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)


def _database(pg_server: str, name: str) -> str:
    import psycopg

    admin = pg_server.format(db="postgres").replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_server.format(db=name)


def test_the_store_works_on_postgresql(pg_server: str, tmp_path: Path) -> None:
    url = _database(pg_server, "clinic")
    with Store.open(url, image_root=tmp_path / "images") as store:
        run = store.begin_run("/photos", {}, MODEL_A, model_meta={"classes": CLASSES})
        batch = [fake_result(i, top=CLASSES[i % 4], confidence=0.4 + i / 100) for i in range(30)]
        batch.append({**batch[0], "path": "/photos/copy-of-0.jpg"})  # same image twice in a batch
        stats = store.record_results(run, batch)
        assert (stats.screened, stats.skipped) == (30, 1)
        assert store.record_results(run, batch[:5]).skipped == 5
        run_b = store.begin_run("/photos", {}, MODEL_B)
        store.record_results(run_b, [fake_result(0, top="Normal", confidence=0.99)])
        assert store.done_hashes(MODEL_A, [fake_result(i)["sha256"] for i in range(40)]) == {
            fake_result(i)["sha256"] for i in range(30)
        }
        sha = fake_result(3)["sha256"]
        store.label(sha, "Measles", who="dr a", classes=CLASSES)
        store.label(sha, REFER, who="dr b")
        assert store.undo(sha, who="dr b").current_label == "Measles"
        assert [e.label_after for e in store.history(sha)] == ["Measles", REFER, "Measles"]
        pages, after = [], None
        while True:
            page = store.review_queue(ReviewFilter(reviewed=False), limit=7, after=after)
            pages += [i.confidence for i in page.items]
            if page.next_cursor is None:
                break
            after = page.next_cursor
        assert len(pages) == 29 and pages == sorted(pages)
        assert store.count(ReviewFilter(disagreement=True)) == 1  # Measles vs model's class
        assert store.undo(sha, who="dr b").current_label is None
        assert store.redo(sha, who="dr b").current_label == "Measles"
        rule = ReferralRule(min_confidence=0.5, mpox_above=0.2)
        store.set_referral_rule(rule, who="lead")
        want = {r["sha256"] for r in batch[:30] if rule.flags(r["probabilities"])}
        got = store.review_queue(ReviewFilter(referral=True), limit=100).items
        assert {i.sha256 for i in got} == want and 0 < len(want) < 30
        names = [i.path for i in store.review_queue(ReviewFilter(sort="name"), limit=100).items]
        assert names == sorted(names) and len(names) == 30
        assert store.count(ReviewFilter(search="IMG1")) == 11  # img1, img10..img19
        store.register_model(MODEL_B, name="b")
        assert store.activate_model("b").active
        assert [m.content_hash for m in store.models() if m.active] == [MODEL_B]
        assert store.finish_run(run, "finished").counts.screened == 30
        assert store.export_csv(tmp_path / "run.csv", run_id=run) == 31
    with Store.open(url) as again:  # reopening at head: no migration
        assert again.current_label(sha) == "Measles"


def test_a_foreign_postgresql_database_is_refused(pg_server: str) -> None:
    import psycopg

    url = _database(pg_server, "other_app")
    plain = url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("CREATE TABLE patients (id serial primary key, name text)")
    with pytest.raises(StoreVersionError, match="patients"):
        Store.open(url)
    with psycopg.connect(plain) as conn:
        tables = [
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
    assert tables == ["patients"]


def test_an_unreachable_server_is_a_store_error(pg_server: str) -> None:
    with pytest.raises(StoreError, match="cannot inspect"):
        Store.open(pg_server.format(db="no_such_database"))


def test_the_password_comes_from_the_password_file_or_environment(
    pg_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _database(pg_server, "clinic_pw")
    monkeypatch.delenv("PGPASSWORD")
    with pytest.raises(StoreError):
        Store.open(url, image_root=tmp_path / "images")  # no password anywhere: refused
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"*:*:*:postgres:{PASSWORD}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    with Store.open(url, image_root=tmp_path / "images") as store:
        assert store.runs() == []


def test_a_password_in_the_url_is_masked_in_every_message(
    pg_server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from engine.store.db import setting_text

    secret = "Wr0ng-" + secrets.token_hex(6)
    url = pg_server.format(db="clinic_pw").replace("postgres@", f"postgres:{secret}@")
    os.environ.pop("PGPASSWORD", None)
    try:
        with pytest.raises(StoreError) as err:
            Store.open(url, image_root=tmp_path / "images")
    finally:
        os.environ["PGPASSWORD"] = PASSWORD
    assert secret not in str(err.value) and "***" in str(err.value)
    assert secret not in caplog.text and "~/.pgpass" in caplog.text
    saved = setting_text(url)
    assert secret not in saved and saved.startswith("postgresql+psycopg://postgres@")


_WORKER = """
import sys, time
from engine.store import Store
from tests.engine.store.conftest import CLASSES, MODEL_A, fake_result
url, who, images, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with Store.open(url, image_root=images) as store:
    run = store.begin_run("/photos", {}, MODEL_A, resume=True, model_meta={"classes": CLASSES})
    print(run, flush=True)
    sys.stdin.readline()  # start together
    for start in range(0, n, 10):
        batch = [fake_result(i) for i in range(start, start + 10)]
        store.record_results(run, batch)
        for r in batch[:3]:
            store.label(r["sha256"], CLASSES[start // 10 % 4], who=who, classes=CLASSES)
    store.finish_run(run, "finished")
"""


def test_two_processes_screen_and_label_one_database_at_once(
    pg_server: str, tmp_path: Path
) -> None:
    from sqlalchemy import text

    url, n = _database(pg_server, "two_workstations"), 200
    Store.open(url, image_root=tmp_path / "images").close()  # schema made once, up front
    repo = Path(__file__).resolve().parents[3]
    procs = []
    for who in ("dr a", "dr b"):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER, url, who, str(tmp_path / who), str(n)],
            cwd=repo,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        int(proc.stdout.readline())  # its run has begun (the second while the first runs)
        procs.append(proc)
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    with Store.open(url, image_root=tmp_path / "images") as store:
        runs = store.runs()
        assert len(runs) == 2 and {r.status for r in runs} == {"finished"}
        assert sorted(r.owner_pid for r in runs) == sorted(p.pid for p in procs)  # none taken over
        assert all(r.counts.seen == n for r in runs)
        with store.read() as s:
            preds = s.execute(text("SELECT count(*), count(DISTINCT image_id) FROM predictions"))
            assert tuple(preds.one()) == (n, n)  # every image exactly once
            events = s.execute(text("SELECT who, count(*) FROM label_events GROUP BY who")).all()
        assert dict(events) == {"dr a": n // 10 * 3, "dr b": n // 10 * 3}  # no label lost


def test_server_connections_carry_a_statement_timeout_unless_the_url_sets_options(
    pg_server: str,
) -> None:
    from sqlalchemy import text

    url = _database(pg_server, "clinic_timeouts")
    with Store.open(url) as store, store.read() as s:
        assert s.execute(text("SHOW statement_timeout")).scalar() == "5min"
    own = f"{url}&options=-c%20statement_timeout%3D1500"
    with Store.open(own) as store, store.read() as s:
        assert s.execute(text("SHOW statement_timeout")).scalar() == "1500ms"
