"""``kura p2p`` (network CA and node certificates) and ``kura devnet`` (a local network)."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from node.cli.i18n import _
from node.errors import KuraError

#: Password of devnet keystores. Devnet keys guard nothing of value.
DEVNET_PASSWORD = "kura-devnet"
DEVNET_DEFAULT_GENESIS = Path(__file__).resolve().parents[2] / "genesis" / "dev.json"


def cmd_p2p_ca(args: argparse.Namespace) -> int:
    from node.p2p.identity import NetworkCA

    out = Path(args.out)
    if (out / "ca.key").exists():
        raise KuraError(_("{path} already exists; refusing to replace a network CA").format(path=out / "ca.key"))
    NetworkCA.create().save(out)
    print(_("Network CA written to {path}; keep ca.key offline.").format(path=out))
    return 0


def cmd_p2p_cert(args: argparse.Namespace) -> int:
    from node.cli.main import _load_validator_key
    from node.p2p.identity import NetworkCA

    key = _load_validator_key(args.keystore, args.password_file)
    address = NetworkCA.load(Path(args.ca)).issue(key, Path(args.out))
    print(_("Certificate for node 0x{address} written to {path}.").format(address=address.hex(), path=args.out))
    return 0


def _write_keystore(path: Path, key: bytes) -> None:
    from eth_keyfile import create_keyfile_json

    # PBKDF2 with few rounds: devnet nodes start in a second, and the keys are throw-away.
    document = create_keyfile_json(key, DEVNET_PASSWORD.encode(), kdf="pbkdf2", iterations=1_000)
    path.write_text(json.dumps(document), encoding="utf-8")
    os.chmod(path, 0o600)


def prepare_devnet(
    root: Path,
    *,
    validators: int,
    rpc_nodes: int,
    p2p_base_port: int,
    rpc_base_port: int,
    genesis_path: Path | None = None,
) -> dict[str, Any]:
    """Create keys, certificates and a genesis for a devnet in ``root``, once; return its layout."""
    from eth_account import Account

    from node.chain.crypto import address_of_private_key
    from node.p2p.identity import NetworkCA

    if (root / "devnet.json").exists():
        return json.loads((root / "devnet.json").read_text(encoding="utf-8"))
    root.mkdir(parents=True, exist_ok=True)
    (root / "password").write_text(DEVNET_PASSWORD, encoding="utf-8")
    (root / "jwt-secret").write_text(secrets.token_hex(32) + "\n", encoding="utf-8")
    os.chmod(root / "jwt-secret", 0o600)
    ca = NetworkCA.create("Kura devnet CA")
    ca.save(root / "ca")

    nodes: list[dict[str, Any]] = []
    total = validators + rpc_nodes
    for index in range(total):
        key = bytes(Account.create().key)
        directory = root / f"node{index}"
        directory.mkdir(exist_ok=True)
        _write_keystore(directory / "keystore.json", key)
        ca.issue(key, directory / "tls")
        nodes.append(
            {
                "name": f"node{index}",
                "address": "0x" + address_of_private_key(key).hex(),
                "validator": index < validators,
                "p2p_port": p2p_base_port + index,
                "rpc_port": rpc_base_port + index,
            }
        )

    genesis = json.loads((genesis_path or DEVNET_DEFAULT_GENESIS).read_text(encoding="utf-8"))
    genesis["config"].setdefault("qbft", {})["validators"] = [n["address"] for n in nodes if n["validator"]]
    (root / "genesis.json").write_text(json.dumps(genesis, indent=2), encoding="utf-8")
    allowlist = "\n".join(n["address"] for n in nodes if not n["validator"]) + "\n"
    (root / "node-allowlist").write_text(allowlist, encoding="utf-8")

    layout = {"nodes": nodes}
    (root / "devnet.json").write_text(json.dumps(layout, indent=2), encoding="utf-8")
    return layout


def node_command(root: Path, node: dict[str, Any], nodes: list[dict[str, Any]]) -> list[str]:
    """Return the ``kura run`` command line of one devnet node."""
    directory = root / node["name"]
    keystore_flag = "--validator-keystore" if node["validator"] else "--node-keystore"
    peers = [f"127.0.0.1:{other['p2p_port']}" for other in nodes if other is not node]
    return [
        sys.executable, "-m", "node.cli.main", "run",
        "--data-dir", str(directory / "data"),
        keystore_flag, str(directory / "keystore.json"),
        "--password-file", str(root / "password"),
        "--tls-dir", str(directory / "tls"),
        "--p2p-port", str(node["p2p_port"]),
        "--rpc-port", str(node["rpc_port"]),
        "--node-allowlist", str(root / "node-allowlist"),
        "--rpc-jwt-secret", str(root / "jwt-secret"),
        "--peers", *peers,
    ]  # fmt: skip


def initialize_devnet_node(root: Path, node: dict[str, Any]) -> None:
    """Write the devnet genesis into a node's data directory unless it is there."""
    from node.chain.chain import initialize_store
    from node.chain.genesis import load_genesis
    from node.store.backend import LevelDBBackend

    backend = LevelDBBackend(root / node["name"] / "data" / "chaindata", create=True)
    try:
        initialize_store(backend, load_genesis(root / "genesis.json"))
    finally:
        backend.close()


