// RFC 9449 §4.3, §5 and §11.1: the DPoP proof of a token request.
import type { Request } from 'express';
import { expectedHtu } from '../auth/dpop/htu.ts';
import { JTI_MEMORY_MS, jtiKey } from '../auth/dpop/policy.ts';
import { DpopRefused } from '../auth/dpop/refusals.ts';
import type { Services } from '../services.ts';
import { InvalidDpopProof } from './errors.ts';

/**
 * The key of the request's DPoP proof, or null when it has none (the tokens are then Bearer
 * tokens, as before). A proof that fails any check of §4.3 is `invalid_dpop_proof`; so is one
 * whose `jti` was seen before, remembered under its key's thumbprint for as long as a proof
 * could be accepted: a captured token request cannot be sent again, not even to end a session
 * by presenting its spent refresh token.
 */
export async function tokenRequestProof(s: Services, req: Request): Promise<string | null> {
  const header = req.headers.dpop;
  if (header === undefined) return null;
  let proof;
  try {
    proof = await s.authenticator.dpop.verify(header, { method: req.method, htu: expectedHtu(s.config.publicUrl, req.originalUrl), ath: null });
  } catch (err) {
    if (err instanceof DpopRefused) throw new InvalidDpopProof(err.detail);
    throw err;
  }
  if (!(await s.store.setIfAbsent(jtiKey(proof.jkt, proof.jti), '1', JTI_MEMORY_MS))) throw new InvalidDpopProof(new DpopRefused('replayed').message);
  return proof.jkt;
}
