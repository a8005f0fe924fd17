"""Connections to allowlisted peers over mutual TLS, in a thread of their own.

The network runs an asyncio loop on a dedicated thread. It accepts and
dials connections, and checks each peer's certificate against the network
CA and its node-key binding against the allowlist. The peers then exchange
a hello, and a peer on another chain id or genesis is dropped. After that,
each decoded message goes to the node's handler. Handlers run on the network thread
and must return quickly; the node hands heavy work to its own thread.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from node.p2p import wire
from node.p2p.identity import IdentityError, address_from_certificate

logger = logging.getLogger(__name__)

#: Frames queued for one peer before it counts as too slow and is dropped.
SEND_QUEUE_LIMIT = 4_096
HELLO_TIMEOUT_SECONDS = 10
MAX_REDIAL_SECONDS = 10.0
#: How often a dialler whose peer is already connected (it dialled us) looks again.
CONNECTED_PEER_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class NetworkConfig:
    listen_host: str
    listen_port: int
    tls_dir: Path
    #: Peers to dial, as (host, port).
    static_peers: tuple[tuple[str, int], ...] = ()


@dataclass
class Peer:
    address: bytes
    remote: str
    head_number: int = 0
    head_hash: bytes = b""
    queue: asyncio.Queue[bytes | None] = field(default_factory=lambda: asyncio.Queue(SEND_QUEUE_LIMIT))


class Handler:
    """Node callbacks for peer events; every method runs on the network thread."""

    def local_hello(self) -> wire.Hello:
        raise NotImplementedError

    def on_peer_connected(self, peer: Peer) -> None:
        """Handle a peer that finished the hello exchange."""

    def on_peer_disconnected(self, peer: Peer) -> None:
        """Handle a peer whose connection closed."""

    def on_message(self, peer: Peer, message: wire.Message) -> None:
        """Handle a decoded message other than hello from ``peer``."""


def _server_context(tls_dir: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(tls_dir / "node.pem", tls_dir / "node.key")
    context.load_verify_locations(tls_dir / "ca.pem")
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _client_context(tls_dir: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(tls_dir / "node.pem", tls_dir / "node.key")
    context.load_verify_locations(tls_dir / "ca.pem")
    # Peers are named by node address, not host name: the address check
    # after the handshake replaces host name matching.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    return context


class P2PNetwork:
    def __init__(
        self,
        config: NetworkConfig,
        own_address: bytes,
        handler: Handler,
        is_allowed: Callable[[bytes], bool],
    ) -> None:
        self.config = config
        self.own_address = own_address
        self.handler = handler
        self.is_allowed = is_allowed
        self.peers: dict[bytes, Peer] = {}
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="p2p", daemon=True)
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        #: Node address behind each static peer ``host:port``, once a dial reached it.
        self._dialled: dict[str, bytes] = {}
        self.listen_port = config.listen_port

    # Lifecycle

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("p2p network did not start within 30 s")

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop)
        try:
            future.result(timeout=10)
        except Exception:
            logger.exception("p2p shutdown failed")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._startup())
        self._ready.set()
        self.loop.run_forever()
        self.loop.close()

    async def _startup(self) -> None:
        self._server = await asyncio.start_server(
            self._accept,
            self.config.listen_host,
            self.config.listen_port,
            ssl=_server_context(self.config.tls_dir),
            limit=wire.MAX_FRAME + 4,
        )
        self.listen_port = self._server.sockets[0].getsockname()[1]
        logger.info(
            "p2p listening address=%s:%d node=0x%s", self.config.listen_host, self.listen_port, self.own_address.hex()
        )
        for host, port in self.config.static_peers:
            self._spawn(self._dial_forever(host, port))

    async def _shutdown(self) -> None:
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for peer in list(self.peers.values()):
            peer.queue.put_nowait(None)
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self, coroutine) -> None:  # type: ignore[no-untyped-def]
        task = self.loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # Sending, from any thread

    def broadcast(self, message: wire.Message, *, exclude: bytes | None = None) -> None:
        frame = wire.encode(message)
        self.loop.call_soon_threadsafe(self._enqueue_all, frame, exclude)

    def call_later(self, seconds: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the network thread after ``seconds``."""
        self.loop.call_soon_threadsafe(self.loop.call_later, seconds, callback)

    def send(self, address: bytes, message: wire.Message) -> None:
        frame = wire.encode(message)
        self.loop.call_soon_threadsafe(self._enqueue, address, frame)

    def _enqueue_all(self, frame: bytes, exclude: bytes | None) -> None:
        for address in list(self.peers):
            if address != exclude:
                self._enqueue(address, frame)

    def _enqueue(self, address: bytes, frame: bytes) -> None:
        peer = self.peers.get(address)
        if peer is None:
            return
        try:
            peer.queue.put_nowait(frame)
        except asyncio.QueueFull:
            logger.warning("dropping slow peer peer=0x%s queued=%d", address.hex(), peer.queue.qsize())
            self._drop(peer)

    def _drop(self, peer: Peer) -> None:
        if self.peers.get(peer.address) is peer:
            del self.peers[peer.address]
        while not peer.queue.empty():
            peer.queue.get_nowait()
        peer.queue.put_nowait(None)

    # Connections

    async def _dial_forever(self, host: str, port: int) -> None:
        target = f"{host}:{port}"
        delay = 0.5
        while not self._stopping:
            if self._dialled.get(target) in self.peers:
                # The peer dialled us first and that connection is up: a
                # second one would only be refused after a TLS handshake.
                await asyncio.sleep(CONNECTED_PEER_CHECK_SECONDS)
                delay = 0.5
                continue
            try:
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=_client_context(self.config.tls_dir), limit=wire.MAX_FRAME + 4
                )
            except (OSError, ssl.SSLError) as error:
                logger.debug("dial failed peer=%s error=%s", target, error)
            else:
                delay = 0.5
                await self._session(reader, writer, target, dialled=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_REDIAL_SECONDS)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        remote = writer.get_extra_info("peername")
        await self._session(reader, writer, f"{remote[0]}:{remote[1]}" if remote else "?")

    async def _session(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, remote: str, *, dialled: bool = False
    ) -> None:
        """Run one connection; ``dialled`` marks one this node opened to the static peer ``remote``."""
        peer = None
        try:
            peer = await self._handshake(reader, writer, remote, dialled)
            if peer is None:
                return
            sender = self.loop.create_task(self._write_loop(peer, writer))
            try:
                while True:
                    message = await wire.read_message(reader)
                    self._dispatch(peer, message)
            finally:
                sender.cancel()
        except wire.WireError as error:
            logger.warning("peer sent an invalid message peer=%s rule=%s error=%s", remote, error.rule, error)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, TimeoutError):
            pass
        except asyncio.CancelledError:
            raise
        finally:
            if peer is not None and self.peers.get(peer.address) is peer:
                del self.peers[peer.address]
                logger.info("peer disconnected peer=0x%s remote=%s", peer.address.hex(), remote)
                self.handler.on_peer_disconnected(peer)
            writer.close()

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, remote: str, dialled: bool
    ) -> Peer | None:
        certificate = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        try:
            address = address_from_certificate(certificate)
        except IdentityError as error:
            logger.warning("rejected peer without a valid node identity remote=%s error=%s", remote, error)
            return None
        if not self.is_allowed(address):
            logger.warning("rejected peer not on the node allowlist peer=0x%s remote=%s", address.hex(), remote)
            return None
        if address == self.own_address:
            return None
        if dialled:
            self._dialled[remote] = address

        writer.write(wire.encode(self.handler.local_hello()))
        await writer.drain()
        hello = await asyncio.wait_for(wire.read_message(reader), HELLO_TIMEOUT_SECONDS)
        own = self.handler.local_hello()
        if not isinstance(hello, wire.Hello):
            raise wire.WireError("expected hello", type(hello).__name__)
        if hello.chain_id != own.chain_id or hello.genesis_hash != own.genesis_hash:
            logger.warning(
                "rejected peer on another chain peer=0x%s chain_id=%d genesis=0x%s",
                address.hex(),
                hello.chain_id,
                hello.genesis_hash.hex(),
            )
            return None
        if address in self.peers:
            # Both sides dialled each other; keep the connection already up.
            return None

        peer = Peer(address, remote, hello.head_number, hello.head_hash)
        self.peers[address] = peer
        logger.info("peer connected peer=0x%s remote=%s head=%d", address.hex(), remote, hello.head_number)
        self.handler.on_peer_connected(peer)
        return peer

    async def _write_loop(self, peer: Peer, writer: asyncio.StreamWriter) -> None:
        while True:
            frame = await peer.queue.get()
            if frame is None:
                writer.close()
                return
            writer.write(frame)
            await writer.drain()

    def _dispatch(self, peer: Peer, message: wire.Message) -> None:
        if isinstance(message, wire.Hello):
            raise wire.WireError("unexpected hello")
        if isinstance(message, wire.Status):
            peer.head_number, peer.head_hash = message.head_number, message.head_hash
        try:
            self.handler.on_message(peer, message)
        except Exception:
            logger.exception("message handler failed peer=0x%s type=%s", peer.address.hex(), type(message).__name__)
