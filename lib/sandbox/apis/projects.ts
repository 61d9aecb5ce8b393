// Resource Manager v1: project get (with its number), list, and the project IAM policy (getIamPolicy /
// setIamPolicy with etag checks: a stale etag is a 409 ABORTED conflict, as Google answers).
import { newPolicy, ok, renderPolicy, setIamPolicy, type IamPolicy } from '../google.js';
import type { ApiContext, ApiModule, ProjectState } from '../types.js';
import { serviceAccountExists } from './iam.js';

/** The account that "owns" every sandbox project. */
export const SANDBOX_OWNER = 'user:owner@sandbox.local';

function policyOf(project: ProjectState): IamPolicy {
  return ((project.projects ??= {}).policy ??= newPolicy([{ role: 'roles/owner', members: [SANDBOX_OWNER] }]));
}

function render(project: ProjectState) {
  return {
    projectNumber: project.projectNumber,
    projectId: project.projectId,
    lifecycleState: 'ACTIVE',
    name: project.projectId,
    createTime: project.createTime ?? new Date(0).toISOString(),
    parent: { type: 'organization', id: '1234567890' },
  };
}

export const projects: ApiModule = {
  name: 'projects',
  routes: [
    { method: 'GET', path: '/v1/projects/{project}', handler: (req, ctx) => ok(render(ctx.project(req.params.project!))) },
    {
      method: 'GET',
      path: '/v1/projects',
      handler: (_req, ctx: ApiContext) => {
        const all = Object.values(ctx.state.projects).sort((a, b) => a.projectId.localeCompare(b.projectId));
        return ok(all.length ? { projects: all.map(render) } : {});
      },
    },
    { method: 'POST', path: '/v1/projects/{project}:getIamPolicy', handler: (req, ctx) => ok(renderPolicy(policyOf(ctx.project(req.params.project!)))) },
    {
      method: 'POST',
      path: '/v1/projects/{project}:setIamPolicy',
      handler: (req, ctx) => {
        const project = ctx.project(req.params.project!);
        const policy = setIamPolicy(policyOf(project), req.json, (email) => serviceAccountExists(ctx, email));
        (project.projects ??= {}).policy = policy;
        ctx.save();
        return ok(renderPolicy(policy));
      },
    },
  ],
};
