"""Peer-to-peer transport: mutual TLS between allowlisted nodes, msgpack frames."""
