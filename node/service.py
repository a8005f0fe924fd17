"""Wiring a node together: store, chain, pool, consensus and JSON-RPC."""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from node import __version__
from node.chain.chain import Chain
from node.chain.crypto import address_of_private_key
from node.chain.header import KuraHeader
from node.consensus.bft import BftDriver
from node.consensus.single import SingleValidatorEngine
from node.consensus.validators import ValidatorTracker, VoteBox
from node.errors import ConfigError
from node.p2p.bridge import CoreThread, NetworkBridge
from node.p2p.network import NetworkConfig, P2PNetwork
from node.permissions import Allowlist
from node.rpc.auth import load_secret
from node.rpc.filters import FilterManager
from node.rpc.metrics import NodeGauges, NodeMetrics, timed
from node.rpc.registry import RpcContext, RpcLimits
from node.rpc.server import Readiness, create_app
from node.rpc.subscriptions import SubscriptionHub
from node.shelter.config import ShelterConfig
from node.shelter.service import ShelterService
from node.store.backend import LevelDBBackend
from node.txpool.pool import AccountReader, PoolLimits, TxPool

logger = logging.getLogger(__name__)

CLIENT_VERSION = f"Kura/v{__version__}/linux/python"
#: Blocks a peer's head may be ahead before /ready reports the node as syncing. The margin exists
#: because under QBFT a peer's announced head runs a block ahead for a moment after each commit.
SYNC_TOLERANCE_BLOCKS = 2


