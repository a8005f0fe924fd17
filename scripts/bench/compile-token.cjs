// Compile BenchToken.sol with the pinned solc-js into BenchToken.json.
//
// Usage: npm ci && npm run build-token   (from scripts/bench/)
//
// The settings match contracts/compile.js (Prague, optimizer 200 runs, no metadata hash),
// so a rebuild from the same source and compiler is byte-identical.
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");

const ROOT = __dirname;
const SOURCE = "BenchToken.sol";
const CONTRACT = "BenchToken";
const EXPECTED_SOLC_VERSION = require("./package.json").dependencies.solc;

const SETTINGS = {
  evmVersion: "prague",
  optimizer: { enabled: true, runs: 200 },
  metadata: { bytecodeHash: "none" },
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

function findImport(importPath) {
  const candidate = path.join(ROOT, "node_modules", importPath);
  if (fs.existsSync(candidate)) {
    return { contents: fs.readFileSync(candidate, "utf8") };
  }
  return { error: `import not found: ${importPath} (did "npm ci" run in scripts/bench/?)` };
}

function main() {
  const compilerVersion = solc.version();
  if (!compilerVersion.startsWith(`${EXPECTED_SOLC_VERSION}+`)) {
    throw new Error(
      `solc-js reports version ${compilerVersion} but package.json pins ${EXPECTED_SOLC_VERSION}; ` +
        'run "npm ci" in scripts/bench/'
    );
  }
  const input = {
    language: "Solidity",
    sources: { [SOURCE]: { content: fs.readFileSync(path.join(ROOT, SOURCE), "utf8") } },
    settings: SETTINGS,
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const diagnostics = output.errors || [];
  for (const diagnostic of diagnostics) {
    process.stderr.write(diagnostic.formattedMessage || diagnostic.message);
  }
  if (diagnostics.some((diagnostic) => diagnostic.severity === "error")) {
    throw new Error("compilation failed; see the errors above");
  }

  const compiled = output.contracts[SOURCE][CONTRACT];
  const artefact = {
    contractName: CONTRACT,
    sourceName: SOURCE,
    compiler: { name: "solc", version: compilerVersion },
    settings: { evmVersion: SETTINGS.evmVersion, optimizer: SETTINGS.optimizer, metadata: SETTINGS.metadata },
    abi: compiled.abi,
    bytecode: `0x${compiled.evm.bytecode.object}`,
    deployedBytecode: `0x${compiled.evm.deployedBytecode.object}`,
  };
  const outPath = path.join(ROOT, `${CONTRACT}.json`);
  fs.writeFileSync(outPath, `${JSON.stringify(artefact, null, 2)}\n`);
  process.stdout.write(`wrote ${path.relative(ROOT, outPath)}\n`);
}

main();
