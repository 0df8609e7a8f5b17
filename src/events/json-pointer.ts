// RFC 6901 JSON pointers, compiled once (at catalog or mapping load) and read many times.

export type CompiledPointer = readonly string[];

export function compilePointer(pointer: string): CompiledPointer {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`JSON pointer "${pointer}" must start with "/"`);
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** The value at `pointer`, or undefined. Only own properties are followed. */
export function readPointer(value: unknown, pointer: CompiledPointer): unknown {
  let current = value;
  for (let i = 0; i < pointer.length; i++) {
    if (current === null || typeof current !== 'object') return undefined;
    const segment = pointer[i]!;
    if (Array.isArray(current)) {
      const index = Number(segment);
      current = Number.isInteger(index) ? current[index] : undefined;
    } else {
      current = Object.hasOwn(current, segment) ? (current as Record<string, unknown>)[segment] : undefined;
    }
  }
  return current;
}

/** The first pointer's value that is a non-empty string or a finite number, as a string; else null. */
export function firstScalar(value: unknown, pointers: readonly CompiledPointer[]): string | null {
  for (let i = 0; i < pointers.length; i++) {
    const found = readPointer(value, pointers[i]!);
    if (typeof found === 'string') {
      if (found.length > 0) return found;
    } else if (typeof found === 'number' && Number.isFinite(found)) {
      return String(found);
    }
  }
  return null;
}

/** Sets `value` at `pointer`, creating objects on the way. */
export function writePointer(target: Record<string, unknown>, pointer: CompiledPointer, value: unknown): void {
  let current = target;
  for (let i = 0; i < pointer.length - 1; i++) {
    const segment = pointer[i]!;
    let next = current[segment];
    if (next === null || typeof next !== 'object') {
      next = {};
      current[segment] = next;
    }
    current = next as Record<string, unknown>;
  }
  const last = pointer[pointer.length - 1];
  if (last !== undefined) current[last] = value;
}
