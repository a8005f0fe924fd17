"""Validators reject a proposal carrying a transaction from an account off their allowlist."""

from __future__ import annotations

import time
from pathlib import Path

from eth_account import Account

from node.cli.devaccounts import dev_keys
from tests.support.network import Devnet, wait_for
from tests.support.process import rpc

OUTSIDER = Account.from_key(dev_keys()[11])
INSIDER = Account.from_key(dev_keys()[12])


def _transfer(account, nonce: int) -> str:
    signed = account.sign_transaction(
        {"to": account.address, "value": 0, "gas": 21_000, "maxFeePerGas": 10**11,
         "maxPriorityFeePerGas": 1, "nonce": nonce, "chainId": 1337}
    )  # fmt: skip
    return "0x" + signed.raw_transaction.hex()


def test_proposal_with_outsider_transaction_rejected(tmp_path: Path) -> None:
    devnet = Devnet(tmp_path / "devnet", validators=4, rpc_nodes=0, empty_block_period=1)
    allowlist = tmp_path / "accounts.txt"
    allowlist.write_text(f"{INSIDER.address}\n")
    # Validator 0 runs without an allowlist, so it accepts and proposes the
    # outsider's transaction; the other three enforce theirs.
    for process in devnet.processes[1:]:
        process.args += ["--accounts-allowlist", str(allowlist)]
    try:
        devnet.start()
        outsider_tx = rpc(devnet.processes[0].url, "eth_sendRawTransaction", [_transfer(OUTSIDER, 0)])["result"]
        start = int(devnet.head(1)["number"], 16)
        wait_for(lambda: int(devnet.head(1)["number"], 16) >= start + 8, 120, "progress past the outsider's proposals")

        for index in range(4):
            assert rpc(devnet.processes[index].url, "eth_getTransactionReceipt", [outsider_tx])["result"] is None
        logs = "".join(process.log() for process in devnet.processes[1:])
        assert "sender not on the account allowlist" in logs

        # Insiders still get through.
        insider_tx = rpc(devnet.processes[1].url, "eth_sendRawTransaction", [_transfer(INSIDER, 0)])["result"]
        wait_for(
            lambda: rpc(devnet.processes[1].url, "eth_getTransactionReceipt", [insider_tx])["result"], 60, "insider"
        )
        time.sleep(0.5)
    finally:
        devnet.stop()
