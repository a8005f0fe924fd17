"""``kura status``: a one-screen summary of a running node, read over JSON-RPC and ``/ready``."""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

from node.cli.i18n import _
from node.errors import KuraError

#: Seconds to wait for each request to the node.
REQUEST_TIMEOUT_SECONDS = 10


@dataclass
class NodeStatus:
    url: str
    chain_id: int
    height: int
    #: Seconds between the head block's timestamp and now.
    head_age: float
    #: None when the node serves no /ready endpoint.
    peers: int | None
    syncing: bool
    ready: bool | None
    ready_reason: str | None
    pending: int
    queued: int
    validators: list[str]


def _rpc(url: str, method: str, params: list[Any]) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise KuraError(
            _("{url} answered {method} with HTTP {status}").format(url=url, method=method, status=error.code)
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise KuraError(_("cannot reach the node at {url}: {reason}").format(url=url, reason=reason)) from None
    if "error" in answer:
        raise KuraError(
            _("{method} failed on {url}: {message}").format(method=method, url=url, message=answer["error"]["message"])
        )
    return answer["result"]


def _ready(url: str) -> dict[str, Any] | None:
    """Fetch the node's ``/ready`` document (sent with HTTP 200 or 503), or None if it serves none."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/ready", timeout=REQUEST_TIMEOUT_SECONDS) as response:
            document = json.loads(response.read())
    except urllib.error.HTTPError as error:
        if error.code != 503:
            return None
        document = json.loads(error.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _validators(extra_data: str) -> list[str]:
    from eth_utils import to_checksum_address

    from node.chain.seal import ExtraData, SealFormatError

    try:
        extra = ExtraData.decode(bytes.fromhex(extra_data.removeprefix("0x")))
    except (SealFormatError, ValueError):
        return []
    return [to_checksum_address(address) for address in extra.validators]


def read_status(url: str) -> NodeStatus:
    """Query the node at ``url``. Raises KuraError when the node cannot be reached or a call fails."""
    chain_id = int(_rpc(url, "eth_chainId", []), 16)
    head = _rpc(url, "eth_getBlockByNumber", ["latest", False])
    pool = _rpc(url, "txpool_status", [])
    ready = _ready(url)
    syncing = bool(ready["syncing"]) if ready is not None else _rpc(url, "eth_syncing", []) is not False
    return NodeStatus(
        url=url,
        chain_id=chain_id,
        height=int(head["number"], 16),
        head_age=max(0.0, time.time() - int(head["timestamp"], 16)),
        peers=int(ready["peers"]) if ready is not None else None,
        syncing=syncing,
        ready=bool(ready["ready"]) if ready is not None else None,
        ready_reason=str(ready["reason"]) if ready is not None else None,
        pending=int(pool["pending"], 16),
        queued=int(pool["queued"], 16),
        validators=_validators(head["extraData"]),
    )


def _yes_no(value: bool) -> str:
    return _("yes") if value else _("no")


def _reason(reason: str | None) -> str:
    """Translate the reasons the node's ``/ready`` sends; show others as they are."""
    known = {"ok": _("ok"), "no peers": _("no peers"), "syncing": _("syncing")}
    return known.get(reason or "", reason or "")


def format_status(status: NodeStatus) -> str:
    unknown = _("unknown")
    lines = [
        _("Node:        {url}").format(url=status.url),
        _("Chain ID:    {chain_id}").format(chain_id=status.chain_id),
        _("Height:      {height} (head {age:.0f} s old)").format(height=status.height, age=status.head_age),
        _("Peers:       {peers}").format(peers=unknown if status.peers is None else status.peers),
        _("Syncing:     {syncing}").format(syncing=_yes_no(status.syncing)),
        _("Ready:       {ready}").format(
            ready=unknown if status.ready is None else f"{_yes_no(status.ready)} ({_reason(status.ready_reason)})"
        ),
        _("Tx pool:     {pending} pending, {queued} queued").format(pending=status.pending, queued=status.queued),
        _("Validators:  {count}").format(count=len(status.validators)),
    ]
    lines += [f"  {address}" for address in status.validators]
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace) -> int:
    status = read_status(args.rpc)
    if args.json:
        print(json.dumps(asdict(status), indent=2))
    else:
        print(format_status(status))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    status = commands.add_parser(
        "status", help=_("show a running node's height, head age, peers, pool, validators and sync state")
    )
    status.add_argument(
        "--rpc",
        metavar="URL",
        default="http://127.0.0.1:8545",
        help=_("JSON-RPC URL of the node (default http://127.0.0.1:8545)"),
    )
    status.add_argument("--json", action="store_true", help=_("print the summary as JSON"))
    status.set_defaults(handler=cmd_status)
