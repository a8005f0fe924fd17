"""``eth_`` methods that read or simulate on account state."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from eth.abc import ComputationAPI, SignedTransactionAPI, StateAPI
from eth.exceptions import OutOfGas, Revert
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth.vm.spoof import SpoofTransaction
from eth_utils import ValidationError

from node.chain.execution import MIN_TRANSACTION_GAS
from node.chain.header import KuraHeader
from node.errors import ExecutionReverted, InvalidParams, RpcError
from node.rpc import params as p
from node.rpc.formatting import hex_address, hex_bytes, hex_int
from node.rpc.registry import RpcContext, method
from node.rpc.resolve import header_for_state

logger = logging.getLogger(__name__)

#: Error(string) selector, the encoding of ``require(cond, "reason")``.
ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")


@method("eth_accounts")
def accounts(ctx: RpcContext, params: list[Any]) -> list[str | None]:
    p.expect(params, 0, 0)
    return [hex_address(account) for account in ctx.accounts]


@method("eth_getBalance")
def get_balance(ctx: RpcContext, params: list[Any]) -> str:
    address, block = p.expect(params, 1, 2)
    header = header_for_state(ctx, p.block_ref(block))
    return hex_int(ctx.chain.state_at(header).get_balance(p.address(address)))


@method("eth_getTransactionCount")
def get_transaction_count(ctx: RpcContext, params: list[Any]) -> str:
    address_raw, block = p.expect(params, 1, 2)
    address = p.address(address_raw)
    ref = p.block_ref(block)
    header = header_for_state(ctx, ref)
    nonce = ctx.chain.state_at(header).get_nonce(address)
    if ref.tag == "pending":
        nonce = ctx.pool.pending_nonce(address, nonce)
    return hex_int(nonce)


@method("eth_getCode")
def get_code(ctx: RpcContext, params: list[Any]) -> str:
    address, block = p.expect(params, 1, 2)
    header = header_for_state(ctx, p.block_ref(block))
    return hex_bytes(ctx.chain.state_at(header).get_code(p.address(address)))


@method("eth_getStorageAt")
def get_storage_at(ctx: RpcContext, params: list[Any]) -> str:
    address, slot, block = p.expect(params, 2, 3)
    header = header_for_state(ctx, p.block_ref(block))
    value = ctx.chain.state_at(header).get_storage(p.address(address), p.storage_slot(slot))
    return "0x" + value.to_bytes(32, "big").hex()


def _call_fields(call: Any) -> dict[str, Any]:
    if not isinstance(call, dict):
        raise InvalidParams("invalid argument 0: transaction call object expected")
    fields: dict[str, Any] = {}
    fields["from"] = p.address(call["from"], "from") if call.get("from") else bytes(20)
    fields["to"] = p.address(call["to"], "to") if call.get("to") else b""
    input_data = call.get("input", call.get("data"))
    if call.get("input") and call.get("data") and call["input"] != call["data"]:
        raise InvalidParams(
            'both "data" and "input" are set and not equal. Please use "input" to pass transaction call data'
        )
    fields["data"] = p.data(input_data, "input") if input_data else b""
    fields["value"] = p.quantity(call["value"], "value") if call.get("value") else 0
    fields["gas"] = p.quantity(call["gas"], "gas") if call.get("gas") else None
    fields["gas_price"] = p.quantity(call["gasPrice"], "gasPrice") if call.get("gasPrice") else None
    fields["max_fee"] = p.quantity(call["maxFeePerGas"], "maxFeePerGas") if call.get("maxFeePerGas") else None
    fields["max_tip"] = (
        p.quantity(call["maxPriorityFeePerGas"], "maxPriorityFeePerGas") if call.get("maxPriorityFeePerGas") else None
    )
    return fields


@dataclass(frozen=True)
class CallOutcome:
    """Result of a simulated call; immutable, so it can be cached."""

    output: bytes
    #: None on success, "revert" on REVERT, else the EVM error message.
    error: str | None
    gas_remaining: int


class CallCache:
    """Outcomes of calls by (block hash, call fields, gas).

    State at a block never changes, so a repeated call on the same block
    (an exchange polling ``balanceOf`` between blocks) returns without
    running the EVM again.
    """

    def __init__(self, size: int = 4_096) -> None:
        self._entries: OrderedDict[tuple[Any, ...], CallOutcome] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> CallOutcome | None:
        with self._lock:
            outcome = self._entries.get(key)
            if outcome is not None:
                self._entries.move_to_end(key)
            return outcome

    def put(self, key: tuple[Any, ...], outcome: CallOutcome) -> None:
        with self._lock:
            self._entries[key] = outcome
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)


CALL_CACHE = CallCache()


_ZERO_FEE_HEADERS: dict[bytes, KuraHeader] = {}


def _without_base_fee(header: KuraHeader) -> KuraHeader:
    """``header`` with a zero base fee, kept for the few newest headers (calls mostly target the head)."""
    copy = _ZERO_FEE_HEADERS.get(header.hash)
    if copy is None:
        if len(_ZERO_FEE_HEADERS) >= 8:
            _ZERO_FEE_HEADERS.clear()
        copy = header.copy(base_fee_per_gas=0)
        _ZERO_FEE_HEADERS[header.hash] = copy
    return copy


def simulate(
    ctx: RpcContext, fields: dict[str, Any], header: KuraHeader, gas: int, *, message_only: bool = False
) -> CallOutcome:
    """Run a call on top of ``header``'s state with ``gas``; nothing is stored.

    With no fee given the call runs with a zero base fee, as geth does, so
    an account without ether can still call view functions.
    """
    # A call to a contract needs only its message run; creation, value
    # transfers and gas estimation need the whole transaction.
    message_only = message_only and bool(fields["to"]) and fields["value"] == 0
    key = (header.hash, gas, message_only, *sorted(fields.items()))
    cached = CALL_CACHE.get(key)
    if cached is not None:
        return cached

    chain = ctx.chain
    max_fee = fields["max_fee"] if fields["max_fee"] is not None else fields["gas_price"]
    if max_fee is None:
        header = _without_base_fee(header)
        max_fee = 0
    max_tip = fields["max_tip"] if fields["max_tip"] is not None else min(max_fee, max_fee - header.base_fee_per_gas)

    def make_transaction(state: StateAPI) -> SignedTransactionAPI:
        unsigned = PragueTransactionBuilder.new_unsigned_dynamic_fee_transaction(
            chain_id=chain.chain_id,
            nonce=state.get_nonce(fields["from"]),
            max_priority_fee_per_gas=max(max_tip, 0),
            max_fee_per_gas=max_fee,
            gas=gas,
            to=fields["to"],
            value=fields["value"],
            data=fields["data"],
            access_list=[],
        )
        return SpoofTransaction(unsigned, from_=fields["from"])  # type: ignore[return-value]

    try:
        if message_only:
            computation = chain.run_read_call(header, make_transaction)
        else:
            computation = chain.run_call(header, make_transaction)
    except ValidationError as invalid:
        raise RpcError(-32000, _geth_validation_message(str(invalid))) from None
    failure: str | None = None
    if computation.is_error:
        failure = "revert" if isinstance(computation.error, Revert) else _vm_error_message(computation)
    outcome = CallOutcome(bytes(computation.output), failure, computation.get_gas_remaining())
    CALL_CACHE.put(key, outcome)
    return outcome


def _geth_validation_message(message: str) -> str:
    lowered = message.lower()
    if "balance" in lowered or "insufficient" in lowered:
        return "insufficient funds for gas * price + value"
    if "intrinsic" in lowered:
        return "intrinsic gas too low"
    return message


def revert_error(output: bytes) -> ExecutionReverted:
    """geth's reverted-call error: the decoded reason in the message, raw data in ``data``."""
    message = "execution reverted"
    if output[:4] == ERROR_STRING_SELECTOR and len(output) >= 68:
        try:
            length = int.from_bytes(output[36:68], "big")
            reason = output[68 : 68 + length].decode("utf-8")
            message = f"execution reverted: {reason}"
        except (UnicodeDecodeError, ValueError):
            pass
    return ExecutionReverted(message, data=hex_bytes(output))


