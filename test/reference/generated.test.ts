// Files generated from the declarations (scripts/generate.ts) are what the generator writes now.
import { describe, expect, it } from 'vitest';
import { generatedFiles, staleFiles } from '../../scripts/generate.ts';

describe('generated reference files', () => {
  it('are up to date (run npm run generate after changing a declaration)', () => {
    expect(generatedFiles().size).toBeGreaterThan(0);
    expect(staleFiles()).toEqual([]);
  });
});
