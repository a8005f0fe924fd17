"""Genesis files: geth/Besu-style JSON to a configuration and a genesis block.

Accepted layout (numbers as JSON integers or 0x-hex strings)::

    {
      "config": {
        "chainId": 1337,
        "zeroBaseFee": false,            # true: free gas, base fee 0 (Besu's name)
        "qbft": {
          "blockperiodseconds": 1,
          "emptyblockperiodseconds": 60,
          "validators": ["0x..."]
        }
      },
      "gasLimit": "0x1c9c380",
      "timestamp": "0x0",
      "baseFeePerGas": "0x3b9aca00",
      "alloc": {"0xaddr": {"balance": "0x..", "code": "0x..",
                           "storage": {"0xslot": "0xvalue"}, "nonce": "0x1"}}
    }

Besu's ``config.qbft`` key names are kept so a Besu operator can read the
file; the validator list sits there instead of in a hand-made extraData.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from eth.constants import BLANK_ROOT_HASH, ZERO_HASH32
from eth.db.account import AccountDB
from eth_typing import BlockNumber, Hash32
from eth_utils import to_canonical_address

from node.chain.header import KuraHeader
from node.chain.seal import ExtraData
from node.chain.vm import EMPTY_REQUESTS_HASH, HISTORY_STORAGE_ADDRESS, HISTORY_STORAGE_CONTRACT_CODE
from node.errors import ConfigError
from node.store.overlay import StateOverlay

#: EIP-1559's initial base fee, used when the genesis file gives none.
DEFAULT_BASE_FEE = 1_000_000_000
DEFAULT_GAS_LIMIT = 30_000_000
DEFAULT_BLOCK_PERIOD = 1
DEFAULT_EMPTY_BLOCK_PERIOD = 60
#: Round 0's timeout; later rounds double it. It must cover building and
#: executing a full block on a loaded validator, or rounds change needlessly.
DEFAULT_REQUEST_TIMEOUT = 4
#: Lowest gas limit accepted; below it not even a contract deployment fits.
MIN_GAS_LIMIT = 5_000_000


@dataclass(frozen=True)
class AllocAccount:
    balance: int = 0
    nonce: int = 0
    code: bytes = b""
    storage: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ChainConfig:
    """Chain rules fixed at genesis."""

    chain_id: int
    gas_limit: int
    validators: tuple[bytes, ...]
    block_period: int = DEFAULT_BLOCK_PERIOD
    empty_block_period: int = DEFAULT_EMPTY_BLOCK_PERIOD
    request_timeout: int = DEFAULT_REQUEST_TIMEOUT
    free_gas: bool = False

    @property
    def gas_policy(self) -> str:
        return "free" if self.free_gas else "eip1559"


@dataclass(frozen=True)
class Genesis:
    config: ChainConfig
    timestamp: int
    base_fee: int
    alloc: dict[bytes, AllocAccount]
    extra_vanity: bytes
    raw: dict[str, Any]


def _quantity(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"genesis {name}={value!r} is not a number; use an integer or 0x-hex string")
    if isinstance(value, int):
        result = value
    elif isinstance(value, str):
        try:
            result = int(value, 16) if value.lower().startswith("0x") else int(value, 10)
        except ValueError:
            raise ConfigError(f"genesis {name}={value!r} is not a number; use an integer or 0x-hex string") from None
    else:
        raise ConfigError(f"genesis {name}={value!r} is not a number; use an integer or 0x-hex string")
    if result < 0:
        raise ConfigError(f"genesis {name}={value!r} is negative")
    return result


def _hex_bytes(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ConfigError(f"genesis {name}={value!r} must be a 0x-prefixed hex string")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise ConfigError(f"genesis {name}={value!r} is not valid hex") from None


def _address(value: Any, name: str) -> bytes:
    raw = _hex_bytes(value if isinstance(value, str) and value.startswith("0x") else f"0x{value}", name)
    if len(raw) != 20:
        raise ConfigError(f"genesis {name}={value!r} is not a 20-byte address")
    return raw


def parse_genesis(document: dict[str, Any]) -> Genesis:
    """Validate a genesis document; raise ConfigError naming the bad field."""
    if not isinstance(document, dict):
        raise ConfigError("genesis file must contain a JSON object")
    config = document.get("config")
    if not isinstance(config, dict) or "chainId" not in config:
        raise ConfigError('genesis config.chainId is missing; add it, e.g. "chainId": 1337')
    chain_id = _quantity(config["chainId"], "config.chainId")
    if chain_id == 0:
        raise ConfigError("genesis config.chainId must not be 0 (EIP-155 needs a chain id)")

    qbft = config.get("qbft", {})
    if not isinstance(qbft, dict):
        raise ConfigError("genesis config.qbft must be an object")
    validators_raw = qbft.get("validators")
    if not isinstance(validators_raw, list) or not validators_raw:
        raise ConfigError("genesis config.qbft.validators is missing or empty; list the validator addresses")
    validators = tuple(sorted(_address(v, f"config.qbft.validators[{i}]") for i, v in enumerate(validators_raw)))
    if len(set(validators)) != len(validators):
        raise ConfigError("genesis config.qbft.validators lists an address twice")

    block_period = _quantity(qbft.get("blockperiodseconds", DEFAULT_BLOCK_PERIOD), "config.qbft.blockperiodseconds")
    empty_period = _quantity(
        qbft.get("emptyblockperiodseconds", DEFAULT_EMPTY_BLOCK_PERIOD), "config.qbft.emptyblockperiodseconds"
    )
    if block_period < 1:
        raise ConfigError("genesis config.qbft.blockperiodseconds must be at least 1")
    if empty_period < block_period:
        raise ConfigError(
            f"genesis config.qbft.emptyblockperiodseconds={empty_period} is below "
            f"blockperiodseconds={block_period}; set it to at least the block period"
        )

    request_timeout = _quantity(
        qbft.get("requesttimeoutseconds", DEFAULT_REQUEST_TIMEOUT), "config.qbft.requesttimeoutseconds"
    )
    if request_timeout < 1:
        raise ConfigError("genesis config.qbft.requesttimeoutseconds must be at least 1")

    free_gas = config.get("zeroBaseFee", False)
    if not isinstance(free_gas, bool):
        raise ConfigError(f"genesis config.zeroBaseFee={free_gas!r} must be true or false")

    gas_limit = _quantity(document.get("gasLimit", DEFAULT_GAS_LIMIT), "gasLimit")
    if gas_limit < MIN_GAS_LIMIT:
        raise ConfigError(f"genesis gasLimit={gas_limit} is below the minimum {MIN_GAS_LIMIT}")
    base_fee = 0 if free_gas else _quantity(document.get("baseFeePerGas", DEFAULT_BASE_FEE), "baseFeePerGas")

    alloc_raw = document.get("alloc", {})
    if not isinstance(alloc_raw, dict):
        raise ConfigError("genesis alloc must be an object keyed by address")
    alloc: dict[bytes, AllocAccount] = {}
    for key, entry in alloc_raw.items():
        address = _address(key, f"alloc key {key}")
        if not isinstance(entry, dict):
            raise ConfigError(f"genesis alloc[{key}] must be an object")
        storage_raw = entry.get("storage", {})
        if not isinstance(storage_raw, dict):
            raise ConfigError(f"genesis alloc[{key}].storage must be an object")
        storage = {
            int.from_bytes(_hex_bytes(slot, f"alloc[{key}].storage key"), "big"): int.from_bytes(
                _hex_bytes(value, f"alloc[{key}].storage[{slot}]"), "big"
            )
            for slot, value in storage_raw.items()
        }
        alloc[address] = AllocAccount(
            balance=_quantity(entry.get("balance", 0), f"alloc[{key}].balance"),
            nonce=_quantity(entry.get("nonce", 0), f"alloc[{key}].nonce"),
            code=_hex_bytes(entry.get("code", "0x"), f"alloc[{key}].code"),
            storage=storage,
        )

    # EIP-2935: keep parent hashes in the history contract from block 1.
    alloc.setdefault(HISTORY_STORAGE_ADDRESS, AllocAccount(nonce=1, code=HISTORY_STORAGE_CONTRACT_CODE))

    return Genesis(
        config=ChainConfig(
            chain_id=chain_id,
            gas_limit=gas_limit,
            validators=validators,
            block_period=block_period,
            empty_block_period=empty_period,
            request_timeout=request_timeout,
            free_gas=free_gas,
        ),
        timestamp=_quantity(document.get("timestamp", 0), "timestamp"),
        base_fee=base_fee,
        alloc=alloc,
        extra_vanity=bytes(32),
        raw=document,
    )


def load_genesis(path: str | os.PathLike[str]) -> Genesis:
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"genesis file {os.fspath(path)} not found") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"genesis file {os.fspath(path)} is not valid JSON: {error}") from None
    return parse_genesis(document)


def build_genesis_state(genesis: Genesis, overlay: StateOverlay) -> bytes:
    """Write the alloc into ``overlay``; return the state root."""
    accounts = AccountDB(overlay, BLANK_ROOT_HASH)
    for address, account in genesis.alloc.items():
        canonical = to_canonical_address(address)
        accounts.set_balance(canonical, account.balance)
        accounts.set_nonce(canonical, account.nonce)
        if account.code:
            accounts.set_code(canonical, account.code)
        for slot, value in account.storage.items():
            accounts.set_storage(canonical, slot, value)
    accounts.persist()
    return accounts.state_root


def build_genesis_header(genesis: Genesis, state_root: bytes) -> KuraHeader:
    extra = ExtraData(validators=genesis.config.validators, vanity=genesis.extra_vanity)
    return KuraHeader(
        difficulty=0,
        block_number=BlockNumber(0),
        gas_limit=genesis.config.gas_limit,
        timestamp=genesis.timestamp,
        parent_hash=ZERO_HASH32,
        state_root=Hash32(state_root),
        extra_data=extra.encode(),
        base_fee_per_gas=genesis.base_fee,
        nonce=bytes(8),
        requests_hash=EMPTY_REQUESTS_HASH,
    )
