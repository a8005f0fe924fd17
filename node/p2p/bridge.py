"""The node's side of the peer-to-peer network: gossip, block sync and import.

Everything that changes the chain runs on one *core* thread, in arrival
order, so block imports and consensus events never race. The network
thread only decodes and enqueues.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

import rlp
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from rlp.sedes import CountableList

from node.chain.chain import Chain
from node.chain.header import KuraHeader
from node.consensus.seals import check_senders_allowed, verify_seals
from node.errors import BlockValidationError, TxRejected
from node.p2p import wire
from node.p2p.network import Handler, P2PNetwork, Peer
from node.txpool.pool import TxPool

logger = logging.getLogger(__name__)

_TX_LIST = CountableList(PragueTransactionBuilder)
#: How long a transaction admitted over JSON-RPC waits for others to share its gossip message.
GOSSIP_BATCH_SECONDS = 0.01


class CoreThread:
    """A single worker thread that runs submitted tasks in order."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="core", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def submit(self, task: Callable[[], None]) -> None:
        self._queue.put(task)

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            try:
                task()
            except Exception:
                logger.exception("core task failed")


def encode_block(header: KuraHeader, transactions: tuple | list) -> tuple[bytes, bytes]:
    return rlp.encode(header), rlp.encode(list(transactions), sedes=_TX_LIST)


def decode_header(header_rlp: bytes) -> KuraHeader:
    try:
        return rlp.decode(header_rlp, sedes=KuraHeader)
    except Exception as error:  # rlp raises several unrelated types
        raise BlockValidationError("undecodable block header", detail=str(error)) from None


def decode_block(header_rlp: bytes, body_rlp: bytes) -> tuple[KuraHeader, list]:
    try:
        return rlp.decode(header_rlp, sedes=KuraHeader), list(rlp.decode(body_rlp, sedes=_TX_LIST))
    except Exception as error:  # rlp and py-evm raise several unrelated types
        raise BlockValidationError("undecodable block", detail=str(error)) from None


