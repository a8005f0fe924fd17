// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

/// @title ShelterAnchor
/// @notice Write-once record of shelter commitments, so a restore can prove that a set of
/// shelter fragments is the one the ledger's operators produced.
/// @dev The commitment is Keccak-256 over the shelter id, snapshot height, block hash, state
/// root, k, n and the Merkle root of the fragment hashes (node/shelter/manifest.py builds it).
/// Only anchorers named by the owner may write, and each shelter id is written at most once,
/// so a later transaction cannot replace an anchored commitment.
contract ShelterAnchor {
    /// @notice Account that adds and removes anchorers.
    address public owner;
    /// @notice Accounts allowed to call `anchor`; read from storage slot 1 by restores.
    mapping(address => bool) public isAnchorer;
    /// @notice Commitment by shelter id; zero when the id was never anchored.
    mapping(bytes32 => bytes32) public commitmentOf;

    event Anchored(bytes32 indexed shelterId, bytes32 commitment, address indexed anchorer);
    event AnchorerSet(address indexed account, bool allowed);

    error NotOwner(address caller);
    error NotAnchorer(address caller);
    error AlreadyAnchored(bytes32 shelterId);
    error ZeroCommitment();

    constructor(address[] memory anchorers) {
        owner = msg.sender;
        for (uint256 i = 0; i < anchorers.length; i++) {
            isAnchorer[anchorers[i]] = true;
            emit AnchorerSet(anchorers[i], true);
        }
    }

    /// @notice Allow or forbid `account` to anchor shelters.
    function setAnchorer(address account, bool allowed) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        isAnchorer[account] = allowed;
        emit AnchorerSet(account, allowed);
    }

    /// @notice Record `commitment` for `shelterId`; reverts if the id already has one.
    function anchor(bytes32 shelterId, bytes32 commitment) external {
        if (!isAnchorer[msg.sender]) revert NotAnchorer(msg.sender);
        if (commitment == bytes32(0)) revert ZeroCommitment();
        if (commitmentOf[shelterId] != bytes32(0)) revert AlreadyAnchored(shelterId);
        commitmentOf[shelterId] = commitment;
        emit Anchored(shelterId, commitment, msg.sender);
    }
}
