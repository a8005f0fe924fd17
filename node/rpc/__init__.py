"""Ethereum JSON-RPC over HTTP: one module per namespace, one dispatcher."""