@dataclass
class NodeOptions:
    data_dir: str
    rpc_host: str = "127.0.0.1"
    rpc_port: int = 8545
    validator_key: bytes | None = None
    accounts: list[bytes] = field(default_factory=list)
    pool_limits: PoolLimits = field(default_factory=PoolLimits)
    rpc_limits: RpcLimits = field(default_factory=RpcLimits)
    #: Peer-to-peer listening port; None runs without a network.
    p2p_port: int | None = None
    p2p_host: str = "127.0.0.1"
    #: Directory with node.pem, node.key and ca.pem (see node.p2p.identity).
    tls_dir: str | None = None
    static_peers: tuple[tuple[str, int], ...] = ()
    #: secp256k1 key naming this node to peers; the validator key when omitted.
    node_key: bytes | None = None
    #: File of nodes allowed to connect besides the genesis validators; None allows only validators.
    node_allowlist: str | None = None
    #: File of accounts allowed to send transactions; None allows every account.
    account_allowlist: str | None = None
    #: File with the hex JWT secret that unlocks the admin namespaces; None leaves them off.
    jwt_secret_file: str | None = None
    #: Shelter configuration file; None runs no automatic shelters.
    shelter_config: str | None = None
    #: Where shelters are anchored on chain (node.shelter.anchor.AnchorSettings); None leaves them unanchored.
    shelter_anchor: Any = None


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
        self.accounts_allowlist = Allowlist(
            Path(options.account_allowlist) if options.account_allowlist else None, "account"
        )
        # Without a file only the genesis validators may connect; the file adds RPC nodes.
        self.nodes_allowlist = Allowlist(
            Path(options.node_allowlist) if options.node_allowlist else None, "node", always=config.validators
        )
        self.pool = TxPool(
            config.chain_id,
            block_gas_limit=lambda: config.gas_limit,
            base_fee=lambda: self.chain.next_base_fee(self.chain.head),
            accounts=HeadAccounts(self.chain),
            limits=options.pool_limits,
            sender_allowed=self.accounts_allowlist.allows,
        )
        self.filters = FilterManager()
        self.pool.listeners.append(self.filters.on_pending_transaction)
        self.subscriptions = SubscriptionHub()
        self.pool.listeners.append(self.subscriptions.on_pending)
        self.chain.listeners.append(self.subscriptions.on_block)
        genesis_header = self.chain.header_by_number(0)
        assert genesis_header is not None
        self.validators = ValidatorTracker(self.chain.store.header_by_hash, genesis_header)
        self.votes = VoteBox()
        self.core = CoreThread()
        self.bridge = NetworkBridge(
            self.chain, self.pool, self.core, self.validators.next_validators, self.accounts_allowlist.allows
        )
        self.network = self._make_network(options)
        self.bridge.network = self.network
        # A validator without peers seals alone; with peers it runs QBFT.
        self.engine: SingleValidatorEngine | None = None
        self.bft: BftDriver | None = None
        if options.validator_key is not None and self.network is None:
            self.engine = SingleValidatorEngine(
                self.chain,
                self.pool,
                options.validator_key,
                validators=config.validators,
                block_period=config.block_period,
                empty_block_period=config.empty_block_period,
                next_base_fee=self.chain.next_base_fee,  # type: ignore[arg-type]
                has_pending=self.pool.has_pending,
                on_sealed=self.bridge.announce,
            )
        elif options.validator_key is not None:
            self.bft = BftDriver(
                self.chain,
                self.pool,
                self.bridge,
                self.core,
                self.validators,
                self.votes,
                options.validator_key,
                sender_allowed=self.accounts_allowlist.allows,
            )
        self.rpc = RpcContext(
            chain=self.chain,
            pool=self.pool,
            filters=self.filters,
            client_version=CLIENT_VERSION,
            accounts=options.accounts,
            limits=options.rpc_limits,
            on_transaction=lambda raw: self.bridge.gossip_transactions([raw]),
            validators=self.validators,
            votes=self.votes if options.validator_key is not None else None,
            subscriptions=self.subscriptions,
            jwt_secret=load_secret(options.jwt_secret_file) if options.jwt_secret_file else None,
            peer_count=lambda: len(self.network.peers) if self.network is not None else 0,
            sync_status=self.bridge.sync_status,
            account_allowlist=self.accounts_allowlist,
            node_allowlist=self.nodes_allowlist,
        )

        self.shelter: ShelterService | None = None
        if options.shelter_config:
            self.shelter = ShelterService(
                ShelterConfig.load(options.shelter_config),
                self.backend,
                lambda: self.chain.head.block_number,
                anchor=options.shelter_anchor,
            )
        self.rpc.metrics = self._make_metrics()

    def _make_metrics(self) -> NodeMetrics:
        network, bft, shelter = self.network, self.bft, self.shelter
        gauges = NodeGauges(
            height=lambda: self.chain.head.block_number,
            head_timestamp=lambda: self.chain.head.timestamp,
            txpool=self.pool.counts,
            peers=(lambda: len(network.peers)) if network is not None else None,
            qbft_round=(lambda: bft.engine.round) if bft is not None else None,
            shelter_time=(lambda: shelter.last_time or None) if shelter is not None else None,
        )
        metrics = NodeMetrics(gauges)
        # Every block this node seals or proposes goes through build, every
        # block from a peer or another proposer through execute_received.
        self.chain.build = timed(metrics.block_build_seconds, self.chain.build)  # type: ignore[method-assign]
        self.chain.execute_received = timed(  # type: ignore[method-assign]
            metrics.block_import_seconds, self.chain.execute_received
        )
        return metrics

    def readiness(self) -> Readiness:
        """Ready once the node has a peer or seals alone, and no peer is more than a few blocks ahead."""
        height = self.chain.head.block_number
        peers = list(self.network.peers.values()) if self.network is not None else []
        syncing = any(peer.head_number > height + SYNC_TOLERANCE_BLOCKS for peer in peers)
        lone_validator = self.engine is not None
        if not peers and not lone_validator:
            return Readiness(False, "no peers", height, 0, syncing)
        if syncing:
            return Readiness(False, "syncing", height, len(peers), syncing)
        return Readiness(True, "ok", height, len(peers), syncing)

    def _make_network(self, options: NodeOptions) -> P2PNetwork | None:
        if options.p2p_port is None:
            return None
        node_key = options.node_key or options.validator_key
        if node_key is None or options.tls_dir is None:
            raise ConfigError("the p2p network needs a node key and --tls-dir with node.pem, node.key and ca.pem")
        config = NetworkConfig(options.p2p_host, options.p2p_port, Path(options.tls_dir), options.static_peers)
        return P2PNetwork(config, address_of_private_key(node_key), self.bridge, self.nodes_allowlist.allows)

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
        # Bind the RPC port before anything runs, so a port in use stops the
        # node before it seals or imports a block.
        listener = socket.socket(socket.AF_INET6 if ":" in self.options.rpc_host else socket.AF_INET)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.options.rpc_host, self.options.rpc_port))
        except OSError as error:
            listener.close()
            self.backend.close()
            raise ConfigError(
                f"cannot listen on {self.options.rpc_host}:{self.options.rpc_port}: {error.strerror}; "
                "choose another --rpc-port"
            ) from None
        self.core.start()
        if self.network is not None:
            self.network.start()
        if self.engine is not None:
            self.engine.start()
        if self.bft is not None:
            self.bft.start()
        if self.shelter is not None:
            self.shelter.start()
        config = uvicorn.Config(
            create_app(self.rpc, self.readiness),
            host=self.options.rpc_host,
            port=self.options.rpc_port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
            ws_max_size=self.options.rpc_limits.max_body_bytes,
        )
        server = uvicorn.Server(config)
        try:
            server.run(sockets=[listener])
        finally:
            self.close()

    def close(self) -> None:
        if self.shelter is not None:
            self.shelter.stop()
        if self.engine is not None:
            self.engine.stop()
        if self.bft is not None:
            self.bft.stop()
        if self.network is not None:
            self.network.stop()
        self.core.stop()
        self.backend.close()
        logger.info("node stopped height=%d", self.chain.head.block_number)
