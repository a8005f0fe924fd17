// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

/// @title Probe
/// @notice Test contract for the JSON-RPC suites: a counter that emits events with
/// indexed topics, reverts with a reason string or a custom error, takes ether, burns
/// a chosen amount of gas and reaches itself through external calls.
contract Probe {
    /// Largest step `increment` accepts.
    uint256 public constant MAX_STEP = 100;

    /// Storage slot 0: the counter.
    uint256 public count;
    /// Storage slot 1: the deployer.
    address public owner;
    /// Wei sent through `deposit`, per sender.
    mapping(address => uint256) public deposits;
    /// Storage slot 3: the last digest `churn` stored.
    bytes32 public lastDigest;

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

    /// Call `increment` through an external self-call, so the event's caller topic is
    /// this contract.
    function incrementViaCall(uint256 step) external returns (uint256) {
        return this.increment(step);
    }

    /// Hash `rounds` times, starting from `lastDigest`, and store the result; the gas
    /// used grows linearly with `rounds`.
    function churn(uint256 rounds) public returns (bytes32 digest) {
        digest = lastDigest;
        for (uint256 i = 0; i < rounds; i++) {
            digest = keccak256(abi.encode(digest, i));
        }
        lastDigest = digest;
    }

    /// Call `churn` through an external self-call. With many rounds the call needs a gas
    /// limit well above the gas it uses, because only 63/64 of the remaining gas is
    /// forwarded to the inner call (EIP-150).
    function churnViaCall(uint256 rounds) external returns (bytes32) {
        return this.churn(rounds);
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
