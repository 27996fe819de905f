import type { Environment } from '../quota/quota.tables';
import type { EndpointDisabledNotice, EndpointView, PingResult } from './webhooks.service';

// What Discord shows for webhooks: the owner's DM when the bot disables an endpoint, and the /api webhook replies.

const code = (s: string) => `\`${s}\``;

export function endpointDisabledText(n: EndpointDisabledNotice): string {
  return [
    `⚠️ Your webhook endpoint #${n.endpointId} (${code(n.url)}) was disabled: ${n.reason}.`,
    'Its queued deliveries were dropped. Fix the receiver, then register it again with `/api webhook add`;',
    'an operator can replay what it missed.',
  ].join('\n');
}

export function secretShownOnce(endpoint: EndpointView, secret: string, verb: 'created' | 'rotated'): string {
  const lines = [
    verb === 'created'
      ? `✅ Webhook endpoint #${endpoint.id} → ${code(endpoint.url)} for ${endpoint.eventTypes.map(code).join(', ')}.`
      : `🔁 New signing secret for webhook endpoint #${endpoint.id}.`,
    'Signing secret (shown once — store it now):',
    '```',
    secret,
    '```',
  ];
  if (verb === 'rotated' && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > new Date())
    lines.push(`Until <t:${Math.floor(endpoint.previousSecretExpiresAt.getTime() / 1000)}:f> deliveries are signed with the old secret too.`);
  lines.push('Verify each request with a Standard Webhooks library (`webhook-id`, `webhook-timestamp`, `webhook-signature`); `/api webhook test` sends a ping.');
  return lines.join('\n');
}

export function endpointList(endpoints: Array<EndpointView & { clientName: string; environment: Environment }>): string {
  if (!endpoints.length) return 'You have no webhook endpoints. `/api webhook add` registers one.';
  return endpoints
    .map((e) => {
      const state = e.active ? '' : ` — disabled (${e.disabledReason ?? 'no reason'})`;
      return `#${e.id} **${e.clientName}** ${e.environment} → ${code(e.url)} · ${e.eventTypes.join(', ')}${state}`;
    })
    .join('\n');
}

export function pingText(endpointId: bigint, r: PingResult): string {
  if (r.error === null) return `✅ Endpoint #${endpointId} answered ${r.httpStatus} in ${r.ms} ms to ping ${code(r.eventId)}.`;
  return `❌ Endpoint #${endpointId} did not accept ping ${code(r.eventId)}: ${r.error.slice(0, 300)} (${r.ms} ms).`;
}
