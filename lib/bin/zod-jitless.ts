// Imported first by the CLI entry, so it runs before any schema is made: a run parses each schema (config, infra,
// env) about once, and zod's compiled fast path costs more to build (tens of ms per schema) than it saves.
import { z } from 'zod';

z.config({ jitless: true });
