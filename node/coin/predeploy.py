"""Genesis ``alloc`` entries that predeploy GoldCoin and MintAuthority at fixed addresses.

Each constructor runs in py-evm's Prague VM on an in-memory database, as a CREATE whose new
address is the fixed target and with the genesis chain id. That is what makes the immutables
come out right: OpenZeppelin's EIP712 caches ``block.chainid`` and ``address(this)`` in the
runtime code, and MintAuthority stores the GoldCoin address there. The resulting code and every
storage slot the constructors wrote are copied into geth-style alloc entries.

Build the alloc with the genesis file's chain id. An alloc built for another chain id still
verifies signatures correctly, because OpenZeppelin's EIP712 (v5.4) compares the cached chain id
and address on each use and rebuilds the domain separator when they differ, but every
``permit`` and approval check then pays for that rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import rlp
from eth.constants import BLANK_ROOT_HASH, CREATE_CONTRACT_ADDRESS, ZERO_ADDRESS, ZERO_HASH32
from eth.db.atomic import AtomicDB
from eth.rlp.accounts import Account as AccountRecord
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks.prague import PragueState
from eth.vm.message import Message
from eth_typing import Address, BlockNumber, Hash32
from eth_utils import keccak, to_canonical_address, to_checksum_address
from trie import HexaryTrie

from node.coin.abi import decode_coin_revert, gold_coin_interface, mint_authority_interface
from node.coin.artifacts import GOLD_COIN, MINT_AUTHORITY, load_artifact
from node.coin.errors import PredeployFailed

#: GoldCoin's fixed address: "C0111", read as "coin 1".
GOLD_COIN_ADDRESS = to_checksum_address("0x00000000000000000000000000000000000c0111")
#: MintAuthority's fixed address, next to the coin.
MINT_AUTHORITY_ADDRESS = to_checksum_address("0x00000000000000000000000000000000000c0112")

DEFAULT_TOKEN_NAME = "Kura Gold"
DEFAULT_TOKEN_SYMBOL = "KGLD"

#: Gas given to each constructor. Each used about 2.0 million with the dev roles and three
#: authorities (solc 0.8.30, optimizer 200 runs); each extra authority adds three storage writes.
CONSTRUCTOR_GAS = 30_000_000
#: msg.sender and tx.origin seen by the constructors. Neither constructor reads them: roles
#: and authorities are passed as arguments.
GENESIS_DEPLOYER = ZERO_ADDRESS


@dataclass(frozen=True)
class CoinRoles:
    """Holders of the GoldCoin roles other than MINTER_ROLE, which always goes to MintAuthority."""

    admin: str
    burner: str
    pauser: str
    compliance: str
    attestor: str


class _StorageRecordingState(PragueState):
    """Prague state that remembers every storage slot written, per address.

    py-evm's state cannot list an account's slots, because its storage trie is keyed by
    keccak(slot). SSTORE writes through ``set_storage``, so overriding it records the slots.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.written_slots: dict[bytes, set[int]] = {}

    def set_storage(self, address: Address, slot: int, value: int) -> None:
        self.written_slots.setdefault(bytes(address), set()).add(slot)
        super().set_storage(address, slot, value)


def _execution_context(chain_id: int, timestamp: int) -> ExecutionContext:
    return ExecutionContext(
        coinbase=ZERO_ADDRESS,
        timestamp=timestamp,
        block_number=BlockNumber(0),
        difficulty=0,
        mix_hash=ZERO_HASH32,
        gas_limit=CONSTRUCTOR_GAS,
        prev_hashes=(),
        chain_id=chain_id,
        base_fee_per_gas=0,
        excess_blob_gas=0,
    )


def _run_constructor(state: PragueState, target: Address, initcode: bytes, name: str) -> None:
    """Run ``initcode`` as a CREATE whose new account is ``target``; raise PredeployFailed on revert."""
    if state.get_code(target) or state.get_nonce(target):
        raise PredeployFailed(f"{name} target {to_checksum_address(target)} already has code or a nonce")
    message = Message(
        gas=CONSTRUCTOR_GAS,
        to=CREATE_CONTRACT_ADDRESS,
        sender=GENESIS_DEPLOYER,
        value=0,
        data=b"",
        code=initcode,
        create_address=target,
    )
    transaction_context = state.get_transaction_context_class()(gas_price=0, origin=GENESIS_DEPLOYER)
    computation = state.computation_class.apply_create_message(state, message, transaction_context)
    if computation.is_error:
        reason = decode_coin_revert(computation.output) if computation.output else computation.error
        raise PredeployFailed(f"{name} constructor failed at {to_checksum_address(target)}: {reason}")
    if not state.get_code(target):
        raise PredeployFailed(f"{name} constructor at {to_checksum_address(target)} returned no code")


def _storage_root(storage: dict[int, int]) -> bytes:
    """Compute a storage trie root independently of the executed state."""
    storage_trie = HexaryTrie({})
    for slot, value in storage.items():
        storage_trie[keccak(slot.to_bytes(32, "big"))] = rlp.encode(value)
    return storage_trie.root_hash


