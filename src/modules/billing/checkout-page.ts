import { escapeHtml, pageCsp, pageHead, pageScript } from '../../http/wallet-page';
import type { CheckoutView } from './checkout.service';

const STYLE = `
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0 0 16px; }
  dt { color: #8b8fb0; }
  dd { margin: 0; overflow-wrap: anywhere; }
  #qr { display: block; background: #fff; border-radius: 8px; margin: 8px 0; }
  a { color: var(--accent); }
  #progress { padding: 12px 14px; border-radius: 8px; background: #24264a; font-weight: 600; }
  #progress[data-state="paid"] { background: #0f3a2c; color: var(--ok); }
  #progress[data-state="expired"], #progress[data-state="canceled"], #progress[data-state="refunded"] { background: #3a1620; color: var(--err); }
`;

export type CheckoutPageState = ({ ok: true } & CheckoutView) | { ok: false; code: string; message: string };

/**
 * The checkout page (`GET /pay/<reference>`): the invoice summary, the Solana Pay QR code and link, "Pay with <wallet>"
 * through Wallet Standard (`solana:signAndSendTransaction` of a transaction the server builds for the connected
 * account), and the live status from `GET /pay/<reference>/events` (Server-Sent Events). Self-contained under the
 * same strict CSP as the wallet-link page, sharing its wallet discovery code. Plan names and descriptions are the
 * guild staff's text: escaped into HTML, JSON-escaped into the script, and bidi-isolated.
 */
export function renderCheckoutPage(state: CheckoutPageState): { html: string; csp: string } {
  const { nonce, csp } = pageCsp();
  const title = state.ok ? `${state.planName} · ${state.number}` : 'Invoice unavailable';
  const body = state.ok
    ? `
  <h1><bdi>${escapeHtml(state.planName)}</bdi></h1>
  <p class="sub"><bdi>${escapeHtml(state.planDescription)}</bdi></p>
  <dl>
    <dt>Invoice</dt><dd id="number">${escapeHtml(state.number)}</dd>
    <dt>Period</dt><dd>1 ${escapeHtml(state.cycle)}</dd>
    <dt>Amount</dt><dd id="amount">${escapeHtml(state.amountText)}</dd>
    <dt>Paid</dt><dd id="paid">${escapeHtml(state.progress.paidText)}</dd>
    <dt>Due</dt><dd id="due">${escapeHtml(state.progress.dueText)}</dd>
    <dt>Expires</dt><dd id="countdown"></dd>
  </dl>
  <div id="progress" data-state="${escapeHtml(state.progress.state)}"></div>
  <div id="pay" class="hidden">
    ${state.qr ? `<img id="qr" alt="Solana Pay QR code" width="220" height="220" src="${escapeHtml(state.qr)}">` : ''}
    ${state.solanaPayUrl ? `<p><a id="solana-pay" href="${escapeHtml(state.solanaPayUrl)}">Open in a wallet app</a> <small>or scan the code with a Solana Pay wallet.</small></p>` : ''}
    <div id="wallets"></div>
    <p id="none" class="hidden"><small>No browser wallet with Wallet Standard found; scan the QR code instead.</small></p>
    <div id="status" class="hidden"></div>
  </div>`
    : `
  <h1>Invoice unavailable</h1>
  <p class="sub">${escapeHtml(state.message)}</p>`;
  const html = `${pageHead(title, nonce, STYLE)}
<body>
<main>
  <div class="brand">SOLBOUND</div>${body}
</main>
${pageScript(state, nonce, `
  const base = new URL(encodeURIComponent(state.reference), new URL('./', location.href)).toString();
  const WORDS = {
    pending: () => 'Waiting for your payment.',
    partially_paid: (p) => 'Partially paid: ' + p.paidText + ' received, ' + p.dueText + ' still due.',
    paid: () => '✓ Paid. Your membership is active — you can close this page.',
    expired: () => 'This invoice has expired. Run /subscribe in Discord for a new one; anything paid to it is credited to your balance.',
    canceled: () => 'This invoice was canceled. Anything paid to it is credited to your balance.',
    refunded: () => 'This invoice was refunded to your balance.',
  };
  const FINAL = ['paid', 'expired', 'canceled', 'refunded'];
  let progress = state.progress;
  let busy = false;

  function show(p) {
    progress = p;
    const el = $('progress');
    el.dataset.state = p.state;
    el.textContent = WORDS[p.state](p);
    $('paid').textContent = p.paidText;
    $('due').textContent = p.dueText;
    const open = !FINAL.includes(p.state);
    $('pay').classList.toggle('hidden', !open);
    if (!open && events) { events.close(); events = null; }
    tick();
  }

  function tick() {
    const ms = new Date(progress.expiresAt).getTime() - Date.now();
    if (FINAL.includes(progress.state)) { $('countdown').textContent = progress.state === 'expired' ? 'expired' : '—'; return; }
    if (ms <= 0) { $('countdown').textContent = 'expired'; return; }
    const s = Math.floor(ms / 1000);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    $('countdown').textContent = (h ? h + 'h ' : '') + String(m).padStart(2, '0') + 'm ' + String(sec).padStart(2, '0') + 's';
  }

  const discovery = walletDiscovery({ standard: ['solana:signAndSendTransaction'], legacy: null, onChange: () => render() });
  function render() {
    const box = $('wallets');
    box.textContent = '';
    for (const w of discovery.wallets.values()) {
      const b = document.createElement('button');
      b.textContent = 'Pay with ' + w.name;
      b.disabled = busy;
      b.addEventListener('click', () => pay(w));
      box.appendChild(b);
    }
    $('none').classList.toggle('hidden', discovery.wallets.size > 0);
  }

  async function pay(w) {
    busy = true; render();
    try {
      status('Connecting to ' + w.name + '…');
      const conn = await discovery.connect(w);
      status('Preparing the payment for ' + conn.address + '…');
      const res = await fetch(base + '/transaction', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ account: conn.address }),
      });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(body.message || ('HTTP ' + res.status));
      status('Approve the payment of ' + progress.dueText + ' in ' + w.name + '.');
      const [out] = await w.standard.features['solana:signAndSendTransaction'].signAndSendTransaction({
        account: conn.account, transaction: fromBase64(body.transaction), chain: state.chain,
      });
      status('Payment sent (' + toBase58(out.signature) + '). It shows here once the network has finalized it.', 'ok');
    } catch (err) {
      status('✗ ' + ((err && err.message) || String(err)), 'err');
      busy = false; render();
    }
  }

  let events = null;
  if (!FINAL.includes(progress.state)) {
    events = new EventSource(base + '/events');
    events.addEventListener('status', (e) => show(JSON.parse(e.data)));
  }
  show(progress);
  setInterval(tick, 1000);
  render();
`)}
</body>
</html>
`;
  return { html, csp };
}
