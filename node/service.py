"""Wiring a node together: store, chain, pool, consensus and JSON-RPC."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field

import uvicorn

from node import __version__
from node.chain.chain import Chain
from node.chain.header import KuraHeader
from node.consensus.single import SingleValidatorEngine
from node.rpc.filters import FilterManager
from node.rpc.registry import RpcContext, RpcLimits
from node.rpc.server import create_app
from node.store.backend import LevelDBBackend
from node.txpool.pool import AccountReader, PoolLimits, TxPool

logger = logging.getLogger(__name__)

CLIENT_VERSION = f"Kura/v{__version__}/linux/python"


@dataclass
class NodeOptions:
    data_dir: str
    rpc_host: str = "127.0.0.1"
    rpc_port: int = 8545
    validator_key: bytes | None = None
    accounts: list[bytes] = field(default_factory=list)
    pool_limits: PoolLimits = field(default_factory=PoolLimits)
    rpc_limits: RpcLimits = field(default_factory=RpcLimits)


class HeadAccounts:
    """Nonce and balance reads on the head state, one state object per head."""

    def __init__(self, chain: Chain) -> None:
        self._chain = chain
        self._lock = threading.Lock()
        self._head: KuraHeader | None = None
        self._reader: AccountReader | None = None

    def __call__(self) -> AccountReader:
        head = self._chain.head
        with self._lock:
            if self._reader is None or self._head is not head:
                state = self._chain.state_at(head)
                self._reader = AccountReader(state.get_nonce, state.get_balance)
                self._head = head
            return self._reader


class Node:
    """A running node; ``serve`` blocks until interrupted."""

    def __init__(self, options: NodeOptions) -> None:
        self.options = options
        self.backend = LevelDBBackend(os.path.join(options.data_dir, "chaindata"))
        self.chain = Chain(self.backend)
        config = self.chain.config
        self.pool = TxPool(
            config.chain_id,
            block_gas_limit=lambda: config.gas_limit,
            base_fee=lambda: self.chain.next_base_fee(self.chain.head),
            accounts=HeadAccounts(self.chain),
            limits=options.pool_limits,
        )
        self.filters = FilterManager()
        self.pool.listeners.append(self.filters.on_pending_transaction)
        self.engine: SingleValidatorEngine | None = None
        if options.validator_key is not None:
            self.engine = SingleValidatorEngine(
                self.chain,
                self.pool,
                options.validator_key,
                validators=config.validators,
                block_period=config.block_period,
                empty_block_period=config.empty_block_period,
                next_base_fee=self.chain.next_base_fee,  # type: ignore[arg-type]
                has_pending=self.pool.has_pending,
            )
        self.rpc = RpcContext(
            chain=self.chain,
            pool=self.pool,
            filters=self.filters,
            client_version=CLIENT_VERSION,
            accounts=options.accounts,
            limits=options.rpc_limits,
        )

    def serve(self) -> None:
        head = self.chain.head
        logger.info(
            "node starting chain_id=%d height=%d hash=0x%s rpc=http://%s:%d",
            self.chain.chain_id,
            head.block_number,
            head.hash.hex(),
            self.options.rpc_host,
            self.options.rpc_port,
        )
        if self.engine is not None:
            self.engine.start()
        config = uvicorn.Config(
            create_app(self.rpc),
            host=self.options.rpc_host,
            port=self.options.rpc_port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        server = uvicorn.Server(config)
        try:
            server.run()
        finally:
            self.close()

    def close(self) -> None:
        if self.engine is not None:
            self.engine.stop()
        self.backend.close()
        logger.info("node stopped height=%d", self.chain.head.block_number)
