"""Entry point of the ``kura`` command."""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from node.cli.i18n import _
from node.errors import KuraError

if TYPE_CHECKING:
    from node.rpc.registry import RpcLimits
    from node.service import NodeOptions

#: The dev genesis shipped beside the package (editable installs).
DEV_GENESIS = Path(__file__).resolve().parents[2] / "genesis" / "dev.json"
DEFAULT_RPC_PORT = 8545
#: Modules that add command groups; each has ``register(subparsers)``.
_COMMAND_MODULES: tuple[str, ...] = (
    "node.cli.network",
    "node.cli.issuer",
    "node.cli.shelter",
    "node.cli.audit",
    "node.cli.export",
    "node.cli.status",
)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )


def _check_backends() -> None:
    """Warn when keccak or secp256k1 would run on a slow pure-Python backend."""
    log = logging.getLogger("kura")
    try:
        import sha3  # noqa: F401
    except ImportError:
        log.warning(_("slow keccak backend in use; install safe-pysha3 and set ETH_HASH_BACKEND=pysha3"))
    try:
        import coincurve  # noqa: F401
    except ImportError:
        log.warning(_("coincurve is missing; signature recovery will be slow"))


def cmd_init(args: argparse.Namespace) -> int:
    from node.chain.chain import initialize_store
    from node.chain.genesis import load_genesis
    from node.store.backend import LevelDBBackend

    genesis = load_genesis(args.genesis)
    os.makedirs(args.data_dir, exist_ok=True)
    backend = LevelDBBackend(os.path.join(args.data_dir, "chaindata"), create=True)
    try:
        header = initialize_store(backend, genesis)
    finally:
        backend.close()
    print(
        _("Initialised {data_dir} with genesis 0x{hash} (chain id {chain_id}).").format(
            data_dir=args.data_dir, hash=header.hash.hex(), chain_id=genesis.config.chain_id
        )
    )
    return 0


def _read_password(path: str | None, prompt: str) -> str:
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").rstrip("\n")
        except OSError as error:
            raise KuraError(_("cannot read the password file {path}: {error}").format(path=path, error=error)) from None
    return getpass.getpass(prompt)


def _load_validator_key(keystore: str, password_file: str | None) -> bytes:
    from eth_keyfile import decode_keyfile_json

    try:
        document = json.loads(Path(keystore).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise KuraError(_("cannot read the keystore {path}: {error}").format(path=keystore, error=error)) from None
    password = _read_password(password_file, _("Password for {path}: ").format(path=keystore))
    try:
        return bytes(decode_keyfile_json(document, password.encode()))
    except ValueError:
        raise KuraError(_("wrong password for the keystore {path}").format(path=keystore)) from None


def cmd_run(args: argparse.Namespace) -> int:
    from node.service import Node, NodeOptions

    key = None
    if args.validator_keystore:
        key = _load_validator_key(args.validator_keystore, args.password_file)
    node_key = None
    if args.node_keystore:
        node_key = _load_validator_key(args.node_keystore, args.password_file)
    options = NodeOptions(
        data_dir=args.data_dir,
        rpc_host=args.rpc_host,
        rpc_port=args.rpc_port,
        validator_key=key,
        node_key=node_key,
        p2p_host=args.p2p_host,
        p2p_port=args.p2p_port,
        tls_dir=args.tls_dir,
        static_peers=tuple(args.peers),
        node_allowlist=args.node_allowlist,
        account_allowlist=args.accounts_allowlist,
        jwt_secret_file=args.rpc_jwt_secret,
        rpc_limits=_rpc_limits(args),
    )
    _add_shelter(options, args.shelter_config)
    Node(options).serve()
    return 0


def _rpc_limits(args: argparse.Namespace) -> RpcLimits:
    from node.rpc.registry import RpcLimits

    return RpcLimits(
        max_body_bytes=args.rpc_max_request_bytes,
        max_batch=args.rpc_max_batch,
        max_log_range=args.rpc_max_log_range,
        call_gas_cap=args.rpc_call_gas_cap,
        call_timeout=args.rpc_call_timeout,
        rate_limit=args.rpc_rate_limit,
        cors_origins=args.rpc_cors_origins,
        host_allowlist=args.rpc_host_allowlist,
    )


def _add_shelter(options: NodeOptions, config_path: str | None) -> None:
    """Point the node at a shelter configuration, with its anchor settings if the file names them."""
    if not config_path:
        return
    from node.cli.shelter import _anchor_settings
    from node.shelter.config import ShelterConfig

    options.shelter_config = config_path
    options.shelter_anchor = _anchor_settings(ShelterConfig.load(config_path))


def _peer(value: str) -> tuple[str, int]:
    host, _separator, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(_("peer {value!r} is not HOST:PORT").format(value=value))
    return host, int(port)


def cmd_dev(args: argparse.Namespace) -> int:
    from eth_account import Account

    from node.chain.chain import initialize_store
    from node.chain.genesis import load_genesis
    from node.cli.devaccounts import DEV_VALIDATOR_INDEX, dev_keys
    from node.service import Node, NodeOptions
    from node.store.backend import LevelDBBackend

    temporary = args.data_dir is None
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="kura-dev-")
    genesis = load_genesis(args.genesis or DEV_GENESIS)
    os.makedirs(data_dir, exist_ok=True)
    backend = LevelDBBackend(os.path.join(data_dir, "chaindata"), create=True)
    try:
        initialize_store(backend, genesis)
    finally:
        backend.close()

    keys = dev_keys()
    print(_("Kura development node"))
    print(_("RPC URL:     http://{host}:{port}").format(host=args.rpc_host, port=args.rpc_port))
    print(_("Chain ID:    {chain_id}").format(chain_id=genesis.config.chain_id))
    print(
        _("Data dir:    {data_dir}{note}").format(
            data_dir=data_dir, note=_(" (temporary, deleted on exit)") if temporary else ""
        )
    )
    print()
    print(
        _(
            "WARNING: these accounts and private keys are publicly known. Any funds sent to them on another network will be lost."
        )
    )
    print()
    for index, key in enumerate(keys):
        account = Account.from_key(key)
        allocated = genesis.alloc.get(bytes.fromhex(account.address[2:]))
        ether = allocated.balance // 10**18 if allocated else 0
        role = _(" (validator)") if index == DEV_VALIDATOR_INDEX else ""
        print(
            _("Account #{index}: {address} ({ether} ETH){role}").format(
                index=index, address=account.address, ether=ether, role=role
            )
        )
        print(_("Private Key: 0x{key}").format(key=key.hex()))
    print(flush=True)

    options = NodeOptions(
        data_dir=data_dir,
        rpc_host=args.rpc_host,
        rpc_port=args.rpc_port,
        account_allowlist=args.accounts_allowlist,
        jwt_secret_file=args.rpc_jwt_secret,
        validator_key=keys[DEV_VALIDATOR_INDEX],
        accounts=[bytes.fromhex(Account.from_key(key).address[2:]) for key in keys],
        rpc_limits=_rpc_limits(args),
    )
    _add_shelter(options, args.shelter_config)
    try:
        Node(options).serve()
    finally:
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


