"""Settings of the QBFT engine: block period, round timeouts and buffer bounds."""

from __future__ import annotations

from dataclasses import dataclass, field

from node.consensus.qbft.messages import DecodeLimits
from node.errors import ConfigError


@dataclass(frozen=True)
class QbftConfig:
    """Engine settings. Times are in seconds."""

    #: Minimum gap between a block's timestamp and its parent's
    #: (genesis ``config.qbft.blockperiodseconds``).
    block_period: int = 1
    #: Timeout of round 0, counted after the block period has passed.
    round_timeout_base: float = 2.0
    #: Round ``r`` times out after ``round_timeout_base * round_timeout_factor ** r``.
    round_timeout_factor: float = 2.0
    #: Upper bound for a round timeout; None leaves the back-off unbounded.
    round_timeout_max: float | None = None
    #: How far a proposed block's timestamp may be ahead of the local clock:
    #: the clock skew tolerated between validators.
    max_clock_skew: float = 2.0
    #: Messages for heights above the current one are kept up to this many heights ahead.
    future_heights: int = 10
    #: Bound on buffered future-height messages, in total and per author.
    max_buffered_messages: int = 4096
    max_buffered_per_author: int = 512
    #: Prepares, commits and round changes are kept for rounds up to this many above the current one.
    future_rounds: int = 20
    decode_limits: DecodeLimits = field(default_factory=DecodeLimits)

    def __post_init__(self) -> None:
        if self.block_period < 0:
            raise ConfigError(f"QBFT block period {self.block_period} is negative; use 0 or more seconds")
        if self.round_timeout_base <= 0:
            raise ConfigError(f"QBFT round timeout {self.round_timeout_base} must be positive")
        if self.round_timeout_factor < 1:
            raise ConfigError(f"QBFT round timeout factor {self.round_timeout_factor} must be at least 1")
        if self.round_timeout_max is not None and self.round_timeout_max < self.round_timeout_base:
            raise ConfigError(
                f"QBFT maximum round timeout {self.round_timeout_max} is below the base {self.round_timeout_base}"
            )

    def round_timeout(self, round: int) -> float:
        """Seconds before ``round`` times out, not counting the block period wait of round 0."""
        # Cap the exponent so a byzantine round number cannot overflow the float.
        timeout = self.round_timeout_base * self.round_timeout_factor ** min(round, 64)
        if self.round_timeout_max is not None:
            timeout = min(timeout, self.round_timeout_max)
        return timeout
