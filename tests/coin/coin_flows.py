"""Multi-step flows shared by the coin tests: attesting reserves and minting through the quorum."""

from __future__ import annotations

from collections.abc import Sequence

from node.coin.dev_roles import DevAccount
from node.coin.eip712 import Approval, MintProposal, sign_mint_proposal
from node.coin.predeploy import MINT_AUTHORITY_ADDRESS
from node.coin.transactions import execute_mint_call_data
from tests.coin.coin_client import CoinClient, Contract, TxOutcome

CHAIN_ID = 1337
#: 2026-01-01T01:00:00Z, an hour into a UTC day, so a few blocks never cross midnight by chance.
GENESIS_TIMESTAMP = 1_767_229_200
DEV_ACCOUNT_BALANCE = 10**24
#: One gram of gold in token base units.
GRAM = 10**18
DAY = 86_400
ZERO_HASH = b"\x00" * 32
RESERVE_REF = b"\x52" * 32


def assert_reverted_with(outcome: TxOutcome, error_name: str) -> None:
    assert not outcome.ok, f"expected a revert with {error_name}, but the transaction succeeded"
    assert outcome.error is not None
    assert outcome.error.name == error_name, f"expected {error_name}, got {outcome.error}"


def attest(client: CoinClient, coin: Contract, attestor: DevAccount, grams: int) -> TxOutcome:
    """Attest a reserve of ``grams`` whole grams, dated at the latest block's timestamp."""
    as_of = client.backend.latest_timestamp()
    outcome = client.send(attestor.private_key, coin, "attestReserve", grams * GRAM, b"\x0a" * 32, as_of)
    assert outcome.ok, f"attestReserve failed: {outcome.error}"
    return outcome


def proposal(client: CoinClient, recipient: str, amount: int, nonce: int, *, valid_for: int = 3600) -> MintProposal:
    return MintProposal(
        recipient=recipient,
        amount=amount,
        reserve_ref=RESERVE_REF,
        expiry=client.backend.latest_timestamp() + valid_for,
        nonce=nonce,
    )


def sign_all(client: CoinClient, mint: MintProposal, signers: Sequence[DevAccount]) -> list[Approval]:
    return [sign_mint_proposal(signer.private_key, mint, client.chain_id, MINT_AUTHORITY_ADDRESS) for signer in signers]


def execute_mint(
    client: CoinClient, submitter: DevAccount, mint: MintProposal, approvals: Sequence[Approval]
) -> TxOutcome:
    return client.send_raw(submitter.private_key, MINT_AUTHORITY_ADDRESS, execute_mint_call_data(mint, approvals))


def mint_with_quorum(
    client: CoinClient,
    dev: dict[str, DevAccount],
    recipient: str,
    amount: int,
    nonce: int,
    *,
    valid_for: int = 3600,
) -> TxOutcome:
    """Mint through MintAuthority with the issuer's and custodian's signatures, submitted by the
    exchange wallet (submitting needs no role)."""
    mint = proposal(client, recipient, amount, nonce, valid_for=valid_for)
    approvals = sign_all(client, mint, [dev["authority_issuer"], dev["authority_custodian"]])
    return execute_mint(client, dev["exchange"], mint, approvals)


def balance_of(client: CoinClient, coin: Contract, address: str) -> int:
    return client.read(coin, "balanceOf", address)
