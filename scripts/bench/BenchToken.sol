// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// Plain OpenZeppelin ERC-20 for scripts/bench_rpc.py: the whole supply is minted to the deployer.
contract BenchToken is ERC20 {
    constructor(uint256 supply) ERC20("Kura Bench Token", "BENCH") {
        _mint(msg.sender, supply);
    }
}
