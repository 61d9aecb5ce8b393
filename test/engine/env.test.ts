// Env files as users write them: the values naive parsers corrupt load intact, broken lines are named
// with file and line, process variables win over files, ${SECRET_*} placeholders are not loaded.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, statSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { loadEnv, lintEnvText } from '../../lib/engine/env.js';
import { createEnvFile } from '../../lib/engine/envfile.js';
import { UserError } from '../../lib/engine/errors.js';
import { redact } from '../../lib/engine/redact.js';

const dirs: string[] = [];
function project(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gt-env-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}
const load = (dir: string, env: 'development' | 'production' = 'development', processEnv: NodeJS.ProcessEnv = {}, schema?: z.ZodType<Record<string, string>>) =>
  loadEnv({ dir, env, processEnv, schema });

function failure(fn: () => unknown): UserError {
  try {
    fn();
  } catch (error) {
    assert.instance(error, UserError);
    return error as UserError;
  }
  throw new Error('expected a UserError');
}

test('values naive parsers corrupt load intact', () => {
  const dir = project({
    '.env': [
      'HASH_IN_QUOTES="abc#def"',
      "SINGLE='x # y'",
      'BASE64=dGVzdA==',
      "APOSTROPHE=O'Brien",
      'DOUBLE_APOS="it\'s fine"',
      'UNICODE=café ☕ 東京',
      'SPACES_AROUND =  trimmed  ',
      'export EXPORTED=yes',
      'EMPTY=',
      'URL=postgresql://u:p@127.0.0.1:5432/db?sslmode=disable',
      'LAST_NO_NEWLINE=last',
    ].join('\n'),
  });
  const { vars } = load(dir);
  assert.is(vars.HASH_IN_QUOTES, 'abc#def');
  assert.is(vars.SINGLE, 'x # y');
  assert.is(vars.BASE64, 'dGVzdA==');
  assert.is(vars.APOSTROPHE, "O'Brien");
  assert.is(vars.DOUBLE_APOS, "it's fine");
  assert.is(vars.UNICODE, 'café ☕ 東京');
  assert.is(vars.SPACES_AROUND, 'trimmed');
  assert.is(vars.EXPORTED, 'yes');
  assert.is(vars.EMPTY, '');
  assert.is(vars.URL, 'postgresql://u:p@127.0.0.1:5432/db?sslmode=disable');
  assert.is(vars.LAST_NO_NEWLINE, 'last');
});

test('precedence: process env > .env.<env>.local > .env.<env> > .env; other environments are not read', () => {
  const dir = project({
    '.env': 'A=base\nB=base\nC=base\nD=base\n',
    '.env.production': 'B=prod\nC=prod\nD=prod\n',
    '.env.production.local': 'C=local\nD=local\n',
    '.env.development': 'A=dev\nB=dev\n',
  });
  const { vars, files } = load(dir, 'production', { D: 'shell' });
  assert.equal([vars.A, vars.B, vars.C, vars.D], ['base', 'prod', 'local', 'shell']);
  assert.equal(files.map((f) => path.basename(f)), ['.env', '.env.production', '.env.production.local']);
});

test('${SECRET_*} placeholders are not loaded, and a later file cannot resurrect an earlier literal', () => {
  const dir = project({ '.env': 'JWT_SECRET=literal-from-base\n', '.env.production': 'JWT_SECRET=${SECRET_JWT}\nOTHER=${NOT_A_SECRET}\n' });
  const { vars, placeholders } = load(dir, 'production');
  assert.not.ok('JWT_SECRET' in vars);
  assert.equal(placeholders, ['JWT_SECRET']);
  assert.is(vars.OTHER, '${NOT_A_SECRET}');
});

test('broken lines are reported with file and line only (never their content), and nothing loads', () => {
  const dir = project({ '.env.development': 'GOOD=1\nthis is not a pair\n1BAD=x\nOPEN="never closed\nLAST=1\n' });
  const error = failure(() => load(dir));
  assert.match(error.message, '.env.development:2: not a KEY=value line');
  assert.match(error.message, '.env.development:3: not a valid variable name');
  for (const content of ['this', 'pair', '1BAD']) assert.not.match(error.message, content);
  assert.match(error.message, '.env.development:4: the quote opened here is never closed');
  assert.match(error.hint ?? '', 'nothing was run');
});

test('a key defined twice in one file is refused, naming both lines; across files the later file wins as before', () => {
  const dir = project({ '.env.production': 'FACE_PROCESSING_URL=https://a.example\nX="multi\nFACE_PROCESSING_URL=inside a value"\nexport FACE_PROCESSING_URL=https://b.example\n' });
  const error = failure(() => load(dir, 'production'));
  assert.match(error.message, '.env.production:4: FACE_PROCESSING_URL is already defined on line 1');
  assert.not.match(error.message, ':3:', 'a line inside a quoted value is not a definition');
  const layered = project({ '.env': 'LOG_LEVEL=info\n', '.env.development': 'LOG_LEVEL=debug\n' });
  assert.is(load(layered).vars.LOG_LEVEL, 'debug');
});

