"""QBFT engine: message format, validation rules, and simulated networks of validators."""
