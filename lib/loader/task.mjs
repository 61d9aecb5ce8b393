// `pnpm task`: the CLI (lib/bin/task.ts) and the config it will load, compiled together into one program
// (program.mjs), on node alone. When a program cannot be written (a read-only install), the module hooks of
// register.mjs run the TypeScript sources instead.
import * as fs from 'node:fs';
import { register } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compileProgram, useProgram } from './program.mjs';

// The WebAssembly a run loads (sql.js reading gcloud's token cache, undici's HTTP parser) runs briefly, once:
// V8's optimising compiler would spend more CPU on it than it could ever save. Set before any is compiled.
setFlagsFromString('--liftoff-only');

const source = (rel) => fileURLToPath(new URL(rel, import.meta.url));
const cli = source('../bin/task.ts');
const args = source('../engine/args.ts');

/** The program of the CLI and of the config this command line names, when that config compiles. */
async function program() {
  const argsProgram = await compileProgram([args]);
  const { configFileOfArgv } = await import(pathToFileURL(`${argsProgram.dir}/${argsProgram.entries[args]}`).href);
  const config = configFileOfArgv(process.argv.slice(2), process.cwd());
  if (fs.existsSync(config) && fs.statSync(config).isFile()) {
    // A config that does not compile is reported by the run when it loads it, as any other broken config.
    const withConfig = await compileProgram([cli, config]).catch(() => undefined);
    if (withConfig) return withConfig;
  }
  return compileProgram([cli]);
}

let url;
try {
  const compiled = await program();
  useProgram(compiled);
  url = pathToFileURL(`${compiled.dir}/${compiled.entries[cli]}`).href;
  // Stack traces, shown with --verbose only, name the TypeScript sources and lines rather than the program;
  // reading the source maps costs a tenth of a cached run, so other runs skip it.
  if (process.argv.includes('--verbose') || process.argv.includes('-v')) process.setSourceMapsEnabled(true);
} catch {
  register('./hooks.mjs', import.meta.url);
  url = pathToFileURL(cli).href;
}
await import(url);
