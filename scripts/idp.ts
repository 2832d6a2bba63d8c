/**
 * A real OpenID Provider for development and tests, built on the `oidc-provider` package:
 * accounts in memory, the package's development sign-in pages (any password), consent
 * skipped for the configured clients, and Back-Channel Logout: signing out at
 * `/session/end` posts a logout token to each client's `backchannel_logout_uri`.
 * `npm run dev:idp` runs one; the tests start their own.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, { type ClientMetadata, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';

export interface IdpAccount {
  /** What the user types as "login" on the sign-in page; also the `sub`. */
  login: string;
  email: string;
  email_verified: boolean;
  name: string;
}

export interface IdpConfig {
  clients: ClientMetadata[];
  accounts?: IdpAccount[];
}

/**
 * An HTTP server that listens first (so the issuer is its real address) and becomes a
 * provider once configured with clients, whose redirect URIs may name a server that
 * only exists after this one.
 */
export class DevIdp {
  readonly accounts = new Map<string, IdpAccount>();
  /** Lifetime of the next ID tokens in seconds; negative issues already expired ones (tests). */
  idTokenTtlSeconds = 3600;
  /** When set, the next token response carries this ID token instead of its own (tests: a token issued to another client). */
  replaceNextIdToken: string | null = null;
  provider: Provider | null = null;
  /** The private key it signs ID and logout tokens with (tests sign crafted logout tokens with it). */
  signingKey: (JWK & { kid: string; alg: string }) | null = null;
  private handler: RequestListener = (_req, res) => void res.writeHead(503).end('identity provider not configured yet');
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    /** Settable until `configure` (e.g. to the address of a proxy in front of this server). */
    public issuer: string,
  ) {
    server.on('request', (req, res) => this.handler(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  /** Listens on `port` (0: any free one); the issuer is this address unless given (e.g. a proxy in front). */
  static async listen(opts: { port?: number; host?: string; issuer?: string } = {}): Promise<DevIdp> {
    const server = createServer();
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
    await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
    const { port } = server.address() as AddressInfo;
    return new DevIdp(server, opts.issuer ?? `http://${opts.host === '0.0.0.0' ? 'localhost' : (opts.host ?? '127.0.0.1')}:${port}`);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async configure(c: IdpConfig): Promise<void> {
    for (const a of c.accounts ?? []) this.accounts.set(a.login, a);
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };
    this.signingKey = jwk;
    const configuration: Configuration = {
      clients: c.clients,
      jwks: { keys: [jwk as never] },
      cookies: {
        keys: [randomBytes(32).toString('base64url')],
        // Lax, so that plain-http development browsers keep the sign-in session.
        long: { signed: true, sameSite: 'lax' },
        short: { signed: true, sameSite: 'lax' },
      },
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
      features: { devInteractions: { enabled: true }, backchannelLogout: { enabled: true } },
      pkce: { methods: ['S256'], required: () => true },
      ttl: {
        IdToken: () => this.idTokenTtlSeconds,
        AccessToken: 3600,
        AuthorizationCode: 60,
        Interaction: 3600,
        Session: 8 * 3600,
        Grant: 8 * 3600,
      },
      findAccount: (_ctx, id) => {
        const account = this.accounts.get(id);
        if (!account) return undefined;
        return {
          accountId: id,
          claims: () => ({ sub: id, email: account.email, email_verified: account.email_verified, name: account.name }),
        };
      },
      // First-party clients: consent is implied, so the sign-in page is the only step.
      loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
        const { client, session } = ctx.oidc;
        if (!client || !session?.accountId) return undefined;
        const id = session.grantIdFor(client.clientId);
        const existing = id ? await ctx.oidc.provider.Grant.find(id) : undefined;
        if (existing) return existing;
        const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
        grant.addOIDCScope('openid email profile');
        await grant.save();
        return grant;
      },
    };
    const provider = new Provider(this.issuer, configuration);
    provider.use(async (ctx, next) => {
      await next();
      const body = ctx.body as { id_token?: string } | undefined;
      if (ctx.path === '/token' && this.replaceNextIdToken && body?.id_token) {
        body.id_token = this.replaceNextIdToken;
        this.replaceNextIdToken = null;
      }
    });
    this.provider = provider;
    this.handler = provider.callback();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
