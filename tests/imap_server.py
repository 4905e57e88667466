"""A real IMAP server for tests: Debian's dovecot-imapd run in the foreground with its own
configuration in a temporary folder, on a free loopback port, one passwd-file user and a
Maildir. ``DovecotServer.missing()`` says why it cannot run (then the tests skip)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "bounces"
PASSWORD = "imap-test-password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DovecotServer:
    """dovecot -F on 127.0.0.1:port, plaintext IMAP, user ``bounces``."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.user, self.password = USER, PASSWORD
        self._dir = Path(tempfile.mkdtemp(prefix="nl-dovecot-"))
        self._proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def missing() -> str | None:
        """Why dovecot cannot run here, or None."""
        if not os.path.exists(DOVECOT):
            return "dovecot is not installed (apt-get install dovecot-imapd; .ci/run installs it)"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("dovenull")
                pwd.getpwnam("dovecot")
            except KeyError:
                return "running as root needs the dovecot and dovenull users of the Debian package"
        return None

    def _config(self) -> str:
        root = os.geteuid() == 0
        if root:
            # dovecot refuses to run its login process as root: use the package's users, and
            # a mail user that owns the Maildir.
            mail_user = pwd.getpwnam("dovecot")
            internal, login = "dovecot", "dovenull"
        else:
            mail_user = pwd.getpwuid(os.getuid())
            internal = login = mail_user.pw_name
        uid, gid = mail_user.pw_uid, mail_user.pw_gid
        mail = self._dir / "mail"
        mail.mkdir()
        if root:
            os.chown(mail, uid, gid)
        os.chmod(self._dir, 0o755)
        (self._dir / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        d = self._dir
        return f"""
base_dir = {d}/run
state_dir = {d}/state
instance_name = nl-test-{self.port}
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{mail}/%u
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""

    def start(self) -> DovecotServer:
        """Start dovecot and wait (up to 20 s) until it answers with an IMAP greeting."""
        conf = self._dir / "dovecot.conf"
        conf.write_text(self._config())
        self._proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                raise RuntimeError(f"dovecot exited: {err.strip()} {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not answer on port {self.port}: {self.log()}")

    def log(self) -> str:
        """dovecot's log so far (for failure messages)."""
        path = self._dir / "dovecot.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        """Stop dovecot (its master stops its children) and remove the folder."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc is not None and self._proc.stderr is not None:
            self._proc.stderr.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
