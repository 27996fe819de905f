import { randomBytes } from 'node:crypto';

export type LinkPageState =
  | { ok: true; nonce: string; discordUsername: string; expiresAt: string }
  | { ok: false; code: string; message: string };

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** JSON that is safe inside a <script type="application/json"> element. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

/**
 * The wallet-link page: self-contained (no external resources), inline CSS/JS allowed only by a per-response CSP
 * nonce. Returns the HTML and the Content-Security-Policy header that must accompany it.
 */
export function renderLinkPage(state: LinkPageState): { html: string; csp: string } {
  const cspNonce = randomBytes(16).toString('base64');
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${cspNonce}'`,
    `style-src 'nonce-${cspNonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  const title = state.ok ? `Link a Solana wallet to @${state.discordUsername}` : 'Wallet link unavailable';
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)} · Solbound</title>
<style nonce="${cspNonce}">
  :root { color-scheme: dark; --accent: #9945ff; --ok: #14f195; --err: #ff6b6b; }
  * { box-sizing: border-box; }
  body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: #0f1020;
         font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #e8e8f0; }
  main { width: min(640px, 100% - 32px); background: #1a1b2e; border: 1px solid #2c2e4a; border-radius: 14px;
         padding: 28px; box-shadow: 0 10px 40px #0008; }
  h1 { margin: 0 0 4px; font-size: 22px; }
  .sub { color: #a0a3c0; margin: 0 0 20px; }
  .brand { color: var(--accent); font-weight: 700; letter-spacing: .02em; }
  #wallets { display: flex; flex-wrap: wrap; gap: 10px; margin: 16px 0; }
  button { background: var(--accent); color: #fff; border: 0; border-radius: 8px; padding: 10px 18px; font: inherit;
           font-weight: 600; cursor: pointer; }
  button:disabled { opacity: .5; cursor: default; }
  pre { white-space: pre-wrap; word-break: break-all; background: #101124; border: 1px solid #2c2e4a; border-radius: 8px;
        padding: 12px; font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, monospace; color: #c9cbe6; }
  #status { margin-top: 14px; padding: 12px 14px; border-radius: 8px; background: #24264a; }
  #status.ok { background: #0f3a2c; color: var(--ok); }
  #status.err { background: #3a1620; color: var(--err); }
  .hidden { display: none !important; }
  small { color: #8b8fb0; }
</style>
</head>
<body>
<main>
  <div class="brand">SOLBOUND</div>
  <h1>${escapeHtml(title)}</h1>
  <p class="sub">${
    state.ok
      ? 'Connect your wallet and sign a message to prove you own it. Signing is free: no transaction is sent.'
      : escapeHtml(state.message)
  }</p>
  <div id="app" class="${state.ok ? '' : 'hidden'}">
    <div id="wallets"></div>
    <p id="none" class="hidden">No Solana wallet found in this browser. Install Phantom, Solflare or Backpack, or use
      <code>/wallet verify</code> in Discord with a signature made elsewhere.</p>
    <div id="preview" class="hidden"><small>Message to sign:</small><pre id="message"></pre></div>
    <div id="status">Choose your wallet.</div>
    <p><small id="expiry"></small></p>
  </div>
</main>
<script type="application/json" id="state">${scriptJson(state)}</script>
<script nonce="${cspNonce}">
(() => {
  'use strict';
  const state = JSON.parse(document.getElementById('state').textContent);
  if (!state.ok) return;
  const $ = (id) => document.getElementById(id);
  const status = (text, kind) => { const el = $('status'); el.textContent = text; el.className = kind || ''; };
  $('expiry').textContent = 'This link expires at ' + new Date(state.expiresAt).toLocaleString() + '.';
  const api = (path) => new URL('../api/wallet/' + path, location.href).toString();

  const b58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
  const toBase58 = (bytes) => {
    const digits = [];
    for (const byte of bytes) {
      let carry = byte;
      for (let i = 0; i < digits.length; i++) { carry += digits[i] * 256; digits[i] = carry % 58; carry = Math.floor(carry / 58); }
      while (carry) { digits.push(carry % 58); carry = Math.floor(carry / 58); }
    }
    let out = '';
    for (const byte of bytes) { if (byte !== 0) break; out += '1'; }
    for (let i = digits.length - 1; i >= 0; i--) out += b58[digits[i]];
    return out;
  };
  const toBase64 = (bytes) => { let s = ''; for (const b of bytes) s += String.fromCharCode(b); return btoa(s); };
  const addressOf = (pk) => (typeof pk === 'string' ? pk : pk && typeof pk.toBase58 === 'function' ? pk.toBase58() : pk instanceof Uint8Array ? toBase58(pk) : String(pk));

  // Injected providers (legacy window objects) and Wallet Standard wallets, de-duplicated by name.
  const wallets = new Map();
  const addLegacy = (name, p) => {
    if (!p || typeof p.signMessage !== 'function' || typeof p.connect !== 'function') return;
    for (const w of wallets.values()) if (w.legacy === p) return;
    if (!wallets.has(name)) wallets.set(name, { name, legacy: p });
  };
  const addStandard = (w) => {
    const f = w && w.features;
    if (!f || !f['standard:connect'] || !f['solana:signMessage']) return;
    wallets.set(w.name, { name: w.name, standard: w });
    render();
  };
  const registry = { register: (...ws) => { ws.forEach(addStandard); return () => {}; }, get: () => [], on: () => () => {} };
  window.addEventListener('wallet-standard:register-wallet', (e) => { try { e.detail(registry); } catch (err) { console.warn(err); } });
  try { window.dispatchEvent(new CustomEvent('wallet-standard:app-ready', { detail: registry })); } catch (err) { console.warn(err); }

  function scanLegacy() {
    addLegacy('Phantom', window.phantom && window.phantom.solana);
    addLegacy('Solflare', window.solflare);
    addLegacy('Backpack', window.backpack);
    addLegacy(window.solana && window.solana.isPhantom ? 'Phantom' : 'Solana wallet', window.solana);
  }

  let busy = false;
  function render() {
    const box = $('wallets');
    box.textContent = '';
    for (const w of wallets.values()) {
      const b = document.createElement('button');
      b.textContent = 'Sign with ' + w.name;
      b.disabled = busy;
      b.addEventListener('click', () => link(w));
      box.appendChild(b);
    }
    $('none').classList.toggle('hidden', wallets.size > 0);
  }

  async function connect(w) {
    if (w.standard) {
      const { accounts } = await w.standard.features['standard:connect'].connect();
      const account = accounts && accounts[0];
      if (!account) throw new Error('The wallet did not share an account.');
      return { address: account.address, account };
    }
    const res = await w.legacy.connect();
    return { address: addressOf((res && res.publicKey) || w.legacy.publicKey) };
  }

  async function sign(w, conn, bytes) {
    if (w.standard) {
      const [out] = await w.standard.features['solana:signMessage'].signMessage({ account: conn.account, message: bytes });
      return out.signature;
    }
    const out = await w.legacy.signMessage(bytes, 'utf8');
    return out instanceof Uint8Array ? out : out.signature;
  }

  async function json(res) {
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.message || ('HTTP ' + res.status));
    return body;
  }

  async function link(w) {
    busy = true; render();
    try {
      status('Connecting to ' + w.name + '…');
      const conn = await connect(w);
      status('Preparing the message for ' + conn.address + '…');
      const { message } = await json(await fetch(api('message?nonce=' + encodeURIComponent(state.nonce) + '&address=' + encodeURIComponent(conn.address))));
      $('message').textContent = message;
      $('preview').classList.remove('hidden');
      status('Approve the signature request in ' + w.name + '.');
      const signature = await sign(w, conn, new TextEncoder().encode(message));
      status('Verifying…');
      const result = await json(await fetch(api('verify'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ nonce: state.nonce, address: conn.address, signature: toBase64(new Uint8Array(signature)) }),
      }));
      status('✓ Wallet ' + result.address + ' is now linked to @' + state.discordUsername + '. You can close this page.', 'ok');
      $('wallets').classList.add('hidden');
    } catch (err) {
      status('✗ ' + ((err && err.message) || String(err)), 'err');
      busy = false; render();
    }
  }

  scanLegacy();
  render();
  // Some wallets inject their provider after the page has loaded.
  window.addEventListener('load', () => { scanLegacy(); render(); });
  setTimeout(() => { scanLegacy(); render(); }, 600);
})();
</script>
</body>
</html>
`;
  return { html, csp };
}
