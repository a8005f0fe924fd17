// viem against a running Kura node, over HTTP and WebSocket: chain id, deployment,
// an ether transfer, receipts, decoded events, a deposit address watched through
// eth_subscribe, and reverts with a reason string and a custom error.
//
// Usage: node tests/js/viem_suite.mjs <rpc-url>
// tests/clients/test_js_clients.py starts a `kura dev` node and runs this file; run
// `npm ci` in tests/js first. The node must be a dev chain (chain id 1337, the
// Hardhat mnemonic's accounts funded).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";

import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  defineChain,
  getContractAddress,
  http,
  isAddressEqual,
  parseEventLogs,
  parseGwei,
  webSocket,
} from "viem";
import { generatePrivateKey, mnemonicToAccount, privateKeyToAddress } from "viem/accounts";

const RPC_URL = process.argv[2];
if (!RPC_URL) {
  console.error("usage: node tests/js/viem_suite.mjs <rpc-url>");
  process.exit(2);
}
const WS_URL = RPC_URL.replace(/^http/, "ws");
const MNEMONIC = "test test test test test test test test test test test junk";
const ARTIFACT = JSON.parse(readFileSync(new URL("../contracts/build/Probe.json", import.meta.url), "utf8"));
const INITIAL_COUNT = 7n;
const EVENT_TIMEOUT_MS = 30_000;
// Dev accounts this suite sends from; the ethers suites use 0-5 and 10-12 on their own nodes.
const DEPLOYER = 13;
const SENDER = 14;
const DEPOSITOR = 15;

const kuraDev = defineChain({
  id: 1337,
  name: "Kura dev",
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [RPC_URL], webSocket: [WS_URL] } },
});

function account(index) {
  return mnemonicToAccount(MNEMONIC, { addressIndex: index });
}

function wallet(index) {
  return createWalletClient({ account: account(index), chain: kuraDev, transport: http(RPC_URL) });
}

