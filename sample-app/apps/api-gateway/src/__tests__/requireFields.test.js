// Runs in CI (`node --test`), never in an image: .dockerignore leaves __tests__ out of every build.
import { test } from 'node:test';
import assert from 'node:assert';
import { requireFields } from '@clone/validation';

test('missing fields are named', () => {
  assert.equal(requireFields({ title: 'x' }, ['title', 'content']).error, 'missing: content');
});
