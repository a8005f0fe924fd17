"""Build and sign transactions that call the coin contracts.

Nothing here talks to a chain: callers supply the nonce and fees and send the raw bytes through
whatever they use (the node's JSON-RPC ``eth_sendRawTransaction``, or the in-process chain in the
tests).
"""

from __future__ import annotations

from collections.abc import Iterable

import rlp
from eth_account import Account
from eth_utils import keccak, to_canonical_address, to_checksum_address

from node.coin.abi import mint_authority_interface
from node.coin.eip712 import Approval, AuthoritySetChange, MintProposal, approvals_to_abi, sort_approvals

#: Gas limit used when the caller gives none. It is a fixed ceiling, not an estimate: the costliest
#: coin call in the tests (an authority-set change with a few authorities) stays well below it.
DEFAULT_GAS = 3_000_000


def sign_transaction(
    private_key: bytes,
    *,
    chain_id: int,
    nonce: int,
    to: str | None,
    data: bytes,
    max_fee_per_gas: int,
    max_priority_fee_per_gas: int = 0,
    gas: int = DEFAULT_GAS,
    value: int = 0,
) -> bytes:
    """Sign an EIP-1559 (type 2) transaction and return its raw encoding.

    ``to=None`` makes a contract-creation transaction with ``data`` as the init code. Fees are in
    wei per gas; ``value`` is in wei.
    """
    transaction: dict[str, object] = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "data": data,
        "gas": gas,
        "maxFeePerGas": max_fee_per_gas,
        "maxPriorityFeePerGas": max_priority_fee_per_gas,
        "value": value,
    }
    if to is not None:
        transaction["to"] = to_checksum_address(to)
    return bytes(Account.sign_transaction(transaction, private_key).raw_transaction)


def contract_address_for(sender: str, nonce: int) -> str:
    """Return the address a CREATE from ``sender`` at ``nonce`` deploys to: the last 20 bytes of
    keccak256(rlp([sender, nonce]))."""
    return to_checksum_address(keccak(rlp.encode([to_canonical_address(sender), nonce]))[12:])


def execute_mint_call_data(proposal: MintProposal, approvals: Iterable[Approval]) -> bytes:
    """Encode ``MintAuthority.executeMint``, sorting the approvals by authority address."""
    return mint_authority_interface().encode_call(
        "executeMint", proposal.to_abi(), approvals_to_abi(sort_approvals(approvals))
    )


def execute_authority_set_change_call_data(change: AuthoritySetChange, approvals: Iterable[Approval]) -> bytes:
    """Encode ``MintAuthority.executeAuthoritySetChange``, sorting the approvals by authority address."""
    return mint_authority_interface().encode_call(
        "executeAuthoritySetChange", change.to_abi(), approvals_to_abi(sort_approvals(approvals))
    )
