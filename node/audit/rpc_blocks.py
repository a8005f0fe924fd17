"""Blocks over JSON-RPC: a small batching client, and blocks rebuilt from their JSON objects.

A block from ``eth_getBlockByNumber(n, true)`` is turned back into a Kura header and signed
transactions field by field. Each rebuilt object is hashed and compared with the ``hash`` the
node sent, so a field lost or changed on the way raises SourceError instead of passing as
another block.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

import rlp
from eth.abc import SignedTransactionAPI
from eth.vm.forks.prague.transactions import PragueTransactionBuilder

from node.audit.errors import AuditError, SourceError
from node.chain.header import KuraHeader

logger = logging.getLogger(__name__)

#: Seconds to wait for one HTTP response.
DEFAULT_TIMEOUT = 60.0
#: JSON-RPC error code of an unknown method (JSON-RPC 2.0).
METHOD_NOT_FOUND = -32601


class RpcCallFailed(AuditError):
    """The node returned an error object for a JSON-RPC call."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method} failed: {message} (JSON-RPC code {code})")
        self.method = method
        self.code = code


class RpcClient:
    """JSON-RPC over HTTP with batches; the node must be reachable at ``url``."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url
        self.timeout = timeout

    def call(self, method: str, *params: Any) -> Any:
        return self.batch([(method, list(params))])[0]

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Send the calls as one JSON-RPC batch; return the results in call order."""
        body = [{"jsonrpc": "2.0", "id": index, "method": m, "params": p} for index, (m, p) in enumerate(calls)]
        request = urllib.request.Request(
            self.url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read())
        except (urllib.error.URLError, OSError) as error:
            raise AuditError(
                f"cannot reach the node at {self.url}: {error}; check --rpc and that the node runs"
            ) from None
        except ValueError as error:
            raise AuditError(f"the node at {self.url} sent a response that is not JSON: {error}") from None
        if not isinstance(answer, list):
            raise AuditError(f"the node at {self.url} returned {type(answer).__name__} for a batch, expected a list")
        by_id = {item.get("id"): item for item in answer if isinstance(item, dict)}
        results = []
        for index, (method, _params) in enumerate(calls):
            item = by_id.get(index)
            if item is None:
                raise AuditError(f"the node at {self.url} sent no response to {method} in a batch")
            if "error" in item:
                failure = item["error"]
                raise RpcCallFailed(method, int(failure.get("code", 0)), str(failure.get("message", "")))
            results.append(item.get("result"))
        return results


def _int(block: dict[str, Any], name: str) -> int:
    value = block.get(name)
    if not isinstance(value, str) or not value.startswith("0x"):
        raise SourceError(f"field {name}={value!r} is not a hex quantity")
    return int(value, 16)


def _bytes(block: dict[str, Any], name: str, length: int | None = None) -> bytes:
    value = block.get(name)
    if not isinstance(value, str) or not value.startswith("0x"):
        raise SourceError(f"field {name}={value!r} is not 0x-prefixed hex")
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError:
        raise SourceError(f"field {name}={value!r} is not valid hex") from None
    if length is not None and len(raw) != length:
        raise SourceError(f"field {name} is {len(raw)} bytes, expected {length}")
    return raw


