import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';

// What the bot's self-contained wallet pages share (the wallet-link page, the checkout page): HTML escaping, JSON
// for inline scripts, the strict per-response CSP, the base look, and the browser code that finds wallets (Wallet
// Standard + legacy injected providers) and connects one. One copy, so a fix to wallet discovery reaches both.

export const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * Someone else's text made safe to show as plain text: control characters and invisible direction/format marks
 * (right-to-left overrides, isolates, zero-width spaces) removed, so a name cannot reorder or hide what is around it.
 * Emoji joiners (U+200D) stay.
 */
export const displayText = (s: string) =>
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  s.replace(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u200B\u200E\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g, '');

/** JSON that is safe inside a <script type="application/json"> element. */
export const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

/** A fresh CSP nonce and the policy that allows only inline code carrying it (no external resources at all). */
export function pageCsp(): { nonce: string; csp: string } {
  const nonce = randomBytes(16).toString('base64');
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { nonce, csp };
}

export const PAGE_STYLE = `
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
`;

/**
 * Browser code (plain JS, to inline inside a page's IIFE) defining:
 *  - `toBase58(bytes)`, `toBase64(bytes)`, `fromBase64(string)`, `addressOf(publicKey)`;
 *  - `walletDiscovery({ standard, legacy, onChange })` → `{ wallets, scanLegacy, connect }`: wallets named once each,
 *    from the Wallet Standard handshake (both halves: answering `register-wallet` and announcing `app-ready`) when
 *    they have `standard:connect` and every feature in `standard`, and from legacy injected providers (Phantom,
 *    Solflare, Backpack, window.solana) when `legacy` lists the methods they must have (null: none accepted).
 *    `connect(w)` → `{ address, account? }` (account: the Wallet Standard account, for feature calls).
 */
export const WALLET_DISCOVERY_JS = `
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
  const fromBase64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const addressOf = (pk) => (typeof pk === 'string' ? pk : pk && typeof pk.toBase58 === 'function' ? pk.toBase58() : pk instanceof Uint8Array ? toBase58(pk) : String(pk));

  function walletDiscovery(opts) {
    const wallets = new Map();
    const addLegacy = (name, p) => {
      if (!opts.legacy || !p || typeof p.connect !== 'function' || !opts.legacy.every((m) => typeof p[m] === 'function')) return;
      for (const w of wallets.values()) if (w.legacy === p) return;
      if (!wallets.has(name)) wallets.set(name, { name, legacy: p });
    };
    const addStandard = (w) => {
      const f = w && w.features;
      if (!f || !f['standard:connect'] || !opts.standard.every((k) => f[k])) return;
      wallets.set(w.name, { name: w.name, standard: w });
      // Deferred: a wallet may register synchronously, while the page is still setting up what onChange reads.
      queueMicrotask(opts.onChange);
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

    return { wallets, scanLegacy, connect };
  }
`;

/** `<!doctype html>` … `</head>`: the shared head (no referrer, no favicon request) with the page's own extra CSS. */
export function pageHead(title: string, nonce: string, extraStyle = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)} · Solbound</title>
<style nonce="${nonce}">${PAGE_STYLE}${extraStyle}</style>
</head>`;
}

/**
 * The page's state as inert JSON and its script: an IIFE with the wallet discovery code, `state` (parsed; the script
 * stops when `!state.ok`, the error page), `$(id)` and `status(text, kind)` (the #status line) in scope before `body`.
 */
export function pageScript(state: unknown, nonce: string, body: string): string {
  return `<script type="application/json" id="state">${scriptJson(state)}</script>
<script nonce="${nonce}">
(() => {
  'use strict';
${WALLET_DISCOVERY_JS}
  const state = JSON.parse(document.getElementById('state').textContent);
  if (!state.ok) return;
  const $ = (id) => document.getElementById(id);
  const status = (text, kind) => { const el = $('status'); el.textContent = text; el.className = kind || ''; };
${body}
})();
</script>`;
}

/** Headers for the wallet pages and their APIs: nothing cached, no key leaking through Referer, no framing. */
export function securePage(reply: FastifyReply): FastifyReply {
  return reply
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin');
}

/** Sends a rendered page with its CSP (and the secure headers) as HTML. */
export function sendPage(reply: FastifyReply, page: { html: string; csp: string }): FastifyReply {
  return securePage(reply).header('content-security-policy', page.csp).type('text/html; charset=utf-8').send(page.html);
}