def _gas_for(ctx: RpcContext, fields: dict[str, Any], header: KuraHeader) -> int:
    cap = min(ctx.limits.call_gas_cap, header.gas_limit)
    gas = fields["gas"]
    if gas is None:
        return cap
    return min(gas, ctx.limits.call_gas_cap)


@method("eth_call", blocking=True)
def call(ctx: RpcContext, params: list[Any]) -> str:
    call_object, block, overrides = p.expect(params, 1, 3)
    if overrides is not None:
        raise InvalidParams("state overrides are not supported by this node")
    fields = _call_fields(call_object)
    header = header_for_state(ctx, p.block_ref(block))
    outcome = simulate(ctx, fields, header, _gas_for(ctx, fields, header), message_only=True)
    if outcome.error == "revert":
        if not outcome.output:
            # geth: a revert without data is a plain error, not code 3.
            raise RpcError(-32000, "execution reverted")
        raise revert_error(outcome.output)
    if outcome.error is not None:
        raise RpcError(-32000, outcome.error)
    return hex_bytes(outcome.output)


def _vm_error_message(computation: ComputationAPI) -> str:
    error = computation.error
    if isinstance(error, OutOfGas):
        return "out of gas"
    return str(error) or error.__class__.__name__


@method("eth_estimateGas", blocking=True)
def estimate_gas(ctx: RpcContext, params: list[Any]) -> str:
    call_object, block, overrides = p.expect(params, 1, 3)
    if overrides is not None:
        raise InvalidParams("state overrides are not supported by this node")
    fields = _call_fields(call_object)
    header = header_for_state(ctx, p.block_ref(block))
    high = _gas_for(ctx, fields, header)

    # One run at the cap decides whether the call can succeed at all.
    outcome = simulate(ctx, fields, header, high)
    if outcome.error == "revert":
        raise revert_error(outcome.output)
    if outcome.error is not None:
        raise RpcError(-32000, f"gas required exceeds allowance ({high})")

    # Binary search for the least gas that succeeds, as geth does. The gas
    # consumed before refunds is an upper bound when it succeeds. Because
    # of the 63/64 rule for calls, the least working limit can exceed gas used.
    consumed = high - outcome.gas_remaining
    if _succeeds(ctx, fields, header, consumed):
        high = consumed
    low = MIN_TRANSACTION_GAS - 1
    while low + 1 < high:
        middle = (low + high) // 2
        if _succeeds(ctx, fields, header, middle):
            high = middle
        else:
            low = middle
    return hex_int(high)


def _succeeds(ctx: RpcContext, fields: dict[str, Any], header: KuraHeader, gas: int) -> bool:
    try:
        return simulate(ctx, fields, header, gas).error is None
    except RpcError:
        return False