def header_from_json(block: dict[str, Any]) -> KuraHeader:
    """Rebuild a header; SourceError when its hash differs from the block's ``hash`` field."""
    fields: dict[str, Any] = dict(
        parent_hash=_bytes(block, "parentHash", 32),
        uncles_hash=_bytes(block, "sha3Uncles", 32),
        coinbase=_bytes(block, "miner", 20),
        state_root=_bytes(block, "stateRoot", 32),
        transaction_root=_bytes(block, "transactionsRoot", 32),
        receipt_root=_bytes(block, "receiptsRoot", 32),
        bloom=int.from_bytes(_bytes(block, "logsBloom", 256), "big"),
        difficulty=_int(block, "difficulty"),
        block_number=_int(block, "number"),
        gas_limit=_int(block, "gasLimit"),
        gas_used=_int(block, "gasUsed"),
        timestamp=_int(block, "timestamp"),
        extra_data=_bytes(block, "extraData"),
        mix_hash=_bytes(block, "mixHash", 32),
        nonce=_bytes(block, "nonce", 8),
        base_fee_per_gas=_int(block, "baseFeePerGas"),
        withdrawals_root=_bytes(block, "withdrawalsRoot", 32),
        blob_gas_used=_int(block, "blobGasUsed"),
        excess_blob_gas=_int(block, "excessBlobGas"),
        parent_beacon_block_root=_bytes(block, "parentBeaconBlockRoot", 32),
        requests_hash=_bytes(block, "requestsHash", 32),
    )
    header = KuraHeader(**fields)
    claimed = _bytes(block, "hash", 32)
    if header.hash != claimed:
        raise SourceError(
            f"block {header.block_number} rebuilt from JSON hashes to 0x{header.hash.hex()}, "
            f"but the node sent hash 0x{claimed.hex()}"
        )
    return header


def _access_list(tx: dict[str, Any]) -> list[list[Any]]:
    entries = tx.get("accessList") or []
    return [
        [_bytes(entry, "address", 20), [bytes.fromhex(key[2:]) for key in entry.get("storageKeys", [])]]
        for entry in entries
    ]


def _to(tx: dict[str, Any]) -> bytes:
    return b"" if tx.get("to") is None else _bytes(tx, "to", 20)


def _y_parity(tx: dict[str, Any]) -> int:
    return _int(tx, "yParity") if "yParity" in tx else _int(tx, "v")


def raw_transaction_from_json(tx: dict[str, Any]) -> bytes:
    """Re-encode a transaction object as its network form (EIP-2718 envelope for typed ones)."""
    type_id = _int(tx, "type") if "type" in tx else 0
    common_tail = [_to(tx), _int(tx, "value"), _bytes(tx, "input")]
    signature = [_y_parity(tx), _int(tx, "r"), _int(tx, "s")]
    if type_id == 0:
        return rlp.encode(
            [_int(tx, "nonce"), _int(tx, "gasPrice"), _int(tx, "gas"), *common_tail, _int(tx, "v"), *signature[1:]]
        )
    if type_id == 1:
        fields = [_int(tx, "chainId"), _int(tx, "nonce"), _int(tx, "gasPrice"), _int(tx, "gas"), *common_tail]
        return b"\x01" + rlp.encode([*fields, _access_list(tx), *signature])
    fees = [_int(tx, "chainId"), _int(tx, "nonce"), _int(tx, "maxPriorityFeePerGas"), _int(tx, "maxFeePerGas")]
    fields = [*fees, _int(tx, "gas"), *common_tail, _access_list(tx)]
    if type_id == 2:
        return b"\x02" + rlp.encode([*fields, *signature])
    if type_id == 4:
        authorizations = [
            [
                _int(auth, "chainId"),
                _bytes(auth, "address", 20),
                _int(auth, "nonce"),
                _int(auth, "yParity"),
                _int(auth, "r"),
                _int(auth, "s"),
            ]
            for auth in tx.get("authorizationList") or []
        ]
        return b"\x04" + rlp.encode([*fields, authorizations, *signature])
    raise SourceError(f"transaction type {type_id} is not supported by the replay over JSON-RPC")


def transaction_from_json(tx: dict[str, Any]) -> SignedTransactionAPI:
    """Rebuild a signed transaction; SourceError when its hash differs from the ``hash`` field."""
    raw = raw_transaction_from_json(tx)
    try:
        transaction = PragueTransactionBuilder.decode(raw)
    except Exception as error:  # rlp and py-evm raise several unrelated types
        raise SourceError(f"transaction {tx.get('hash')} cannot be rebuilt: {error}") from None
    claimed = _bytes(tx, "hash", 32)
    if transaction.hash != claimed:
        raise SourceError(
            f"transaction rebuilt from JSON hashes to 0x{transaction.hash.hex()}, but the node sent 0x{claimed.hex()}"
        )
    return transaction
