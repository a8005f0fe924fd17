"""Four validators with real Chains on in-memory stores, deciding blocks with transactions."""

from __future__ import annotations

import pytest
from eth.abc import SignedTransactionAPI

from node.consensus.seals import verify_seals
from node.store.backend import MemoryBackend
from tests.consensus.chain_adapter import ChainAdapter
from tests.consensus.fake_chain import Ledger
from tests.consensus.simulation import Cluster, Conditions, SimChain
from tests.support.chains import new_chain, transfer

TRANSFERS = [transfer(sender, nonce) for sender in range(3) for nonce in range(2)]
SENDERS = {transaction.sender for transaction in TRANSFERS}


def real_chain_factory(name: str, validators: tuple[bytes, ...], key: bytes, ledger: Ledger) -> SimChain:
    qbft = {"validators": ["0x" + v.hex() for v in validators], "blockperiodseconds": 1}
    chain = new_chain(MemoryBackend(), qbft=qbft)
    # Every proposer offers all transfers; building skips those already included (nonce too low).
    pending: list[SignedTransactionAPI] = list(TRANSFERS)
    return ChainAdapter(name, chain, key, ledger, lambda: pending)


@pytest.mark.parametrize(("seed", "loss"), [(3, 0.05), (5, 0.25)])
def test_real_chains_agree_and_include_transactions(seed: int, loss: float) -> None:
    conditions = Conditions(loss=loss, duplicate=0.05, max_delay=0.3, straggler=0.05)
    cluster = Cluster(4, seed, conditions=conditions, chain_factory=real_chain_factory).start()

    assert cluster.run_until_height(4, within=300)

    assert cluster.ledger.conflicts == []
    adapters = [node.chain for node in cluster.nodes if isinstance(node.chain, ChainAdapter)]
    assert len(adapters) == 4
    for number in range(1, 5):
        headers = [adapter.chain.header_by_number(number) for adapter in adapters]
        assert None not in headers
        assert len({header.hash for header in headers if header is not None}) == 1, f"height {number}"
        for header in headers:
            assert header is not None
            assert len(verify_seals(header, cluster.validators)) >= 3
    for adapter in adapters:
        state = adapter.chain.state_at(adapter.chain.head)
        for sender in SENDERS:
            assert state.get_nonce(sender) == 2
