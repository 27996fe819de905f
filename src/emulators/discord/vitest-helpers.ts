import { afterEach, expect } from 'vitest';
import type { DiscordEmulator } from './discord-emulator';

/**
 * Fails the current test when the bot hit a route or protocol path the emulator does not know (or misused one,
 * e.g. acknowledged an interaction twice): gaps in the emulator must never hide as silently passing tests.
 */
export function failOnEmulatorGaps(getEmulator: () => DiscordEmulator | undefined): void {
  afterEach(() => {
    const emu = getEmulator();
    if (!emu) return;
    const failures = emu.failures.splice(0);
    expect(failures, 'Discord emulator failures').toEqual([]);
  });
}
