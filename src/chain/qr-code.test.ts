import { describe, expect, it } from 'vitest';
import { qrDataUrl, qrPng } from './qr-code';

describe('qr code', () => {
  it('renders a PNG and a data URL', async () => {
    const url = 'solana:9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin?amount=1.5&label=Solbound';
    const png = await qrPng(url);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const dataUrl = await qrDataUrl(url);
    expect(dataUrl.startsWith('data:image/png;base64,')).toBe(true);
  });
});
