"""Kura: a permissioned EVM ledger node for a gold-backed coin."""

__version__ = "0.1.0"
