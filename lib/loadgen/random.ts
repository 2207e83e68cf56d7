// Seeded randomness for the load generator: the same seed gives the same arrival gaps and the same prompts,
// so a test (or a rerun) is reproducible, and load workers given different seeds do not send in lockstep.

/** A uniform source in [0, 1). */
export type Random = () => number;

/**
 * sfc32 (Chris Doty-Humphrey's small fast chaotic generator), seeded through splitmix32: fast, 128 bits of
 * state, good enough statistics for schedules and prompts (not for cryptography).
 */
export function seededRandom(seed: number): Random {
  let s = seed >>> 0;
  const splitmix = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  return () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
}

/** A uniform draw in (0, 1): logarithms of it stay finite. */
function openUnit(random: Random): number {
  let u = random();
  while (u === 0) u = random();
  return u;
}

function standardNormal(random: Random): number {
  // Box–Muller; one of the pair is enough here.
  return Math.sqrt(-2 * Math.log(openUnit(random))) * Math.cos(2 * Math.PI * random());
}

/**
 * A draw from Gamma(shape, scale), mean shape·scale (Marsaglia and Tsang's method; shapes below 1 through
 * Gamma(shape + 1)·U^(1/shape)).
 */
export function gammaSample(random: Random, shape: number, scale: number): number {
  if (shape < 1) return gammaSample(random, shape + 1, scale) * openUnit(random) ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = standardNormal(random);
    const v = (1 + c * x) ** 3;
    if (v <= 0) continue;
    const u = openUnit(random);
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v * scale;
  }
}
