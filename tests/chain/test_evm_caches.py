"""The process-wide trie node and jump analysis caches return what py-evm would compute."""

from __future__ import annotations

from pathlib import Path

import rlp
from eth.vm.code_stream import CodeStream
from trie.hexary import HexaryTrie

from node.chain import evm_caches
from tests.support.chains import new_chain, open_backend, seal_and_commit, transfer


def test_cached_trie_node_is_a_private_copy() -> None:
    evm_caches.install()
    trie = HexaryTrie({})
    for index in range(40):
        trie[rlp.encode(index)] = b"value-%d" % index
    first = trie.get_node(trie.root_hash)
    first[0] = b"mutated by a caller"
    second = trie.get_node(trie.root_hash)
    assert second[0] != b"mutated by a caller"
    assert trie[rlp.encode(7)] == b"value-7"


def test_jump_analysis_shared_per_code() -> None:
    evm_caches.install()
    # PUSH2 0x5b5b then JUMPDEST: positions 1 and 2 are push data, 3 is a real JUMPDEST.
    code = bytes([0x61, 0x5B, 0x5B, 0x5B])
    first = CodeStream(code)
    assert not first.is_valid_opcode(1)
    assert first.is_valid_opcode(3)
    second = CodeStream(code)
    assert 1 in second.invalid_positions
    assert 3 in second.valid_positions
    assert CodeStream(bytes([0x5B, 0x5B])).is_valid_opcode(1)


def test_roots_unchanged_when_caches_are_cold(tmp_path: Path) -> None:
    warm = new_chain(open_backend("memory", tmp_path))
    cold = new_chain(open_backend("memory", tmp_path))
    for nonce in range(3):
        executed = seal_and_commit(warm, [transfer(0, nonce), transfer(1, nonce)])
        evm_caches._nodes.clear()
        evm_caches._jump_targets.clear()
        cold.commit(cold.execute_received(executed.header, executed.transactions))
    assert cold.head.state_root == warm.head.state_root