def cmd_devnet(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    layout = prepare_devnet(
        root,
        validators=args.validators,
        rpc_nodes=args.rpc_nodes,
        p2p_base_port=args.p2p_base_port,
        rpc_base_port=args.rpc_base_port,
        genesis_path=Path(args.genesis) if args.genesis else None,
    )
    nodes = layout["nodes"]
    for node in nodes:
        initialize_devnet_node(root, node)

    processes = []
    for node in nodes:
        log = open(root / node["name"] / "node.log", "ab")
        processes.append(subprocess.Popen(node_command(root, node, nodes), stdout=log, stderr=subprocess.STDOUT))
        log.close()
    (root / "pids").write_text("\n".join(str(p.pid) for p in processes) + "\n", encoding="utf-8")

    print(_("Kura devnet in {path}").format(path=root))
    for node in nodes:
        role = _("validator") if node["validator"] else _("rpc node")
        print(
            _("{name}: {role} {address} rpc=http://127.0.0.1:{rpc_port} p2p=127.0.0.1:{p2p_port}").format(
                role=role, **node
            )
        )
    print(
        _("Logs: {path}/node*/node.log. Stop with Ctrl-C or 'kura devnet stop --dir {path}'.").format(path=root),
        flush=True,
    )

    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    while not stopping and all(p.poll() is None for p in processes):
        time.sleep(0.2)
    _stop_processes(processes)
    (root / "pids").unlink(missing_ok=True)
    failed = [node["name"] for node, p in zip(nodes, processes, strict=True) if p.returncode not in (0, -2, -15)]
    if failed and not stopping:
        raise KuraError(_("devnet node(s) exited: {names}; see their node.log").format(names=", ".join(failed)))
    return 0


def _stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 20
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cmd_devnet_stop(args: argparse.Namespace) -> int:
    pids_path = Path(args.dir) / "pids"
    if not pids_path.exists():
        raise KuraError(_("no running devnet in {path}").format(path=args.dir))
    for line in pids_path.read_text(encoding="utf-8").split():
        try:
            os.kill(int(line), signal.SIGINT)
        except ProcessLookupError:
            continue
    print(_("Stop requested for the devnet in {path}.").format(path=args.dir))
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p2p = commands.add_parser("p2p", help=_("network CA and node certificates for the peer-to-peer network"))
    p2p_commands = p2p.add_subparsers(dest="p2p_command", required=True, metavar=_("ACTION"))
    ca = p2p_commands.add_parser("ca", help=_("create a network certificate authority"))
    ca.add_argument("--out", required=True, help=_("directory for ca.key and ca.pem"))
    ca.set_defaults(handler=cmd_p2p_ca)
    cert = p2p_commands.add_parser("cert", help=_("issue a node certificate bound to a node key"))
    cert.add_argument("--ca", required=True, help=_("directory with ca.key and ca.pem"))
    cert.add_argument("--keystore", required=True, help=_("keystore file of the node key"))
    cert.add_argument("--password-file", help=_("file holding the keystore password; prompted for when omitted"))
    cert.add_argument("--out", required=True, help=_("directory for node.pem, node.key and ca.pem"))
    cert.set_defaults(handler=cmd_p2p_cert)

    devnet = commands.add_parser("devnet", help=_("run a local network of validators and RPC nodes on 127.0.0.1"))
    devnet_commands = devnet.add_subparsers(dest="devnet_command", required=True, metavar=_("ACTION"))
    start = devnet_commands.add_parser("start", help=_("create (first time) and start the devnet; Ctrl-C stops it"))
    start.add_argument("--dir", required=True, help=_("devnet directory; reused when it exists"))
    start.add_argument("--validators", type=int, default=4, help=_("number of validators (default 4)"))
    start.add_argument("--rpc-nodes", type=int, default=1, help=_("number of non-validator RPC nodes (default 1)"))
    start.add_argument("--p2p-base-port", type=int, default=30300, help=_("peer-to-peer port of the first node"))
    start.add_argument("--rpc-base-port", type=int, default=8545, help=_("JSON-RPC port of the first node"))
    start.add_argument("--genesis", help=_("genesis file whose validators are replaced (default: the dev genesis)"))
    start.set_defaults(handler=cmd_devnet)
    stop = devnet_commands.add_parser("stop", help=_("stop a devnet started in another terminal"))
    stop.add_argument("--dir", required=True, help=_("devnet directory"))
    stop.set_defaults(handler=cmd_devnet_stop)
