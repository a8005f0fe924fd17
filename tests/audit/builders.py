"""In-process chains on the dev genesis (coin predeployed), sealed by the dev validator key.

Blocks are built with the node's own code (``Chain.build``, the proposer and commit seals) and
committed straight to the store, which is much faster than sending transactions over JSON-RPC.
"""

from __future__ import annotations

import json
from pathlib import Path

from eth.abc import SignedTransactionAPI
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth_account import Account

from node.chain.chain import Chain, initialize_store
from node.chain.execution import ExecutedBlock
from node.chain.genesis import parse_genesis
from node.chain.seal import ExtraData
from node.cli.devaccounts import DEV_VALIDATOR_INDEX, dev_keys
from node.cli.main import DEV_GENESIS
from node.coin.abi import gold_coin_interface
from node.coin.dev_roles import dev_accounts
from node.coin.eip712 import MintProposal, sign_mint_proposal
from node.coin.predeploy import GOLD_COIN_ADDRESS, MINT_AUTHORITY_ADDRESS
from node.coin.transactions import execute_mint_call_data, sign_transaction
from node.consensus.seals import add_proposer_seal, commit_seal, with_commit_seals
from node.store.backend import KeyValueBackend

VALIDATOR_KEY = dev_keys()[DEV_VALIDATOR_INDEX]
VALIDATOR = bytes.fromhex(Account.from_key(VALIDATOR_KEY).address[2:])
GRAM = 10**18
#: Max fee per gas of the built transactions: far above the dev chain's base fee.
MAX_FEE = 100 * 10**9


def dev_genesis_document() -> dict:
    return json.loads(Path(DEV_GENESIS).read_text(encoding="utf-8"))


def new_dev_chain(backend: KeyValueBackend) -> Chain:
    initialize_store(backend, parse_genesis(dev_genesis_document()))
    return Chain(backend)


def seal(chain: Chain, transactions: list[SignedTransactionAPI]) -> ExecutedBlock:
    """Build, seal and commit the head's child with ``transactions``; all must be valid."""
    head = chain.head
    template = chain.make_template(
        head,
        timestamp=head.timestamp + 1,
        coinbase=VALIDATOR,
        extra=ExtraData(validators=chain.config.validators),
    )
    executed = chain.build(template, transactions)
    assert not executed.rejected, f"transactions rejected while building: {executed.rejected}"
    proposed = add_proposer_seal(executed.header, VALIDATOR_KEY)
    executed.header = with_commit_seals(proposed, [commit_seal(proposed, VALIDATOR_KEY)])
    chain.commit(executed)
    return executed


class Wallets:
    """Signs transactions for the dev accounts and keeps their nonces."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.nonces: dict[str, int] = {}
        self.accounts = dev_accounts()

    def address(self, role: str) -> str:
        return self.accounts[role].address

    def send(self, role: str, to: str | None, data: bytes = b"", value: int = 0, gas: int = 500_000):
        account = self.accounts[role]
        nonce = self.nonces.get(role, 0)
        self.nonces[role] = nonce + 1
        raw = sign_transaction(
            account.private_key,
            chain_id=self.chain.chain_id,
            nonce=nonce,
            to=to,
            data=data,
            max_fee_per_gas=MAX_FEE,
            max_priority_fee_per_gas=1,
            gas=gas,
            value=value,
        )
        return PragueTransactionBuilder.decode(raw)

    def coin(self, role: str, function: str, *args: object):
        return self.send(role, GOLD_COIN_ADDRESS, gold_coin_interface().encode_call(function, *args))

    def attest(self, grams: int):
        as_of = self.chain.head.timestamp
        return self.coin("attestor", "attestReserve", grams * GRAM, b"\x0a" * 32, as_of)

    def mint(self, recipient_role: str, grams: int, nonce: int, signers: tuple[str, ...]):
        proposal = MintProposal(
            recipient=self.address(recipient_role),
            amount=grams * GRAM,
            reserve_ref=b"\x52" * 32,
            expiry=self.chain.head.timestamp + 3600,
            nonce=nonce,
        )
        approvals = [
            sign_mint_proposal(self.accounts[role].private_key, proposal, self.chain.chain_id, MINT_AUTHORITY_ADDRESS)
            for role in signers
        ]
        return self.send("authority_issuer", MINT_AUTHORITY_ADDRESS, execute_mint_call_data(proposal, approvals))


#: Dev accounts 10 to 18 carry the traffic: they hold no role in the coin.
TRAFFIC_ACCOUNTS = tuple(range(10, 19))


def build_traffic(chain: Chain, transactions: int, *, per_block: int = 100) -> int:
    """Seal blocks with about ``transactions`` transactions: an issuer story, then coin and ether transfers.

    The story attests a reserve, mints through a 2-of-3 quorum, transfers, burns and freezes.
    The traffic after it is GoldCoin transfers of 1 g between the traffic accounts, with every
    fifth transaction a plain ether transfer. Returns the number of transactions sealed.
    """
    wallets = Wallets(chain)
    keys = dev_keys()
    addresses = {index: Account.from_key(keys[index]).address for index in TRAFFIC_ACCOUNTS}
    sealed = 0

    story = [
        [wallets.attest(1_000_000)],
        [wallets.mint("exchange", 100_000, 1, ("authority_issuer", "authority_custodian"))],
        [wallets.coin("exchange", "transfer", addresses[index], 10_000 * GRAM) for index in TRAFFIC_ACCOUNTS],
        [wallets.coin("exchange", "transfer", wallets.address("customer"), 150 * GRAM)],
        [wallets.coin("customer", "approve", wallets.address("burner"), 100 * GRAM)],
        [wallets.coin("burner", "burnFrom", wallets.address("customer"), 100 * GRAM)],
        [wallets.coin("compliance", "freeze", wallets.address("customer"))],
    ]
    for block in story:
        sealed += len(seal(chain, block).transactions)

    nonces = dict.fromkeys(TRAFFIC_ACCOUNTS, 0)
    pending: list[SignedTransactionAPI] = []
    count = len(TRAFFIC_ACCOUNTS)
    for number in range(max(transactions - sealed, 0)):
        sender = TRAFFIC_ACCOUNTS[number % count]
        recipient = addresses[TRAFFIC_ACCOUNTS[(number + 1) % count]]
        if number % 5 == 4:
            to, data, value = recipient, b"", 10**15
        else:
            to, data, value = GOLD_COIN_ADDRESS, gold_coin_interface().encode_call("transfer", recipient, GRAM), 0
        raw = sign_transaction(
            keys[sender],
            chain_id=chain.chain_id,
            nonce=nonces[sender],
            to=to,
            data=data,
            max_fee_per_gas=MAX_FEE,
            max_priority_fee_per_gas=1,
            gas=100_000,
            value=value,
        )
        nonces[sender] += 1
        pending.append(PragueTransactionBuilder.decode(raw))
        if len(pending) == per_block:
            sealed += len(seal(chain, pending).transactions)
            pending = []
    if pending:
        sealed += len(seal(chain, pending).transactions)
    return sealed
