// Compile tests/contracts/*.sol with the solc-js that contracts/package.json pins, and
// write tests/contracts/build/<Name>.json (abi, bytecode, deployedBytecode).
//
// Usage: node scripts/build_test_contracts.js   (scripts/build_test_contracts.sh wraps it)
//
// The output depends only on the sources, the pinned compiler and the settings below:
// metadata.bytecodeHash is "none" and the JSON is written with a fixed key order, so a
// rebuild from the same tree is byte-identical. The Python tests read these artefacts
// and need no Node.js.
"use strict";

const fs = require("fs");
const path = require("path");

const REPO = path.resolve(__dirname, "..");
const CONTRACTS_PACKAGE = path.join(REPO, "contracts");
const SOURCE_DIR = path.join(REPO, "tests", "contracts");
const BUILD_DIR = path.join(SOURCE_DIR, "build");
const EXPECTED_SOLC_VERSION = require(path.join(CONTRACTS_PACKAGE, "package.json")).dependencies.solc;

const SETTINGS = {
  evmVersion: "prague",
  optimizer: { enabled: true, runs: 200 },
  metadata: { bytecodeHash: "none" },
  outputSelection: {
    "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
  },
};

function loadSolc() {
  try {
    return require(path.join(CONTRACTS_PACKAGE, "node_modules", "solc"));
  } catch (error) {
    throw new Error(`solc-js not found in contracts/node_modules (${error.message}); run "npm ci" in contracts/`);
  }
}

function main() {
  const solc = loadSolc();
  const compilerVersion = solc.version();
  if (!compilerVersion.startsWith(`${EXPECTED_SOLC_VERSION}+`)) {
    throw new Error(
      `solc-js reports version ${compilerVersion} but contracts/package.json pins ` +
        `${EXPECTED_SOLC_VERSION}; run "npm ci" in contracts/`
    );
  }

  const sources = {};
  for (const name of fs.readdirSync(SOURCE_DIR).sort()) {
    if (name.endsWith(".sol")) {
      sources[name] = { content: fs.readFileSync(path.join(SOURCE_DIR, name), "utf8") };
    }
  }
  if (Object.keys(sources).length === 0) {
    throw new Error(`no .sol files in ${SOURCE_DIR}`);
  }

  const input = { language: "Solidity", sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const diagnostics = output.errors || [];
  for (const diagnostic of diagnostics) {
    process.stderr.write(diagnostic.formattedMessage || diagnostic.message);
  }
  if (diagnostics.some((diagnostic) => diagnostic.severity === "error")) {
    throw new Error("compilation failed; see the errors above");
  }

  // Start from an empty build/ so artefacts of deleted contracts do not linger.
  fs.rmSync(BUILD_DIR, { recursive: true, force: true });
  fs.mkdirSync(BUILD_DIR, { recursive: true });
  for (const sourceName of Object.keys(sources)) {
    const contracts = output.contracts[sourceName] || {};
    for (const contractName of Object.keys(contracts).sort()) {
      const evm = contracts[contractName].evm;
      const artefact = {
        contractName,
        sourceName: `tests/contracts/${sourceName}`,
        compiler: { name: "solc", version: compilerVersion },
        settings: { evmVersion: SETTINGS.evmVersion, optimizer: SETTINGS.optimizer, metadata: SETTINGS.metadata },
        abi: contracts[contractName].abi,
        bytecode: `0x${evm.bytecode.object}`,
        deployedBytecode: `0x${evm.deployedBytecode.object}`,
      };
      const outPath = path.join(BUILD_DIR, `${contractName}.json`);
      fs.writeFileSync(outPath, `${JSON.stringify(artefact, null, 2)}\n`);
      process.stdout.write(`wrote ${path.relative(REPO, outPath)}\n`);
    }
  }
}

main();
