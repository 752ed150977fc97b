// A loopback OAuth authorization server for the MCP tests: panva's oidc-provider with dynamic client
// registration, resource indicators (JWT access tokens whose aud is the MCP server), client credentials,
// refresh token rotation and PKCE. The test plays the user's browser: GET /interaction/<uid> shows what is
// asked, POST /interaction/<uid> with login=<account> signs in or consents to everything asked.
//
// Clients known in advance: the machine clients m2m and nightly-agent (client credentials, both with the
// machine client secret), and the public native clients preregistered and tokenhost-desktop (PKCE, loopback
// redirect http://127.0.0.1/callback on any port).
//
// With AS_CLIENT_DOCUMENTS=1 it accepts client ID metadata documents (https client_id URLs); it fetches
// them as any other server would, except that loopback addresses are allowed (every server of a test is
// on loopback), trusting the CA that NODE_EXTRA_CA_CERTS names.
//
// argv: <module dir of oidc-provider> <resource (the MCP server's URL)> <machine client secret>
// stdout: one line "listening <issuer>". GET /test/stats answers the counts; POST /test/forget-clients
// deletes every client registered so far, as an authorization server that lost its registrations.
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const [moduleDir, resource, m2mSecret] = process.argv.slice(2);
const { default: Provider, errors } = await import(pathToFileURL(path.join(moduleDir, 'lib', 'index.js')).href);

const stats = { reused: 0, revoked: 0, refreshed: 0, registered: 0 };
const registered = [];
const ttl = Number(process.env.AS_ACCESS_TTL || 600);
const clientDocuments = process.env.AS_CLIENT_DOCUMENTS === '1';

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'm2m', client_secret: m2mSecret, grant_types: ['client_credentials'],
      redirect_uris: [], response_types: [],
    },
    {
      client_id: 'nightly-agent', client_secret: m2mSecret, grant_types: ['client_credentials'],
      redirect_uris: [], response_types: [],
    },
    {
      client_id: 'tokenhost-desktop', token_endpoint_auth_method: 'none', application_type: 'native',
      grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['http://127.0.0.1/callback'],
    },
    {
      client_id: 'preregistered', token_endpoint_auth_method: 'none', application_type: 'native',
      grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['http://127.0.0.1/callback'],
    },
  ],
  cookies: { keys: ['mcp-test-cookies'] },
  findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true },
    revocation: { enabled: true },
    clientCredentials: { enabled: true },
    clientIdMetadataDocument: { enabled: clientDocuments, ack: 'draft-02' },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf,
      useGrantedResource: async () => false,
      getResourceServerInfo: async (_ctx, indicator) => {
        if (indicator !== resource) throw new errors.InvalidTarget();
        return {
          scope: 'tools:read tools:admin', audience: resource, accessTokenTTL: ttl,
          accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  // The default fetch refuses loopback addresses (SSRF protection); a test's servers are all on loopback.
  ...(clientDocuments ? { fetch: (url, { dispatcher: _loopbackRefused, ...options }) => fetch(url, options) } : {}),
  pkce: { required: () => true },
  rotateRefreshToken: true,
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
});

provider.on('grant.revoked', () => { stats.revoked += 1; });
provider.on('grant.error', (_ctx, err) => {
  if (err.error_description === 'refresh token already used') stats.reused += 1;
});
provider.on('grant.success', (ctx) => {
  if (ctx.oidc.params.grant_type === 'refresh_token') stats.refreshed += 1;
});
provider.on('registration_create.success', (_ctx, client) => {
  stats.registered += 1;
  registered.push(client.clientId);
});

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/test/stats') {
    ctx.body = stats;
    return;
  }
  if (ctx.path === '/test/forget-clients' && ctx.method === 'POST') {
    for (const id of registered.splice(0)) await provider.Client.adapter.destroy(id);
    ctx.status = 204;
    return;
  }
  const m = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (!m) {
    await next();
    return;
  }
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (ctx.method === 'GET') {
    ctx.body = { uid: details.uid, prompt: details.prompt.name, scope: details.params.scope, resource: details.params.resource };
    return;
  }
  const form = await readForm(ctx.req);
  let result;
  if (details.prompt.name === 'login') {
    result = { login: { accountId: form.get('login') || 'alice' } };
  } else {
    const { prompt: { details: missing }, params, session: { accountId } } = details;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId: params.client_id });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    result = { consent: { grantId: await grant.save() } };
  }
  const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
  ctx.redirect(to);
});

server.on('request', provider.callback());
process.stdout.write(`listening ${issuer}\n`);
