"""Development role holders for the gold coin, derived from the public test mnemonic.

The mnemonic is the well-known "test test ... junk" one that Hardhat and Anvil also use, so
its keys are public: use them on development chains only, never where the tokens have value.
Accounts come from BIP-44 paths ``m/44'/60'/0'/0/i``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from eth_account import Account

DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_PATH_TEMPLATE = "m/44'/60'/0'/0/{index}"

#: Dev role table: (account index, role, label, address). The addresses are what the mnemonic
#: derives; ``tests/coin/test_dev_roles.py`` re-derives and compares them.
DEV_ROLE_TABLE: tuple[tuple[int, str, str, str], ...] = (
    (0, "admin", "role admin", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
    (1, "authority_issuer", "mint authority: issuer", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
    (2, "authority_operator", "mint authority: operator", "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"),
    (3, "authority_custodian", "mint authority: gold custodian", "0x90F79bf6EB2c4f870365E785982E1f101E93b906"),
    (4, "attestor", "reserve attestor", "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"),
    (5, "burner", "burner (redemption desk)", "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"),
    (6, "pauser", "pauser", "0x976EA74026E726554dB657fA54763abd0C3a0aa9"),
    (7, "compliance", "compliance", "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955"),
    (8, "exchange", "exchange wallet", "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f"),
    (9, "customer", "customer", "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"),
)

#: Dev mint authorities and their threshold: any 2 of issuer, operator and gold custodian.
DEV_AUTHORITY_ROLES = ("authority_issuer", "authority_operator", "authority_custodian")
DEV_THRESHOLD = 2
#: Daily mint limit of each dev authority: one tonne of gold, in base units (1e18 = 1 gram).
DEV_DAILY_LIMIT = 1_000_000 * 10**18
DEV_ALLOWLIST_MODE = False


@dataclass(frozen=True)
class DevAccount:
    index: int
    role: str
    label: str
    address: str
    private_key: bytes


@functools.cache
def dev_accounts() -> dict[str, DevAccount]:
    """Derive the dev accounts from the mnemonic, keyed by role name.

    Raises ValueError if a derived address differs from the table, which would mean a broken
    derivation library rather than a wrong table.
    """
    Account.enable_unaudited_hdwallet_features()
    accounts: dict[str, DevAccount] = {}
    for index, role, label, address in DEV_ROLE_TABLE:
        derived = Account.from_mnemonic(DEV_MNEMONIC, account_path=DEV_PATH_TEMPLATE.format(index=index))
        if derived.address != address:
            raise ValueError(f"dev account {index} derived as {derived.address}, expected {address}")
        accounts[role] = DevAccount(
            index=index, role=role, label=label, address=address, private_key=bytes(derived.key)
        )
    return accounts


def dev_address(role: str) -> str:
    """Return the checksummed address of a dev role without deriving any key."""
    for _, table_role, _, address in DEV_ROLE_TABLE:
        if table_role == role:
            return address
    known = ", ".join(row[1] for row in DEV_ROLE_TABLE)
    raise KeyError(f"unknown dev role {role!r}; known roles: {known}")
