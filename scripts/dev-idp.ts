/**
 * npm run dev:idp — a local OpenID Provider to try the enterprise edition's single sign-on
 * with. One demo user, any password; prints the environment Tessera needs. Development only.
 */
import { DevIdp } from './idp.ts';

const port = Number(process.env.IDP_PORT ?? 9090);
const tessera = (process.env.TESSERA_URL ?? 'http://localhost:8080').replace(/\/+$/, '');
const CLIENT_ID = 'tessera';
const CLIENT_SECRET = 'tessera-dev-secret';
const DEMO = { login: 'demo', email: 'demo@idp.example', email_verified: true, name: 'Demo SSO User' };

const idp = await DevIdp.listen({ port });
await idp.configure({
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [`${tessera}/device/sso-complete`],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
      // OpenID Connect Back-Channel Logout: signing out here ends the Tessera sessions it approved.
      backchannel_logout_uri: `${tessera}/openapi/v1/oauth/sso/backchannel-logout`,
      backchannel_logout_session_required: true,
    },
  ],
  accounts: [DEMO],
});

console.log(`
  Demo OpenID provider: ${idp.issuer}
  Sign in there as "${DEMO.login}" with any password (email ${DEMO.email}, verified).

  Start Tessera (at ${tessera}) with:

    EDITION=enterprise SSO_OIDC_ISSUER=${idp.issuer} SSO_OIDC_CLIENT_ID=${CLIENT_ID} \\
    SSO_OIDC_CLIENT_SECRET=${CLIENT_SECRET} SSO_ALLOW_INSECURE_HTTP=true SSO_DISPLAY_NAME="Demo IdP" npm start

  and grant an app to the demo user:

    npm run server -- admin grant-app --app <app id> --issuer ${idp.issuer} --email ${DEMO.email}

  Signing out at ${idp.issuer}/session/end calls ${tessera}/openapi/v1/oauth/sso/backchannel-logout
  (OpenID Connect Back-Channel Logout), which ends the CLI logins that sign-in approved.
`);

const stop = () => void idp.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
