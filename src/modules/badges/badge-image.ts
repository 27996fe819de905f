/** The badge picture wallets show (`GET /badges/<mint>.svg`): a shield in the tier's colour with the score. */

const TIER_FILL: Record<string, string> = { none: '#808080', bronze: '#cd7f32', silver: '#c0c0c0', gold: '#ffd700', platinum: '#7fdbff' };

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);

export function renderBadgeSvg(b: { tier: string; score: number; status: string }): string {
  const fill = TIER_FILL[b.tier] ?? TIER_FILL.none!;
  const live = b.status === 'active' || b.status === 'queued' || b.status === 'minting';
  return [
    '<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512" viewBox="0 0 512 512">',
    '<rect width="512" height="512" fill="#111827"/>',
    `<path d="M256 40 L440 110 V250 C440 370 356 440 256 476 C156 440 72 370 72 250 V110 Z" fill="${fill}" stroke="#f9fafb" stroke-width="10"${live ? '' : ' opacity="0.35"'}/>`,
    '<text x="256" y="215" font-family="Helvetica, Arial, sans-serif" font-size="40" font-weight="700" text-anchor="middle" fill="#111827">SOLBOUND</text>',
    `<text x="256" y="300" font-family="Helvetica, Arial, sans-serif" font-size="88" font-weight="700" text-anchor="middle" fill="#111827">${b.score}</text>`,
    `<text x="256" y="360" font-family="Helvetica, Arial, sans-serif" font-size="36" text-anchor="middle" fill="#111827">${escapeXml(b.tier.toUpperCase())}</text>`,
    live ? '' : `<text x="256" y="500" font-family="Helvetica, Arial, sans-serif" font-size="32" text-anchor="middle" fill="#f87171">${escapeXml(b.status.toUpperCase())}</text>`,
    '</svg>',
  ].join('');
}