def cmd_account_new(args: argparse.Namespace) -> int:
    from eth_account import Account
    from eth_keyfile import create_keyfile_json

    password = _read_password(args.password_file, _("Password for the new account: "))
    if not args.password_file:
        if password != getpass.getpass(_("Repeat the password: ")):
            raise KuraError(_("the passwords do not match; nothing was written"))
    account = Account.create()
    document = create_keyfile_json(bytes(account.key), password.encode(), kdf="scrypt")
    os.makedirs(args.keystore, exist_ok=True)
    path = Path(args.keystore) / f"UTC--{account.address[2:].lower()}.json"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document), encoding="utf-8")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    print(_("New account {address}, keystore {path}").format(address=account.address, path=path))
    return 0


def cmd_account_list(args: argparse.Namespace) -> int:
    from eth_utils import to_checksum_address

    directory = Path(args.keystore)
    if not directory.is_dir():
        raise KuraError(
            _("keystore directory {path} not found; create an account with 'kura account new'").format(path=directory)
        )
    found = 0
    for path in sorted(directory.glob("*.json")):
        try:
            address = json.loads(path.read_text(encoding="utf-8"))["address"]
        except (OSError, ValueError, KeyError):
            print(_("skipped {path}: not a keystore file").format(path=path), file=sys.stderr)
            continue
        print(f"{to_checksum_address('0x' + address.removeprefix('0x'))}  {path}")
        found += 1
    if not found:
        print(_("no accounts in {path}").format(path=directory))
    return 0


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(_("port {value!r} is not a number").format(value=value)) from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(_("port {value} is outside 1-65535").format(value=value))
    return port


