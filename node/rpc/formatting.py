"""Blocks, transactions, receipts and logs as JSON-RPC objects (execution-apis schema)."""

from __future__ import annotations

from typing import Any

import rlp
from eth._utils.address import generate_contract_address
from eth.abc import LogAPI, ReceiptAPI, SignedTransactionAPI

from node.chain.header import KuraBlock, KuraHeader


def hex_int(value: int) -> str:
    return hex(value)


def hex_bytes(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def hex_address(value: bytes | None) -> str | None:
    return None if not value else "0x" + bytes(value).hex()


def effective_gas_price(tx: SignedTransactionAPI, base_fee: int) -> int:
    if tx.type_id is None or tx.type_id == 1:
        return tx.gas_price
    return min(tx.max_fee_per_gas, base_fee + tx.max_priority_fee_per_gas)


def format_header(header: KuraHeader) -> dict[str, Any]:
    return {
        "number": hex_int(header.block_number),
        "hash": hex_bytes(header.hash),
        "parentHash": hex_bytes(header.parent_hash),
        "sha3Uncles": hex_bytes(header.uncles_hash),
        "logsBloom": "0x" + header.bloom.to_bytes(256, "big").hex(),
        "transactionsRoot": hex_bytes(header.transaction_root),
        "stateRoot": hex_bytes(header.state_root),
        "receiptsRoot": hex_bytes(header.receipt_root),
        "miner": hex_address(header.coinbase),
        "difficulty": hex_int(header.difficulty),
        "totalDifficulty": "0x0",
        "extraData": hex_bytes(header.extra_data),
        "gasLimit": hex_int(header.gas_limit),
        "gasUsed": hex_int(header.gas_used),
        "timestamp": hex_int(header.timestamp),
        "mixHash": hex_bytes(header.mix_hash),
        "nonce": hex_bytes(header.nonce),
        "baseFeePerGas": hex_int(header.base_fee_per_gas),
        "withdrawalsRoot": hex_bytes(header.withdrawals_root),
        "blobGasUsed": hex_int(header.blob_gas_used),
        "excessBlobGas": hex_int(header.excess_blob_gas),
        "parentBeaconBlockRoot": hex_bytes(header.parent_beacon_block_root),
        "requestsHash": hex_bytes(header.requests_hash),
    }


def format_block(header: KuraHeader, transactions: tuple[SignedTransactionAPI, ...], full: bool) -> dict[str, Any]:
    block = format_header(header)
    block["size"] = hex_int(
        len(rlp.encode(KuraBlock(header, transactions=list(transactions), uncles=[], withdrawals=[])))
    )
    if full:
        block["transactions"] = [format_transaction(tx, header, index) for index, tx in enumerate(transactions)]
    else:
        block["transactions"] = [hex_bytes(tx.hash) for tx in transactions]
    block["uncles"] = []
    block["withdrawals"] = []
    return block


def format_transaction(
    tx: SignedTransactionAPI, header: KuraHeader | None = None, index: int | None = None
) -> dict[str, Any]:
    """Format a transaction; ``header`` None means it is still in the pool."""
    type_id = tx.type_id or 0
    result: dict[str, Any] = {
        "blockHash": None if header is None else hex_bytes(header.hash),
        "blockNumber": None if header is None else hex_int(header.block_number),
        "transactionIndex": None if index is None else hex_int(index),
        "from": hex_address(tx.sender),
        "to": hex_address(tx.to),
        "gas": hex_int(tx.gas),
        "hash": hex_bytes(tx.hash),
        "input": hex_bytes(tx.data),
        "nonce": hex_int(tx.nonce),
        "value": hex_int(tx.value),
        "type": hex_int(type_id),
        "r": hex_int(tx.r),
        "s": hex_int(tx.s),
    }
    if type_id == 0:
        result["gasPrice"] = hex_int(tx.gas_price)
        result["v"] = hex_int(tx.v)  # type: ignore[attr-defined]
        if tx.chain_id is not None:
            result["chainId"] = hex_int(tx.chain_id)
        return result

    result["chainId"] = hex_int(tx.chain_id or 0)
    result["v"] = hex_int(tx.y_parity)
    result["yParity"] = hex_int(tx.y_parity)
    result["accessList"] = [
        {"address": hex_address(address), "storageKeys": ["0x" + key.to_bytes(32, "big").hex() for key in keys]}
        for address, keys in tx.access_list
    ]
    if type_id == 1:
        result["gasPrice"] = hex_int(tx.gas_price)
        return result
    result["maxFeePerGas"] = hex_int(tx.max_fee_per_gas)
    result["maxPriorityFeePerGas"] = hex_int(tx.max_priority_fee_per_gas)
    base_fee = None if header is None else header.base_fee_per_gas
    result["gasPrice"] = hex_int(tx.max_fee_per_gas if base_fee is None else effective_gas_price(tx, base_fee))
    if type_id == 4:
        result["authorizationList"] = [
            {
                "chainId": hex_int(auth.chain_id),
                "address": hex_address(auth.address),
                "nonce": hex_int(auth.nonce),
                "yParity": hex_int(auth.y_parity),
                "r": hex_int(auth.r),
                "s": hex_int(auth.s),
            }
            for auth in tx.authorization_list
        ]
    return result


def format_log(
    log: LogAPI, header: KuraHeader, tx: SignedTransactionAPI, tx_index: int, log_index: int
) -> dict[str, Any]:
    return {
        "address": hex_address(log.address),
        "topics": ["0x" + topic.to_bytes(32, "big").hex() for topic in log.topics],
        "data": hex_bytes(log.data),
        "blockNumber": hex_int(header.block_number),
        "blockHash": hex_bytes(header.hash),
        "blockTimestamp": hex_int(header.timestamp),
        "transactionHash": hex_bytes(tx.hash),
        "transactionIndex": hex_int(tx_index),
        "logIndex": hex_int(log_index),
        "removed": False,
    }


def format_receipts(
    header: KuraHeader, transactions: tuple[SignedTransactionAPI, ...], receipts: tuple[ReceiptAPI, ...]
) -> list[dict[str, Any]]:
    """Format every receipt of a block; log indexes count across the block."""
    formatted = []
    previous_gas = 0
    log_index = 0
    for index, (tx, receipt) in enumerate(zip(transactions, receipts, strict=True)):
        logs = []
        for log in receipt.logs:
            logs.append(format_log(log, header, tx, index, log_index))
            log_index += 1
        contract = None
        if not tx.to:
            contract = hex_address(generate_contract_address(tx.sender, tx.nonce))
        formatted.append(
            {
                "transactionHash": hex_bytes(tx.hash),
                "transactionIndex": hex_int(index),
                "blockHash": hex_bytes(header.hash),
                "blockNumber": hex_int(header.block_number),
                "from": hex_address(tx.sender),
                "to": hex_address(tx.to),
                "cumulativeGasUsed": hex_int(receipt.gas_used),
                "gasUsed": hex_int(receipt.gas_used - previous_gas),
                "effectiveGasPrice": hex_int(effective_gas_price(tx, header.base_fee_per_gas)),
                "contractAddress": contract,
                "logs": logs,
                "logsBloom": "0x" + receipt.bloom.to_bytes(256, "big").hex(),
                "type": hex_int(tx.type_id or 0),
                "status": "0x1" if receipt.state_root == b"\x01" else "0x0",
            }
        )
        previous_gas = receipt.gas_used
    return formatted
