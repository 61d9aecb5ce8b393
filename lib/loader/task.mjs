// `pnpm task`: the CLI (lib/bin/task.ts) from the compiled tree (tree.mjs), on node alone. When the tree cannot
// be written (a read-only install), the module hooks of register.mjs run the TypeScript sources instead.
import { register } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compiledUrl, useTree } from './tree.mjs';

// The WebAssembly a run loads (sql.js reading gcloud's token cache, undici's HTTP parser) runs briefly, once:
// V8's optimising compiler would spend more CPU on it than it could ever save. Set before any is compiled.
setFlagsFromString('--liftoff-only');

const entry = fileURLToPath(new URL('../bin/task.ts', import.meta.url));
let url;
try {
  url = await compiledUrl(entry);
  useTree();
  // Stack traces, shown with --verbose only, name the TypeScript sources and lines rather than the tree; reading
  // every module's source map costs a tenth of a cached run, so other runs skip it.
  if (process.argv.includes('--verbose') || process.argv.includes('-v')) process.setSourceMapsEnabled(true);
} catch {
  register('./hooks.mjs', import.meta.url);
  url = pathToFileURL(entry).href;
}
await import(url);
