"""The embedded PostgreSQL cluster of local mode (config/embedded_db.py), on real binaries."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import psutil
import psycopg
import pytest

from config import embedded_db


def connect(cluster: embedded_db.Cluster) -> psycopg.Connection:
    return psycopg.connect(
        host=str(cluster.socket_dir), port=embedded_db.PORT, user="postgres", dbname="philgeps"
    )


def postmaster(cluster: embedded_db.Cluster) -> psutil.Process:
    return psutil.Process(int((cluster.pgdata / "postmaster.pid").read_text().split()[0]))


@pytest.fixture
def cluster(data_dir: Path):  # type: ignore[no-untyped-def]
    cluster = embedded_db.for_data_dir(data_dir)
    yield cluster
    embedded_db.stop(cluster, mode="immediate")


def test_a_data_dir_too_deep_for_a_unix_socket_gets_a_short_private_socket_folder(data_dir):
    deep = embedded_db.for_data_dir(data_dir / ("d" * 60) / ("e" * 60))
    try:
        assert embedded_db.ensure_running(deep) is embedded_db.Start.CREATED
        with connect(deep) as connection:
            found = connection.execute("SELECT current_setting('data_directory')").fetchone()[0]
        mode = stat.S_IMODE(deep.socket_dir.stat().st_mode)
    finally:
        embedded_db.stop(deep)

    assert found == str(deep.pgdata)
    assert len(os.fsencode(deep.pgdata / ".s.PGSQL.5432")) > embedded_db.SOCKET_PATH_MAX
    assert deep.socket_dir != deep.pgdata
    assert len(os.fsencode(deep.socket_dir / ".s.PGSQL.5432")) <= embedded_db.SOCKET_PATH_MAX
    assert mode == 0o700
    assert not deep.socket_dir.exists()  # removed with the server


def test_the_server_never_runs_as_root_and_owns_its_data(cluster):
    embedded_db.ensure_running(cluster)

    server = postmaster(cluster)
    assert server.uids().real != 0
    assert server.uids().real == cluster.pgdata.stat().st_uid
    assert stat.S_IMODE(cluster.pgdata.stat().st_mode) == 0o700


def test_the_last_process_to_leave_stops_the_server_and_not_before(cluster):
    with embedded_db.in_use(cluster) as first:
        with embedded_db.in_use(cluster) as second:
            server = postmaster(cluster)
        assert server.is_running()  # the outer user still holds it
        with connect(cluster) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)

    assert (first, second) == (embedded_db.Start.CREATED, embedded_db.Start.RUNNING)
    server.wait(10)
    assert not (cluster.pgdata / "postmaster.pid").exists()  # a clean shutdown


def test_data_survives_a_stop_and_a_start(cluster):
    embedded_db.ensure_running(cluster)
    with connect(cluster) as connection:
        connection.execute("CREATE TABLE kept (n int)")
        connection.execute("INSERT INTO kept VALUES (42)")
    embedded_db.stop(cluster)

    assert embedded_db.ensure_running(cluster) is embedded_db.Start.STARTED
    with connect(cluster) as connection:
        assert connection.execute("SELECT n FROM kept").fetchone() == (42,)


def test_an_initdb_cut_short_is_done_again(cluster):
    half = cluster.pgdata.with_name("postgres.init")  # initdb's side folder, never renamed
    half.mkdir(parents=True)
    (half / "PG_VERSION").write_text("18\n")

    assert embedded_db.ensure_running(cluster) is embedded_db.Start.CREATED
    assert not half.exists()
    with connect(cluster) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
