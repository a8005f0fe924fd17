// ethers v6 against a running Kura node: deployment, EIP-1559 and legacy
// transactions, receipts, decoded events, blocks, revert reasons, fee data and
// nonce handling.
//
// Usage: node tests/js/ethers_suite.mjs <rpc-url>
// tests/rpc/test_ethers.py starts a `kura dev` node and runs this file; run
// `npm ci` in tests/js first. The node must be a fresh dev chain (chain id
// 1337, the Hardhat mnemonic's accounts funded), because the suite expects
// the first deployment's counter values.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";

import { ethers } from "ethers";

const RPC_URL = process.argv[2];
if (!RPC_URL) {
  console.error("usage: node tests/js/ethers_suite.mjs <rpc-url>");
  process.exit(2);
}

const CHAIN_ID = 1337n;
const MNEMONIC = "test test test test test test test test test test test junk";
const INITIAL_COUNT = 7n;
const ARTIFACT = JSON.parse(readFileSync(new URL("../contracts/build/Probe.json", import.meta.url), "utf8"));
const RECIPIENT = "0x" + "e7".repeat(20);
const EVENT_TIMEOUT_MS = 20_000;

function devWallet(index, provider) {
  return ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`).connect(provider);
}

function withTimeout(promise, milliseconds, description) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${description} did not happen within ${milliseconds} ms`)), milliseconds);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe("Kura JSON-RPC with ethers v6", () => {
  let provider;
  let deployer;
  let probe;
  let probeAddress;
  let deployReceipt;

  before(async () => {
    // cacheTimeout -1: every nonce and block read goes to the node.
    provider = new ethers.JsonRpcProvider(RPC_URL, undefined, { cacheTimeout: -1, pollingInterval: 200 });
    deployer = devWallet(0, provider);
    const factory = new ethers.ContractFactory(ARTIFACT.abi, ARTIFACT.bytecode, deployer);
    probe = await factory.deploy(INITIAL_COUNT);
    await probe.waitForDeployment();
    probeAddress = await probe.getAddress();
    deployReceipt = await probe.deploymentTransaction().wait();
  });

  after(async () => {
    await probe?.removeAllListeners();
    provider?.destroy();
  });

  test("network is the dev chain", async () => {
    const network = await provider.getNetwork();
    assert.equal(network.chainId, CHAIN_ID);
  });

  test("deployment receipt names the contract", async () => {
    const deployment = probe.deploymentTransaction();
    assert.equal(deployReceipt.status, 1);
    assert.equal(deployReceipt.contractAddress, ethers.getCreateAddress({ from: deployer.address, nonce: deployment.nonce }));
    assert.equal(deployReceipt.contractAddress, probeAddress);
    assert.equal(await provider.getCode(probeAddress), ARTIFACT.deployedBytecode);
    assert.equal(await probe.count(), INITIAL_COUNT);
  });

  test("EIP-1559 transaction emits a decoded event", async () => {
    const tx = await probe.increment(3n);
    const receipt = await tx.wait();
    const block = await provider.getBlock(receipt.blockNumber);

    assert.equal(tx.type, 2);
    assert.equal(receipt.status, 1);
    assert.equal(receipt.gasPrice, minBigInt(tx.maxFeePerGas, block.baseFeePerGas + tx.maxPriorityFeePerGas));
    assert.equal(receipt.logs.length, 1);
    const event = receipt.logs[0];
    assert.ok(event instanceof ethers.EventLog, "receipt log was not decoded against the ABI");
    assert.equal(event.eventName, "Incremented");
    assert.equal(event.args.caller, deployer.address);
    assert.equal(event.args.total, INITIAL_COUNT + 3n);
    assert.equal(event.args.step, 3n);
  });

  test("legacy transaction is EIP-155 protected", async () => {
    const sender = devWallet(1, provider);
    const feeData = await provider.getFeeData();
    const tx = await sender.sendTransaction({
      type: 0,
      to: probeAddress,
      data: probe.interface.encodeFunctionData("increment", [5n]),
      gasPrice: feeData.gasPrice * 2n,
    });
    const receipt = await tx.wait();
    const fetched = await provider.getTransaction(tx.hash);

    assert.equal(receipt.status, 1);
    assert.equal(receipt.type, 0);
    assert.equal(fetched.type, 0);
    assert.equal(fetched.chainId, CHAIN_ID);
    assert.ok([CHAIN_ID * 2n + 35n, CHAIN_ID * 2n + 36n].includes(fetched.signature.networkV), `v = ${fetched.signature.networkV}`);
    assert.equal(receipt.gasPrice, tx.gasPrice);
    const parsed = probe.interface.parseLog(receipt.logs[0]);
    assert.equal(parsed.args.caller, sender.address);
  });

  test("payable call charges value and fee", async () => {
    const sender = devWallet(2, provider);
    const value = 1_234n;
    const tx = await probe.connect(sender).deposit({ value });
    const receipt = await tx.wait();
    const before = await provider.getBalance(sender.address, receipt.blockNumber - 1);
    const after = await provider.getBalance(sender.address, receipt.blockNumber);

    assert.equal(before - after, value + receipt.fee);
    assert.equal(await probe.deposits(sender.address), value);
    const [event] = await probe.queryFilter(probe.filters.Deposited(sender.address), receipt.blockNumber, receipt.blockNumber);
    assert.equal(event.args.amount, value);
  });

  test("logs by address and topics", async () => {
    const latest = await provider.getBlockNumber();
    const range = { address: probeAddress, fromBlock: deployReceipt.blockNumber, toBlock: latest };
    const incrementedTopic = probe.interface.getEvent("Incremented").topicHash;
    const depositedTopic = probe.interface.getEvent("Deposited").topicHash;

    const incremented = await provider.getLogs({ ...range, topics: [incrementedTopic] });
    const deposited = await provider.getLogs({ ...range, topics: [depositedTopic] });
    const either = await provider.getLogs({ ...range, topics: [[incrementedTopic, depositedTopic]] });
    const byDeployer = await probe.queryFilter(probe.filters.Incremented(deployer.address), range.fromBlock, latest);

    assert.ok(incremented.length >= 2, `${incremented.length} Incremented logs`);
    assert.ok(deposited.length >= 1, `${deposited.length} Deposited logs`);
    assert.equal(either.length, incremented.length + deposited.length);
    assert.ok(byDeployer.length >= 1);
    for (const event of byDeployer) {
      assert.equal(event.args.caller, deployer.address);
    }
  });

  test("blocks by number, hash and tag", async () => {
    const receipt = deployReceipt;
    const byNumber = await provider.getBlock(receipt.blockNumber, true);
    const byHash = await provider.getBlock(receipt.blockHash);
    const latest = await provider.getBlock("latest");
    const earliest = await provider.getBlock("earliest");

    assert.equal(byNumber.hash, receipt.blockHash);
    assert.equal(byHash.number, receipt.blockNumber);
    assert.ok(byNumber.prefetchedTransactions.some((tx) => tx.hash === receipt.hash));
    assert.equal(earliest.number, 0);
    assert.ok(latest.number >= receipt.blockNumber);
    for (const tag of ["safe", "finalized", "pending"]) {
      const block = await provider.getBlock(tag);
      assert.ok(block !== null, `${tag} block is null`);
      assert.ok(block.number >= latest.number, `${tag} block ${block.number} is behind latest ${latest.number}`);
    }
  });

  test("revert reason string is a CALL_EXCEPTION", async () => {
    await assert.rejects(probe.increment(0n), (error) => {
      assert.equal(error.code, "CALL_EXCEPTION");
      assert.equal(error.reason, "Probe: step is zero");
      return true;
    });
    await assert.rejects(probe.increment.staticCall(0n), (error) => {
      assert.equal(error.code, "CALL_EXCEPTION");
      assert.equal(error.reason, "Probe: step is zero");
      return true;
    });
  });

  test("custom error decodes", async () => {
    await assert.rejects(probe.increment.staticCall(1_000n), (error) => {
      assert.equal(error.code, "CALL_EXCEPTION");
      assert.equal(error.revert?.name, "StepTooLarge");
      assert.deepEqual([...error.revert.args], [1_000n, 100n]);
      return true;
    });
    // ethers decodes custom errors only for contract calls; estimateGas leaves
    // the revert data in error.data for the caller to parse.
    await assert.rejects(probe.increment.estimateGas(1_000n), (error) => {
      assert.equal(error.code, "CALL_EXCEPTION");
      const decoded = probe.interface.parseError(error.data);
      assert.equal(decoded?.name, "StepTooLarge");
      assert.deepEqual([...decoded.args], [1_000n, 100n]);
      return true;
    });
  });

  test("fee data follows the base fee", async () => {
    const feeData = await provider.getFeeData();
    const latest = await provider.getBlock("latest");

    assert.ok(feeData.gasPrice > 0n);
    assert.ok(feeData.maxPriorityFeePerGas >= 1n);
    assert.ok(feeData.maxFeePerGas > feeData.maxPriorityFeePerGas);
    assert.ok(latest.baseFeePerGas > 0n);
    // ethers sets maxFeePerGas to 2 * base fee + tip of the block it read. A block
    // may land in between, and EIP-1559 moves the base fee by at most 1/8 per block.
    const baseFee = (feeData.maxFeePerGas - feeData.maxPriorityFeePerGas) / 2n;
    assert.ok(baseFee >= (latest.baseFeePerGas * 7n) / 8n, `base fee ${baseFee} vs latest ${latest.baseFeePerGas}`);
    assert.ok(baseFee <= (latest.baseFeePerGas * 9n) / 8n, `base fee ${baseFee} vs latest ${latest.baseFeePerGas}`);
  });

  test("nonce manager sends a run of transactions", async () => {
    const wallet = devWallet(3, provider);
    const start = await provider.getTransactionCount(wallet.address, "latest");
    const manager = new ethers.NonceManager(wallet);

    const sent = [];
    for (let i = 0; i < 3; i += 1) {
      sent.push(await manager.sendTransaction({ to: RECIPIENT, value: 1n }));
    }
    assert.deepEqual(
      sent.map((tx) => tx.nonce),
      [start, start + 1, start + 2],
    );
    assert.equal(await provider.getTransactionCount(wallet.address, "pending"), start + 3);

    const receipts = await Promise.all(sent.map((tx) => tx.wait()));
    assert.ok(receipts.every((receipt) => receipt.status === 1));
    assert.equal(await provider.getTransactionCount(wallet.address, "latest"), start + 3);
  });

  test("pool rejections map to ethers error codes", async () => {
    const wallet = devWallet(4, provider);
    const nonce = await provider.getTransactionCount(wallet.address, "latest");
    const fees = { maxFeePerGas: ethers.parseUnits("10", "gwei"), maxPriorityFeePerGas: ethers.parseUnits("2", "gwei") };
    const mined = await wallet.sendTransaction({ to: RECIPIENT, value: 1n, nonce, ...fees });
    await mined.wait();

    await assert.rejects(wallet.sendTransaction({ to: RECIPIENT, value: 2n, nonce, ...fees }), { code: "NONCE_EXPIRED" });

    // A gapped nonce stays queued, so a same-priced replacement meets it in the pool.
    await wallet.sendTransaction({ to: RECIPIENT, value: 3n, nonce: nonce + 2, ...fees });
    await assert.rejects(wallet.sendTransaction({ to: RECIPIENT, value: 4n, nonce: nonce + 2, ...fees }), {
      code: "REPLACEMENT_UNDERPRICED",
    });

    const balance = await provider.getBalance(wallet.address);
    await assert.rejects(wallet.sendTransaction({ to: RECIPIENT, value: balance, nonce: nonce + 1, gasLimit: 21_000n, ...fees }), {
      code: "INSUFFICIENT_FUNDS",
    });

    // Fill the gap so the queued transaction is mined.
    const filler = await wallet.sendTransaction({ to: RECIPIENT, value: 5n, nonce: nonce + 1, ...fees });
    await filler.wait();
  });

  test("contract listener sees a new event", async () => {
    const wallet = devWallet(5, provider);
    const filter = probe.filters.Incremented(wallet.address);
    let listener;
    const seen = new Promise((resolve) => {
      listener = (...args) => resolve(args.at(-1));
    });
    await probe.on(filter, listener);
    try {
      const tx = await probe.connect(wallet).increment(2n);
      await tx.wait();
      const payload = await withTimeout(seen, EVENT_TIMEOUT_MS, "the Incremented event");

      assert.equal(payload.log.transactionHash, tx.hash);
      assert.equal(payload.args.step, 2n);
    } finally {
      await probe.off(filter, listener);
      // off() queues eth_uninstallFilter without waiting for it; a request queued
      // after it returns only once the uninstall went out in the same batch.
      await provider.send("eth_blockNumber", []);
    }
  });
});

function minBigInt(a, b) {
  return a < b ? a : b;
}
