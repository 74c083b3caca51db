"""A real PostgreSQL server for the tests and benchmarks/log_load.py: Debian's initdb and pg_ctl in a temporary
folder, on a free loopback port.

PostgreSQL refuses to run as root, so as root (CI) the server runs as the `postgres` system user that Debian's
package creates; otherwise as whoever runs the tests. Clients connect over TCP with a password.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from load import HOST, free_port

BIN = Path("/usr/lib/postgresql/15/bin")
USER = "assistant"
PASSWORD = "s3cret-pw"  # the throwaway server's superuser; the tests check it is never printed


class PgServer:
    """One PostgreSQL cluster in its own temporary folder; `url(db)` to reach it, `new_database()` per test."""

    def __init__(self):
        if not (BIN / "pg_ctl").is_file():
            raise RuntimeError(f"PostgreSQL 15 is not installed ({BIN}/pg_ctl): run `make postgresql`")
        self.folder = Path(tempfile.mkdtemp(prefix="askauthor-pg-"))  # in /tmp, which `postgres` can reach
        self.data = self.folder / "data"
        self.port = free_port()
        self._databases = 0
        self._owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._owner:
            shutil.chown(self.folder, "postgres", "postgres")
        password_file = self.folder / "password"
        password_file.write_text(PASSWORD, encoding="utf-8")
        if self._owner:
            shutil.chown(password_file, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", USER, "--pwfile", str(password_file), "-A", "scram-sha-256",
                  "--no-sync", "-E", "UTF8", "--locale", "C")  # fmt: skip
        password_file.unlink()
        self.start()

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([*self._owner, str(BIN / program), *args], check=True, capture_output=True, cwd=self.folder)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses={HOST} -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "server.log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` ends the connections cleanly, `immediate` is a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@{HOST}:{self.port}/{database}"

    def new_database(self) -> str:
        """A new empty database's URL: each test gets its own."""
        self._databases += 1
        name = f"log{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def close(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.folder, ignore_errors=True)
