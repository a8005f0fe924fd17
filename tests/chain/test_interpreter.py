"""The lean opcode loop gives exactly py-evm's results: same gas, status, logs and state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from eth.vm.computation import BaseComputation

from node.chain import interpreter
from node.coin.abi import gold_coin_interface
from node.coin.predeploy import GOLD_COIN_ADDRESS
from node.store.backend import MemoryBackend
from tests.audit.builders import GRAM, Wallets, build_traffic, new_dev_chain, seal


@contextmanager
def py_evm_loop() -> Iterator[None]:
    interpreter.install()
    patched = BaseComputation.__dict__["apply_computation"]
    BaseComputation.apply_computation = classmethod(interpreter._original_apply_computation)  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        BaseComputation.apply_computation = patched  # type: ignore[method-assign]


def test_lean_loop_blocks_replay_under_py_evm() -> None:
    interpreter.install()
    built = new_dev_chain(MemoryBackend())
    build_traffic(built, 150, per_block=50)

    wallets = Wallets(built)
    state = built.state_at(built.head)
    for role in ("exchange", "customer"):
        wallets.nonces[role] = state.get_nonce(bytes.fromhex(wallets.address(role)[2:]))
    coin = gold_coin_interface()
    to_new_holder = coin.encode_call("transfer", "0x" + "77" * 20, GRAM)
    odd_cases = [
        # A new holder's balance slot costs 20,000 gas to set: out of gas
        # inside the token's code.
        wallets.send("exchange", GOLD_COIN_ADDRESS, to_new_holder, gas=30_000),
        # The customer is frozen by the story: the token reverts with a reason.
        wallets.send("customer", GOLD_COIN_ADDRESS, to_new_holder, gas=100_000),
        # A creation whose init code stores a slot, and one that hits INVALID.
        wallets.send("exchange", None, bytes.fromhex("6001600055"), gas=100_000),
        wallets.send("exchange", None, b"\xfe", gas=100_000),
    ]
    executed = seal(built, odd_cases)
    statuses = [receipt.state_root for receipt in executed.receipts]
    assert statuses == [b"", b"", b"\x01", b""]
    cumulative = [receipt.gas_used for receipt in executed.receipts]
    assert cumulative[0] == 30_000  # out of gas: all of it is spent
    assert cumulative[3] - cumulative[2] == 100_000  # INVALID spends all gas too

    replayed = new_dev_chain(MemoryBackend())
    with py_evm_loop():
        for number in range(1, built.head.block_number + 1):
            header = built.header_by_number(number)
            assert header is not None
            # execute_received checks gas used, state, receipt and log roots against the header.
            replayed.commit(replayed.execute_received(header, list(built.transactions(header))))
    assert replayed.head.hash == built.head.hash
