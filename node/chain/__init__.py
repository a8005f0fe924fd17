"""The chain: genesis, block headers and seals, execution on py-evm."""
