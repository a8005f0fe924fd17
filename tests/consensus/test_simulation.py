"""Networks of QBFT validators on simulated time: safety under chaos, liveness after it.

Every run is seeded and deterministic. KURA_SIM_SEEDS sets how many
schedules the seeded tests run (default 40); run more by hand, for
example ``KURA_SIM_SEEDS=200 pytest tests/consensus/test_simulation.py``.
"""

from __future__ import annotations

import os
import random

import pytest

from node.consensus.qbft.config import QbftConfig
from node.consensus.qbft.validation import proposer_for
from tests.consensus.simulation import SIM_CONFIG, Cluster, Conditions, EquivocatingGossip, SimNode

SEEDS = int(os.environ.get("KURA_SIM_SEEDS", "40"))
#: Heights each chaotic schedule tries to finalise.
HEIGHTS = 5
#: Capped back-off, so rounds keep turning under constant loss and the
#: schedules cover many round changes and re-proposals.
CHAOS_CONFIG = QbftConfig(block_period=1, round_timeout_base=1.0, round_timeout_max=8.0)
#: Network after stabilisation: nothing lost, every delay below a third of the base timeout.
CALM = Conditions(loss=0.0, duplicate=0.05, min_delay=0.005, max_delay=0.3)


def chaotic_conditions(seed: int) -> Conditions:
    rng = random.Random(seed)
    return Conditions(
        loss=rng.uniform(0.0, 0.4),
        duplicate=rng.uniform(0.0, 0.2),
        min_delay=0.005,
        max_delay=rng.uniform(0.05, 1.5),
        straggler=0.05,
    )


def recovery_bound(config: QbftConfig, round: int, heights: int, sync_interval: float = 2.0) -> float:
    """Return the simulated seconds within which validators at ``round`` finalise ``heights`` more blocks.

    The bound applies once the network is calm, and it is generous rather
    than proven. The running round ends within its timeout. A later round
    whose timeout exceeds the three message delays a round needs decides if
    its proposer is up. Twice the time of rounds ``round`` to ``round + 2``
    leaves room for validators that start in different rounds and for one
    crashed proposer. Each later height takes at most the block period plus
    rounds 0 and 1, and block sync adds up to one interval for a validator
    that missed a height.
    """
    first = 2 * (config.round_timeout(round) + config.round_timeout(round + 1) + config.round_timeout(round + 2))
    later = heights * (config.block_period + config.round_timeout(0) + config.round_timeout(1))
    return first + later + sync_interval


def highest_round(nodes: list[SimNode]) -> int:
    return max(node.engine.round for node in nodes)


def top_finalized(cluster: Cluster) -> int:
    return max(cluster.ledger.finalized, default=0)


# (a) Safety.


def test_no_fork_under_loss_delay_duplication_and_reordering() -> None:
    finalized = 0
    reproposed = 0
    for seed in range(SEEDS):
        size = 4 if seed % 2 == 0 else 7
        cluster = Cluster(size, seed, config=CHAOS_CONFIG, conditions=chaotic_conditions(seed)).start()

        cluster.run_until_height(HEIGHTS, within=300)

        assert cluster.ledger.conflicts == [], f"seed {seed}, {size} validators"
        finalized += len(cluster.ledger.finalized)
        reproposed += len(cluster.ledger.reproposed)
    # The schedules must decide blocks, some of them re-proposed, or they check nothing.
    assert finalized >= SEEDS * 2
    assert reproposed > 0


# (b) Liveness.


