"""web3.py's AsyncWeb3 over HTTP (AsyncHTTPProvider) and WebSocket (WebSocketProvider): the sync
suite's steps, and over WebSocket an exchange's deposit watcher built on eth_subscribe."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest
from eth_account.signers.local import LocalAccount
from web3 import AsyncHTTPProvider, AsyncWeb3, WebSocketProvider
from web3.contract import AsyncContract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import TxReceipt

from tests.rpc.helpers import DEV_CHAIN_ID, GWEI, dev_account, load_artifact
from tests.support.process import NodeProcess

INITIAL_COUNT = 7
#: Seconds to wait for a notification; blocks come every second.
NOTIFICATION_TIMEOUT = 30
#: First dev account of each transport, so the two runs on one node never share a nonce.
FIRST_ACCOUNT = {"http": 0, "ws": 6}
T = TypeVar("T")


@asynccontextmanager
async def connect(node: NodeProcess, transport: str) -> AsyncIterator[AsyncWeb3[Any]]:
    """An AsyncWeb3 client; QBFT extraData needs the POA middleware, as in the sync suite."""
    if transport == "ws":
        async with AsyncWeb3(WebSocketProvider(node.url.replace("http://", "ws://"))) as w3:
            w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
            yield w3
    else:
        w3 = AsyncWeb3(AsyncHTTPProvider(node.url))
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
        try:
            yield w3
        finally:
            await w3.provider.disconnect()


def run(node: NodeProcess, transport: str, steps: Callable[[AsyncWeb3[Any]], Awaitable[T]]) -> T:
    async def main() -> T:
        async with connect(node, transport) as w3:
            return await asyncio.wait_for(steps(w3), 120)

    return asyncio.run(main())


async def send(w3: AsyncWeb3[Any], account: LocalAccount, fields: dict[str, Any]) -> TxReceipt:
    """Sign ``fields`` as an EIP-1559 transaction from ``account``, send it and wait for its receipt."""
    transaction = {
        "chainId": DEV_CHAIN_ID,
        "nonce": await w3.eth.get_transaction_count(account.address, "pending"),
        "maxFeePerGas": 10 * GWEI,
        "maxPriorityFeePerGas": GWEI,
        **fields,
    }
    if "gas" not in transaction:
        transaction["gas"] = await w3.eth.estimate_gas({**transaction, "from": account.address})
    signed = account.sign_transaction(transaction)
    tx_hash = await w3.eth.send_raw_transaction(signed.raw_transaction)
    return await w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.2)


async def deploy(w3: AsyncWeb3[Any], account: LocalAccount) -> tuple[AsyncContract, TxReceipt]:
    artifact = load_artifact("Probe")
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    data = factory.constructor(INITIAL_COUNT).data_in_transaction
    receipt = await send(w3, account, {"data": data, "gas": 2_000_000})
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"]), receipt


@pytest.fixture(params=["http", "ws"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def accounts(transport: str, count: int) -> list[LocalAccount]:
    return [dev_account(FIRST_ACCOUNT[transport] + index) for index in range(count)]


def test_connects_to_dev_chain(shared_node: NodeProcess, transport: str) -> None:
    async def steps(w3: AsyncWeb3[Any]) -> None:
        assert await w3.is_connected()
        assert await w3.eth.chain_id == DEV_CHAIN_ID
        latest = await w3.eth.get_block("latest")
        assert latest["number"] == await w3.eth.block_number or latest["number"] + 1 == await w3.eth.block_number

    run(shared_node, transport, steps)


def test_deploy_transfer_and_events(shared_node: NodeProcess, transport: str) -> None:
    deployer, sender = accounts(transport, 2)

    async def steps(w3: AsyncWeb3[Any]) -> None:
        probe, deploy_receipt = await deploy(w3, deployer)
        assert deploy_receipt["status"] == 1
        assert await probe.functions.count().call() == INITIAL_COUNT

        deposit_address = w3.eth.account.create().address
        transfer = await send(w3, sender, {"to": deposit_address, "value": 5 * GWEI, "gas": 21_000})
        assert transfer["status"] == 1
        assert await w3.eth.get_balance(deposit_address) == 5 * GWEI

        data = probe.functions.increment(4)._encode_transaction_data()
        receipt = await send(w3, sender, {"to": probe.address, "data": data})
        (event,) = probe.events.Incremented().process_receipt(receipt)
        assert event["args"]["caller"] == sender.address
        assert event["args"]["step"] == 4
        assert event["args"]["total"] == INITIAL_COUNT + 4

    run(shared_node, transport, steps)


def test_reverts(shared_node: NodeProcess, transport: str) -> None:
    (deployer,) = accounts(transport, 3)[2:]

    async def steps(w3: AsyncWeb3[Any]) -> None:
        probe, _receipt = await deploy(w3, deployer)
        with pytest.raises(ContractLogicError) as reverted:
            await probe.functions.increment(0).call()
        assert reverted.value.message == "execution reverted: Probe: step is zero"
        with pytest.raises(ContractCustomError):
            await probe.functions.increment(1_000).call()

        data = probe.functions.increment(0)._encode_transaction_data()
        receipt = await send(w3, deployer, {"to": probe.address, "data": data, "gas": 100_000})
        assert receipt["status"] == 0

    run(shared_node, transport, steps)


def test_deposit_watched_over_websocket(shared_node: NodeProcess) -> None:
    """Watch a deposit address as an exchange does: each new head is fetched with its
    transactions and scanned for the address, and the Probe's Deposited logs arrive through
    a logs subscription filtered on the depositor."""
    deployer, depositor = accounts("ws", 5)[3:]

    async def steps(w3: AsyncWeb3[Any]) -> None:
        probe, _receipt = await deploy(w3, deployer)
        deposit_address = w3.eth.account.create().address
        deposited_topic = w3.keccak(text="Deposited(address,uint256)").to_0x_hex()
        depositor_topic = "0x" + "00" * 12 + depositor.address[2:].lower()

        heads = await w3.eth.subscribe("newHeads")
        logs = await w3.eth.subscribe("logs", {"address": probe.address, "topics": [deposited_topic, depositor_topic]})

        nonce = await w3.eth.get_transaction_count(depositor.address, "pending")
        fees = {"chainId": DEV_CHAIN_ID, "maxFeePerGas": 10 * GWEI, "maxPriorityFeePerGas": GWEI}
        transfer = depositor.sign_transaction(
            {**fees, "nonce": nonce, "to": deposit_address, "value": 7, "gas": 21_000}
        )
        deposit_data = probe.functions.deposit()._encode_transaction_data()
        payable = depositor.sign_transaction(
            {**fees, "nonce": nonce + 1, "to": probe.address, "value": 11, "data": deposit_data, "gas": 100_000}
        )
        transfer_hash = await w3.eth.send_raw_transaction(transfer.raw_transaction)
        payable_hash = await w3.eth.send_raw_transaction(payable.raw_transaction)

        seen_transfer = None
        seen_log = None
        async for message in w3.socket.process_subscriptions():
            if message["subscription"] == heads:
                block = await w3.eth.get_block(message["result"]["number"], full_transactions=True)
                for transaction in block["transactions"]:
                    if transaction["to"] == deposit_address:
                        seen_transfer = transaction
            elif message["subscription"] == logs:
                seen_log = message["result"]
            if seen_transfer is not None and seen_log is not None:
                break

        assert seen_transfer is not None and seen_transfer["hash"] == transfer_hash
        assert seen_transfer["value"] == 7
        assert await w3.eth.get_balance(deposit_address) == 7
        assert seen_log is not None and seen_log["transactionHash"] == payable_hash
        event = probe.events.Deposited().process_log(seen_log)
        assert event["args"]["sender"] == depositor.address
        assert event["args"]["amount"] == 11

        assert await w3.eth.unsubscribe(heads)
        assert await w3.eth.unsubscribe(logs)

    run(shared_node, "ws", steps)
