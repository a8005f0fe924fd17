"""The public development accounts: Hardhat's and anvil's well-known mnemonic.

Their private keys are printed in countless tutorials; anything sent to
them on a public network is taken at once. Use them only on ``kura dev``.
"""

from __future__ import annotations

from functools import lru_cache

from eth_account import Account

DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_ACCOUNT_COUNT = 20
#: Index of the dev account whose key seals blocks on ``kura dev``.
DEV_VALIDATOR_INDEX = 19


@lru_cache(maxsize=1)
def dev_keys() -> tuple[bytes, ...]:
    """Private keys of accounts m/44'/60'/0'/0/0 to .../19."""
    Account.enable_unaudited_hdwallet_features()
    return tuple(
        bytes(Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}").key)
        for index in range(DEV_ACCOUNT_COUNT)
    )
