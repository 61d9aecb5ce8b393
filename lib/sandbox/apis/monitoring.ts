// Cloud Monitoring v3: alert policies (list, get, create, delete).
import { z } from 'zod';
import { alertPolicy } from '../../gcp/resources.js';
import { invalidArgument, notFound, ok, paginate, parseBody, timestamp } from '../google.js';
import type { ApiContext, ApiModule, ProjectState, SandboxRequest } from '../types.js';
import { requireApi } from './serviceusage.js';

const API = 'monitoring.googleapis.com';
const COMBINERS = ['AND', 'OR', 'AND_WITH_MATCHING_RESOURCE'];

/** A policy as created: the fields Monitoring checks, the rest kept as sent. */
const policyBody = alertPolicy.extend({ conditions: z.array(z.looseObject({})).optional(), combiner: z.string().optional() });
type AlertPolicy = z.infer<typeof policyBody>;

export interface MonitoringState {
  /** Policy id → policy as answered. */
  alertPolicies: Record<string, AlertPolicy>;
}

function policiesOf(project: ProjectState): Record<string, AlertPolicy> {
  return ((project.monitoring ??= { alertPolicies: {} }).alertPolicies ??= {});
}

function projectOf(req: SandboxRequest, ctx: ApiContext): ProjectState {
  const project = ctx.project(req.params.project!);
  requireApi(ctx, project.projectId, API);
  return project;
}

function create(req: SandboxRequest, ctx: ApiContext) {
  const project = projectOf(req, ctx);
  const body = parseBody(policyBody, req.json);
  if (!body.displayName) throw invalidArgument('Field alert_policy.display_name is required.');
  if (!body.conditions?.length) throw invalidArgument('Field alert_policy.conditions must contain at least one condition.');
  const combiner = body.combiner ?? (body.conditions.length === 1 ? 'OR' : undefined);
  if (!combiner || !COMBINERS.includes(combiner)) throw invalidArgument(`Field alert_policy.combiner had an invalid value of "${body.combiner}".`);
  const id = String(Math.floor(ctx.random() * 9e18) + 1e18).slice(0, 19);
  const name = `projects/${project.projectId}/alertPolicies/${id}`;
  const record = { user: 'owner@sandbox.local', time: timestamp(ctx.now()) };
  const policy = {
    ...body,
    name,
    combiner,
    enabled: body.enabled ?? true,
    conditions: body.conditions.map((c, i) => ({ ...c, name: `${name}/conditions/${id.slice(0, 8)}${i}` })),
    creationRecord: { mutateTime: record.time, mutatedBy: record.user },
    mutationRecord: { mutateTime: record.time, mutatedBy: record.user },
  };
  policiesOf(project)[id] = policy;
  ctx.save();
  return ok(policy);
}

function get(req: SandboxRequest, ctx: ApiContext) {
  const policy = policiesOf(projectOf(req, ctx))[req.params.policy!];
  if (!policy) throw notFound(`Could not find alert policy projects/${req.params.project}/alertPolicies/${req.params.policy}.`);
  return policy;
}

export const monitoring: ApiModule = {
  name: 'monitoring',
  routes: [
    {
      method: 'GET',
      path: '/v3/projects/{project}/alertPolicies',
      handler: (req, ctx) => {
        const all = Object.values(policiesOf(projectOf(req, ctx))).sort((a, b) => String(a.displayName).localeCompare(String(b.displayName)));
        const page = paginate(all, req.query.get('pageSize'), req.query.get('pageToken'), 100);
        return ok(all.length ? { alertPolicies: page.items, totalSize: all.length, ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) } : {});
      },
    },
    { method: 'POST', path: '/v3/projects/{project}/alertPolicies', handler: create },
    { method: 'GET', path: '/v3/projects/{project}/alertPolicies/{policy}', handler: (req, ctx) => ok(get(req, ctx)) },
    {
      method: 'DELETE',
      path: '/v3/projects/{project}/alertPolicies/{policy}',
      handler: (req, ctx) => {
        get(req, ctx);
        delete policiesOf(ctx.project(req.params.project!))[req.params.policy!];
        ctx.save();
        return ok({});
      },
    },
  ],
};
