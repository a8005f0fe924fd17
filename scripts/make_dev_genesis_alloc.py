#!/usr/bin/env python3
"""Print the genesis ``alloc`` JSON for the gold coin predeploys with the dev role holders.

The output contains GoldCoin and MintAuthority at their fixed addresses and, unless
``--dev-balance 0`` is given, a native balance for each dev account so it can pay gas.
Merge it into the ``alloc`` object of a genesis file whose ``config.chainId`` equals
``--chain-id``: the contracts' EIP-712 domains are computed for that chain id.

Example: scripts/make_dev_genesis_alloc.py --chain-id 1337 > alloc.json
"""

from __future__ import annotations

import argparse
import json
import sys

from node.coin.dev_genesis import dev_coin_alloc
from node.coin.dev_roles import DEV_ROLE_TABLE

#: Default native balance of each dev account: one million ether, in wei.
DEFAULT_DEV_BALANCE_WEI = 10**24


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--chain-id",
        type=int,
        default=1337,
        help="chain id of the genesis file the alloc goes into (default: 1337)",
    )
    parser.add_argument(
        "--dev-balance",
        type=int,
        default=DEFAULT_DEV_BALANCE_WEI,
        help="native balance in wei for each of the ten dev accounts; 0 leaves them out (default: 10**24)",
    )
    args = parser.parse_args(argv)
    if args.chain_id <= 0:
        parser.error(f"--chain-id must be positive, got {args.chain_id}")
    if args.dev_balance < 0:
        parser.error(f"--dev-balance must not be negative, got {args.dev_balance}")

    alloc = dev_coin_alloc(args.chain_id)
    if args.dev_balance:
        for _, _, _, address in DEV_ROLE_TABLE:
            alloc[address] = {"balance": hex(args.dev_balance)}

    json.dump(alloc, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
