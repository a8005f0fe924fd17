"""Write genesis/dev.json: the development chain behind ``kura dev``.

Funds the 20 public dev accounts with 10,000 ETH each and makes account
#19 the only validator. When the coin package is present, the gold coin
and its mint authority are predeployed with the dev role holders.

Usage: python scripts/make_dev_genesis.py [OUTPUT]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from eth_account import Account

from node.cli.devaccounts import DEV_VALIDATOR_INDEX, dev_keys

DEV_CHAIN_ID = 1337
DEV_BALANCE = 10_000 * 10**18


def build() -> dict:
    addresses = [Account.from_key(key).address for key in dev_keys()]
    alloc: dict[str, dict] = {address: {"balance": hex(DEV_BALANCE)} for address in addresses}
    try:
        from node.coin.dev_genesis import dev_coin_alloc
    except ImportError:
        pass
    else:
        alloc.update(dev_coin_alloc(DEV_CHAIN_ID))
    return {
        "config": {
            "chainId": DEV_CHAIN_ID,
            "zeroBaseFee": False,
            "qbft": {
                "blockperiodseconds": 1,
                "emptyblockperiodseconds": 10,
                "validators": [addresses[DEV_VALIDATOR_INDEX]],
            },
        },
        "gasLimit": hex(60_000_000),
        "timestamp": "0x0",
        "baseFeePerGas": hex(1_000_000_000),
        "alloc": alloc,
    }


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "genesis" / "dev.json"
    output.write_text(json.dumps(build(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
