"""Python side of the gold coin: contract artefacts, ABI coding, EIP-712 approvals, genesis predeploys.

The contracts themselves live in ``contracts/src``; ``scripts/build_contracts.sh`` compiles them into
``contracts/build``, which :mod:`node.coin.artifacts` reads.
"""
