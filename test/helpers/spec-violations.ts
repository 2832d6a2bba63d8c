/**
 * Responses of the in-process test servers that break openapi.yaml, collected as they
 * finish and turned into a test failure after each test (test/helpers/setup.ts).
 */
const violations: string[] = [];

export function reportSpecViolation(problem: string): void {
  violations.push(problem);
}

/** The violations since the last call, cleared. */
export function takeSpecViolations(): string[] {
  return violations.splice(0);
}
