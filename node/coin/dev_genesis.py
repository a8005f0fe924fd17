"""Gold coin predeploys for the development chain, with the dev role holders of :mod:`node.coin.dev_roles`."""

from __future__ import annotations

from typing import Any

from node.coin.dev_roles import (
    DEV_ALLOWLIST_MODE,
    DEV_AUTHORITY_ROLES,
    DEV_DAILY_LIMIT,
    DEV_THRESHOLD,
    dev_address,
)
from node.coin.predeploy import CoinRoles, build_predeploy_alloc


def dev_coin_roles() -> CoinRoles:
    return CoinRoles(
        admin=dev_address("admin"),
        burner=dev_address("burner"),
        pauser=dev_address("pauser"),
        compliance=dev_address("compliance"),
        attestor=dev_address("attestor"),
    )


def dev_coin_alloc(chain_id: int, *, allowlist_mode: bool = DEV_ALLOWLIST_MODE) -> dict[str, dict[str, Any]]:
    """Build the GoldCoin and MintAuthority alloc entries for a dev chain with ``chain_id``:
    the dev roles, any 2 of the 3 dev authorities, DEV_DAILY_LIMIT each, allowlist mode off
    unless asked for."""
    return build_predeploy_alloc(
        chain_id,
        dev_coin_roles(),
        [dev_address(role) for role in DEV_AUTHORITY_ROLES],
        DEV_THRESHOLD,
        DEV_DAILY_LIMIT,
        allowlist_mode,
    )
