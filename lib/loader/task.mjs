// `pnpm task`: the CLI (lib/bin/task.ts) and the config it will load, compiled together into one program
// (program.mjs), on node alone. When a program cannot be written (a read-only install), the module hooks of
// register.mjs run the TypeScript sources instead.
import * as fs from 'node:fs';
import { createRequire, register } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compileProgram, runProgram } from './program.mjs';

// The WebAssembly a run loads (sql.js reading gcloud's token cache, undici's HTTP parser) runs briefly, once:
// V8's optimising compiler would spend more CPU on it than it could ever save. Set before any is compiled.
setFlagsFromString('--liftoff-only');

const source = (rel) => fileURLToPath(new URL(rel, import.meta.url));
const cli = source('../bin/task.ts');

/** The config file this command line names, read by the CLI's own argument parser (a small program of its own). */
async function configFile() {
  const args = await compileProgram(source('../engine/args.ts'));
  const { configFileOfArgv } = createRequire(import.meta.url)(args.file); // a CommonJS script: no ES module wrapper to build
  return configFileOfArgv(process.argv.slice(2), process.cwd());
}

// A config that does not compile into the program (a syntax error, or a top-level await, which a CommonJS
// script cannot hold) runs under the module hooks: the run then reports the error, or waits on that await.
let program;
try {
  const config = await configFile();
  program = await (fs.existsSync(config) && fs.statSync(config).isFile() ? compileProgram(cli, [config]) : compileProgram(cli));
} catch {
  register('./hooks.mjs', import.meta.url);
}
if (program) {
  // Stack traces, shown with --verbose only, name the TypeScript sources and lines rather than the program;
  // reading the source map costs more than a cached run, so other runs skip it.
  await runProgram(program, { sourceMaps: process.argv.includes('--verbose') || process.argv.includes('-v') });
} else {
  await import(pathToFileURL(cli).href);
}
