"""Four QBFT validators as real processes on loopback: finality, crashes, recovery."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from eth_account import Account

from node.chain.crypto import recover_address
from node.cli.devaccounts import dev_keys
from tests.support.headers import header_from_rpc
from tests.support.network import Devnet, Links, wait_for
from tests.support.process import rpc

CHAIN_ID = 1337
SENDER = Account.from_key(dev_keys()[2])


def _send(url: str, nonce: int) -> str:
    signed = SENDER.sign_transaction(
        {
            "to": "0x000000000000000000000000000000000000bEEF",
            "value": 1,
            "gas": 21_000,
            "maxFeePerGas": 10**11,
            "maxPriorityFeePerGas": 1,
            "nonce": nonce,
            "chainId": CHAIN_ID,
        }
    )
    response = rpc(url, "eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex()])
    assert "result" in response, response
    return response["result"]


def _height(devnet: Devnet, index: int) -> int:
    return int(devnet.head(index)["number"], 16)


def _committers(block: dict) -> set[bytes]:
    header = header_from_rpc(block)
    return {recover_address(header.commit_hash, seal) for seal in header.seal.commit_seals}


def _assert_same_chain(devnet: Devnet, indexes: list[int], upto: int) -> None:
    for number in range(upto + 1):
        blocks = [rpc(devnet.processes[i].url, "eth_getBlockByNumber", [hex(number), False])["result"] for i in indexes]
        assert len({(b["hash"], b["stateRoot"]) for b in blocks}) == 1, f"nodes disagree at height {number}"


@pytest.fixture
def devnet(tmp_path: Path):
    network = Devnet(tmp_path / "devnet", validators=4, rpc_nodes=1, empty_block_period=2)
    network.start()
    yield network
    network.stop()


def test_transactions_to_any_node_finalised(devnet: Devnet) -> None:
    nonce = int(rpc(devnet.processes[0].url, "eth_getTransactionCount", [SENDER.address, "latest"])["result"], 16)
    hashes = [_send(devnet.processes[i % 5].url, nonce + i) for i in range(10)]
    for tx_hash in hashes:
        wait_for(
            lambda h=tx_hash: rpc(devnet.processes[4].url, "eth_getTransactionReceipt", [h])["result"], 30, "receipt"
        )
    final = int(rpc(devnet.processes[4].url, "eth_getTransactionReceipt", [hashes[-1]])["result"]["blockNumber"], 16)
    wait_for(lambda: min(_height(devnet, i) for i in range(5)) >= final, 20, "all nodes at the final block")
    _assert_same_chain(devnet, [0, 1, 2, 3, 4], final)
    block = rpc(devnet.processes[0].url, "eth_getBlockByNumber", [hex(final), False])["result"]
    assert len(_committers(block)) >= 3


def test_one_crash_tolerated_and_rejoins(devnet: Devnet) -> None:
    wait_for(lambda: _height(devnet, 0) >= 2, 30, "first blocks")
    crashed = devnet.processes[3]
    crashed_address = bytes.fromhex(devnet.nodes[3]["address"][2:])
    crashed.kill()

    # The other three keep finalising; rounds whose proposer is down time out.
    start_height, start_time = _height(devnet, 0), time.monotonic()
    wait_for(lambda: _height(devnet, 0) >= start_height + 6, 90, "progress with one validator down")
    seconds_per_block = (time.monotonic() - start_time) / 6
    print(f"block time with 1 of 4 validators down: {seconds_per_block:.1f} s")

    # Back with its data: it catches up and seals again.
    crashed.start()
    target = _height(devnet, 0) + 2
    wait_for(lambda: _height(devnet, 3) >= target, 60, "restarted validator catching up")
    _wait_for_seal(devnet, crashed_address, 60)

    # Back with an empty data directory: it syncs from genesis and seals again.
    crashed.stop()
    devnet.wipe(3)
    crashed.start()
    target = _height(devnet, 0) + 1
    wait_for(lambda: _height(devnet, 3) >= target, 90, "wiped validator catching up")
    _wait_for_seal(devnet, crashed_address, 60)
    _assert_same_chain(devnet, [0, 3], _height(devnet, 3))


def _wait_for_seal(devnet: Devnet, address: bytes, timeout: float) -> None:
    seen_from = _height(devnet, 0)

    def sealed() -> bool:
        head = _height(devnet, 0)
        for number in range(seen_from + 1, head + 1):
            block = rpc(devnet.processes[0].url, "eth_getBlockByNumber", [hex(number), False])["result"]
            if address in _committers(block):
                return True
        return False

    wait_for(sealed, timeout, f"a commit seal by 0x{address.hex()}")


def test_two_crashes_halt_without_fork_then_resume(devnet: Devnet) -> None:
    wait_for(lambda: _height(devnet, 0) >= 2, 30, "first blocks")
    devnet.processes[2].kill()
    devnet.processes[3].kill()
    time.sleep(3)
    halted = _height(devnet, 0)
    time.sleep(8)
    assert _height(devnet, 0) == halted, "two of four validators cannot finalise"
    assert _height(devnet, 1) == halted

    devnet.processes[2].start()
    wait_for(lambda: _height(devnet, 0) >= halted + 2, 120, "progress after one validator returns")
    _assert_same_chain(devnet, [0, 1, 2], halted + 2)


def test_partition_two_two_halts_both_sides_then_heals(tmp_path: Path) -> None:
    links = Links()
    network = Devnet(tmp_path / "devnet", validators=4, rpc_nodes=0, empty_block_period=1, links=links)
    try:
        network.start()
        wait_for(lambda: _height(network, 0) >= 2, 30, "first blocks")
        links.cut({0, 1}, {2, 3})
        time.sleep(3)
        halted = [_height(network, i) for i in range(4)]
        # A block in flight at the cut may still land; after that, neither side has a quorum.
        time.sleep(10)
        assert [_height(network, i) for i in range(4)] == halted, "a side of a 2|2 partition made a block"
        assert max(halted) - min(halted) <= 1

        links.heal()
        top = max(halted)
        wait_for(lambda: min(_height(network, i) for i in range(4)) >= top + 2, 120, "progress after the healing")
        _assert_same_chain(network, [0, 1, 2, 3], top + 2)
    finally:
        network.stop()
        links.close()
