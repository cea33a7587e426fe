// A real OpenID provider for clinomics' tests (npm oidc-provider, pinned in
// package.json), standing in for Entra ID. It serves one issuer,
// http://HOST:PORT, on the loopback interface, and is for tests only: its
// accounts have no passwords and consent is granted automatically.
//
//   node oidc-provider.mjs [--host 127.0.0.1] [--port 0] [--state DIR]
//
// Environment:
//   OIDC_CLIENT_SECRET   secret of the confidential clients (required)
//   OIDC_ADMIN_TOKEN     bearer token for the /admin routes (required)
//   OIDC_AUDIENCE        the API's resource indicator and token audience (api://clinomics)
//   OIDC_DEVICE_INTERVAL seconds a device-flow client must wait between polls (1)
//   OIDC_TOKEN_TTL       access token lifetime in seconds (600)
//
// Signing keys are read from DIR/keys.json (a JWKS with private keys) when it
// exists, so a test can bring keys it also forges tokens with; otherwise an
// RSA and a P-256 key are generated and written there, so a stopped provider
// restarted with the same --state (and --port) serves the same keys. Without
// --state keys live in memory only. When listening it prints one JSON line,
// {"issuer":...,"port":...}, to stdout.
//
// Clients (all tokens for the API are JWTs, RFC 9068, audience OIDC_AUDIENCE):
//   clinomics-service     confidential, client_credentials, RS256, roles ["service"]
//   clinomics-service-es  confidential, client_credentials, ES256, roles ["service"]
//   clinomics-norole      confidential, client_credentials, RS256, no roles
//   clinomics-cli         public, device authorization grant (RFC 8628) + refresh_token
// Accounts (log in with the name only): admin, labtech, bioinformatician,
// clinician, researcher, auditor (each with the role of that name, see
// ACCOUNTS) and nobody (no role). User access tokens carry roles, groups,
// name, preferred_username and email, as Entra ID's do.
//
// Device flow without a browser: open verification_uri_complete, post the
// form it returns (xsrf, user_code) to /device, post the confirm form (adds
// confirm=yes), which redirects to /interaction/UID: post login=NAME to
// /interaction/UID/login and follow the redirects; consent is automatic.
// oidc-provider sends no "interval" and never answers slow_down, so this
// script adds both (RFC 8628 sections 3.2 and 3.5): interval is
// OIDC_DEVICE_INTERVAL, and a poll sooner than that after the previous one
// for the same device code is answered slow_down.
//
// Admin routes (Authorization: Bearer OIDC_ADMIN_TOKEN):
//   POST /admin/rotate[?keep=0]  new signing keys become the first (signing)
//       keys; the body may be a JWKS with the private keys to use, else an RSA
//       and a P-256 key are generated. The previous keys stay published unless
//       keep=0. Answers {"kids": [...signing kids], "published": [...all kids]}.

import { createServer } from 'node:http';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    state: { type: 'string' },
  },
});

function env(name, fallback) {
  const v = process.env[name];
  if (v !== undefined && v !== '') return v;
  if (fallback === undefined) {
    process.stderr.write(`oidc-provider.mjs: ${name} must be set\n`);
    process.exit(2);
  }
  return fallback;
}

const CLIENT_SECRET = env('OIDC_CLIENT_SECRET');
const ADMIN_TOKEN = env('OIDC_ADMIN_TOKEN');
const AUDIENCE = env('OIDC_AUDIENCE', 'api://clinomics');
const DEVICE_INTERVAL = Number(env('OIDC_DEVICE_INTERVAL', '1'));
const TOKEN_TTL = Number(env('OIDC_TOKEN_TTL', '600'));
const API_SCOPE = 'access_as_user';
const TENANT = '00000000-0000-4000-8000-00000000c11e';

// Confidential clients: which algorithm signs their tokens, which app roles
// they hold (Entra ID puts a service principal's app roles in "roles").
const SERVICE_CLIENTS = {
  'clinomics-service': { alg: 'RS256', roles: ['service'] },
  'clinomics-service-es': { alg: 'ES256', roles: ['service'] },
  'clinomics-norole': { alg: 'RS256', roles: [] },
};
const CLI_CLIENT = 'clinomics-cli';

const ACCOUNTS = {
  admin: { name: 'Test Administrator', roles: ['administrator'], groups: ['clinomics-admins'] },
  labtech: { name: 'Test Lab Technician', roles: ['lab-technician'], groups: ['clinomics-lab'] },
  bioinformatician: { name: 'Test Bioinformatician', roles: ['bioinformatician'], groups: ['clinomics-lab'] },
  clinician: { name: 'Test Clinician', roles: ['clinician'], groups: ['clinomics-clinical'] },
  researcher: { name: 'Test Researcher', roles: ['researcher'], groups: ['clinomics-research'] },
  auditor: { name: 'Test Auditor', roles: ['auditor'], groups: ['clinomics-compliance'] },
  nobody: { name: 'Test Nobody', roles: [], groups: [] },
};

