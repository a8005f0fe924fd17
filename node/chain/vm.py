"""The EVM: py-evm's Prague rules with Kura's header and no beacon chain.

Kura runs Prague because it is the newest fork py-evm implements: clients
that default to Prague (ethers v6, viem, Hardhat 3, solc's ``prague``
target) see the opcodes, precompiles and transaction types they expect,
EIP-7702 set-code transactions included.

A permissioned chain has no beacon chain, so the consensus-layer parts of
Cancun and Prague are inert by construction:

- ``parent_beacon_block_root`` is always the zero hash and the EIP-4788
  beacon roots contract is not deployed, so nothing is written for it;
- the EIP-7685 request list is always empty (no deposit contract, no
  EIP-7002/7251 system contracts), so ``requests_hash`` is SHA-256 of the
  empty string and the deposit log scan is skipped;
- the EIP-2935 history contract is deployed in genesis, and py-evm writes
  the parent hash into it before each block, so ``BLOCKHASH`` reaches back
  8,191 blocks through the contract as on mainnet;
- blob transactions are rejected at the pool: there is nowhere to keep blobs.
"""

from __future__ import annotations

from eth.abc import BlockAPI
from eth.constants import EMPTY_SHA256
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.constants import HISTORY_STORAGE_ADDRESS, HISTORY_STORAGE_CONTRACT_CODE
from eth.vm.forks.prague.state import PragueState

from node.chain import evm_caches, interpreter, trie_update
from node.chain.header import KuraBlock

__all__ = [
    "EMPTY_REQUESTS_HASH",
    "HISTORY_STORAGE_ADDRESS",
    "HISTORY_STORAGE_CONTRACT_CODE",
    "KuraVM",
]

evm_caches.install()
interpreter.install()
trie_update.install()

#: ``requests_hash`` of a block with no EIP-7685 requests.
EMPTY_REQUESTS_HASH = EMPTY_SHA256


class KuraState(PragueState):
    def set_system_contracts(self) -> None:
        """Skip py-evm's system-contract check on every state object.

        py-evm 0.12.1b1 rewrites the EIP-4788 and EIP-2935 contract code
        only where that exact code is already present, because its
        condition is negated twice. The check therefore never changes
        state. It only costs two account reads per state object, about a
        fifth of a simple ``eth_call`` as measured here.
        Kura's genesis writes the EIP-2935 contract itself.
        """


class KuraVM(PragueVM):
    block_class = KuraBlock
    _state_class = KuraState

    def block_postprocessing(self, block: BlockAPI) -> BlockAPI:
        return block.copy(header=block.header.copy(requests_hash=EMPTY_REQUESTS_HASH))
