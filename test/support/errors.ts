// What a call throws, as the stable error code (core/errors.ts).
import { SockhuntError } from '../../core/errors.js';

/** The code of the SockhuntError `fn` throws; another error is rethrown, and returning normally fails the test. */
export function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof SockhuntError) return err.code;
    throw err;
  }
  throw new Error('expected an error');
}
