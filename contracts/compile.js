// Compile the Solidity sources with the pinned solc-js and write one artefact per contract.
//
// Usage: node compile.js   (run from contracts/, after `npm ci`)
//
// Sources under src/ go to build/<Name>.json; test-only contracts under test/ go to
// build/test/<Name>.json. The output depends only on the sources, the pinned compiler and
// the settings below: metadata.bytecodeHash is "none" and the JSON is written with a fixed
// key order, so a rebuild from the same tree is byte-identical.
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");

const ROOT = __dirname;
const BUILD_DIR = path.join(ROOT, "build");
const SOURCE_DIRS = [
  { dir: "src", outDir: BUILD_DIR },
  { dir: "test", outDir: path.join(BUILD_DIR, "test") },
];
const EXPECTED_SOLC_VERSION = require("./package.json").dependencies.solc;

const SETTINGS = {
  evmVersion: "prague",
  optimizer: { enabled: true, runs: 200 },
  metadata: { bytecodeHash: "none" },
  outputSelection: {
    "*": {
      "*": [
        "abi",
        "evm.bytecode.object",
        "evm.deployedBytecode.object",
        "evm.deployedBytecode.immutableReferences",
      ],
    },
  },
};

function listSources() {
  const sources = {};
  const outDirBySource = {};
  for (const { dir, outDir } of SOURCE_DIRS) {
    const absDir = path.join(ROOT, dir);
    if (!fs.existsSync(absDir)) continue;
    for (const name of fs.readdirSync(absDir).sort()) {
      if (!name.endsWith(".sol")) continue;
      const sourceName = `${dir}/${name}`;
      sources[sourceName] = { content: fs.readFileSync(path.join(absDir, name), "utf8") };
      outDirBySource[sourceName] = outDir;
    }
  }
  return { sources, outDirBySource };
}

// Resolve imports that solc cannot find among the given sources: npm packages from
// node_modules/, anything else relative to contracts/.
function findImport(importPath) {
  const candidates = [path.join(ROOT, "node_modules", importPath), path.join(ROOT, importPath)];
  for (const candidate of candidates) {
    if (fs.existsSync(candidate)) {
      return { contents: fs.readFileSync(candidate, "utf8") };
    }
  }
  return { error: `import not found: ${importPath} (did "npm ci" run in contracts/?)` };
}

function main() {
  const compilerVersion = solc.version();
  if (!compilerVersion.startsWith(`${EXPECTED_SOLC_VERSION}+`)) {
    throw new Error(
      `solc-js reports version ${compilerVersion} but package.json pins ${EXPECTED_SOLC_VERSION}; ` +
        'run "npm ci" in contracts/'
    );
  }

  const { sources, outDirBySource } = listSources();
  const input = { language: "Solidity", sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));

  const diagnostics = output.errors || [];
  for (const diagnostic of diagnostics) {
    process.stderr.write(diagnostic.formattedMessage || diagnostic.message);
  }
  if (diagnostics.some((diagnostic) => diagnostic.severity === "error")) {
    throw new Error("compilation failed; see the errors above");
  }

  // Start from an empty build/ so artefacts of deleted contracts do not linger.
  fs.rmSync(BUILD_DIR, { recursive: true, force: true });
  let written = 0;
  for (const sourceName of Object.keys(outDirBySource).sort()) {
    const contracts = output.contracts[sourceName] || {};
    for (const contractName of Object.keys(contracts).sort()) {
      const evm = contracts[contractName].evm;
      const artefact = {
        contractName,
        sourceName,
        compiler: { name: "solc", version: compilerVersion },
        settings: { evmVersion: SETTINGS.evmVersion, optimizer: SETTINGS.optimizer, metadata: SETTINGS.metadata },
        abi: contracts[contractName].abi,
        bytecode: `0x${evm.bytecode.object}`,
        deployedBytecode: `0x${evm.deployedBytecode.object}`,
        immutableReferences: evm.deployedBytecode.immutableReferences || {},
      };
      const outDir = outDirBySource[sourceName];
      fs.mkdirSync(outDir, { recursive: true });
      const outPath = path.join(outDir, `${contractName}.json`);
      fs.writeFileSync(outPath, `${JSON.stringify(artefact, null, 2)}\n`);
      written += 1;
      process.stdout.write(`wrote ${path.relative(ROOT, outPath)}\n`);
    }
  }
  if (written === 0) {
    throw new Error("no contracts compiled; check src/ and test/");
  }
}

main();
