// `pnpm task`: the CLI (lib/bin/task.ts) and the config it will load, compiled together into one program
// (program.cjs), on node alone. When a program cannot be written (a read-only install), the module hooks of
// register.mjs run the TypeScript sources instead. CommonJS, as the program is: node starts no ES module
// loader for a run that has nothing to do.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { register } = require('node:module');
const { setFlagsFromString } = require('node:v8');
const { pathToFileURL } = require('node:url');
const { compileProgram, runProgram } = require('./program.cjs');

// The WebAssembly a run loads (sql.js reading gcloud's token cache, undici's HTTP parser) runs briefly, once:
// V8's optimising compiler would spend more CPU on it than it could ever save. Set before any is compiled.
setFlagsFromString('--liftoff-only');

const cli = path.join(__dirname, '..', 'bin', 'task.ts');

/** The config file this command line names, read by the CLI's own argument parser (a small program of its own). */
async function configFile() {
  const args = await compileProgram(path.join(__dirname, '..', 'engine', 'args.ts'));
  const { configFileOfArgv } = require(args.file);
  return configFileOfArgv(process.argv.slice(2), process.cwd());
}

async function main() {
  // A config that does not compile into the program (a syntax error, or a top-level await, which a CommonJS
  // script cannot hold) runs under the module hooks: the run then reports the error, or waits on that await.
  let program;
  try {
    const config = await configFile();
    program = await (fs.existsSync(config) && fs.statSync(config).isFile() ? compileProgram(cli, [config]) : compileProgram(cli));
  } catch {
    register('./hooks.mjs', pathToFileURL(__filename));
  }
  if (program) {
    // Stack traces, shown with --verbose only, name the TypeScript sources and lines rather than the program;
    // reading the source map costs more than a cached run, so other runs skip it.
    await runProgram(program, { sourceMaps: process.argv.includes('--verbose') || process.argv.includes('-v') });
  } else {
    await import(pathToFileURL(cli).href);
  }
}

main().catch((error) => {
  // Only the launcher's own failures land here: the CLI reports its errors itself.
  console.error(error);
  process.exitCode = 1;
});
