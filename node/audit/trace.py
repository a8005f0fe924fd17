"""Reading contract state and call trees from a replayed chain, without storing anything.

Logs do not name who called a contract, so the coin audit re-executes the transactions that
minted or burned and walks their call trees. Both helpers work on a throw-away overlay over
the replay store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import cast

from eth.abc import ComputationAPI, SignedTransactionAPI
from eth.constants import ZERO_ADDRESS
from eth.vm.message import Message
from eth_typing import Address

from node.chain.chain import Chain
from node.chain.execution import make_vm
from node.chain.header import KuraBlock, KuraHeader
from node.store.overlay import StateOverlay

#: Gas given to a view call, as ``eth_call`` does with no gas given (below the RPC gas cap).
VIEW_GAS = 50_000_000


class ViewCallFailed(RuntimeError):
    """A view call reverted; the coin contracts' views do not revert for the arguments used here."""


def call_view(chain: Chain, header: KuraHeader, to: bytes, data: bytes) -> bytes:
    """Run a read-only call on the state after ``header``; return its output."""
    state = make_vm(header, StateOverlay(chain.store.backend), chain.store.header_by_hash, chain.chain_context).state
    target = Address(to)
    message = Message(gas=VIEW_GAS, to=target, sender=ZERO_ADDRESS, value=0, data=data, code=state.get_code(target))
    context = state.get_transaction_context_class()(gas_price=0, origin=ZERO_ADDRESS)
    computation = state.computation_class.apply_message(state, message, context)
    if computation.is_error:
        raise ViewCallFailed(f"view call to 0x{to.hex()} reverted: {computation.error}")
    return bytes(computation.output)


@dataclass(frozen=True)
class Call:
    """One message call in a transaction's call tree that succeeded together with every caller."""

    sender: bytes
    #: Account whose code ran (``code_address``); differs from the storage address for DELEGATECALL.
    code_address: bytes
    storage_address: bytes
    data: bytes


def trace_calls(
    chain: Chain, header: KuraHeader, transactions: Sequence[SignedTransactionAPI], wanted: set[int]
) -> dict[int, list[Call]]:
    """Re-execute ``header``'s block up to the last wanted index; return each wanted transaction's calls.

    ``header`` must be committed in ``chain``, so its parent's state is in the store. Calls come
    in execution order (depth first, in the order they started). Calls that reverted, or whose
    caller reverted, are left out, because their logs were discarded too.
    """
    if not wanted:
        return {}
    parent = chain.store.header_by_hash(header.parent_hash)
    if parent is None:
        raise LookupError(f"parent of block {header.block_number} is not stored")
    block_header = header.copy(state_root=parent.state_root, gas_used=0, bloom=0)
    vm = make_vm(block_header, StateOverlay(chain.store.backend), chain.store.header_by_hash, chain.chain_context)
    vm.block_preprocessing(KuraBlock(block_header, transactions=[], uncles=[], withdrawals=[]))

    traced: dict[int, list[Call]] = {}
    for index, transaction in enumerate(transactions[: max(wanted) + 1]):
        receipt, computation = vm.apply_transaction(block_header, transaction)
        block_header = cast(KuraHeader, vm.add_receipt_to_header(block_header, receipt))
        if index in wanted:
            traced[index] = list(_successful_calls(computation))
    return traced


def _successful_calls(computation: ComputationAPI) -> Iterator[Call]:
    if computation.is_error:
        return
    message = computation.msg
    yield Call(
        sender=bytes(message.sender),
        code_address=bytes(message.code_address),
        storage_address=bytes(message.storage_address),
        data=bytes(message.data),
    )
    for child in computation.children:
        yield from _successful_calls(child)
