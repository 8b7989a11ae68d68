import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';

/**
 * o200k token count of model/environment text. Special-token strings such as "<|endoftext|>" are counted as plain
 * text: gpt-tokenizer throws on them by default, and a model may well write one.
 */
export function countTextTokens(text: string): number {
  return countTokens(text, { disallowedSpecial: new Set() });
}