class NetworkBridge(Handler):
    """Connects the network to the chain, the pool and the consensus engine."""

    def __init__(
        self,
        chain: Chain,
        pool: TxPool,
        core: CoreThread,
        validators_for: Callable[[KuraHeader], tuple[bytes, ...]],
        sender_allowed: Callable[[bytes], bool] = lambda sender: True,
    ) -> None:
        self.chain = chain
        self.sender_allowed = sender_allowed
        self.validators_for = validators_for
        self.pool = pool
        self.core = core
        #: Set by the node once the network exists.
        self.network: P2PNetwork | None = None
        #: Engine hook for consensus payloads; runs on the core thread.
        self.on_consensus: Callable[[bytes, bytes], None] | None = None
        #: Called on the core thread after a block from a peer is committed.
        self.on_imported: Callable[[KuraHeader], None] | None = None
        self._syncing_from: bytes | None = None
        self._sync_start = 0
        self._sync_target = 0
        self._gossip_lock = threading.Lock()
        self._gossip_queue: list[bytes] = []

    # Handler

    def local_hello(self) -> wire.Hello:
        head = self.chain.head
        genesis = self.chain.store.canonical_hash(0) or bytes(32)
        return wire.Hello(wire.PROTOCOL_VERSION, self.chain.chain_id, genesis, head.block_number, head.hash)

    def on_peer_connected(self, peer: Peer) -> None:
        self._maybe_sync(peer)

    def on_peer_disconnected(self, peer: Peer) -> None:
        if self._syncing_from == peer.address:
            self._syncing_from = None

    def on_message(self, peer: Peer, message: wire.Message) -> None:
        if isinstance(message, wire.Transactions):
            for raw in message.raw:
                try:
                    self.pool.add_raw(raw)
                except TxRejected as rejection:
                    logger.debug(
                        "gossiped transaction rejected peer=0x%s reason=%s", peer.address.hex(), rejection.message
                    )
        elif isinstance(message, wire.Consensus):
            hook = self.on_consensus
            if hook is not None:
                self.core.submit(lambda: hook(message.payload, peer.address))
        elif isinstance(message, wire.GetBlocks):
            self._serve_blocks(peer, message)
        elif isinstance(message, wire.Blocks):
            self.core.submit(lambda: self._import_batch(peer, message.blocks))
        elif isinstance(message, wire.NewBlock):
            self.core.submit(lambda: self._import_announced(peer, message))
        elif isinstance(message, wire.Status):
            self._maybe_sync(peer)

    def sync_status(self) -> tuple[int, int, int] | None:
        """(starting, current, highest) block while behind a peer, as eth_syncing reports it."""
        head = self.chain.head.block_number
        if self._sync_target <= head:
            return None
        return self._sync_start, head, self._sync_target

    # Gossip out

    def gossip_transactions(self, raw: list[bytes]) -> None:
        """Queue transactions for gossip; those queued within GOSSIP_BATCH_SECONDS share one message."""
        network = self.network
        if network is None or not raw:
            return
        with self._gossip_lock:
            first = not self._gossip_queue
            self._gossip_queue.extend(raw)
        if first:
            network.call_later(GOSSIP_BATCH_SECONDS, self._flush_gossip)

    def _flush_gossip(self) -> None:
        with self._gossip_lock:
            queued, self._gossip_queue = self._gossip_queue, []
        if self.network is None:
            return
        step = wire.MAX_TRANSACTIONS_PER_MESSAGE
        for start in range(0, len(queued), step):
            self.network.broadcast(wire.Transactions(queued[start : start + step]))

    def announce(self, header: KuraHeader, transactions: tuple | list) -> None:
        if self.network is not None:
            header_rlp, body_rlp = encode_block(header, transactions)
            self.network.broadcast(wire.NewBlock(header_rlp, body_rlp))

    # Sync

    def _maybe_sync(self, peer: Peer) -> None:
        if self.network is None or self._syncing_from is not None:
            return
        head = self.chain.head.block_number
        if peer.head_number > head:
            if self._sync_target <= head:
                self._sync_start = head
            self._sync_target = max(self._sync_target, peer.head_number)
            self._syncing_from = peer.address
            count = min(wire.MAX_BLOCKS_PER_MESSAGE, peer.head_number - head)
            logger.info("syncing from peer peer=0x%s from=%d to=%d", peer.address.hex(), head + 1, peer.head_number)
            self.network.send(peer.address, wire.GetBlocks(head + 1, count))

    def _serve_blocks(self, peer: Peer, request: wire.GetBlocks) -> None:
        blocks = []
        for number in range(request.start, request.start + request.count):
            header = self.chain.header_by_number(number)
            if header is None:
                break
            blocks.append(encode_block(header, self.chain.transactions(header)))
        if self.network is not None:
            self.network.send(peer.address, wire.Blocks(blocks))

    def _import_batch(self, peer: Peer, blocks: list[tuple[bytes, bytes]]) -> None:
        imported = 0
        try:
            for header_rlp, body_rlp in blocks:
                header, transactions = decode_block(header_rlp, body_rlp)
                if header.block_number <= self.chain.head.block_number:
                    continue
                self.import_block(header, transactions)
                imported += 1
        except BlockValidationError as error:
            logger.warning("rejected synced block peer=0x%s rule=%s error=%s", peer.address.hex(), error.rule, error)
        finally:
            self._syncing_from = None
        if imported and self.network is not None:
            self.network.broadcast(wire.Status(self.chain.head.block_number, self.chain.head.hash))
            self._maybe_sync(peer)

    def _import_announced(self, peer: Peer, message: wire.NewBlock) -> None:
        try:
            # Every validator announces each block, so most announcements are
            # for blocks already stored: look at the header before the body.
            header = decode_header(message.header)
            head = self.chain.head
            if header.block_number <= head.block_number:
                return
            if header.block_number > head.block_number + 1 or header.parent_hash != head.hash:
                peer.head_number = max(peer.head_number, header.block_number)
                self._maybe_sync(peer)
                return
            _, transactions = decode_block(message.header, message.body)
            self.import_block(header, transactions)
        except BlockValidationError as error:
            logger.warning("rejected announced block peer=0x%s rule=%s error=%s", peer.address.hex(), error.rule, error)

    def import_block(self, header: KuraHeader, transactions: list) -> None:
        """Check a finalised block's seals and execution, then commit it. Core thread only."""
        parent = self.chain.store.header_by_hash(header.parent_hash)
        if parent is None:
            raise BlockValidationError("unknown parent", number=header.block_number)
        verify_seals(header, self.validators_for(parent))
        # Stricter than Besu, which checks the allowlist only on proposals.
        transactions = self.pool.reuse_pooled(transactions)
        check_senders_allowed(header.block_number, transactions, self.sender_allowed)
        executed = self.chain.execute_received(header, transactions)
        self.chain.commit(executed)
        self.pool.on_block(executed.transactions, [])
        logger.info(
            "imported block height=%d txs=%d hash=0x%s", header.block_number, len(transactions), header.hash.hex()
        )
        if self.on_imported is not None:
            self.on_imported(header)
