import fc from 'fast-check';
import { expect, test } from 'vitest';
import { RegionAllocator } from '../src/backend/packed.js';

test('RegionAllocator: first fit in 64-byte areas, coalescing on release; null when nothing fits', () => {
  const r = new RegionAllocator(1024, 512);
  const a = r.allocate(100)!; // 128 bytes
  const b = r.allocate(64)!;
  expect([a, b]).toEqual([1024, 1152]);
  expect(r.allocate(400)).toBeNull(); // 320 bytes are left
  r.release(a, 100);
  expect(r.allocate(128)).toBe(1024);
  r.release(1024, 128);
  r.release(b, 64);
  expect(r.inUse).toBe(0);
  expect(r.allocate(512)).toBe(1024); // coalesced back into one area
});

test('RegionAllocator.growFor: a growable region extends its end, taking in the free area already there', () => {
  const r = new RegionAllocator(4096, 0);
  expect(r.allocate(64)).toBeNull();
  expect(r.growFor(100)).toBe(4096 + 128);
  const a = r.allocate(100)!;
  expect(a).toBe(4096);
  expect(r.growFor(256)).toBe(4096 + 128 + 256);
  const b = r.allocate(256)!;
  r.release(b, 256); // the free area [4224, 4480) ends the region
  expect(r.growFor(320)).toBe(4096 + 128 + 320); // grows by 64 only
  expect(r.allocate(320)).toBe(4224);
  r.release(a, 100);
  expect(r.inUse).toBe(320);
});

test('RegionAllocator: random allocations never overlap, and a growable region grows only when nothing fits', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 5000 })), { maxLength: 60 }), (ops) => {
    const r = new RegionAllocator(0, 0);
    const live: [number, number][] = [];
    let end = 0;
    for (const [alloc, bytes] of ops) {
      if (alloc || live.length === 0) {
        let at = r.allocate(bytes);
        if (at === null) {
          end = r.growFor(bytes);
          at = r.allocate(bytes)!;
        }
        const size = Math.ceil(bytes / 64) * 64;
        expect(at + size).toBeLessThanOrEqual(end);
        for (const [o, s] of live) expect(at + size <= o || o + s <= at).toBe(true);
        live.push([at, size]);
      } else {
        const [o, s] = live.splice(bytes % live.length, 1)[0]!;
        r.release(o, s);
      }
    }
    expect(r.inUse).toBe(live.reduce((n, [, s]) => n + s, 0));
  }));
});
