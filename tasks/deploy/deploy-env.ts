// What a deployed service is given: its declared non-secret variables, with the values the
// infra data owns (project, region, resource names, the Cloud SQL socket) taken from there, and the
// other services' URLs. Plus the production rules, checked before any
// gcloud call: no literal secrets, no http:// service URLs, no debug endpoints.
import path from 'node:path';
import { UserError } from '../../lib/engine/errors.js';
import type { ResolvedInfra, ResolvedService } from '../../lib/gcp/infra.js';
import type { PreflightContext, TaskContext } from '../../lib/engine/types.js';

const PLACEHOLDER = /^\$\{SECRET_[A-Z0-9_]+\}$/;
/**
 * A URL on this machine's loopback interface: its traffic never crosses a network, so plain http/ws is not
 * the exposure the https rule is about. This is where the sandbox's Cloud Run URLs
 * (`http://127.0.0.1:<port>/__run/…`, standing in for `https://…run.app`) pass the production rules; no
 * other rule knows about them.
 */
const LOCAL_ONLY_URL = /^(https?|wss?):\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/i;

/** One reason a production value must not be deployed, and the key that holds it. */
interface ProductionProblem { key: string; text: string }

function productionProblems(vars: Readonly<Record<string, string>>, infra: ResolvedInfra): ProductionProblem[] {
  const problems: ProductionProblem[] = [];
  for (const secret of infra.secrets) {
    const value = vars[secret.envVar];
    if (value !== undefined && value !== '' && !PLACEHOLDER.test(value)) {
      problems.push({ key: secret.envVar, text: `${secret.envVar} holds a literal value: write \${SECRET_${secret.envVar}} (Secret Manager's ${secret.name} provides it) or remove the line` });
    }
  }
  for (const service of infra.services) {
    // Schemes and hosts are case-insensitive, and surrounding spaces do not stop a URL parser: check as a client reads it.
    const url = vars[service.urlEnvVar]?.trim();
    if (url && /^(http|ws):\/\//i.test(url) && !LOCAL_ONLY_URL.test(url)) {
      problems.push({ key: service.urlEnvVar, text: `${service.urlEnvVar} is ${url}: production services are reached over ${service.urlScheme}:// (deploy writes the right URL; remove the line or fix it)` });
    }
  }
  if (vars.ENABLE_DEBUG_ENDPOINTS === 'true') problems.push({ key: 'ENABLE_DEBUG_ENDPOINTS', text: 'ENABLE_DEBUG_ENDPOINTS is true: debug endpoints stay off in production (set it to false)' });
  return problems;
}

/**
 * Every reason the values of a production run must not reach production, each naming the key to fix and,
 * when `sources` knows it, where the value is set (`.env`, `.env.production.local`, the environment).
 */
export function productionEnvProblems(vars: Readonly<Record<string, string>>, infra: ResolvedInfra, sources: Readonly<Record<string, string>> = {}): string[] {
  return productionProblems(vars, infra).map((p) => describeProblem(p, sources));
}

const describeProblem = (p: ProductionProblem, sources: Readonly<Record<string, string>>) => (sources[p.key] ? `${p.text} [set in ${sources[p.key]}]` : p.text);

/** Preflight of build and deploy tasks: throws one UserError listing every production problem (nothing for development). */
export function assertDeployableEnv(ctx: PreflightContext): void {
  if (ctx.env !== 'production') return;
  const problems = productionProblems(ctx.vars, ctx.infra);
  if (!problems.length) return;
  // Name the places that hold the values (a literal secret may sit in .env or .env.production.local, not in .env.production).
  const holders = [...new Set(problems.map((p) => ctx.envSources[p.key]).filter((s): s is string => !!s))];
  const files = holders.filter((h) => h.startsWith('.env'));
  const where = holders.length
    ? [...(files.length ? [`${files.join(', ')} (in ${path.dirname(ctx.envFilePath)})`] : []), ...holders.filter((h) => !h.startsWith('.env'))].join(' and ')
    : `${ctx.envFilePath} (or the shell environment, which wins over the file)`;
  const lines = problems.map((p) => `  ${describeProblem(p, ctx.envSources)}`);
  throw new UserError(`The production settings are not safe to deploy (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`, {
    hint: `Fix them in ${where}; nothing was deployed.`,
  });
}

/**
 * The plain env variables of a service: its declared keys with values from the env (never `${SECRET_*}`
 * placeholders, never the secrets themselves), values the infra data owns, DATABASE_HOST as the Cloud SQL
 * socket for database services, and `peerUrls` (the other services' URL variables).
 */
export function serviceEnvVars(
  ctx: Pick<TaskContext, 'env' | 'vars' | 'infra' | 'project' | 'region'>,
  service: ResolvedService,
  peerUrls: Record<string, string>,
): Record<string, string> {
  const { infra } = ctx;
  const secretKeys = new Set(infra.secrets.map((s) => s.envVar));
  const owned: Record<string, string> = {
    NODE_ENV: ctx.env,
    GCP_PROJECT_ID: ctx.project,
    GCP_REGION: ctx.region,
    DATABASE_NAME: infra.sql.database,
    DATABASE_USER: infra.sql.user,
    CLOUD_SQL_CONNECTION_NAME: infra.sql.connectionName,
    ...Object.fromEntries(infra.buckets.map((b) => [b.envVar, b.name])),
  };
  const vars: Record<string, string> = {};
  for (const key of service.env) {
    if (secretKeys.has(key)) continue;
    const value = owned[key] ?? ctx.vars[key];
    if (value !== undefined && value !== '' && !PLACEHOLDER.test(value)) vars[key] = value;
  }
  if (service.needs.database) vars.DATABASE_HOST = infra.sql.socketPath;
  return { ...vars, ...peerUrls };
}

/** `--set-secrets` value: every secret as an env variable from Secret Manager's latest version. */
export function secretsFlag(infra: ResolvedInfra): string {
  return infra.secrets.map((s) => `${s.envVar}=${s.name}:latest`).join(',');
}

/**
 * A KEY=VALUE list for gcloud dict flags. Values may contain commas (CORS_ORIGIN): then gcloud's
 * alternate-delimiter syntax `^D^K=V DK2=V2` is used, with a delimiter no key or value contains.
 */
export function dictFlag(entries: Record<string, string>): string {
  const pairs = Object.entries(entries).map(([k, v]) => `${k}=${v}`);
  if (!pairs.some((p) => p.includes(','))) return pairs.join(',');
  const delimiter = ['@', '|', '~', ';', '#', '%', '!'].find((d) => !pairs.some((p) => p.includes(d)));
  if (!delimiter) throw new UserError('An env value contains every delimiter gcloud could use (, @ | ~ ; # % !).', { hint: 'Simplify the value.' });
  return `^${delimiter}^${pairs.join(delimiter)}`;
}