function withTimeout(promise, milliseconds, description) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${description} did not happen within ${milliseconds} ms`)), milliseconds);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function revertOf(error) {
  assert.ok(error instanceof BaseError, `expected a viem error, got ${error}`);
  const reverted = error.walk((cause) => cause instanceof ContractFunctionRevertedError);
  assert.ok(reverted, `no ContractFunctionRevertedError in ${error.shortMessage}`);
  return reverted;
}

describe("Kura JSON-RPC with viem", () => {
  const client = createPublicClient({ chain: kuraDev, transport: http(RPC_URL), pollingInterval: 200 });
  let wsClient;
  let probe;
  let deployReceipt;

  before(async () => {
    wsClient = createPublicClient({ chain: kuraDev, transport: webSocket(WS_URL) });
    const hash = await wallet(DEPLOYER).deployContract({
      abi: ARTIFACT.abi,
      bytecode: ARTIFACT.bytecode,
      args: [INITIAL_COUNT],
    });
    deployReceipt = await client.waitForTransactionReceipt({ hash });
    probe = deployReceipt.contractAddress;
  });

  after(async () => {
    await wsClient?.transport.getRpcClient().then((rpc) => rpc.close());
  });

  test("chain id over HTTP and WebSocket", async () => {
    assert.equal(await client.getChainId(), 1337);
    assert.equal(await wsClient.getChainId(), 1337);
    assert.ok((await wsClient.getBlockNumber()) >= deployReceipt.blockNumber);
  });

  test("deployment receipt names the contract", async () => {
    const deployment = await client.getTransaction({ hash: deployReceipt.transactionHash });
    assert.equal(deployReceipt.status, "success");
    const expected = getContractAddress({ from: account(DEPLOYER).address, nonce: BigInt(deployment.nonce) });
    assert.ok(isAddressEqual(probe, expected), `contract at ${probe}, expected ${expected}`);
    assert.equal(await client.getCode({ address: probe }), ARTIFACT.deployedBytecode);
    const count = await client.readContract({ address: probe, abi: ARTIFACT.abi, functionName: "count" });
    assert.equal(count, INITIAL_COUNT);
  });

  test("ether transfer", async () => {
    const sender = wallet(SENDER);
    const recipient = privateKeyToAddress(generatePrivateKey());
    const value = parseGwei("3");
    const hash = await sender.sendTransaction({ to: recipient, value });
    const receipt = await client.waitForTransactionReceipt({ hash });
    const before = await client.getBalance({ address: sender.account.address, blockNumber: receipt.blockNumber - 1n });
    const after = await client.getBalance({ address: sender.account.address, blockNumber: receipt.blockNumber });

    assert.equal(receipt.status, "success");
    assert.equal(await client.getBalance({ address: recipient }), value);
    assert.equal(before - after, value + receipt.gasUsed * receipt.effectiveGasPrice);
  });

  test("contract call emits a decoded event", async () => {
    const sender = wallet(SENDER);
    const { request } = await client.simulateContract({
      account: sender.account,
      address: probe,
      abi: ARTIFACT.abi,
      functionName: "increment",
      args: [3n],
    });
    const hash = await sender.writeContract(request);
    const receipt = await client.waitForTransactionReceipt({ hash });
    const [event] = parseEventLogs({ abi: ARTIFACT.abi, logs: receipt.logs, eventName: "Incremented" });

    assert.equal(receipt.status, "success");
    assert.equal(event.args.caller, sender.account.address);
    assert.equal(event.args.step, 3n);
    const logs = await client.getContractEvents({
      address: probe,
      abi: ARTIFACT.abi,
      eventName: "Incremented",
      args: { caller: sender.account.address },
      fromBlock: deployReceipt.blockNumber,
    });
    assert.deepEqual(
      logs.map((log) => log.transactionHash),
      [hash],
    );
  });

  test("revert reason string", async () => {
    await assert.rejects(
      client.simulateContract({
        account: account(SENDER),
        address: probe,
        abi: ARTIFACT.abi,
        functionName: "increment",
        args: [0n],
      }),
      (error) => {
        assert.equal(revertOf(error).reason, "Probe: step is zero");
        return true;
      },
    );
  });

  test("custom error decodes", async () => {
    await assert.rejects(
      client.readContract({ address: probe, abi: ARTIFACT.abi, functionName: "increment", args: [1_000n] }),
      (error) => {
        const reverted = revertOf(error);
        assert.equal(reverted.data?.errorName, "StepTooLarge");
        assert.deepEqual([...reverted.data.args], [1_000n, 100n]);
        return true;
      },
    );
  });

  test("reverted transaction has a failed receipt", async () => {
    const sender = wallet(SENDER);
    const hash = await sender.writeContract({
      address: probe,
      abi: ARTIFACT.abi,
      functionName: "increment",
      args: [0n],
      gas: 100_000n,
    });
    const receipt = await client.waitForTransactionReceipt({ hash });
    assert.equal(receipt.status, "reverted");
    assert.deepEqual(receipt.logs, []);
  });

  test("deposit address watched through eth_subscribe", async () => {
    const depositor = wallet(DEPOSITOR);
    const depositAddress = privateKeyToAddress(generatePrivateKey());
    const stops = [];
    // An exchange scans each new block for transfers to its deposit addresses...
    const transferSeen = new Promise((resolve) => {
      stops.push(
        wsClient.watchBlocks({
          includeTransactions: true,
          onBlock: (block) => {
            const found = block.transactions.find((tx) => tx.to && isAddressEqual(tx.to, depositAddress));
            if (found) resolve(found);
          },
        }),
      );
    });
    // ...and watches token-style events that name the depositor.
    const eventSeen = new Promise((resolve) => {
      stops.push(
        wsClient.watchContractEvent({
          address: probe,
          abi: ARTIFACT.abi,
          eventName: "Deposited",
          args: { sender: depositor.account.address },
          onLogs: (logs) => resolve(logs[0]),
        }),
      );
    });
    try {
      // Let both subscriptions reach the node before anything is sent.
      await wsClient.getBlockNumber();
      const transferHash = await depositor.sendTransaction({ to: depositAddress, value: 7n });
      const depositHash = await depositor.writeContract({
        address: probe,
        abi: ARTIFACT.abi,
        functionName: "deposit",
        value: 11n,
      });

      const transfer = await withTimeout(transferSeen, EVENT_TIMEOUT_MS, "the block with the deposit transfer");
      const event = await withTimeout(eventSeen, EVENT_TIMEOUT_MS, "the Deposited event");

      assert.equal(transfer.hash, transferHash);
      assert.equal(transfer.value, 7n);
      assert.equal(await client.getBalance({ address: depositAddress }), 7n);
      assert.equal(event.transactionHash, depositHash);
      assert.equal(event.args.amount, 11n);
    } finally {
      for (const stop of stops) stop();
    }
  });
});
