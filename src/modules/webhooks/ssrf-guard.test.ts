import { describe, expect, it } from 'vitest';
import { isPrivateAddress } from './ssrf-guard';

describe('isPrivateAddress', () => {
  it('refuses loopback, private, link-local, metadata, CGNAT, multicast and IPv4-mapped forms of them', () => {
    for (const a of ['127.0.0.1', '10.0.0.5', '172.16.3.4', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '::1', '::', 'fe80::1', 'fd00:ec2::254', 'fc00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1'])
      expect(isPrivateAddress(a), a).toBe(true);
  });
  it('lets public addresses through', () => {
    for (const a of ['8.8.8.8', '172.32.0.1', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) expect(isPrivateAddress(a), a).toBe(false);
  });
  it('treats anything that is not an IP as refused', () => {
    expect(isPrivateAddress('localhost')).toBe(true);
  });
});