def _positive_int(value: str) -> int:
    try:
        number = int(value, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(_("{value!r} is not a whole number").format(value=value)) from None
    if number < 1:
        raise argparse.ArgumentTypeError(_("{value} must be at least 1").format(value=value))
    return number


def _non_negative_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(_("{value!r} is not a number").format(value=value)) from None
    if not number >= 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(_("{value} must be a finite number of at least 0").format(value=value))
    return number


def _name_list(value: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in value.split(",") if name.strip())


def _add_rpc_limit_options(sub: argparse.ArgumentParser) -> None:
    """Add the JSON-RPC caps and access rules; defaults come from RpcLimits."""
    from node.rpc.registry import RpcLimits

    defaults = RpcLimits()
    sub.add_argument(
        "--rpc-cors-origins",
        type=_name_list,
        default=defaults.cors_origins,
        metavar=_("ORIGINS"),
        help=_("comma-separated browser origins allowed to call JSON-RPC, or * for any (default: none)"),
    )
    sub.add_argument(
        "--rpc-host-allowlist",
        type=_name_list,
        default=defaults.host_allowlist,
        metavar=_("HOSTS"),
        help=_("comma-separated Host header names accepted on JSON-RPC, or * for any (default: localhost,127.0.0.1)"),
    )
    sub.add_argument(
        "--rpc-max-request-bytes",
        type=_positive_int,
        default=defaults.max_body_bytes,
        help=_("largest JSON-RPC request body or WebSocket message, in bytes (default 5 MiB)"),
    )
    sub.add_argument(
        "--rpc-max-batch",
        type=_positive_int,
        default=defaults.max_batch,
        help=_("most calls in one JSON-RPC batch (default 1000)"),
    )
    sub.add_argument(
        "--rpc-max-log-range",
        type=_positive_int,
        default=defaults.max_log_range,
        help=_("most blocks one eth_getLogs request may span (default 10000)"),
    )
    sub.add_argument(
        "--rpc-call-gas-cap",
        type=_positive_int,
        default=defaults.call_gas_cap,
        help=_("gas cap of eth_call and eth_estimateGas (default 50000000)"),
    )
    sub.add_argument(
        "--rpc-call-timeout",
        type=_non_negative_float,
        default=defaults.call_timeout,
        help=_("seconds one eth_call or eth_estimateGas may run; 0 for no limit (default 5)"),
    )
    sub.add_argument(
        "--rpc-rate-limit",
        type=_non_negative_float,
        default=defaults.rate_limit,
        help=_("JSON-RPC requests per second allowed per client address; 0 for no limit (default 10000)"),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kura", description=_("Kura permissioned EVM ledger node"))
    parser.add_argument("--log-level", default="info", help=_("logging level: debug, info, warning or error"))
    commands = parser.add_subparsers(dest="command", required=True, metavar=_("COMMAND"))

    init = commands.add_parser("init", help=_("create a data directory from a genesis file"))
    init.add_argument("--genesis", required=True, help=_("genesis JSON file"))
    init.add_argument("--data-dir", required=True, help=_("data directory to create"))
    init.set_defaults(handler=cmd_init)

    def add_rpc_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--rpc-host", default="127.0.0.1", help=_("address the JSON-RPC server listens on (default 127.0.0.1)")
        )
        sub.add_argument("--rpc-port", type=_port, default=DEFAULT_RPC_PORT, help=_("JSON-RPC port (default 8545)"))
        sub.add_argument(
            "--rpc-jwt-secret",
            help=_(
                "file with a 32-byte hex secret; enables the perm_, qbft_, admin_ and shelter_ methods for JWT bearers"
            ),
        )
        sub.add_argument("--shelter-config", help=_("shelter configuration file; the node then shelters on its policy"))
        sub.add_argument(
            "--accounts-allowlist", help=_("file of accounts allowed to send transactions; omit to allow every account")
        )
        _add_rpc_limit_options(sub)

    run = commands.add_parser("run", help=_("run a node on an initialised data directory"))
    run.add_argument("--data-dir", required=True, help=_("data directory made by 'kura init'"))
    run.add_argument(
        "--validator-keystore", help=_("keystore file of this node's validator key; omit to run without sealing")
    )
    run.add_argument("--password-file", help=_("file holding the keystore password; prompted for when omitted"))
    run.add_argument("--node-keystore", help=_("keystore file of the key naming a non-validator node to its peers"))
    run.add_argument("--p2p-port", type=_port, help=_("peer-to-peer port; omit to run without peers"))
    run.add_argument(
        "--p2p-host", default="127.0.0.1", help=_("address the peer-to-peer server listens on (default 127.0.0.1)")
    )
    run.add_argument("--tls-dir", help=_("directory with node.pem, node.key and ca.pem from 'kura p2p cert'"))
    run.add_argument("--peers", type=_peer, nargs="*", default=[], metavar="HOST:PORT", help=_("peers to connect to"))
    run.add_argument("--node-allowlist", help=_("file of node addresses allowed to connect besides the validators"))
    add_rpc_options(run)
    run.set_defaults(handler=cmd_run)

    dev = commands.add_parser("dev", help=_("run a single-validator development node with funded public accounts"))
    dev.add_argument("--data-dir", help=_("data directory to use and keep; a temporary one when omitted"))
    dev.add_argument("--genesis", help=_("genesis file instead of the built-in development genesis"))
    add_rpc_options(dev)
    dev.set_defaults(handler=cmd_dev)

    account = commands.add_parser("account", help=_("manage encrypted keystore accounts"))
    account_commands = account.add_subparsers(dest="account_command", required=True, metavar=_("ACTION"))
    new = account_commands.add_parser("new", help=_("create an account and its encrypted keystore file"))
    new.add_argument("--keystore", required=True, help=_("keystore directory"))
    new.add_argument("--password-file", help=_("file holding the password; prompted for when omitted"))
    new.set_defaults(handler=cmd_account_new)
    listing = account_commands.add_parser("list", help=_("list the accounts in a keystore directory"))
    listing.add_argument("--keystore", required=True, help=_("keystore directory"))
    listing.set_defaults(handler=cmd_account_list)

    for module in _COMMAND_MODULES:
        importlib.import_module(module).register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.log_level)
    _check_backends()
    try:
        return int(args.handler(args))
    except KuraError as error:
        print(_("error: {message}").format(message=error.message), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
