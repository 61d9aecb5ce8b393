// What a deployed service is given (properties 9, 16, 17, 23) and the production rules (requirement 5).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveInfra } from '../../../lib/gcp/infra.js';
import type { PreflightContext } from '../../../lib/engine/types.js';
import { assertDeployableEnv, dictFlag, productionEnvProblems, secretsFlag, serviceEnvVars } from '../../../tasks/deploy/deploy-env.js';
import { peerUrlVars } from '../../../tasks/deploy/rollout.js';
import type { RunService } from '../../../tasks/deploy/run-service.js';
import { infra as config } from '../../../tasks.config.js';

const prod = resolveInfra(config, { env: 'production', project: 'acme-prod', region: 'europe-west1', vars: {} });
const service = (key: string) => prod.services.find((s) => s.key === key)!;
const ctx = (vars: Record<string, string>) => ({ env: 'production' as const, vars, infra: prod, project: 'acme-prod', region: 'europe-west1' });

test('declared variables pass through; secrets, placeholders and undeclared local-only values do not', () => {
  const vars = serviceEnvVars(
    ctx({
      LOG_LEVEL: 'info',
      CORS_ORIGIN: 'https://app.example.com,https://admin.example.com',
      JWT_SECRET: 'literal-should-never-be-passed',
      DATABASE_PASSWORD: 'hunter2hunter2',
      ENABLE_API_DOCS: '${SECRET_ENABLE_API_DOCS}',
      DATABASE_URL: 'postgresql://postgres:pw@127.0.0.1:5432/db',
      API_GATEWAY_PORT: '3000',
      GCP_PROJECT_ID: 'someone-elses-project',
    }),
    service('api-gateway'),
    {},
  );
  assert.is(vars.LOG_LEVEL, 'info');
  assert.is(vars.CORS_ORIGIN, 'https://app.example.com,https://admin.example.com');
  for (const key of ['JWT_SECRET', 'DATABASE_PASSWORD', 'ENABLE_API_DOCS', 'DATABASE_URL', 'API_GATEWAY_PORT']) assert.is(vars[key], undefined, key);
  // Values the infra data owns come from there.
  assert.is(vars.GCP_PROJECT_ID, 'acme-prod');
  assert.is(vars.GCP_REGION, 'europe-west1');
  assert.is(vars.NODE_ENV, 'production');
  assert.is(vars.GCS_BUCKET_UPLOADS, 'clone-uploads-production');
  assert.is(vars.CLOUD_SQL_CONNECTION_NAME, 'acme-prod:europe-west1:digitwinlive-db');
});

test('database services reach Cloud SQL through the Unix socket; others get no DATABASE_HOST', () => {
  assert.is(serviceEnvVars(ctx({}), service('api-gateway'), {}).DATABASE_HOST, '/cloudsql/acme-prod:europe-west1:digitwinlive-db');
  assert.is(serviceEnvVars(ctx({}), service('face-processing-service'), {}).DATABASE_HOST, undefined);
});

test('every service gets the other services\' URLs, the websocket one as wss://', () => {
  const live = new Map<string, RunService>(
    [['api-gateway', 'https://api-gateway-123.europe-west1.run.app'], ['websocket-server', 'https://websocket-server-123.europe-west1.run.app'], ['face-processing-service', 'https://face-processing-service-123.europe-west1.run.app']]
      .map(([name, url]) => [name, { metadata: { name }, status: { url } }]),
  );
  assert.equal(peerUrlVars(prod, service('api-gateway'), live), {
    WEBSOCKET_URL: 'wss://websocket-server-123.europe-west1.run.app',
    FACE_PROCESSING_URL: 'https://face-processing-service-123.europe-west1.run.app',
  });
  assert.equal(Object.keys(peerUrlVars(prod, service('websocket-server'), live)).sort(), ['API_GATEWAY_URL', 'FACE_PROCESSING_URL']);
  live.delete('face-processing-service');
  assert.equal(Object.keys(peerUrlVars(prod, service('api-gateway'), live)), ['WEBSOCKET_URL'], 'a service that does not exist yet is left out');
});

test('secrets are mounted from Secret Manager by name', () => {
  assert.is(secretsFlag(prod), 'JWT_SECRET=jwt-secret:latest,REFRESH_SECRET=refresh-secret:latest,DATABASE_PASSWORD=database-password:latest');
});