test('the values used are the values validated: surrounding whitespace trimmed by the schema is trimmed for the run', () => {
  const schema = z.object({ GCP_PROJECT_ID: z.string().trim(), GCP_REGION: z.string().trim() }).passthrough() as unknown as z.ZodType<Record<string, string>>;
  const dir = project({ '.env': "GCP_PROJECT_ID=' digitwin-sandbox'\nOTHER=' kept '\n" });
  const { vars } = load(dir, 'development', { GCP_REGION: 'us-central1\t' }, schema);
  assert.is(vars.GCP_PROJECT_ID, 'digitwin-sandbox');
  assert.is(vars.GCP_REGION, 'us-central1');
  assert.is(vars.OTHER, ' kept ', 'values the schema does not touch stay as written');
});

test('sources: each value names the file (or the environment) that holds it', () => {
  const dir = project({ '.env': 'A=1\nB=1\n', '.env.production.local': 'B=2\n' });
  const { sources } = load(dir, 'production', { C: '3' });
  assert.equal([sources.A, sources.B, sources.C], ['.env', '.env.production.local', 'the environment']);
});

test('multi-line quoted values are not mistaken for broken lines', () => {
  assert.equal(lintEnvText('KEY="line one\nline two"\nNEXT=1\n'), []);
  assert.equal(lintEnvText('# comment\n\n  \nexport A=1\r\nB=2'), []);
});

test('schema problems: every one named at once with where the value came from; secret values never echoed', () => {
  const schema = z.object({
    GCP_PROJECT_ID: z.string().regex(/^[a-z][-a-z0-9]{4,28}[a-z0-9]$/, 'must be a project id'),
    GCP_REGION: z.string(),
    DATABASE_PASSWORD: z.string().min(40, 'must be at least 40 characters'),
  }) as unknown as z.ZodType<Record<string, string>>;
  const dir = project({ '.env': 'GCP_PROJECT_ID=Bad_Project\nDATABASE_PASSWORD=hunter2-short-pw\n' });
  const error = failure(() => load(dir, 'development', {}, schema));
  assert.match(error.message, 'GCP_PROJECT_ID: must be a project id (from .env)');
  assert.match(error.message, 'GCP_REGION: is required but not set');
  assert.match(error.message, 'DATABASE_PASSWORD: must be at least 40 characters');
  assert.not.match(error.message, 'hunter2-short-pw');
  assert.is(redact('x hunter2-short-pw y'), 'x *** y');
});

test('env file writer: only the matching line changes, comments and order kept, created when missing', async () => {
  const dir = project({ '.env.production': '# Deployed URLs\nAPI_GATEWAY_URL=https://old.example\n\n# keep me\nexport WEBSOCKET_URL=wss://old\nOTHER="a # b"\n' });
  const file = path.join(dir, '.env.production');
  chmodSync(file, 0o600);
  const envFile = createEnvFile(file);
  await Promise.all([
    envFile.set({ API_GATEWAY_URL: 'https://new.example' }),
    envFile.set({ WEBSOCKET_URL: 'wss://new', FACE_PROCESSING_URL: 'https://face' }),
  ]);
  assert.is(readFileSync(file, 'utf8'),
    '# Deployed URLs\nAPI_GATEWAY_URL=https://new.example\n\n# keep me\nexport WEBSOCKET_URL=wss://new\nOTHER="a # b"\nFACE_PROCESSING_URL=https://face\n');
  assert.is(statSync(file).mode & 0o777, 0o600);
  const fresh = createEnvFile(path.join(dir, '.env.development'));
  await fresh.set({ A: 'has space # and hash' });
  const { vars } = load(dir, 'development');
  assert.is(vars.A, 'has space # and hash');
});

test('env file writer: a line inside another key\'s multi-line value is never edited; a whole multi-line value is replaced', async () => {
  const text = 'CERT="-----BEGIN-----\nAPI_GATEWAY_URL=https://inside.example\n-----END-----"\nAPI_GATEWAY_URL=https://old.example\nNOTE="two\nlines"\n';
  const dir = project({ '.env.production': text });
  const file = path.join(dir, '.env.production');
  await createEnvFile(file).set({ API_GATEWAY_URL: 'https://new.example', NOTE: 'one line' });
  assert.is(readFileSync(file, 'utf8'), 'CERT="-----BEGIN-----\nAPI_GATEWAY_URL=https://inside.example\n-----END-----"\nAPI_GATEWAY_URL=https://new.example\nNOTE=\'one line\'\n');
  assert.equal(lintEnvText(readFileSync(file, 'utf8')), []);
  const { vars } = load(dir, 'production');
  assert.is(vars.API_GATEWAY_URL, 'https://new.example');
  assert.match(vars.CERT, 'API_GATEWAY_URL=https://inside.example');
});

test('env file writer: of a key defined twice, the last one (the one dotenv uses) is updated', async () => {
  const dir = project({ '.env.production': 'WEBSOCKET_URL=wss://first\nA=1\nWEBSOCKET_URL=wss://last\n' });
  const file = path.join(dir, '.env.production');
  await createEnvFile(file).set({ WEBSOCKET_URL: 'wss://new' });
  assert.is(readFileSync(file, 'utf8'), 'WEBSOCKET_URL=wss://first\nA=1\nWEBSOCKET_URL=wss://new\n');
});

test.after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
test.run();
