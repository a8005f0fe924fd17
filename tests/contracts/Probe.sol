// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

/// @title Probe
/// @notice Test contract for the JSON-RPC suites: a counter that emits events with
/// indexed topics, reverts with a reason string or a custom error, takes ether and
/// reaches itself through an external call.
contract Probe {
    /// Largest step `increment` accepts.
    uint256 public constant MAX_STEP = 100;

    /// Storage slot 0.
    uint256 public count;
    /// Storage slot 1: the deployer.
    address public owner;
    /// Wei sent through `deposit`, per sender.
    mapping(address => uint256) public deposits;

    event Incremented(address indexed caller, uint256 indexed total, uint256 step);
    event Deposited(address indexed sender, uint256 amount);

    error StepTooLarge(uint256 step, uint256 limit);

    constructor(uint256 initialCount) {
        count = initialCount;
        owner = msg.sender;
    }

    /// Add `step` to the counter. Reverts with the reason "Probe: step is zero" for 0
    /// and with StepTooLarge for a step above MAX_STEP.
    function increment(uint256 step) public returns (uint256) {
        require(step != 0, "Probe: step is zero");
        if (step > MAX_STEP) {
            revert StepTooLarge(step, MAX_STEP);
        }
        count += step;
        emit Incremented(msg.sender, count, step);
        return count;
    }

    /// Call `increment` through an external self-call, so the transaction needs more
    /// gas than it uses (a call forwards at most 63/64 of the remaining gas).
    function incrementViaCall(uint256 step) external returns (uint256) {
        return this.increment(step);
    }

    function deposit() external payable {
        deposits[msg.sender] += msg.value;
        emit Deposited(msg.sender, msg.value);
    }

    /// The counter times `factor`; a view for eth_call.
    function scaledCount(uint256 factor) external view returns (uint256) {
        return count * factor;
    }
}
