"""Validator votes over qbft_ RPC on a four-validator network."""

from __future__ import annotations

from pathlib import Path

from tests.support.network import Devnet, wait_for
from tests.support.process import rpc

TOKEN: dict[str, str] = {}


def admin(url: str, method: str, params: list) -> dict:
    return rpc(url, method, params, token=TOKEN["value"])


def _validators(url: str) -> list[str]:
    return admin(url, "qbft_getValidatorsByBlockNumber", ["latest"])["result"]


def test_votes_add_then_remove_validator(tmp_path: Path) -> None:
    devnet = Devnet(tmp_path / "devnet", validators=4, rpc_nodes=1, empty_block_period=1)
    try:
        devnet.start()
        TOKEN["value"] = devnet.admin_token()
        candidate = devnet.nodes[4]["address"]
        validator_urls = [process.url for process in devnet.processes[:4]]

        # Three of four is a majority; their next proposals carry the vote.
        for url in validator_urls[:3]:
            assert admin(url, "qbft_proposeValidatorVote", [candidate, True])["result"] is True
        assert admin(validator_urls[0], "qbft_getPendingVotes", [])["result"] == {candidate: True}
        wait_for(lambda: candidate in _validators(validator_urls[0]), 90, "candidate added")
        wait_for(lambda: len(_validators(devnet.processes[4].url)) == 5, 30, "RPC node sees five validators")

        # Five validators with one silent still have a quorum of four.
        added_at = int(devnet.head(0)["number"], 16)
        wait_for(lambda: int(devnet.head(0)["number"], 16) >= added_at + 3, 90, "progress with 4 of 5 live")

        for url in validator_urls[:3]:
            admin(url, "qbft_proposeValidatorVote", [candidate, False])
        wait_for(lambda: candidate not in _validators(validator_urls[0]), 120, "candidate removed")
        TOKEN["value"] = devnet.admin_token()
        wait_for(lambda: admin(validator_urls[0], "qbft_getPendingVotes", [])["result"] == {}, 30, "votes cleared")

        # An RPC node casts no votes.
        refused = admin(devnet.processes[4].url, "qbft_proposeValidatorVote", [candidate, True])
        assert "not a validator" in refused["error"]["message"]

        # Without a token the admin namespace is closed.
        unauthorized = rpc(validator_urls[0], "qbft_getPendingVotes", [])
        assert unauthorized["error"]["code"] == -32401
    finally:
        devnet.stop()
