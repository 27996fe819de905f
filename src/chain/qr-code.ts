import QRCode from 'qrcode';

const OPTIONS = { errorCorrectionLevel: 'M', margin: 2, width: 512 } as const;

/** PNG bytes of a QR code for `text` (e.g. a Solana Pay URL), ready for a Discord attachment. */
export async function qrPng(text: string): Promise<Buffer> {
  return QRCode.toBuffer(text, { ...OPTIONS, type: 'png' });
}

/** `data:image/png;base64,…` for embedding in HTML. */
export async function qrDataUrl(text: string): Promise<string> {
  return QRCode.toDataURL(text, { ...OPTIONS, type: 'image/png' });
}
