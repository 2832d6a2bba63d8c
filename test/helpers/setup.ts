import { afterAll, afterEach } from 'vitest';
import { takeSpecViolations } from './spec-violations.ts';

// Every response an in-process server sends on a spec route is checked against openapi.yaml
// (test/helpers/spec.ts); a test during which one broke the spec fails here.
function failOnViolations(): void {
  const found = takeSpecViolations();
  if (found.length > 0) throw new Error(`responses that break openapi.yaml:\n  ${[...new Set(found)].join('\n  ')}`);
}

afterEach(failOnViolations);
// Streams may finish after their test: whatever is left is reported once the file is done.
afterAll(failOnViolations);
