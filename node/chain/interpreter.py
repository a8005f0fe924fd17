"""A leaner opcode loop for py-evm's ``BaseComputation.apply_computation``.

py-evm charges each simple opcode's fixed gas through three calls
(``_FastOpcode.__call__``, ``BaseComputation.consume_gas`` and
``GasMeter.consume_gas``) before running its logic. An ERC-20 transfer runs
about 360 opcodes, so those calls are a large share of a transaction. The
loop below charges the fixed gas in line and calls the opcode's logic
directly. It keeps the same order of effects and raises the same exceptions
with the same messages, so gas, refunds, reverts and halts are unchanged.

The in-line path applies only when nothing observes gas one opcode at a
time: py-evm's ``debug2`` logging off, the stock ``GasMeter``, and no
computation class that overrides ``consume_gas``. Otherwise each opcode goes
through py-evm's own call.

NOTE: this replaces a method of py-evm 0.12.1b1, which the project pins,
and reads the private ``_gas_meter``. A version bump must re-check the
function against py-evm's loop; the chain, coin and client tests all run
through it.
"""

from __future__ import annotations

from typing import Any

from eth.abc import ComputationAPI, MessageAPI, StateAPI, TransactionContextAPI
from eth.exceptions import Halt, OutOfGas
from eth.vm.computation import NO_RESULT, BaseComputation
from eth.vm.gas_meter import GasMeter
from eth.vm.logic.invalid import InvalidOpcode
from eth.vm.opcode import _FastOpcode

_installed = False


def _run_code(computation: Any) -> None:
    """Run ``computation``'s code until it halts, charging fixed gas in line where that is safe."""
    meter = computation._gas_meter
    lookup = computation.opcodes
    inline = (
        type(meter) is GasMeter
        and type(computation).consume_gas is BaseComputation.consume_gas
        and not meter.logger.show_debug2
    )
    for opcode in computation.code:
        try:
            operation = lookup[opcode]
        except KeyError:
            operation = InvalidOpcode(opcode)
        try:
            if inline and operation.__class__ is _FastOpcode:
                cost = operation.gas_cost
                remaining = meter.gas_remaining
                if cost > remaining:
                    raise OutOfGas(f"Out of gas: Needed {cost} - Remaining {remaining} - Reason: {operation.mnemonic}")
                meter.gas_remaining = remaining - cost
                operation.logic_fn(computation)
            else:
                operation(computation=computation)
        except Halt:
            return


def _apply_computation(
    cls: type[BaseComputation],
    state: StateAPI,
    message: MessageAPI,
    transaction_context: TransactionContextAPI,
    parent_computation: ComputationAPI | None = None,
) -> ComputationAPI:
    if cls.logger.show_debug2:
        # py-evm's own loop logs every opcode with the stack.
        return _original_apply_computation(cls, state, message, transaction_context, parent_computation)
    with cls(state, message, transaction_context) as computation:
        if computation.is_origin_computation:
            computation.contracts_created = []
            if message.is_create:
                # Initcode gas (EIP-3860) of a creating transaction; CREATE and
                # CREATE2 charge their own in the opcode.
                cls.consume_initcode_gas_cost(computation)
        if parent_computation is not None:
            computation.contracts_created = parent_computation.contracts_created
        if message.is_create:
            computation.contracts_created.append(message.storage_address)

        precompile = computation.precompiles.get(message.code_address, NO_RESULT)
        if precompile is not NO_RESULT:
            if not message.is_delegation:
                precompile(computation)
            return computation

        _run_code(computation)
    return computation


#: py-evm's function, kept for debug2 tracing.
_original_apply_computation: Any = None


def install() -> None:
    """Put the loop in place of py-evm's; safe to call more than once."""
    global _installed, _original_apply_computation
    if _installed:
        return
    _original_apply_computation = BaseComputation.__dict__["apply_computation"].__func__
    BaseComputation.apply_computation = classmethod(_apply_computation)  # type: ignore[method-assign, assignment]
    _installed = True
