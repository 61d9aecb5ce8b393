import { z } from 'zod';

/** STUB: the env variables gcp tasks need (owner: setup tasks). */
export const gcpEnvSchema = z.object({
  GCP_PROJECT_ID: z.string(),
  GCP_REGION: z.string(),
}).passthrough() as unknown as z.ZodType<Record<string, string>>;
