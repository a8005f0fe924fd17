"""Keystore files for the dev role accounts, for demos and tests of the issuer commands.

The keys come from the public dev mnemonic (see :mod:`node.coin.dev_roles`), so the keystores
protect nothing. They use scrypt with n = 2**12 instead of eth-keyfile's 2**18, which makes
decrypting them take milliseconds rather than about a second.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from eth_keyfile import create_keyfile_json

from node.coin.dev_roles import dev_accounts

#: scrypt cost parameter n of the dev keystores; never use so low a value for real keys.
DEV_SCRYPT_N = 2**12


def write_dev_keystore(directory: Path, role: str, password: str) -> Path:
    """Write the keystore of dev account ``role`` to ``directory/<role>.json`` and return its path."""
    account = dev_accounts()[role]
    document = create_keyfile_json(account.private_key, password.encode(), kdf="scrypt", iterations=DEV_SCRYPT_N)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{role}.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    os.chmod(path, 0o600)
    return path
