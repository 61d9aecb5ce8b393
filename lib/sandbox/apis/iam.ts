// IAM v1: service accounts (create, get, list, patch, delete), their keys (create returns a key file whose
// token_uri is the sandbox, list, delete) and their own IAM policy.
import { generateKeyPairSync } from 'node:crypto';
import { z } from 'zod';
import { serviceAccount } from '../../gcp/resources.js';
import {
  ApiError, alreadyExists, hexId, invalidArgument, jsonObject, newPolicy, notFound, ok, paginate, parseBody, renderPolicy, setIamPolicy, timestamp, type IamPolicy,
} from '../google.js';
import type { ApiContext, ApiModule, ProjectState, SandboxRequest } from '../types.js';
import { enabledProjectId, requireApi } from './serviceusage.js';
import { tokenResponse } from '../auth.js';

interface ServiceAccount {
  email: string;
  projectId: string;
  uniqueId: string;
  displayName?: string;
  description?: string;
  disabled?: boolean;
  keys: Record<string, { validAfterTime: string; validBeforeTime: string }>;
  policy: IamPolicy;
}

export interface IamState {
  serviceAccounts: Record<string, ServiceAccount>;
}

const API = 'iam.googleapis.com';
const ACCOUNT_ID = /^[a-z]([-a-z0-9]{4,28}[a-z0-9])$/;

/** Create and patch bodies: the account's fields as IAM returns them (`accountId` is checked by the handler). */
const accountBody = z.looseObject({ serviceAccount: serviceAccount.partial().optional(), updateMask: z.string().optional() });

function accountsOf(project: ProjectState): Record<string, ServiceAccount> {
  return ((project.iam ??= { serviceAccounts: {} }).serviceAccounts ??= {});
}

function findAccount(ctx: ApiContext, emailOrId: string): ServiceAccount | undefined {
  for (const project of Object.values(ctx.state.projects)) {
    for (const sa of Object.values(accountsOf(project))) if (sa.email === emailOrId || sa.uniqueId === emailOrId) return sa;
  }
  return undefined;
}

function getAccount(ctx: ApiContext, emailOrId: string): ServiceAccount {
  const sa = findAccount(ctx, emailOrId);
  if (!sa) throw notFound(`Unknown service account`);
  requireApi(ctx, sa.projectId, API);
  return sa;
}

/**
 * Whether a service account exists: true/false for accounts of sandbox projects (`…@<project>.iam.gserviceaccount.com`),
 * undefined for any other account (Google-managed ones, other domains), which the sandbox cannot judge.
 */
export function serviceAccountExists(ctx: ApiContext, email: string): boolean | undefined {
  const m = email.match(/^[^@]+@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$/);
  if (!m || !ctx.state.projects[m[1]!]) return undefined;
  return !!findAccount(ctx, email);
}

function render(sa: ServiceAccount) {
  return {
    name: `projects/${sa.projectId}/serviceAccounts/${sa.email}`,
    projectId: sa.projectId,
    uniqueId: sa.uniqueId,
    email: sa.email,
    ...(sa.displayName ? { displayName: sa.displayName } : {}),
    ...(sa.description ? { description: sa.description } : {}),
    etag: 'MDEwMjE5MjA=',
    oauth2ClientId: sa.uniqueId,
    ...(sa.disabled ? { disabled: true } : {}),
  };
}

function create(req: SandboxRequest, ctx: ApiContext) {
  const projectId = enabledProjectId(req, ctx, API);
  const body = parseBody(accountBody, req.json);
  const accountId = String(body.accountId ?? '');
  if (!ACCOUNT_ID.test(accountId)) {
    throw invalidArgument(`Invalid value for account_id: "${accountId}" must be 6 to 30 characters: a lowercase letter, then lowercase letters, digits or hyphens, ending with a letter or digit.`);
  }
  const displayName = body.serviceAccount?.displayName;
  if (displayName && displayName.length > 100) throw invalidArgument('Invalid value for service_account.display_name: at most 100 characters.');
  const email = `${accountId}@${projectId}.iam.gserviceaccount.com`;
  const accounts = accountsOf(ctx.project(projectId));
  if (accounts[email]) throw alreadyExists(`Service account ${accountId} already exists within project projects/${projectId}.`);
  const sa: ServiceAccount = {
    email,
    projectId,
    uniqueId: `1${String(Math.floor(ctx.random() * 1e10)).padStart(10, '0')}${String(Math.floor(ctx.random() * 1e10)).padStart(10, '0')}`,
    ...(displayName ? { displayName } : {}),
    ...(body.serviceAccount?.description ? { description: body.serviceAccount.description } : {}),
    keys: {},
    policy: newPolicy(),
  };
  accounts[email] = sa;
  ctx.save();
  return ok(render(sa));
}

