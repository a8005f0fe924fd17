"""Role separation: each GoldCoin role holder can act only within its own role."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from node.coin.predeploy import MINT_AUTHORITY_ADDRESS
from tests.coin.coin_flows import GRAM, assert_reverted_with

ROLE_HOLDERS = ("admin", "authority_issuer", "attestor", "burner", "pauser", "compliance", "customer")
DEFAULT_ADMIN_ROLE = b"\x00" * 32


def _role(name: str) -> bytes:
    return keccak(text=name)


# (function, arguments, role required, dev role of the role's holder). Each arguments factory takes
# the dev accounts and the latest block timestamp.
RESTRICTED_CALLS = [
    ("mint", lambda dev, now: (dev["customer"].address, GRAM), "MINTER_ROLE", None),
    ("burn", lambda dev, now: (GRAM,), "BURNER_ROLE", "burner"),
    ("burnFrom", lambda dev, now: (dev["customer"].address, GRAM), "BURNER_ROLE", "burner"),
    ("pause", lambda dev, now: (), "PAUSER_ROLE", "pauser"),
    ("freeze", lambda dev, now: (dev["customer"].address,), "COMPLIANCE_ROLE", "compliance"),
    ("unfreeze", lambda dev, now: (dev["customer"].address,), "COMPLIANCE_ROLE", "compliance"),
    ("addToAllowlist", lambda dev, now: (dev["customer"].address,), "COMPLIANCE_ROLE", "compliance"),
    ("attestReserve", lambda dev, now: (GRAM, b"\x01" * 32, now), "ATTESTOR_ROLE", "attestor"),
    (
        "grantRole",
        lambda dev, now: (_role("MINTER_ROLE"), dev["customer"].address),
        "DEFAULT_ADMIN_ROLE",
        "admin",
    ),
]


@pytest.mark.parametrize(
    ("function", "make_args", "role", "holder"), RESTRICTED_CALLS, ids=[row[0] for row in RESTRICTED_CALLS]
)
def test_others_cannot_call_restricted_function(client, coin, dev, function, make_args, role, holder):
    needed = DEFAULT_ADMIN_ROLE if role == "DEFAULT_ADMIN_ROLE" else _role(role)
    for caller in ROLE_HOLDERS:
        if caller == holder:
            continue
        args = make_args(dev, client.backend.latest_timestamp())

        outcome = client.send(dev[caller].private_key, coin, function, *args)

        assert_reverted_with(outcome, "AccessControlUnauthorizedAccount")
        assert outcome.error.args == (dev[caller].address, needed), f"caller {caller}"


def test_roles_granted_at_genesis(client, coin, dev):
    expected = {
        "DEFAULT_ADMIN_ROLE": dev["admin"].address,
        "MINTER_ROLE": MINT_AUTHORITY_ADDRESS,
        "BURNER_ROLE": dev["burner"].address,
        "PAUSER_ROLE": dev["pauser"].address,
        "COMPLIANCE_ROLE": dev["compliance"].address,
        "ATTESTOR_ROLE": dev["attestor"].address,
    }
    for role, holder in expected.items():
        role_id = client.read(coin, role)
        assert client.read(coin, "hasRole", role_id, holder) is True, role
        for other in ROLE_HOLDERS:
            if dev[other].address != holder:
                assert client.read(coin, "hasRole", role_id, dev[other].address) is False, (role, other)


def test_role_constants_match_names(client, coin):
    for role in ("MINTER_ROLE", "BURNER_ROLE", "PAUSER_ROLE", "COMPLIANCE_ROLE", "ATTESTOR_ROLE"):
        assert client.read(coin, role) == _role(role)
    assert client.read(coin, "DEFAULT_ADMIN_ROLE") == DEFAULT_ADMIN_ROLE


def test_admin_grants_and_revokes_roles(client, coin, dev):
    admin = dev["admin"].private_key
    pauser_role = _role("PAUSER_ROLE")

    granted = client.send(admin, coin, "grantRole", pauser_role, dev["customer"].address)
    paused = client.send(dev["customer"].private_key, coin, "pause")
    revoked = client.send(admin, coin, "revokeRole", pauser_role, dev["customer"].address)
    unpause = client.send(dev["customer"].private_key, coin, "unpause")

    assert granted.event_names() == ["RoleGranted"]
    assert paused.ok, paused.error
    assert revoked.event_names() == ["RoleRevoked"]
    assert_reverted_with(unpause, "AccessControlUnauthorizedAccount")


def test_mint_authority_cannot_be_bypassed_by_authority_key(client, coin, dev):
    """A mint authority's own key has no MINTER_ROLE, so minting goes through the contract only."""
    for role in ("authority_issuer", "authority_operator", "authority_custodian"):
        outcome = client.send(dev[role].private_key, coin, "mint", dev[role].address, GRAM)

        assert_reverted_with(outcome, "AccessControlUnauthorizedAccount")