def test_every_validator_finalizes_after_network_stabilises() -> None:
    for seed in range(max(4, SEEDS // 3)):
        size = 4 if seed % 2 == 0 else 7
        cluster = Cluster(size, seed, conditions=chaotic_conditions(seed)).start()
        cluster.run_for(60)

        cluster.network.conditions = CALM
        target = max(cluster.heights()) + 3
        bound = recovery_bound(SIM_CONFIG, highest_round(cluster.nodes), 3)
        reached = cluster.run_until_height(target, within=bound)

        assert reached, f"seed {seed}: heights {cluster.heights()}, expected {target} within {bound:.0f} s"
        assert cluster.ledger.conflicts == [], f"seed {seed}"


def test_calm_network_decides_every_height_in_round_zero() -> None:
    cluster = Cluster(4, seed=1, conditions=CALM).start()

    assert cluster.run_until_height(10, within=30)
    rounds = [block.header.seal.round for block in cluster.nodes[0].chain.blocks[1:]]
    assert rounds == [0] * 10


# (c) Byzantine equivocation.


@pytest.mark.parametrize(("size", "byzantine"), [(4, {1}), (4, {3}), (7, {0, 4})])
def test_equivocating_validators_cause_no_fork(size: int, byzantine: set[int]) -> None:
    for seed in range(max(2, SEEDS // 8)):
        loss = 0.05 if seed % 2 else 0.0
        conditions = Conditions(loss=loss, duplicate=0.05, max_delay=0.3, straggler=0.05)
        cluster = Cluster(size, seed, byzantine=byzantine, conditions=conditions).start()

        reached = cluster.run_until_height(8, within=600)

        assert cluster.ledger.conflicts == [], f"seed {seed}"
        assert reached, f"seed {seed}: honest heights {cluster.heights()}"
        for index in byzantine:
            gossip = cluster.nodes[index].gossip
            assert isinstance(gossip, EquivocatingGossip)
            assert gossip.twins_sent["proposal"] > 0, f"seed {seed}: node{index} never proposed"
            assert gossip.twins_sent["prepare"] > 0
            assert gossip.twins_sent["commit"] > 0


# (d) Partition.


def test_two_two_partition_halts_then_heals() -> None:
    cluster = Cluster(4, seed=7, conditions=CALM).start()
    assert cluster.run_until_height(3, within=60)

    cluster.partition({0, 1}, {2, 3})
    # Votes cast before the partition may still finish the height in progress.
    cluster.run_for(2.0)
    top = top_finalized(cluster)
    cluster.run_for(120)

    assert top_finalized(cluster) == top
    assert max(cluster.heights()) == top

    cluster.heal()
    bound = recovery_bound(SIM_CONFIG, highest_round(cluster.nodes), 3)
    assert cluster.run_until_height(top + 3, within=bound)
    assert cluster.ledger.conflicts == []


# (e) Crashed validators.


def test_one_crashed_validator_of_four_is_skipped() -> None:
    cluster = Cluster(4, seed=11, conditions=CALM).start()
    crashed = cluster.nodes[2]
    crashed.crash()
    live = [node for node in cluster.nodes if node is not crashed]

    assert cluster.run_until_height(12, within=300, nodes=live)

    skipped = [h for h in range(1, 13) if proposer_for(cluster.validators, h, 0) == crashed.address]
    assert skipped
    for height in skipped:
        assert live[0].chain.blocks[height].header.seal.round >= 1, f"height {height}"
    assert crashed.chain.height == 0
    assert cluster.ledger.conflicts == []


def test_two_crashed_of_four_halt_until_one_returns() -> None:
    cluster = Cluster(4, seed=12, conditions=CALM).start()
    assert cluster.run_until_height(2, within=60)

    cluster.nodes[0].crash()
    cluster.nodes[3].crash()
    cluster.run_for(2.0)
    top = top_finalized(cluster)
    cluster.run_for(120)

    assert top_finalized(cluster) == top
    assert cluster.ledger.conflicts == []

    # Restart with a fresh engine on its stored chain, as after a process crash.
    cluster.nodes[3].boot()
    live = cluster.nodes[1:]
    bound = recovery_bound(SIM_CONFIG, highest_round(live), 3)
    assert cluster.run_until_height(top + 3, within=bound, nodes=live)
    assert cluster.ledger.conflicts == []


def test_restarted_validator_catches_up_by_block_sync() -> None:
    cluster = Cluster(4, seed=13, conditions=CALM).start()
    lagging = cluster.nodes[1]
    lagging.crash()
    assert cluster.run_until_height(6, within=120, nodes=[n for n in cluster.nodes if n is not lagging])

    lagging.boot()

    assert cluster.run_until_height(9, within=60)
    assert cluster.ledger.conflicts == []