// oid is a stable UUID-shaped id per account, as Entra ID's object id is.
function objectId(login) {
  const h = crypto.createHash('sha256').update(`clinomics-test:${login}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function userClaims(login) {
  const a = ACCOUNTS[login];
  return {
    name: a.name,
    preferred_username: `${login}@clinomics.test`,
    email: `${login}@clinomics.test`,
    oid: objectId(login),
    tid: TENANT,
    roles: a.roles,
    groups: a.groups,
  };
}

// ---- keys

// thumbprint is the RFC 7638 JWK thumbprint, used as kid.
function thumbprint(jwk) {
  const members = jwk.kty === 'RSA'
    ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
    : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return crypto.createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

function generateKeys() {
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return [
    { ...rsa, kid: thumbprint(rsa), use: 'sig', alg: 'RS256' },
    { ...ec, kid: thumbprint(ec), use: 'sig', alg: 'ES256' },
  ];
}

const keysFile = args.state ? path.join(args.state, 'keys.json') : undefined;

function loadKeys() {
  if (keysFile && fs.existsSync(keysFile)) {
    const { keys } = JSON.parse(fs.readFileSync(keysFile, 'utf8'));
    if (!Array.isArray(keys) || keys.length === 0) throw new Error(`${keysFile}: no keys`);
    return keys;
  }
  const keys = generateKeys();
  saveKeys(keys);
  return keys;
}

function saveKeys(keys) {
  if (!keysFile) return;
  fs.mkdirSync(path.dirname(keysFile), { recursive: true, mode: 0o700 });
  const tmp = `${keysFile}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ keys }), { mode: 0o600 });
  fs.renameSync(tmp, keysFile);
}

// ---- provider

const cookieKey = crypto.randomBytes(32).toString('base64url');

function makeProvider(issuer, keys) {
  const configuration = {
    clients: [
      ...Object.keys(SERVICE_CLIENTS).map((id) => ({
        client_id: id,
        client_secret: CLIENT_SECRET,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      })),
      {
        client_id: CLI_CLIENT,
        client_name: 'clinomics CLI',
        grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'none',
      },
    ],
    jwks: { keys },
    cookies: { keys: [cookieKey] },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    async findAccount(ctx, sub) {
      if (!ACCOUNTS[sub]) return undefined;
      return {
        accountId: sub,
        async claims() {
          const c = userClaims(sub);
          return { sub, name: c.name, preferred_username: c.preferred_username, email: c.email, email_verified: true };
        },
      };
    },
    async extraTokenClaims(ctx, token) {
      if (token.kind === 'ClientCredentials') {
        const roles = SERVICE_CLIENTS[token.clientId]?.roles;
        return roles?.length ? { roles } : undefined;
      }
      if (token.accountId && ACCOUNTS[token.accountId]) {
        return userClaims(token.accountId);
      }
      return undefined;
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      deviceFlow: {
        enabled: true,
        async userCodeInputSource(ctx, form, out, err) {
          ctx.type = 'html';
          const msg = err ? '<p id="device-error">That code was not accepted. Try again.</p>' : '<p>Enter the code shown on your device.</p>';
          ctx.body = `<!DOCTYPE html><title>Device sign-in</title>${msg}${form}<button type="submit" form="op.deviceInputForm">Continue</button>`;
        },
        async userCodeConfirmSource(ctx, form, client, deviceInfo, userCode) {
          ctx.type = 'html';
          ctx.body = `<!DOCTYPE html><title>Confirm device</title><p>Sign in to ${escapeHtml(client.clientName || client.clientId)} with code <code>${escapeHtml(userCode)}</code>?</p>${form}<button type="submit" form="op.deviceConfirmForm">Continue</button>`;
        },
        async successSource(ctx) {
          ctx.type = 'html';
          ctx.body = '<!DOCTYPE html><title>Signed in</title><p id="device-success">Signed in. You can close this page.</p>';
        },
      },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, client, oneOf) => oneOf || AUDIENCE,
        useGrantedResource: async () => true,
        async getResourceServerInfo(ctx, resourceIndicator, client) {
          if (resourceIndicator !== AUDIENCE) throw new errors.InvalidTarget();
          return {
            audience: AUDIENCE,
            scope: API_SCOPE,
            accessTokenFormat: 'jwt',
            accessTokenTTL: TOKEN_TTL,
            jwt: { sign: { alg: SERVICE_CLIENTS[client.clientId]?.alg || 'RS256' } },
          };
        },
      },
    },
    ttl: {
      AccessToken: TOKEN_TTL,
      ClientCredentials: TOKEN_TTL,
      DeviceCode: 600,
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 86400,
      RefreshToken: 86400,
    },
    interactions: { url: async (ctx, interaction) => `/interaction/${interaction.uid}` },
    async renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
  const provider = new Provider(issuer, configuration);

  // RFC 8628 interval and slow_down, which oidc-provider leaves out.
  const lastPoll = new Map();
  provider.use(async (ctx, next) => {
    await next();
    const route = ctx.oidc?.route;
    if (route === 'device_authorization' && ctx.status === 200 && ctx.body?.device_code) {
      ctx.body = { ...ctx.body, interval: DEVICE_INTERVAL };
    } else if (route === 'token' && ctx.body?.error === 'authorization_pending') {
      const code = ctx.oidc.params?.device_code;
      const now = Date.now();
      const last = lastPoll.get(code);
      lastPoll.set(code, now);
      if (last !== undefined && now - last < DEVICE_INTERVAL * 1000) {
        ctx.body = { error: 'slow_down', error_description: 'polling faster than the interval' };
      }
      if (lastPoll.size > 10000) lastPoll.clear();
    }
  });
  return provider;
}

