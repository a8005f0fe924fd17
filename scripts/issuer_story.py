#!/usr/bin/env python3
"""Walk through the gold coin's issuer story on a ``kura dev`` node, printing the figures at each step.

1. The attestor records 1,000 g of gold in custody (on a reused node: 1,000 g more than the
   latest attestation).
2. The issuer proposes minting 600 g to the exchange wallet.
3. The three mint authorities (issuer, operator, gold custodian) each sign the proposal with
   ``kura issuer sign`` while this process blocks every network connection.
4. The issuer submits the proposal with the three signatures, and MintAuthority mints.
5. The exchange pays a customer 150 g with an ERC-20 transfer.
6. The customer redeems 100 g. The customer approves the redemption desk (the burner) as an
   ERC-20 spender, and the desk burns with ``kura issuer burn --from``, which calls ``burnFrom``.
7. Once the 100 g of gold have left custody, the attestor records the smaller reserve.

Steps 1, 2, 3, 4, 6 and 7 run ``kura issuer`` commands. The two plain token calls, the payment in
step 5 and the approval in step 6, are sent from the holders' own wallets. Without ``--rpc`` the
script starts a ``kura dev`` node on a free port and stops it at the end. The dev accounts' keys
are public, so run the story only on development chains.

    python scripts/issuer_story.py              # start a node, run the story, stop the node
    python scripts/issuer_story.py --rpc URL    # run it on a node that is already running
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")

from node.cli.main import main as kura_main  # noqa: E402
from node.coin.abi import gold_coin_interface  # noqa: E402
from node.coin.dev_keystores import write_dev_keystore  # noqa: E402
from node.coin.dev_roles import dev_accounts  # noqa: E402
from node.coin.errors import NodeUnreachable  # noqa: E402
from node.coin.ledger import LedgerClient  # noqa: E402
from node.coin.predeploy import GOLD_COIN_ADDRESS  # noqa: E402
from node.coin.units import GRAM, format_grams  # noqa: E402

DEPOSIT_GRAMS = 1_000
MINT_GRAMS = 600
PAYMENT_GRAMS = 150
REDEMPTION_GRAMS = 100
#: Password of the throwaway keystores written for the dev accounts.
PASSWORD = "issuer story"
#: Seconds to wait for a started node to serve JSON-RPC.
NODE_START_TIMEOUT = 60


class StoryFailed(RuntimeError):
    """A step of the story failed; the message names the step."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def dev_node(log_path: Path) -> Iterator[str]:
    """Run ``kura dev`` on a free port with a temporary data directory; yield its RPC URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "node.cli.main", "dev", "--rpc-port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    try:
        deadline = time.monotonic() + NODE_START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise StoryFailed(f"kura dev exited with status {process.returncode}; see {log_path}")
            try:
                LedgerClient(url).latest_block()
                break
            except NodeUnreachable:
                if time.monotonic() > deadline:
                    raise StoryFailed(f"kura dev did not serve {url} within {NODE_START_TIMEOUT} s") from None
                time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def network_blocked() -> Iterator[None]:
    """Make every socket connection in this process fail, to show that a step works offline."""

    def refuse(self: socket.socket, address: object) -> None:
        raise OSError(f"network access blocked during an offline step (connection to {address})")

    saved = socket.socket.connect, socket.socket.connect_ex
    socket.socket.connect = refuse  # type: ignore[method-assign, assignment]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex = saved  # type: ignore[method-assign]


class Story:
    """The story's state: the node, the keystores and the files passed between the steps."""

    def __init__(self, rpc: str, work_dir: Path) -> None:
        self.rpc = rpc
        self.work_dir = work_dir
        self.ledger = LedgerClient(rpc)
        self.accounts = dev_accounts()
        self.password_file = work_dir / "password.txt"
        self.password_file.write_text(PASSWORD + "\n", encoding="utf-8")
        self.keystores = {
            role: write_dev_keystore(work_dir / "keystores", role, PASSWORD)
            for role in (
                "authority_issuer",
                "authority_operator",
                "authority_custodian",
                "attestor",
                "burner",
            )
        }

    def key_options(self, role: str) -> list[str]:
        return ["--keystore", str(self.keystores[role]), "--password-file", str(self.password_file)]

    def kura(self, *argv: str) -> None:
        """Run one ``kura`` command in this process, echoing it first; raise StoryFailed if it fails."""
        shown = " ".join(shlex.quote(arg.replace(str(self.work_dir) + "/", "")) for arg in argv)
        print(f"$ kura {shown}", flush=True)
        code = kura_main(list(argv))
        sys.stdout.flush()
        if code != 0:
            raise StoryFailed(f"kura {argv[0]} {argv[1]} exited with status {code}")

    def token_call(self, role: str, function: str, *args: object) -> None:
        """Send a GoldCoin call from a dev account's own wallet, outside the issuer commands."""
        data = gold_coin_interface().encode_call(function, *args)
        mined = self.ledger.transact(self.accounts[role].private_key, GOLD_COIN_ADDRESS, data, function=function)
        if not mined.status:
            raise StoryFailed(f"{function} from {role} failed with {mined.error}")
        print(f"{function} from the {role} wallet: transaction 0x{mined.transaction_hash.hex()}")

    def read(self, function: str, *args: object) -> int:
        return int(self.ledger.read(GOLD_COIN_ADDRESS, gold_coin_interface(), function, *args))

    def figures(self) -> None:
        """Print supply, reserve and the two holders' balances in one line."""
        supply = self.read("totalSupply")
        reserve = self.read("latestReserve")
        exchange = self.read("balanceOf", self.accounts["exchange"].address)
        customer = self.read("balanceOf", self.accounts["customer"].address)
        print(
            f"  figures: supply {format_grams(supply)} g, reserve {format_grams(reserve)} g, "
            f"exchange {format_grams(exchange)} g, customer {format_grams(customer)} g",
            flush=True,
        )

    def step(self, number: int, title: str) -> None:
        print(f"\n== Step {number}: {title}", flush=True)

    def run(self) -> None:
        exchange = self.accounts["exchange"].address
        customer = self.accounts["customer"].address
        burner = self.accounts["burner"].address

        self.step(0, "starting point")
        self.figures()

        self.step(1, f"the attestor records {DEPOSIT_GRAMS:,} g of gold in custody")
        reserve = self.read("latestReserve") + DEPOSIT_GRAMS * GRAM
        report = self.work_dir / "custody-report.txt"
        report.write_text(f"Vault count: {format_grams(reserve)} g of fine gold\n", encoding="utf-8")
        self.kura(
            "issuer", "attest-reserve", format_grams(reserve), "--report", str(report), *self.rpc_options("attestor")
        )
        self.figures()

        self.step(2, f"the issuer proposes minting {MINT_GRAMS} g to the exchange wallet")
        proposal = self.work_dir / "mint-proposal.json"
        self.kura(
            "issuer",
            "propose-mint",
            "--recipient",
            exchange,
            "--amount",
            str(MINT_GRAMS),
            "--reserve-report",
            str(report),
            "--out",
            str(proposal),
            "--rpc",
            self.rpc,
        )
        self.figures()

        self.step(3, "the three mint authorities sign offline")
        signatures = []
        for role in ("authority_issuer", "authority_operator", "authority_custodian"):
            signature = self.work_dir / f"mint-proposal.{role}.sig.json"
            with network_blocked():
                self.kura("issuer", "sign", str(proposal), *self.key_options(role), "--out", str(signature), "--yes")
            signatures.append(str(signature))
        self.figures()

        self.step(4, "the issuer submits the proposal with the signatures")
        self.kura("issuer", "submit", str(proposal), *signatures, *self.rpc_options("authority_issuer"))
        self.kura("issuer", "status", str(proposal), "--rpc", self.rpc)
        self.figures()

        self.step(5, f"the exchange pays the customer {PAYMENT_GRAMS} g")
        self.token_call("exchange", "transfer", customer, PAYMENT_GRAMS * GRAM)
        self.figures()

        self.step(6, f"the customer redeems {REDEMPTION_GRAMS} g at the redemption desk")
        self.token_call("customer", "approve", burner, REDEMPTION_GRAMS * GRAM)
        self.kura("issuer", "burn", str(REDEMPTION_GRAMS), "--from", customer, *self.rpc_options("burner"))
        self.figures()

        self.step(7, f"the gold custodian ships {REDEMPTION_GRAMS} g and the attestor records the new count")
        reserve -= REDEMPTION_GRAMS * GRAM
        shipped = self.work_dir / "custody-report-after-redemption.txt"
        shipped.write_text(f"Vault count: {format_grams(reserve)} g of fine gold\n", encoding="utf-8")
        self.kura(
            "issuer", "attest-reserve", format_grams(reserve), "--report", str(shipped), *self.rpc_options("attestor")
        )
        self.figures()

    def rpc_options(self, role: str) -> list[str]:
        return [*self.key_options(role), "--rpc", self.rpc]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rpc", metavar="URL", help="node to use; without it a kura dev node is started and stopped")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="kura-issuer-story-") as directory:
        work_dir = Path(directory)
        try:
            if args.rpc:
                Story(args.rpc, work_dir).run()
            else:
                with dev_node(work_dir / "node.log") as rpc:
                    print(f"Started kura dev at {rpc}")
                    Story(rpc, work_dir).run()
        except StoryFailed as error:
            print(f"story failed: {error}", file=sys.stderr)
            return 1
    print("\nThe story is complete.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
