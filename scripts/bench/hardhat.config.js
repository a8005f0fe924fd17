// Hardhat 3 network for scripts/bench_rpc.py --hardhat: the comparison node.
//
// `hardhat node` serves the network named "node". By default it mines one block per
// second (interval mining, automine off), like a kura dev node, with kura's dev block
// gas limit (60,000,000) and first-in-first-out mempool order.
// KURA_BENCH_HARDHAT_MINING=auto switches to Hardhat's default of one block per transaction.
const automine = process.env.KURA_BENCH_HARDHAT_MINING === "auto";

export default {
  networks: {
    node: {
      type: "edr-simulated",
      chainType: "l1",
      hardfork: "prague",
      blockGasLimit: 60_000_000,
      mining: automine
        ? { auto: true, mempool: { order: "fifo" } }
        : { auto: false, interval: 1000, mempool: { order: "fifo" } },
    },
  },
};
