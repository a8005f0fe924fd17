// Hardhat 3 network for scripts/bench_rpc.py --hardhat: the comparison node.
//
// `hardhat node` serves the network named "node". It mines one block per second
// (interval mining, automine off), like a kura dev node, with kura's dev block gas
// limit (60,000,000) and first-in-first-out mempool order. Hardhat's default,
// automine, rejects a transaction whose nonce is ahead of the sender's ("can't be
// queued when automining"), and the benchmark sends many nonces per sender at once.
export default {
  networks: {
    node: {
      type: "edr-simulated",
      chainType: "l1",
      hardfork: "prague",
      blockGasLimit: 60_000_000,
      mining: { auto: false, interval: 1000, mempool: { order: "fifo" } },
    },
  },
};
