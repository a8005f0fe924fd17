"""Kura's execution changes give py-evm's results on adversarial blocks.

Kura replaces two parts of py-evm 0.12.1b1: the account storage trie
(``trie_update.BatchedStorageLookup``) and the opcode loop
(``interpreter._apply_computation``). Each test builds blocks with one
implementation and re-executes them with ``Chain.execute_received`` under
the other, which checks state root, receipt root (status, cumulative gas
and logs), gas used and bloom against the built header. Both directions
run, and ``eth_call``-style results (``Chain.run_call``) are compared too.

Two tests split and prune extension nodes of a storage trie: an earlier
``update_trie`` raised KeyError there on valid blocks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from eth.db import storage as evm_storage
from eth.vm.computation import BaseComputation
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth_account import Account
from eth_utils import to_checksum_address

import node.chain.vm  # noqa: F401  # installs both changes
from node.chain import interpreter, trie_update
from node.chain.chain import Chain, initialize_store
from node.chain.genesis import parse_genesis
from node.store.backend import MemoryBackend
from tests.support.chains import CHAIN_ID, genesis_document, seal_and_commit

SENDER_KEYS = [bytes([0x40 + i]) * 32 for i in range(4)]
SENDERS = [Account.from_key(key) for key in SENDER_KEYS]


# A small assembler: opcodes by name, PUSH of the smallest size, labels as PUSH2 targets.

OPCODES = {
    "STOP": 0x00, "ADD": 0x01, "MUL": 0x02, "SUB": 0x03, "DIV": 0x04, "SDIV": 0x05, "MOD": 0x06,
    "SMOD": 0x07, "ADDMOD": 0x08, "MULMOD": 0x09, "EXP": 0x0A, "SIGNEXTEND": 0x0B,
    "LT": 0x10, "GT": 0x11, "SLT": 0x12, "SGT": 0x13, "EQ": 0x14, "ISZERO": 0x15, "AND": 0x16,
    "OR": 0x17, "XOR": 0x18, "NOT": 0x19, "BYTE": 0x1A, "SHL": 0x1B, "SHR": 0x1C, "SAR": 0x1D,
    "KECCAK256": 0x20, "ADDRESS": 0x30, "BALANCE": 0x31, "ORIGIN": 0x32, "CALLER": 0x33,
    "CALLVALUE": 0x34, "CALLDATALOAD": 0x35, "CALLDATASIZE": 0x36, "CALLDATACOPY": 0x37,
    "CODESIZE": 0x38, "CODECOPY": 0x39, "GASPRICE": 0x3A, "EXTCODESIZE": 0x3B, "EXTCODECOPY": 0x3C,
    "RETURNDATASIZE": 0x3D, "RETURNDATACOPY": 0x3E, "EXTCODEHASH": 0x3F, "BLOCKHASH": 0x40,
    "COINBASE": 0x41, "TIMESTAMP": 0x42, "NUMBER": 0x43, "PREVRANDAO": 0x44, "GASLIMIT": 0x45,
    "CHAINID": 0x46, "SELFBALANCE": 0x47, "BASEFEE": 0x48, "BLOBHASH": 0x49, "BLOBBASEFEE": 0x4A,
    "POP": 0x50, "MLOAD": 0x51, "MSTORE": 0x52, "MSTORE8": 0x53, "SLOAD": 0x54, "SSTORE": 0x55,
    "JUMP": 0x56, "JUMPI": 0x57, "PC": 0x58, "MSIZE": 0x59, "GAS": 0x5A, "JUMPDEST": 0x5B,
    "TLOAD": 0x5C, "TSTORE": 0x5D, "MCOPY": 0x5E, "PUSH0": 0x5F,
    "LOG0": 0xA0, "LOG1": 0xA1, "LOG2": 0xA2, "LOG3": 0xA3, "LOG4": 0xA4,
    "CREATE": 0xF0, "CALL": 0xF1, "CALLCODE": 0xF2, "RETURN": 0xF3, "DELEGATECALL": 0xF4,
    "CREATE2": 0xF5, "STATICCALL": 0xFA, "REVERT": 0xFD, "INVALID": 0xFE, "SELFDESTRUCT": 0xFF,
}  # fmt: skip
OPCODES.update({f"DUP{n}": 0x7F + n for n in range(1, 17)})
OPCODES.update({f"SWAP{n}": 0x8F + n for n in range(1, 17)})


def push(value: int) -> bytes:
    if value == 0:
        return bytes([OPCODES["PUSH0"]])
    data = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return bytes([0x5F + len(data)]) + data


def asm(*items: str | int | bytes) -> bytes:
    """Assemble names, ints (pushed), raw bytes, ``"@label"`` (PUSH2 of a label) and ``"label:"`` (JUMPDEST)."""

    def encode(labels: dict[str, int]) -> bytes:
        code = b""
        for item in items:
            if isinstance(item, bytes):
                code += item
            elif isinstance(item, int):
                code += push(item)
            elif item.startswith("@"):
                code += b"\x61" + labels.get(item[1:], 0).to_bytes(2, "big")
            elif item.endswith(":"):
                labels[item[:-1]] = len(code)
                code += bytes([OPCODES["JUMPDEST"]])
            else:
                code += bytes([OPCODES[item]])
        return code

    labels: dict[str, int] = {}
    encode(labels)
    return encode(labels)


def initcode_for(runtime: bytes, constructor: bytes = b"") -> bytes:
    """Return init code that runs ``constructor``, then deploys ``runtime``."""

    def header(offset: int) -> bytes:
        return asm(len(runtime), "DUP1", b"\x61" + offset.to_bytes(2, "big"), 0, "CODECOPY", 0, "RETURN")

    # The runtime follows the init code, whose length does not depend on the offset.
    return constructor + header(len(constructor) + len(header(0))) + runtime


def call(kind: str, address: int, gas: int | None = None, args: tuple[int, int] = (0, 0), value: int = 0) -> list:
    """Return code that calls with a CALL-family opcode and leaves the success flag on the stack."""
    out_args = [0, 0]
    in_offset, in_size = args
    gas_items: list = ["GAS"] if gas is None else [gas]
    if kind in ("CALL", "CALLCODE"):
        return [*out_args, in_size, in_offset, value, address, *gas_items, kind]
    return [*out_args, in_size, in_offset, address, *gas_items, kind]


# Contracts placed in genesis.

#: Stores each (slot, value) word pair of the calldata, then jumps to ``done``.
STORE_PAIRS = (
    0,
    "loop:",
    "DUP1", "CALLDATASIZE", "GT", "ISZERO", "@done", "JUMPI",
    "DUP1", 32, "ADD", "CALLDATALOAD", "DUP2", "CALLDATALOAD", "SSTORE",
    64, "ADD", "@loop", "JUMP",
    "done:",
)  # fmt: skip
#: Stores the pairs, then returns the first slot's new value.
SETTER = 0x5E7
SETTER_CODE = asm(*STORE_PAIRS, 0, "CALLDATALOAD", "SLOAD", 0, "MSTORE", 32, 0, "RETURN")
#: Stores the pairs like SETTER, logs them, then reverts with the calldata as reason.
REVERTER = 0x4E7
REVERTER_CODE = asm(
    *STORE_PAIRS,
    "CALLDATASIZE", 0, 0, "CALLDATACOPY", 7, "CALLDATASIZE", 0, "LOG1",
    "CALLDATASIZE", 0, "REVERT",
)  # fmt: skip
#: Calls itself with all gas until a call fails. Slot ``depth`` gets 1 when the call from that depth succeeded.
RECURSER = 0x2EC
RECURSER_CODE = asm(
    0, "CALLDATALOAD", 1, "ADD", "DUP1", 0, "MSTORE",
    *call("CALL", RECURSER, args=(0, 32)),
    "DUP2", "SSTORE", "STOP",
)  # fmt: skip
#: Deploys its calldata as init code with CREATE2 (salt 0), then calls the new contract with no data.
FACTORY = 0xFAC
FACTORY_CODE = asm(
    "CALLDATASIZE", 0, 0, "CALLDATACOPY",
    0, "CALLDATASIZE", 0, 0, "CREATE2",
    "DUP1", 0, "SSTORE",
    0, 0, 0, 0, 0, "DUP6", "GAS", "CALL",
    1, "SSTORE", "STOP",
)  # fmt: skip


def slot_pairs(*pairs: tuple[int, int]) -> bytes:
    return b"".join(slot.to_bytes(32, "big") + value.to_bytes(32, "big") for slot, value in pairs)


def address_of(number: int) -> str:
    return "0x" + number.to_bytes(20, "big").hex()


def genesis_alloc() -> dict:
    document = genesis_document()
    document["alloc"].update({account.address: {"balance": hex(10**24)} for account in SENDERS})
    for number, code in (
        (SETTER, SETTER_CODE),
        (REVERTER, REVERTER_CODE),
        (RECURSER, RECURSER_CODE),
        (FACTORY, FACTORY_CODE),
        (TRANSIENT, TRANSIENT_CODE),
    ):
        document["alloc"][address_of(number)] = {"code": "0x" + code.hex(), "balance": "0x1"}
    # A contract with storage from genesis, so blocks change an existing trie.
    document["alloc"][address_of(SETTER + 1)] = {
        "code": "0x" + SETTER_CODE.hex(),
        "storage": {"0x" + slot.to_bytes(32, "big").hex(): "0x01" for slot in range(1, 40)},
    }
    return document


# Transactions.


@dataclass
class Tx:
    """A transaction to sign: ``to=None`` creates a contract with ``data`` as init code."""

    to: int | None
    data: bytes = b""
    gas: int = 1_000_000
    value: int = 0
    sender: int = 0


def sign(tx: Tx, nonces: dict[int, int]):
    nonce = nonces.get(tx.sender, 0)
    nonces[tx.sender] = nonce + 1
    fields: dict = {
        "type": 2,
        "chainId": CHAIN_ID,
        "nonce": nonce,
        "data": tx.data,
        "gas": tx.gas,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 1,
        "value": tx.value,
    }
    if tx.to is not None:
        fields["to"] = to_checksum_address(address_of(tx.to))
    signed = SENDERS[tx.sender].sign_transaction(fields)
    return PragueTransactionBuilder.decode(bytes(signed.raw_transaction))


# Switching between Kura's code and py-evm's.


@contextmanager
def py_evm_code() -> Iterator[None]:
    """Run with py-evm's StorageLookup and apply_computation in place of Kura's."""
    saved_lookup = evm_storage.StorageLookup
    saved_apply = BaseComputation.__dict__["apply_computation"]
    evm_storage.StorageLookup = trie_update.PY_EVM_STORAGE_LOOKUP  # type: ignore[misc]
    BaseComputation.apply_computation = classmethod(interpreter._original_apply_computation)  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        evm_storage.StorageLookup = saved_lookup  # type: ignore[misc]
        BaseComputation.apply_computation = saved_apply  # type: ignore[method-assign]


@contextmanager
def kura_code() -> Iterator[None]:
    assert evm_storage.StorageLookup is trie_update.BatchedStorageLookup
    assert BaseComputation.__dict__["apply_computation"].__func__ is interpreter._apply_computation
    yield


def fresh_chain() -> Chain:
    backend = MemoryBackend()
    initialize_store(backend, parse_genesis(genesis_alloc()))
    return Chain(backend)


def build(blocks: Sequence[Sequence[Tx]]) -> Chain:
    chain = fresh_chain()
    nonces: dict[int, int] = {}
    for block in blocks:
        executed = seal_and_commit(chain, [sign(tx, nonces) for tx in block])
        assert not executed.rejected, executed.rejected
    return chain


def replay(built: Chain) -> Chain:
    replayed = fresh_chain()
    for number in range(1, built.head.block_number + 1):
        header = built.header_by_number(number)
        assert header is not None
        replayed.commit(replayed.execute_received(header, list(built.transactions(header))))
    assert replayed.head.hash == built.head.hash
    return replayed


def check_both_ways(blocks: Sequence[Sequence[Tx]]) -> Chain:
    """Build ``blocks`` with Kura's code and replay them under py-evm's, then the reverse.

    Returns the chain built with Kura's code.
    """
    with kura_code():
        built = build(blocks)
    with py_evm_code():
        replay(built)
    with py_evm_code():
        reference = build(blocks)
    with kura_code():
        replay(reference)
    assert built.head.hash == reference.head.hash
    return built


def call_result(chain: Chain, tx: Tx) -> tuple:
    def make(state) -> object:
        nonces = {tx.sender: state.get_nonce(bytes.fromhex(SENDERS[tx.sender].address[2:]))}
        return sign(tx, nonces)

    computation = chain.run_call(chain.head, make)
    error = type(computation.error).__name__ if computation.is_error else None
    logs = computation.get_log_entries()
    return computation.output, error, computation.get_gas_used(), computation.get_gas_refund(), logs


def check_calls(chain: Chain, txs: Sequence[Tx]) -> None:
    for tx in txs:
        with kura_code():
            ours = call_result(chain, tx)
        with py_evm_code():
            theirs = call_result(chain, tx)
        assert ours == theirs, tx


# Scripts: creation transactions whose init code does the work.


def store_words(offset: int, data: bytes) -> list:
    """Return code that writes ``data`` (whole words) to memory at ``offset``."""
    code: list = []
    for index in range(0, len(data), 32):
        code += [int.from_bytes(data[index : index + 32], "big"), offset + index, "MSTORE"]
    return code


def nested_calls_script(final_revert: bool) -> bytes:
    pairs = slot_pairs((1, 5), (24, 6), (2, 0), (3, 9))
    return asm(
        *store_words(0, pairs),
        *call("CALL", SETTER, args=(0, len(pairs))), 100, "SSTORE",
        *call("CALL", REVERTER, args=(0, len(pairs))), 101, "SSTORE",
        "RETURNDATASIZE", 102, "SSTORE",
        # Out of gas in the callee after its first store: three new slots need 66,000 gas.
        *call("CALL", SETTER, gas=30_000, args=(0, len(pairs))), 103, "SSTORE",
        *call("DELEGATECALL", SETTER, args=(0, len(pairs))), 104, "SSTORE",
        *call("CALLCODE", SETTER, args=(0, 64)), 105, "SSTORE",
        # A store in a static frame fails and spends all the gas the frame got.
        *call("STATICCALL", SETTER, gas=50_000, args=(0, 64)), 106, "SSTORE",
        *call("STATICCALL", SETTER, args=(0, 0)), 107, "SSTORE",
        *call("CALL", 0xDEAD, args=(0, 0), value=3), 108, "SSTORE",
        1, 0, "SSTORE", 0, 0, "SSTORE",
        0, 0, "REVERT" if final_revert else "RETURN",
    )  # fmt: skip


def precompile_script() -> bytes:
    code: list = [*store_words(0, bytes(range(1, 129)) + (1).to_bytes(32, "big") * 3 + b"\x02" * 32)]
    for number, (offset, size) in enumerate(
        [(0, 128), (0, 64), (0, 33), (0, 200), (128, 128), (0, 128), (0, 192), (0, 213), (0, 192), (0, 0)],
        start=1,
    ):
        code += [*call("STATICCALL", number, gas=100_000, args=(offset, size)), number, "SSTORE"]
        code += [
            "RETURNDATASIZE",
            0,
            512,
            "RETURNDATACOPY",
            "RETURNDATASIZE",
            512,
            "KECCAK256",
            0x100 + number,
            "SSTORE",
        ]
    # modexp with base 2, exponent 3, modulus 5 (lengths 1, 1, 1).
    modexp = (1).to_bytes(32, "big") * 3 + bytes([2, 3, 5])
    code += [*store_words(1024, modexp + bytes(29)), *call("STATICCALL", 5, args=(1024, len(modexp)))]
    code += [0x205, "SSTORE", 0, 1024, "MLOAD", 0x206, "SSTORE", 0, "DUP1", "LOG0", "STOP"]
    return asm(*code)


def transient_script() -> bytes:
    return asm(
        42, 1, "TSTORE", 1, "TLOAD", 1, "SSTORE",
        2, 0, "TSTORE", 0, "DUP1", "SSTORE", 2, "TLOAD", 2, "SSTORE",
    )  # fmt: skip


#: Sets a transient slot, calls itself to overwrite it in a frame that reverts, stores what is left.
TRANSIENT = 0x75
TRANSIENT_CODE = asm(
    "CALLDATASIZE", "@inner", "JUMPI",
    7, 1, "TSTORE",
    *call("CALL", TRANSIENT, args=(0, 1)), 2, "SSTORE",
    1, "TLOAD", 1, "SSTORE", "STOP",
    "inner:", 9, 1, "TSTORE", 1, "TLOAD", 3, "SSTORE", 0, 0, "REVERT",
)  # fmt: skip


def self_destructing_child(storage: dict[int, int]) -> bytes:
    """Return init code that stores ``storage`` and deploys code that self-destructs to the caller."""
    writes = [item for slot, value in storage.items() for item in (value, slot, "SSTORE")]
    return initcode_for(asm("CALLER", "SELFDESTRUCT"), constructor=asm(*writes))


def destroyed_in_constructor(storage: dict[int, int]) -> bytes:
    writes = [item for slot, value in storage.items() for item in (value, slot, "SSTORE")]
    return asm(*writes, "ORIGIN", "SELFDESTRUCT")


#: A script of fixed-gas opcodes (and a few with dynamic gas), for running out of gas at each step.
FIXED_GAS_SCRIPT = asm(
    1, 2, "ADD", 3, "MUL", 4, "SUB", 5, "DIV", 6, "SDIV", 7, "MOD", 8, "SMOD", 9, 10, "ADDMOD",
    11, 12, "MULMOD", 2, "EXP", 1, "SIGNEXTEND", 1, "LT", 1, "GT", 1, "SLT", 1, "SGT", 1, "EQ",
    "ISZERO", 1, "AND", 1, "OR", 1, "XOR", "NOT", 1, "BYTE", 1, "SHL", 1, "SHR", 1, "SAR",
    "ADDRESS", "ORIGIN", "CALLER", "CALLVALUE", "CALLDATASIZE", "CODESIZE", "GASPRICE",
    "RETURNDATASIZE", "COINBASE", "TIMESTAMP", "NUMBER", "PREVRANDAO", "GASLIMIT", "CHAINID",
    "SELFBALANCE", "BASEFEE", "BLOBBASEFEE", "PC", "MSIZE", "GAS", "PUSH0",
    "DUP16", "SWAP16", "POP", "POP", 0, "MLOAD", 9, 0, "MSTORE8", 32, 0, 64, "MCOPY",
    "@next", "JUMP", "next:", 1, "@end", "JUMPI", "INVALID", "end:",
    7, 3, "TSTORE", 3, "TLOAD", 3, "SSTORE", 3, "SLOAD", 0, "DUP1", "LOG1", 32, 0, "RETURN",
)  # fmt: skip


def test_nested_calls_revert_and_out_of_gas() -> None:
    built = check_both_ways(
        [
            [Tx(None, nested_calls_script(False)), Tx(None, nested_calls_script(True), sender=1)],
            [Tx(None, nested_calls_script(False)), Tx(SETTER, slot_pairs((1, 0), (24, 0), (3, 0)))],
        ]
    )
    statuses = [receipt.state_root for receipt in built.receipts(built.header_by_number(1))]
    assert statuses == [b"\x01", b""]
    setter = SETTER.to_bytes(20, "big")
    state = built.state_at(built.head)
    assert [state.get_storage(setter, slot) for slot in (1, 2, 3, 24)] == [0, 0, 0, 0]


def test_precompiles_and_transient_storage() -> None:
    built = check_both_ways(
        [[Tx(None, precompile_script(), gas=3_000_000), Tx(None, transient_script()), Tx(TRANSIENT, gas=200_000)]]
    )
    state = built.state_at(built.head)
    transient = TRANSIENT.to_bytes(20, "big")
    # The reverted frame's TSTORE is undone; the caller still reads its own 7.
    assert [state.get_storage(transient, slot) for slot in range(4)] == [0, 7, 0, 0]


def test_selfdestruct_and_create2_again() -> None:
    child = self_destructing_child({1: 1, 24: 2, 14: 3})
    # Keeps its storage: the runtime self-destructs only when called with a nonzero word.
    surviving = initcode_for(
        asm(0, "CALLDATALOAD", "@destroy", "JUMPI", "STOP", "destroy:", "CALLER", "SELFDESTRUCT"),
        constructor=asm(1, 1, "SSTORE", 2, 24, "SSTORE", 3, 14, "SSTORE"),
    )
    built = check_both_ways(
        [
            [Tx(None, destroyed_in_constructor({1: 1, 24: 2, 0: 3})), Tx(FACTORY, child)],
            # Created and destroyed again at the same address, twice in one block.
            [Tx(FACTORY, child), Tx(FACTORY, child, sender=1)],
            [Tx(FACTORY, surviving)],
            # Not created in this transaction: only the balance moves, storage stays.
            [Tx(FACTORY, surviving, sender=1), Tx(FACTORY, surviving, sender=2)],
        ]
    )
    state = built.state_at(built.head)
    address = state.get_storage(FACTORY.to_bytes(20, "big"), 0).to_bytes(20, "big")
    # The last CREATE2 collides with the surviving contract and returns zero.
    assert address == bytes(20)


def test_invalid_opcodes_and_jumps() -> None:
    scripts = [
        b"\xfe",  # INVALID
        b"\x0c",  # undefined
        b"\xef",  # undefined
        b"\x7f\x01\x02",  # PUSH32 cut short by the end of the code
        asm(3, "JUMP"),  # to a non-JUMPDEST
        bytes.fromhex("605b600156"),  # to a 0x5b inside PUSH data
        bytes.fromhex("600060ff57600160005500"),  # JUMPI not taken to a bad target
        b"\x5b" * 10 + b"\x60",  # PUSH1 with no data
        asm(1, 0, "SSTORE", b"\xef"),  # a store, then an undefined opcode
    ]
    built = check_both_ways([[Tx(None, script, gas=100_000) for script in scripts]])
    statuses = [receipt.state_root for receipt in built.receipts(built.head)]
    assert statuses == [b"", b"", b"", b"\x01", b"", b"", b"\x01", b"\x01", b""]


def test_storage_churn_until_trie_empty() -> None:
    churned = SETTER + 1
    all_slots = range(1, 40)
    built = check_both_ways(
        [
            [
                Tx(churned, slot_pairs(*[(slot, 0) for slot in all_slots])),
                Tx(churned, slot_pairs(*[(slot, 2) for slot in all_slots if slot % 3 == 0]), sender=1),
                Tx(churned, slot_pairs((3, 0), (3, 5), (6, 0)), sender=2),
            ],
            [Tx(churned, slot_pairs(*[(slot, 0) for slot in all_slots]))],
            [Tx(churned, slot_pairs((7, 1), (7, 0), (8, 3))), Tx(churned, slot_pairs((8, 0)), sender=1)],
            [Tx(churned, slot_pairs(*[(slot, slot) for slot in all_slots]))],
        ]
    )
    state = built.state_at(built.head)
    assert [state.get_storage(churned.to_bytes(20, "big"), slot) for slot in all_slots] == list(all_slots)


def test_recursion_to_depth_limit_of_gas() -> None:
    built = check_both_ways([[Tx(RECURSER, bytes(32), gas=20_000_000)]])
    state = built.state_at(built.head)
    recurser = RECURSER.to_bytes(20, "big")
    # The 63/64 rule stops the recursion long before 1024 frames.
    assert state.get_storage(recurser, 100) == 1


def test_out_of_gas_at_every_opcode() -> None:
    with kura_code():
        _, error, used, _, _ = call_result(fresh_chain(), Tx(None, FIXED_GAS_SCRIPT))
    assert error is None
    intrinsic = sign(Tx(None, FIXED_GAS_SCRIPT), {}).intrinsic_gas
    # Every gas value through the opcodes before the first TSTORE, then the end of the run
    # (the SSTORE, the LOG and the code deposit).
    gas_values = [*range(intrinsic, intrinsic + 420), *range(intrinsic + used - 40, intrinsic + used + 3)]
    sweep = [Tx(None, FIXED_GAS_SCRIPT, gas=gas, sender=index % 4) for index, gas in enumerate(gas_values)]
    built = check_both_ways([sweep[:230], sweep[230:]])
    receipts = [*built.receipts(built.header_by_number(1)), *built.receipts(built.head)]
    statuses = [receipt.state_root for receipt in receipts]
    assert statuses[-1] == b"\x01"
    assert statuses[-4] == b""


def test_call_results_match_py_evm() -> None:
    built = check_both_ways([[Tx(SETTER, slot_pairs((5, 8), (6, 9)))]])
    calls = [
        Tx(SETTER, slot_pairs((5, 0), (7, 3))),
        Tx(REVERTER, slot_pairs((1, 2))),
        Tx(SETTER, slot_pairs((5, 1), (6, 0), (9, 9)), gas=45_000),
        Tx(None, nested_calls_script(False)),
        Tx(None, nested_calls_script(True)),
        Tx(None, precompile_script(), gas=3_000_000),
        Tx(None, FIXED_GAS_SCRIPT),
        Tx(None, FIXED_GAS_SCRIPT, gas=55_500),
        Tx(TRANSIENT, gas=200_000),
    ]
    check_calls(built, calls)


# Storage tries whose root is an extension node with a path of two or more
# nibbles: keccak of slots 1 and 24 both start with the byte 0xb1. Slot 14's
# key starts with 0xbb and slot 0's with 0x29.


def test_new_slot_splits_extension_node() -> None:
    check_both_ways([[Tx(SETTER, slot_pairs((1, 1), (24, 1)))], [Tx(SETTER, slot_pairs((14, 1)))]])


def test_slot_set_and_cleared_beside_extension() -> None:
    # Slot 0 is set and cleared in one transaction, so the block deletes a key the trie never had.
    check_both_ways([[Tx(SETTER, slot_pairs((1, 1), (24, 1)))], [Tx(SETTER, slot_pairs((0, 1), (0, 0)))]])


def test_slot_outside_extension_prefix() -> None:
    check_both_ways([[Tx(SETTER, slot_pairs((1, 1), (24, 1)))], [Tx(SETTER, slot_pairs((0, 1)))]])
