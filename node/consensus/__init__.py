"""Consensus: who may seal a block, and the rules a sealed header must meet.

The engines here see the chain only through :class:`node.consensus.base.BlockSource`
and never import the store, the EVM or the RPC server.
"""
