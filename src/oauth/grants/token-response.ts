// RFC 6749 §5.1 (successful token response), shared by every grant of the token endpoint.
import type { MintedToken } from '../../auth/token-service.ts';
import type { Services } from '../../services.ts';

/** One token request as the endpoint read it: the form parameters, the (public) client, and the key of its DPoP proof. */
export interface TokenRequest {
  params: Record<string, string>;
  clientId: string;
  /** The JWK thumbprint of the request's valid DPoP proof (RFC 9449 §5): what is issued is bound to it. Null without a proof. */
  dpopJkt: string | null;
  requestId: string | undefined;
  clientAddress: string | undefined;
}

/** A grant type's handler: a token response, or an OAuthError. */
export type Grant = (s: Services, req: TokenRequest) => Promise<TokenResponse>;

export interface TokenResponse {
  access_token: string;
  /** RFC 9449 §5: `DPoP` when the tokens are bound to the proof's key. */
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  scope: string;
  /** With refresh tokens on (OAUTH_REFRESH_TOKENS): the `tsr_` token and how long it lasts unused. */
  refresh_token?: string;
  refresh_token_expires_in?: number;
}

export function tokenResponse(minted: MintedToken, scope: string): TokenResponse {
  const body: TokenResponse = { access_token: minted.token, token_type: minted.dpopJkt ? 'DPoP' : 'Bearer', expires_in: minted.expiresIn, scope };
  if (minted.refresh) {
    body.refresh_token = minted.refresh.token;
    body.refresh_token_expires_in = minted.refresh.expiresIn;
  }
  return body;
}
