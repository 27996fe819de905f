import { describe, expect, it } from 'vitest';
import { quote, quoteCode } from './errors';

describe('quote / quoteCode (echoing user input)', () => {
  it('trims, collapses whitespace, truncates with an ellipsis to at most max characters', () => {
    expect(quote('  DOGE  ')).toBe('"DOGE"');
    expect(quote('a\n\n  b\tc')).toBe('"a b c"');
    expect(quote('x'.repeat(6_000), 100)).toBe(`"${'x'.repeat(99)}…"`);
    expect([...quote('🙂'.repeat(50), 10)].length).toBe(12);
    expect(quoteCode('1'.repeat(60), 40)).toBe(`\`${'1'.repeat(39)}…\``);
  });

  it('neutralises markdown and mentions', () => {
    expect(quote('**bold** _it_ ~~s~~ ||spoiler|| `c` [l](u) \\')).toBe('"\\*\\*bold\\*\\* \\_it\\_ \\~\\~s\\~\\~ \\|\\|spoiler\\|\\| \\`c\\` \\[l\\](u) \\\\"');
    expect(quote('@everyone <@123456789012345678> <@&123456789012345678>')).toBe('"@\u200beveryone <@\u200b123456789012345678> <@\u200b&123456789012345678>"');
    expect(quoteCode('a`b')).toBe('`aˋb`');
    expect(quoteCode('   ')).toBe('` `');
  });
});
