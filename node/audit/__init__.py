"""Auditor tools: replay the chain from genesis, move blocks in and out as RLP files, report on the coin.

- :mod:`node.audit.sources` reads blocks from a data directory, a running node's JSON-RPC or a
  block file;
- :mod:`node.audit.replay` re-executes them into a fresh store and checks every rule a validator
  checks, and the stored receipts;
- :mod:`node.audit.blockfile` writes and reads block files (geth's export format);
- :mod:`node.audit.coin` follows the gold coin through a replay, and :mod:`node.audit.report`
  checks its invariants and writes the report files.
"""
