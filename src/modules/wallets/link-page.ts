import { escapeHtml, pageCsp, pageHead, pageScript } from '../../http/wallet-page';

export type LinkPageState =
  | { ok: true; nonce: string; discordUsername: string; expiresAt: string }
  | { ok: false; code: string; message: string };

/**
 * The wallet-link page: self-contained (no external resources), inline CSS/JS allowed only by a per-response CSP
 * nonce. Returns the HTML and the Content-Security-Policy header that must accompany it.
 */
export function renderLinkPage(state: LinkPageState): { html: string; csp: string } {
  const { nonce: cspNonce, csp } = pageCsp();
  const title = state.ok ? `Link a Solana wallet to @${state.discordUsername}` : 'Wallet link unavailable';
  const html = `${pageHead(title, cspNonce)}
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
${pageScript(state, cspNonce, `
  $('expiry').textContent = 'This link expires at ' + new Date(state.expiresAt).toLocaleString() + '.';
  const api = (path) => new URL('../api/wallet/' + path, location.href).toString();

  let busy = false;
  const discovery = walletDiscovery({ standard: ['solana:signMessage'], legacy: ['signMessage'], onChange: () => render() });
  const { wallets, scanLegacy, connect } = discovery;

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
`)}
</body>
</html>
`;
  return { html, csp };
}
