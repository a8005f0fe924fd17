"""Helpers that run ``kura issuer`` in this process or as a subprocess, for the CLI and story tests."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from node.cli import i18n
from node.cli.main import main
from node.coin.dev_keystores import write_dev_keystore
from tests.support.process import REPO

PASSWORD = "correct horse battery staple"
#: Dev roles that get a keystore in ``write_keystores``.
KEYSTORE_ROLES = (
    "admin",
    "authority_issuer",
    "authority_operator",
    "authority_custodian",
    "attestor",
    "burner",
    "pauser",
    "compliance",
    "exchange",
    "customer",
)


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Keys:
    """Keystore files of the dev roles and the file holding their shared password."""

    directory: Path
    password_file: Path

    def keystore(self, role: str) -> str:
        return str(self.directory / f"{role}.json")

    def options(self, role: str) -> list[str]:
        """Return ``--keystore`` and ``--password-file`` for the dev account of ``role``."""
        return ["--keystore", self.keystore(role), "--password-file", str(self.password_file)]


def write_keystores(directory: Path) -> Keys:
    directory.mkdir(parents=True, exist_ok=True)
    password_file = directory / "password.txt"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    for role in KEYSTORE_ROLES:
        write_dev_keystore(directory, role, PASSWORD)
    return Keys(directory, password_file)


def run_kura(*argv: str, stdin: str = "") -> Result:
    """Run ``kura`` in this process through ``main`` and capture its output.

    ``stdin`` replaces standard input, so prompts read it and see end of input after it.
    """
    stdout, stderr = io.StringIO(), io.StringIO()
    saved_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = main(list(argv))
            except SystemExit as exit_request:
                # argparse exits with status 2 on a usage error.
                code = int(exit_request.code or 0)
    finally:
        sys.stdin = saved_stdin
    return Result(code, stdout.getvalue(), stderr.getvalue())


def run_kura_process(*argv: str, lang: str = "C.UTF-8") -> Result:
    """Run ``kura`` as a subprocess with ``LANG=lang`` and no other locale variable set."""
    env = {**os.environ, "LANG": lang, "ETH_HASH_BACKEND": "pysha3"}
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        env.pop(variable, None)
    completed = subprocess.run(
        [sys.executable, "-m", "node.cli.main", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)


@contextlib.contextmanager
def english_messages() -> object:
    """Make in-process ``kura`` runs print English whatever the caller's locale."""
    saved = os.environ.get("LANGUAGE")
    os.environ["LANGUAGE"] = "en"
    i18n.reload()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("LANGUAGE", None)
        else:
            os.environ["LANGUAGE"] = saved
        i18n.reload()