function createKey(req: SandboxRequest, ctx: ApiContext) {
  const sa = getAccount(ctx, req.params.account!);
  const type = parseBody(jsonObject, req.json).privateKeyType ?? 'TYPE_GOOGLE_CREDENTIALS_FILE';
  if (type !== 'TYPE_GOOGLE_CREDENTIALS_FILE') throw invalidArgument(`Invalid value for private_key_type: '${type}' (the sandbox issues JSON key files only).`);
  if (Object.keys(sa.keys).length >= 10) throw new ApiError(400, 'Precondition check failed: a service account has at most 10 keys.', 'FAILED_PRECONDITION');
  const keyId = hexId(ctx, 40);
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const now = ctx.now();
  const validBefore = new Date(Date.parse(now) + 3650 * 86_400_000).toISOString();
  sa.keys[keyId] = { validAfterTime: now, validBeforeTime: validBefore };
  ctx.save();
  const keyFile = {
    type: 'service_account',
    project_id: sa.projectId,
    private_key_id: keyId,
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    client_email: sa.email,
    client_id: sa.uniqueId,
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: `${ctx.baseUrl}/token`,
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(sa.email)}`,
    universe_domain: 'googleapis.com',
  };
  return ok({
    name: `projects/${sa.projectId}/serviceAccounts/${sa.email}/keys/${keyId}`,
    privateKeyType: 'TYPE_GOOGLE_CREDENTIALS_FILE',
    privateKeyData: Buffer.from(JSON.stringify(keyFile, null, 2)).toString('base64'),
    validAfterTime: timestamp(now),
    validBeforeTime: timestamp(validBefore),
    keyAlgorithm: 'KEY_ALG_RSA_2048',
    keyOrigin: 'GOOGLE_PROVIDED',
    keyType: 'USER_MANAGED',
  });
}

const SA = '/v1/projects/{project}/serviceAccounts/{account}';

export const iam: ApiModule = {
  name: 'iam',
  routes: [
    { method: 'POST', path: '/v1/projects/{project}/serviceAccounts', handler: create },
    {
      method: 'GET',
      path: '/v1/projects/{project}/serviceAccounts',
      handler: (req, ctx) => {
        const projectId = enabledProjectId(req, ctx, API);
        const accounts = Object.values(accountsOf(ctx.project(projectId))).sort((a, b) => a.email.localeCompare(b.email));
        const page = paginate(accounts, req.query.get('pageSize'), req.query.get('pageToken'), 100);
        return ok({ ...(page.items.length ? { accounts: page.items.map(render) } : {}), ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) });
      },
    },
    { method: 'GET', path: SA, handler: (req, ctx) => ok(render(getAccount(ctx, req.params.account!))) },
    {
      method: 'PATCH',
      path: SA,
      handler: (req, ctx) => {
        const sa = getAccount(ctx, req.params.account!);
        const body = parseBody(accountBody, req.json);
        for (const field of (body.updateMask ?? 'displayName,description').split(',')) {
          if (field === 'displayName' || field === 'description') sa[field] = body.serviceAccount?.[field] || undefined;
          else throw invalidArgument(`Invalid value for update_mask: '${field}' cannot be updated.`);
        }
        ctx.save();
        return ok(render(sa));
      },
    },
    {
      method: 'DELETE',
      path: SA,
      handler: (req, ctx) => {
        const sa = getAccount(ctx, req.params.account!);
        const project = ctx.project(sa.projectId);
        delete accountsOf(project)[sa.email];
        markDeletedMember(project, sa.email, sa.uniqueId);
        ctx.save();
        return ok({});
      },
    },
    { method: 'POST', path: `${SA}/keys`, handler: createKey },
    {
      method: 'GET',
      path: `${SA}/keys`,
      handler: (req, ctx) => {
        const sa = getAccount(ctx, req.params.account!);
        const keys = Object.entries(sa.keys).map(([id, k]) => ({
          name: `projects/${sa.projectId}/serviceAccounts/${sa.email}/keys/${id}`,
          validAfterTime: timestamp(k.validAfterTime),
          validBeforeTime: timestamp(k.validBeforeTime),
          keyAlgorithm: 'KEY_ALG_RSA_2048',
          keyOrigin: 'GOOGLE_PROVIDED',
          keyType: 'USER_MANAGED',
        }));
        return ok(keys.length ? { keys } : {});
      },
    },
    {
      method: 'DELETE',
      path: `${SA}/keys/{key}`,
      handler: (req, ctx) => {
        const sa = getAccount(ctx, req.params.account!);
        if (!sa.keys[req.params.key!]) throw notFound(`Service account key ${req.params.key} does not exist.`);
        delete sa.keys[req.params.key!];
        ctx.save();
        return ok({});
      },
    },
    {
      // OAuth token endpoint (auth/token_host and the token_uri of issued key files).
      method: 'POST',
      path: '/token',
      public: true,
      handler: (req, ctx) => tokenResponse(ctx.stateDir, new URLSearchParams(req.body.toString('utf8'))),
    },
    { method: 'POST', path: `${SA}:getIamPolicy`, handler: (req, ctx) => ok(renderPolicy(getAccount(ctx, req.params.account!).policy)) },
    {
      method: 'POST',
      path: `${SA}:setIamPolicy`,
      handler: (req, ctx) => {
        const sa = getAccount(ctx, req.params.account!);
        sa.policy = setIamPolicy(sa.policy, req.json, (email) => serviceAccountExists(ctx, email));
        ctx.save();
        return ok(renderPolicy(sa.policy));
      },
    },
  ],
};

/**
 * As Google does: the IAM bindings of a deleted service account stay, rewritten to
 * `deleted:serviceAccount:EMAIL?uid=ID`, so a new account with the same email does not inherit them.
 * Every policy of the project (the project's, secrets', services'…) is an object with `bindings`.
 */
function markDeletedMember(state: unknown, email: string, uniqueId: string): void {
  if (!state || typeof state !== 'object') return;
  const bindings = (state as { bindings?: unknown }).bindings;
  if (Array.isArray(bindings)) {
    for (const b of bindings as { members?: string[] }[]) {
      b.members = b.members?.map((m) => (m === `serviceAccount:${email}` ? `deleted:serviceAccount:${email}?uid=${uniqueId}` : m));
    }
  }
  for (const value of Object.values(state)) markDeletedMember(value, email, uniqueId);
}
