import { jaccard, titleTokens } from '../../src/features/title-tokens';

describe('title tokens', () => {
  test('lower case words of 3+ letters, no stop words, each once', () => {
    expect(titleTokens('The Cat and THE cat: a Photo of my cat!')).toEqual(['cat', 'photo']);
  });
  test('keeps letters and digits of any script', () => {
    expect(titleTokens('Café 2013 über-cool')).toEqual(['café', '2013', 'über', 'cool']);
  });
  test('jaccard similarity', () => {
    expect(jaccard(new Set(['a1x', 'b2y']), ['a1x', 'c3z'])).toBeCloseTo(1 / 3);
    expect(jaccard(new Set(), [])).toBe(0);
  });
});