def _verify_account(
    db: AtomicDB,
    context: ExecutionContext,
    state_root: Hash32,
    address: Address,
    code: bytes,
    storage: dict[int, int],
) -> None:
    """Check the captured code and storage against the persisted state.

    A matching storage root proves that no written slot was missed, because the root commits to
    every non-zero slot. Re-reading each slot from a fresh state checks the values.
    """
    encoded = HexaryTrie(db, state_root)[keccak(address)]
    account = rlp.decode(encoded, sedes=AccountRecord)
    label = to_checksum_address(address)
    if account.nonce != 1:
        raise PredeployFailed(f"predeploy {label} has nonce {account.nonce}, expected 1 (EIP-161)")
    if account.code_hash != keccak(code):
        raise PredeployFailed(f"predeploy {label}: captured code does not match the state's code hash")
    captured_root = _storage_root(storage)
    if account.storage_root != captured_root:
        raise PredeployFailed(
            f"predeploy {label}: storage root of the captured slots is 0x{captured_root.hex()}, "
            f"the state has 0x{account.storage_root.hex()}; a written slot was not captured"
        )
    fresh = PragueState(db, context, state_root)
    for slot, value in storage.items():
        if fresh.get_storage(address, slot) != value:
            raise PredeployFailed(f"predeploy {label}: slot {slot:#x} reads back differently")


def _alloc_entry(code: bytes, storage: dict[int, int]) -> dict[str, Any]:
    return {
        "balance": "0x0",
        "nonce": "0x1",
        "code": "0x" + code.hex(),
        "storage": {
            "0x" + slot.to_bytes(32, "big").hex(): "0x" + value.to_bytes(32, "big").hex()
            for slot, value in sorted(storage.items())
        },
    }


def _sorted_authorities(authorities: Sequence[str], daily_limit: int | Sequence[int]) -> tuple[list[str], list[int]]:
    if isinstance(daily_limit, int):
        limits = [daily_limit] * len(authorities)
    else:
        limits = list(daily_limit)
        if len(limits) != len(authorities):
            raise ValueError(f"got {len(limits)} daily limits for {len(authorities)} authorities; give one each")
    pairs = sorted(zip(authorities, limits, strict=True), key=lambda pair: to_canonical_address(pair[0]))
    addresses = [to_canonical_address(address) for address, _ in pairs]
    if len(set(addresses)) != len(addresses):
        raise ValueError("an authority address is listed twice")
    return [to_checksum_address(address) for address, _ in pairs], [limit for _, limit in pairs]


def build_predeploy_alloc(
    chain_id: int,
    roles: CoinRoles,
    authorities: Sequence[str],
    threshold: int,
    daily_limit: int | Sequence[int],
    allowlist_mode: bool,
    *,
    token_name: str = DEFAULT_TOKEN_NAME,
    token_symbol: str = DEFAULT_TOKEN_SYMBOL,
) -> dict[str, dict[str, Any]]:
    """Build genesis alloc entries for GoldCoin and MintAuthority at their fixed addresses.

    ``daily_limit`` is in base units (1e18 = 1 gram), either one value for every authority or
    one per authority in the order given. Authorities may come in any order, because they are
    sorted here as the contract requires. The result maps checksummed address to
    ``{"balance", "nonce", "code", "storage"}`` with 0x-hex values and 32-byte storage keys.

    Raises ValueError for inconsistent arguments and PredeployFailed when a constructor rejects
    them (the message carries the decoded custom error, e.g. ``InvalidThreshold(3, 2)``).
    """
    if chain_id <= 0:
        raise ValueError(f"chain_id must be positive, got {chain_id}")
    sorted_authorities, limits = _sorted_authorities(authorities, daily_limit)
    coin_address = to_canonical_address(GOLD_COIN_ADDRESS)
    authority_address = to_canonical_address(MINT_AUTHORITY_ADDRESS)

    coin_initcode = load_artifact(GOLD_COIN).bytecode + gold_coin_interface().encode_constructor_args(
        token_name,
        token_symbol,
        roles.admin,
        MINT_AUTHORITY_ADDRESS,
        roles.burner,
        roles.pauser,
        roles.compliance,
        roles.attestor,
        allowlist_mode,
    )
    authority_initcode = load_artifact(MINT_AUTHORITY).bytecode + mint_authority_interface().encode_constructor_args(
        GOLD_COIN_ADDRESS, sorted_authorities, limits, threshold
    )

    # Run both constructors in one state, then persist it so the result can be checked.
    db = AtomicDB()
    context = _execution_context(chain_id, timestamp=0)
    state = _StorageRecordingState(db, context, BLANK_ROOT_HASH)
    _run_constructor(state, coin_address, coin_initcode, GOLD_COIN)
    _run_constructor(state, authority_address, authority_initcode, MINT_AUTHORITY)
    state.persist()

    alloc: dict[str, dict[str, Any]] = {}
    for address in (coin_address, authority_address):
        code = state.get_code(address)
        written = state.written_slots.get(address, set())
        storage = {slot: state.get_storage(address, slot) for slot in written}
        storage = {slot: value for slot, value in storage.items() if value != 0}
        _verify_account(db, context, state.state_root, address, code, storage)
        alloc[to_checksum_address(address)] = _alloc_entry(code, storage)
    return alloc
