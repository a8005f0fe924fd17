"""In-process chains on either store backend, for unit tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth_account import Account

from node.chain.chain import Chain, initialize_store
from node.chain.crypto import address_of_private_key
from node.chain.genesis import parse_genesis
from node.chain.seal import ExtraData
from node.consensus.seals import add_proposer_seal, commit_seal, with_commit_seals
from node.store.backend import KeyValueBackend, LevelDBBackend, MemoryBackend

VALIDATOR_KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
VALIDATOR = address_of_private_key(VALIDATOR_KEY)
CHAIN_ID = 4242
USER_KEYS = [bytes([i]) * 32 for i in range(1, 6)]
USERS = [Account.from_key(key) for key in USER_KEYS]


def genesis_document(**config: Any) -> dict[str, Any]:
    return {
        "config": {"chainId": CHAIN_ID, "qbft": {"validators": ["0x" + VALIDATOR.hex()]}, **config},
        "gasLimit": hex(30_000_000),
        "alloc": {user.address: {"balance": hex(10**24)} for user in USERS},
    }


def open_backend(kind: str, tmp_path: Path) -> KeyValueBackend:
    if kind == "leveldb":
        return LevelDBBackend(tmp_path / "chaindata", create=True)
    return MemoryBackend()


def new_chain(backend: KeyValueBackend, **config: Any) -> Chain:
    initialize_store(backend, parse_genesis(genesis_document(**config)))
    return Chain(backend)


def transfer(sender: int, nonce: int, *, value: int = 1, to: str | None = None, fee: int = 10**10, tip: int = 1):
    signed = USERS[sender].sign_transaction(
        {
            "to": to or USERS[(sender + 1) % len(USERS)].address,
            "value": value,
            "gas": 21_000,
            "maxFeePerGas": fee,
            "maxPriorityFeePerGas": tip,
            "nonce": nonce,
            "chainId": CHAIN_ID,
            "type": 2,
        }
    )
    return PragueTransactionBuilder.decode(bytes(signed.raw_transaction))


def seal_and_commit(chain: Chain, transactions: list, timestamp: int | None = None):
    head = chain.head
    template = chain.make_template(
        head,
        timestamp=timestamp or head.timestamp + 1,
        coinbase=VALIDATOR,
        extra=ExtraData(validators=(VALIDATOR,)),
    )
    executed = chain.build(template, transactions)
    proposed = add_proposer_seal(executed.header, VALIDATOR_KEY)
    executed.header = with_commit_seals(proposed, [commit_seal(proposed, VALIDATOR_KEY)])
    chain.commit(executed)
    return executed
