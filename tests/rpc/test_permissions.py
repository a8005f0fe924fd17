"""Account allowlist and JWT-protected admin namespaces on a dev node."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from node.rpc.auth import make_token
from tests.rpc.helpers import dev_account, sign_dynamic_fee
from tests.support.process import NodeProcess, dev_node, rpc

ALLOWED = dev_account(1)
OUTSIDER = dev_account(2)


@pytest.fixture
def permissioned(tmp_path: Path):
    allowlist = tmp_path / "accounts.txt"
    allowlist.write_text(f"# exchange hot wallet\n{ALLOWED.address}\n")
    secret = secrets.token_bytes(32)
    (tmp_path / "jwt").write_text(secret.hex())
    node = dev_node(tmp_path, "--accounts-allowlist", str(allowlist), "--rpc-jwt-secret", str(tmp_path / "jwt"))
    node.start()
    yield node, allowlist, secret
    node.stop()


def _send(node: NodeProcess, account, nonce: int = 0) -> dict:
    return rpc(node.url, "eth_sendRawTransaction", [sign_dynamic_fee(account, nonce, to=account.address)])


def test_outsider_rejected_at_submission(permissioned) -> None:
    node, _, _ = permissioned
    assert "result" in _send(node, ALLOWED)
    rejected = _send(node, OUTSIDER)
    assert rejected["error"]["code"] == -32000
    assert "not authorized to send transactions" in rejected["error"]["message"]


def test_admin_call_needs_token(permissioned) -> None:
    node, _, secret = permissioned
    missing = rpc(node.url, "perm_getAccountsAllowlist", [])
    assert missing["error"]["code"] == -32401
    forged = rpc(node.url, "perm_getAccountsAllowlist", [], token=make_token(secrets.token_bytes(32)))
    assert forged["error"]["code"] == -32401
    stale = rpc(node.url, "perm_getAccountsAllowlist", [], token=make_token(secret, issued_at=1_000_000))
    assert stale["error"]["code"] == -32401
    allowed = rpc(node.url, "perm_getAccountsAllowlist", [], token=make_token(secret))
    assert allowed["result"] == [ALLOWED.address.lower()]


def test_allowlist_change_persists_across_restart(permissioned) -> None:
    node, allowlist, secret = permissioned
    added = rpc(node.url, "perm_addAccountsToAllowlist", [[OUTSIDER.address]], token=make_token(secret))
    assert added["result"] == "Success"
    assert OUTSIDER.address.lower() in allowlist.read_text().lower()
    assert "result" in _send(node, OUTSIDER)

    node.stop()
    node.start()
    listed = rpc(node.url, "perm_getAccountsAllowlist", [], token=make_token(secret))["result"]
    assert OUTSIDER.address.lower() in listed

    removed = rpc(node.url, "perm_removeAccountsFromAllowlist", [[OUTSIDER.address]], token=make_token(secret))
    assert removed["result"] == "Success"
    assert "not authorized" in _send(node, OUTSIDER, nonce=1)["error"]["message"]


def test_admin_namespaces_off_without_secret(shared_node: NodeProcess) -> None:
    for method in ("perm_getAccountsAllowlist", "qbft_getPendingVotes", "qbft_getValidatorsByBlockNumber"):
        response = rpc(shared_node.url, method, ["latest"] if method.startswith("qbft_getV") else [])
        assert response["error"]["code"] == -32601, method
