"""The transaction pool."""

from node.txpool.pool import PoolLimits, TxPool

__all__ = ["PoolLimits", "TxPool"]