// ---- HTTP

function send(res, status, body, type = 'application/json') {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(text);
}

async function readBody(req, limit = 1 << 20) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new Error('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// interaction renders the login form, or grants consent for everything the
// client asked for (test accounts consent to everything).
async function interaction(provider, req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, { error: 'interaction mismatch' });
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    const logins = Object.keys(ACCOUNTS).map(escapeHtml).join(', ');
    return send(res, 200, `<!DOCTYPE html><title>Sign in</title>
<form id="login" method="post" action="/interaction/${escapeHtml(uid)}/login">
<p>Test accounts: ${logins}</p>
<input type="text" name="login" autofocus><button type="submit">Sign in</button>
</form>`, 'text/html; charset=utf-8');
  }
  if (prompt.name === 'consent') {
    let { grantId } = details;
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    if (d.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    grantId = await grant.save();
    const result = details.grantId ? {} : { consent: { grantId } };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
  }
  return send(res, 400, { error: `unsupported prompt ${prompt.name}` });
}

async function login(provider, req, res) {
  const form = new URLSearchParams(await readBody(req));
  const name = form.get('login') || '';
  if (!ACCOUNTS[name]) {
    return provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'unknown test account',
    }, { mergeWithLastSubmission: false });
  }
  return provider.interactionFinished(req, res, { login: { accountId: name } }, { mergeWithLastSubmission: false });
}

function authorized(req) {
  const got = Buffer.from(req.headers.authorization || '');
  const want = Buffer.from(`Bearer ${ADMIN_TOKEN}`);
  return got.length === want.length && crypto.timingSafeEqual(got, want);
}

async function rotate(req, res, url) {
  const text = await readBody(req);
  let fresh;
  if (text.trim() !== '') {
    fresh = JSON.parse(text).keys;
    if (!Array.isArray(fresh) || fresh.length === 0 || fresh.some((k) => !k.d || !k.kid)) {
      return send(res, 400, { error: 'body must be a JWKS of private keys with kids' });
    }
  } else {
    fresh = generateKeys();
  }
  const keep = url.searchParams.get('keep') !== '0';
  const freshKids = new Set(fresh.map((k) => k.kid));
  keys = [...fresh, ...(keep ? keys.filter((k) => !freshKids.has(k.kid)) : [])];
  saveKeys(keys);
  current = makeProvider(issuer, keys);
  handler = current.callback();
  return send(res, 200, { kids: fresh.map((k) => k.kid), published: keys.map((k) => k.kid) });
}

let keys = loadKeys();
let issuer;
let current;
let handler;

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    const m = url.pathname.match(/^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/);
    if (m && req.method === 'GET' && !m[2]) return await interaction(current, req, res, m[1]);
    if (m && req.method === 'POST' && m[2]) return await login(current, req, res);
    if (url.pathname.startsWith('/admin/')) {
      if (!authorized(req)) return send(res, 401, { error: 'unauthorized' });
      if (url.pathname === '/admin/rotate' && req.method === 'POST') return await rotate(req, res, url);
      return send(res, 404, { error: 'not found' });
    }
    return handler(req, res);
  } catch (err) {
    process.stderr.write(`oidc-provider.mjs: ${req.method} ${req.url}: ${err.stack || err}\n`);
    if (!res.headersSent) send(res, 500, { error: 'server_error' });
    else res.destroy();
  }
});
server.requestTimeout = 30000;
server.headersTimeout = 10000;
server.keepAliveTimeout = 5000;

server.listen(Number(args.port), args.host, () => {
  const { port } = server.address();
  const host = args.host.includes(':') ? `[${args.host}]` : args.host;
  issuer = `http://${host}:${port}`;
  current = makeProvider(issuer, keys);
  handler = current.callback();
  process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
