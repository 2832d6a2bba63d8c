// RFC 9449 from the client side: this machine's key for a host, and a proof signed per request.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import { CliError, EXIT } from './errors.ts';

const ALG = 'ES256';

/** A login bound to a key that is not (or no longer) in the host's key file: only a new login helps. */
export class MissingKey extends CliError {}

/**
 * `keys/` beside hosts.yml, one file per host: `<host as a file name>-<8 hex of its SHA-256>.jwk`
 * (the hash keeps two hosts that read alike apart).
 */
export function keyFile(configDir: string, host: string): string {
  const readable = host.replace(/[^A-Za-z0-9.-]+/g, '_');
  return path.join(configDir, 'keys', `${readable}-${createHash('sha256').update(host).digest('hex').slice(0, 8)}.jwk`);
}

/**
 * This machine's ES256 key for one host (docs/cli.md, "DPoP"): a JWK with its private part in
 * a file of mode 0600, in a folder of mode 0700, made on the first DPoP login to the host and
 * kept for the next ones. A login bound to it sends a proof signed by it with every request;
 * a copy of the login's tokens without this file is refused.
 */
export class DpopKey {
  private constructor(
    private readonly privateKey: CryptoKey,
    private readonly publicJwk: JWK,
    /** RFC 7638 thumbprint: the server stores it with the bound session, hosts.yml with the login. */
    readonly jkt: string,
    readonly file: string,
  ) {}

  /** The host's key, made now if it has none. */
  static async forHost(configDir: string, host: string): Promise<DpopKey> {
    return (await DpopKey.load(configDir, host)) ?? DpopKey.create(configDir, host);
  }

  /** The host's key, or null when there is none. */
  static async load(configDir: string, host: string): Promise<DpopKey | null> {
    const file = keyFile(configDir, host);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      return await DpopKey.from(JSON.parse(text) as JWK, file);
    } catch (err) {
      throw new MissingKey(EXIT.auth, `The key in ${file} cannot be read (${(err as Error).message}).`, `Delete ${file} and log in again.`);
    }
  }

  private static async from(jwk: JWK, file: string): Promise<DpopKey> {
    const publicJwk = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
    return new DpopKey((await importJWK(jwk, ALG)) as CryptoKey, publicJwk, await calculateJwkThumbprint(publicJwk), file);
  }

  /**
   * A new key, written whole or not at all: to a temporary file of mode 0600, then linked to
   * its name, which fails if another tessera process made the host's key meanwhile (that
   * one is used then).
   */
  private static async create(configDir: string, host: string): Promise<DpopKey> {
    const file = keyFile(configDir, host);
    const dir = path.dirname(file);
    if ((await mkdir(dir, { recursive: true, mode: 0o700 })) !== undefined) await chmod(dir, 0o700);
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) as JWK;
    const tmp = `${file}.${process.pid}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify({ ...jwk, alg: ALG }));
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await link(tmp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return (await DpopKey.load(configDir, host))!;
    } finally {
      await rm(tmp, { force: true });
    }
    return DpopKey.from(jwk, file);
  }

  /**
   * A proof for one request (RFC 9449 §4.2): its method, its URL without query and fragment,
   * now, a fresh `jti`, and with an access token its `ath`.
   */
  proof(method: string, url: string, accessToken?: string): Promise<string> {
    const { origin, pathname } = new URL(url);
    const claims: Record<string, string> = { jti: randomBytes(16).toString('base64url'), htm: method, htu: origin + pathname };
    if (accessToken !== undefined) claims.ath = createHash('sha256').update(accessToken).digest('base64url');
    return new SignJWT(claims).setProtectedHeader({ typ: 'dpop+jwt', alg: ALG, jwk: this.publicJwk }).setIssuedAt().sign(this.privateKey);
  }
}
