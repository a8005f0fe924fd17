"""QBFT consensus: a Byzantine fault tolerant engine for n >= 3f + 1 validators.

- :mod:`.messages`: the four message types and their signed wire format;
- :mod:`.validation`: the rules of each message type and proposer selection;
- :mod:`.round_state`, :mod:`.height_manager`: the state machine of one height;
- :mod:`.engine`: routing by height, buffering, and moving between heights;
- :mod:`.interfaces`: the Protocols the node implements to wire the engine in.
"""

from node.consensus.qbft.block import ProposedBlock
from node.consensus.qbft.config import QbftConfig
from node.consensus.qbft.engine import QbftEngine
from node.consensus.qbft.errors import DecodeFailure, InvalidMessage, MessageDecodeError, QbftError, Rule
from node.consensus.qbft.interfaces import BlockCreator, BlockImporter, Gossip, RoundTimer, ValidatorProvider
from node.consensus.qbft.validation import proposer_for

__all__ = [
    "BlockCreator",
    "BlockImporter",
    "DecodeFailure",
    "Gossip",
    "InvalidMessage",
    "MessageDecodeError",
    "ProposedBlock",
    "QbftConfig",
    "QbftEngine",
    "QbftError",
    "RoundTimer",
    "Rule",
    "ValidatorProvider",
    "proposer_for",
]
