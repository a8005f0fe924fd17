// ethers v6 over WebSocket against a running Kura node: chain id, deployment, an
// ether transfer, receipts, decoded events, a deposit address watched through
// eth_subscribe, and a revert. tests/js/ethers_suite.mjs covers HTTP in depth.
//
// Usage: node tests/js/ethers_ws_suite.mjs <rpc-url>
// tests/clients/test_js_clients.py starts a `kura dev` node and runs this file; run
// `npm ci` in tests/js first. The node must be a dev chain (chain id 1337, the
// Hardhat mnemonic's accounts funded).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";

import { ethers } from "ethers";

const RPC_URL = process.argv[2];
if (!RPC_URL) {
  console.error("usage: node tests/js/ethers_ws_suite.mjs <rpc-url>");
  process.exit(2);
}
const WS_URL = RPC_URL.replace(/^http/, "ws");
const CHAIN_ID = 1337n;
const MNEMONIC = "test test test test test test test test test test test junk";
const ARTIFACT = JSON.parse(readFileSync(new URL("../contracts/build/Probe.json", import.meta.url), "utf8"));
const INITIAL_COUNT = 7n;
const EVENT_TIMEOUT_MS = 30_000;
// Dev accounts this suite sends from.
const DEPLOYER = 10;
const SENDER = 11;
const DEPOSITOR = 12;

function withTimeout(promise, milliseconds, description) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${description} did not happen within ${milliseconds} ms`)), milliseconds);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe("Kura JSON-RPC with ethers v6 over WebSocket", () => {
  let provider;
  let probe;
  let deployReceipt;

  function wallet(index) {
    return ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`).connect(provider);
  }

  before(async () => {
    // cacheTimeout -1: every nonce read goes to the node, so back-to-back sends get consecutive nonces.
    provider = new ethers.WebSocketProvider(WS_URL, undefined, { cacheTimeout: -1 });
    const factory = new ethers.ContractFactory(ARTIFACT.abi, ARTIFACT.bytecode, wallet(DEPLOYER));
    probe = await factory.deploy(INITIAL_COUNT);
    deployReceipt = await probe.deploymentTransaction().wait();
  });

  after(async () => {
    await probe?.removeAllListeners();
    // ethers sends eth_unsubscribe from a promise callback it does not return, and
    // destroy() rejects requests still in flight, so wait for the last responses first.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await provider?.destroy();
  });

  test("network is the dev chain", async () => {
    assert.equal((await provider.getNetwork()).chainId, CHAIN_ID);
  });

  test("deployment receipt names the contract", async () => {
    assert.equal(deployReceipt.status, 1);
    assert.equal(deployReceipt.contractAddress, await probe.getAddress());
    assert.equal(await probe.count(), INITIAL_COUNT);
  });

  test("transfer and decoded event", async () => {
    const sender = wallet(SENDER);
    const recipient = ethers.Wallet.createRandom().address;
    const transfer = await sender.sendTransaction({ to: recipient, value: 5n });
    const transferReceipt = await transfer.wait();
    assert.equal(transferReceipt.status, 1);
    assert.equal(await provider.getBalance(recipient), 5n);

    const receipt = await (await probe.connect(sender).increment(2n)).wait();
    const [event] = receipt.logs;
    assert.ok(event instanceof ethers.EventLog, "receipt log was not decoded against the ABI");
    assert.equal(event.eventName, "Incremented");
    assert.equal(event.args.caller, sender.address);
    assert.equal(event.args.step, 2n);
  });

  test("revert reason string is a CALL_EXCEPTION", async () => {
    await assert.rejects(probe.increment.staticCall(0n), (error) => {
      assert.equal(error.code, "CALL_EXCEPTION");
      assert.equal(error.reason, "Probe: step is zero");
      return true;
    });
  });

  test("deposit address watched through eth_subscribe", async () => {
    const depositor = wallet(DEPOSITOR);
    const depositAddress = ethers.Wallet.createRandom().address;

    // An exchange scans each new block (newHeads) for transfers to its deposit addresses...
    let onBlock;
    const transferSeen = new Promise((resolve) => {
      onBlock = async (number) => {
        const block = await provider.getBlock(number, true);
        const found = block?.prefetchedTransactions.find((tx) => tx.to === depositAddress);
        if (found) resolve(found);
      };
    });
    // ...and subscribes to events that name the depositor (logs).
    const filter = probe.filters.Deposited(depositor.address);
    let onDeposit;
    const eventSeen = new Promise((resolve) => {
      onDeposit = (...args) => resolve(args.at(-1));
    });
    await provider.on("block", onBlock);
    await probe.on(filter, onDeposit);
    try {
      const transfer = await depositor.sendTransaction({ to: depositAddress, value: 7n });
      const deposit = await probe.connect(depositor).deposit({ value: 11n });

      const seenTransfer = await withTimeout(transferSeen, EVENT_TIMEOUT_MS, "the block with the deposit transfer");
      const seenEvent = await withTimeout(eventSeen, EVENT_TIMEOUT_MS, "the Deposited event");

      assert.equal(seenTransfer.hash, transfer.hash);
      assert.equal(seenTransfer.value, 7n);
      assert.equal(await provider.getBalance(depositAddress), 7n);
      assert.equal(seenEvent.log.transactionHash, deposit.hash);
      assert.equal(seenEvent.args.amount, 11n);
    } finally {
      await provider.off("block", onBlock);
      await probe.off(filter, onDeposit);
    }
  });
});