test('env values with commas use gcloud\'s alternate delimiter', () => {
  assert.is(dictFlag({ A: '1', B: '2' }), 'A=1,B=2');
  assert.is(dictFlag({ CORS_ORIGIN: 'https://a,https://b', X: 'y' }), '^@^CORS_ORIGIN=https://a,https://b@X=y');
  assert.is(dictFlag({ A: 'a,b@c', B: 'x' }), '^|^A=a,b@c|B=x');
});

test('production refuses literal secrets, http:// service URLs and debug endpoints, naming each key', () => {
  const problems = productionEnvProblems(
    {
      JWT_SECRET: 'not-a-placeholder',
      REFRESH_SECRET: '${SECRET_REFRESH_SECRET}',
      API_GATEWAY_URL: 'http://api.example.com',
      WEBSOCKET_URL: 'ws://ws.example.com',
      FACE_PROCESSING_URL: 'https://face.example.com',
      ENABLE_DEBUG_ENDPOINTS: 'true',
    },
    prod,
  );
  assert.is(problems.length, 4, problems.join('\n'));
  assert.match(problems.join('\n'), /JWT_SECRET holds a literal value: write \$\{SECRET_JWT_SECRET\}/);
  assert.match(problems.join('\n'), /API_GATEWAY_URL is http:\/\/api.example.com/);
  assert.match(problems.join('\n'), /WEBSOCKET_URL is ws:\/\/ws.example.com: .* wss:\/\//);
  assert.match(problems.join('\n'), /ENABLE_DEBUG_ENDPOINTS is true/);
  assert.equal(productionEnvProblems({ ENABLE_DEBUG_ENDPOINTS: 'false', API_GATEWAY_URL: 'https://x.run.app' }, prod), []);
});

test('loopback service URLs (the sandbox\'s Cloud Run URLs) pass on their address alone; other http URLs do not', () => {
  const vars = { API_GATEWAY_URL: 'http://127.0.0.1:41234/__run/p/r/api-gateway', WEBSOCKET_URL: 'ws://127.0.0.1:41234/__run/p/r/websocket-server' };
  assert.equal(productionEnvProblems(vars, prod), []);
  assert.is(productionEnvProblems({ API_GATEWAY_URL: 'http://api.example.com', WEBSOCKET_URL: 'ws://10.0.0.7:8080/ws' }, prod).length, 2);
  assert.equal(productionEnvProblems({ API_GATEWAY_URL: 'https://api-gateway-abc123-uc.a.run.app', WEBSOCKET_URL: 'wss://websocket-server-abc123-uc.a.run.app' }, prod), []);
});

test('the production check throws one UserError listing everything, and development is not checked', () => {
  // The preflight context of a production run outside the sandbox (paths and args are not read).
  const preflight = (vars: Record<string, string>) => ({ ...ctx(vars), sandbox: false, envFilePath: '/somewhere/.env.production', envSources: {} }) as unknown as PreflightContext;
  try {
    assertDeployableEnv(preflight({ JWT_SECRET: 'x', ENABLE_DEBUG_ENDPOINTS: 'true' }));
    assert.unreachable('should have thrown');
  } catch (error) {
    assert.is((error as Error).name, 'UserError');
    assert.match((error as Error).message, /2 problems/);
    assert.match((error as { hint: string }).hint, /\/somewhere\/.env.production/);
  }
  assertDeployableEnv({ ...preflight({ JWT_SECRET: 'x' }), env: 'development' });
});

test('the production check names the file that holds each value, never the value', () => {
  const vars = { JWT_SECRET: 'literal-jwt-value-42', ENABLE_DEBUG_ENDPOINTS: 'true', API_GATEWAY_URL: 'http://api.example.com' };
  const envSources = { JWT_SECRET: '.env', ENABLE_DEBUG_ENDPOINTS: '.env.production.local', API_GATEWAY_URL: 'the environment' };
  const preflight = { ...ctx(vars), envFilePath: '/app/.env.production', envSources } as unknown as PreflightContext;
  try {
    assertDeployableEnv(preflight);
    assert.unreachable('should have thrown');
  } catch (error) {
    const { message, hint } = error as { message: string; hint: string };
    assert.match(message, 'JWT_SECRET holds a literal value: write ${SECRET_JWT_SECRET} (Secret Manager\'s jwt-secret provides it) or remove the line [set in .env]');
    assert.match(message, 'ENABLE_DEBUG_ENDPOINTS is true: debug endpoints stay off in production (set it to false) [set in .env.production.local]');
    assert.match(message, '[set in the environment]');
    assert.is(hint, 'Fix them in .env, .env.production.local (in /app) and the environment; nothing was deployed.');
    assert.not.match(`${message}${hint}`, 'literal-jwt-value-42');
  }
});

test.run();
