// QR codes (ISO/IEC 18004), byte mode, error correction level M, versions
// 1 to 10 (up to 213 bytes): enough for an `otpauth://` URI. Written here
// so that a secret never leaves the page to be drawn.

/** Error-correction codewords per block, by version (level M). */
const EC_PER_BLOCK = [0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26];
/** Blocks the codewords are split into, by version (level M). */
const BLOCKS = [0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5];
const MAX_VERSION = 10;
/** Level M in the format information. */
const LEVEL_M_BITS = 0b00;

/**
 * The modules of the QR code of `text` (true is dark), by row.
 * @param {string} text
 * @returns {boolean[][]}
 * @throws {RangeError} when the text is too long
 */
export function qrMatrix(text) {
  const bytes = [...new TextEncoder().encode(text)];
  const version = smallestVersion(bytes.length);
  const codewords = interleave(version, dataCodewords(version, bytes));
  const base = new Grid(version);
  base.drawFunctionPatterns();
  base.placeData(codewords);
  let best = null;
  for (let mask = 0; mask < 8; mask++) {
    const candidate = base.copy();
    candidate.applyMask(mask);
    candidate.drawFormat(mask);
    const score = candidate.penalty();
    if (!best || score < best.score) best = { grid: candidate, score };
  }
  return best.grid.dark;
}

/**
 * Draw `text` as a QR code on a new canvas.
 * @param {string} text
 * @param {number} [scale] pixels per module
 * @returns {HTMLCanvasElement}
 */
export function qrCanvas(text, scale = 4) {
  const matrix = qrMatrix(text);
  const quiet = 4;
  const side = (matrix.length + 2 * quiet) * scale;
  const canvas = document.createElement('canvas');
  canvas.width = side;
  canvas.height = side;
  const pen = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  pen.fillStyle = '#ffffff';
  pen.fillRect(0, 0, side, side);
  pen.fillStyle = '#000000';
  matrix.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) pen.fillRect((x + quiet) * scale, (y + quiet) * scale, scale, scale);
    }),
  );
  return canvas;
}

/** Modules left for data and error correction in `version`. */
function rawDataModules(version) {
  let modules = (16 * version + 128) * version + 64;
  if (version >= 2) {
    const align = Math.floor(version / 7) + 2;
    modules -= (25 * align - 10) * align - 55;
    if (version >= 7) modules -= 36;
  }
  return modules;
}

/** Data codewords (without error correction) of `version`. */
function dataCapacity(version) {
  return Math.floor(rawDataModules(version) / 8) - EC_PER_BLOCK[version] * BLOCKS[version];
}

/** The smallest version that holds `length` bytes. */
function smallestVersion(length) {
  for (let version = 1; version <= MAX_VERSION; version++) {
    const header = 4 + (version < 10 ? 8 : 16);
    if (header + 8 * length <= 8 * dataCapacity(version)) return version;
  }
  throw new RangeError('too long for a QR code here');
}

/** Mode, count, bytes, terminator and padding, as codewords. */
function dataCodewords(version, bytes) {
  const bits = [];
  const push = (value, length) => {
    for (let i = length - 1; i >= 0; i--) bits.push((value >>> i) & 1);
  };
  push(0b0100, 4);
  push(bytes.length, version < 10 ? 8 : 16);
  for (const byte of bytes) push(byte, 8);
  const capacity = 8 * dataCapacity(version);
  push(0, Math.min(4, capacity - bits.length));
  push(0, (8 - (bits.length % 8)) % 8);
  for (let pad = 0xec; bits.length < capacity; pad ^= 0xec ^ 0x11) push(pad, 8);
  const words = [];
  for (let i = 0; i < bits.length; i += 8) words.push(bits.slice(i, i + 8).reduce((a, b) => (a << 1) | b, 0));
  return words;
}

/** Blocks with their error correction, interleaved as the symbol holds them. */
function interleave(version, data) {
  const blocks = BLOCKS[version];
  const ecLength = EC_PER_BLOCK[version];
  const raw = Math.floor(rawDataModules(version) / 8);
  const shortBlocks = blocks - (raw % blocks);
  const shortLength = Math.floor(raw / blocks) - ecLength;
  const generator = rsGenerator(ecLength);
  const split = [];
  for (let b = 0, at = 0; b < blocks; b++) {
    const length = shortLength + (b < shortBlocks ? 0 : 1);
    const words = data.slice(at, at + length);
    at += length;
    split.push({ words, ec: rsRemainder(words, generator) });
  }
  const out = [];
  for (let i = 0; i <= shortLength; i++) {
    for (const block of split) if (i < block.words.length) out.push(block.words[i]);
  }
  for (let i = 0; i < ecLength; i++) for (const block of split) out.push(block.ec[i]);
  return out;
}

/** Product in GF(2^8) modulo x^8 + x^4 + x^3 + x^2 + 1. */
function gfMultiply(a, b) {
  let product = 0;
  for (let i = 7; i >= 0; i--) {
    product = (product << 1) ^ ((product >>> 7) * 0x11d);
    product ^= ((b >>> i) & 1) * a;
  }
  return product;
}

/** The generator polynomial of degree `degree` (leading 1 left out). */
function rsGenerator(degree) {
  const poly = new Array(degree).fill(0);
  poly[degree - 1] = 1;
  let root = 1;
  for (let i = 0; i < degree; i++) {
    for (let j = 0; j < degree; j++) {
      poly[j] = gfMultiply(poly[j], root);
      if (j + 1 < degree) poly[j] ^= poly[j + 1];
    }
    root = gfMultiply(root, 0x02);
  }
  return poly;
}

/** The error-correction codewords of `data`. */
function rsRemainder(data, generator) {
  const remainder = new Array(generator.length).fill(0);
  for (const word of data) {
    const factor = word ^ remainder.shift();
    remainder.push(0);
    generator.forEach((coefficient, i) => {
      remainder[i] ^= gfMultiply(coefficient, factor);
    });
  }
  return remainder;
}

/** The remainder of `value` × x^bits divided by `poly` over GF(2). */
function bch(value, bits, poly) {
  let rem = value << bits;
  const top = 31 - Math.clz32(poly);
  for (let i = 31 - Math.clz32(rem); i >= top; i--) {
    if ((rem >>> i) & 1) rem ^= poly << (i - top);
  }
  return rem;
}

/** Whether mask `mask` flips the module at column `x`, row `y`. */
function masked(mask, x, y) {
  switch (mask) {
    case 0: return (x + y) % 2 === 0;
    case 1: return y % 2 === 0;
    case 2: return x % 3 === 0;
    case 3: return (x + y) % 3 === 0;
    case 4: return (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0;
    case 5: return ((x * y) % 2) + ((x * y) % 3) === 0;
    case 6: return (((x * y) % 2) + ((x * y) % 3)) % 2 === 0;
    default: return (((x + y) % 2) + ((x * y) % 3)) % 2 === 0;
  }
}

/** The modules of one symbol, and which of them are function patterns. */
class Grid {
  constructor(version) {
    this.version = version;
    this.size = 17 + 4 * version;
    this.dark = Array.from({ length: this.size }, () => new Array(this.size).fill(false));
    this.fixed = Array.from({ length: this.size }, () => new Array(this.size).fill(false));
  }

  copy() {
    const other = new Grid(this.version);
    other.dark = this.dark.map((row) => [...row]);
    other.fixed = this.fixed;
    return other;
  }

  /** Set a function module at column `x`, row `y`. */
  set(x, y, dark) {
    this.dark[y][x] = dark;
    this.fixed[y][x] = true;
  }

  drawFunctionPatterns() {
    const last = this.size - 1;
    for (let i = 0; i < this.size; i++) {
      this.set(6, i, i % 2 === 0);
      this.set(i, 6, i % 2 === 0);
    }
    for (const [cx, cy] of [[3, 3], [last - 3, 3], [3, last - 3]]) this.finder(cx, cy);
    const centres = this.alignmentCentres();
    for (const cx of centres) {
      for (const cy of centres) {
        const onFinder = (cx === 6 && cy === 6) || (cx === 6 && cy === last - 6) || (cx === last - 6 && cy === 6);
        if (!onFinder) this.alignment(cx, cy);
      }
    }
    // Reserve the format areas (drawn with the mask) and the dark module.
    this.drawFormat(0);
    this.drawVersion();
  }

  /** A finder pattern and its light separator around (`cx`, `cy`). */
  finder(cx, cy) {
    for (let dy = -4; dy <= 4; dy++) {
      for (let dx = -4; dx <= 4; dx++) {
        const x = cx + dx;
        const y = cy + dy;
        if (x < 0 || y < 0 || x >= this.size || y >= this.size) continue;
        const ring = Math.max(Math.abs(dx), Math.abs(dy));
        this.set(x, y, ring !== 2 && ring !== 4);
      }
    }
  }

  alignment(cx, cy) {
    for (let dy = -2; dy <= 2; dy++) {
      for (let dx = -2; dx <= 2; dx++) this.set(cx + dx, cy + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
    }
  }

  alignmentCentres() {
    if (this.version === 1) return [];
    const count = Math.floor(this.version / 7) + 2;
    const step = Math.ceil((this.version * 4 + 4) / (count * 2 - 2)) * 2;
    const centres = [6];
    for (let at = this.size - 7; centres.length < count; at -= step) centres.splice(1, 0, at);
    return centres;
  }

  /** The two copies of the format information for `mask`. */
  drawFormat(mask) {
    const data = (LEVEL_M_BITS << 3) | mask;
    const bits = ((data << 10) | bch(data, 10, 0x537)) ^ 0x5412;
    const bit = (i) => ((bits >>> i) & 1) === 1;
    const last = this.size - 1;
    for (let i = 0; i <= 5; i++) this.set(8, i, bit(i));
    this.set(8, 7, bit(6));
    this.set(8, 8, bit(7));
    this.set(7, 8, bit(8));
    for (let i = 9; i < 15; i++) this.set(14 - i, 8, bit(i));
    for (let i = 0; i < 8; i++) this.set(last - i, 8, bit(i));
    for (let i = 8; i < 15; i++) this.set(8, this.size - 15 + i, bit(i));
    this.set(8, this.size - 8, true);
  }

  /** The version information of versions 7 and up. */
  drawVersion() {
    if (this.version < 7) return;
    const bits = (this.version << 12) | bch(this.version, 12, 0x1f25);
    for (let i = 0; i < 18; i++) {
      const dark = ((bits >>> i) & 1) === 1;
      const a = this.size - 11 + (i % 3);
      const b = Math.floor(i / 3);
      this.set(a, b, dark);
      this.set(b, a, dark);
    }
  }

  /** The codewords, in the zigzag of two-module columns from the bottom right. */
  placeData(codewords) {
    let i = 0;
    for (let right = this.size - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      const upward = ((right + 1) & 2) === 0;
      for (let step = 0; step < this.size; step++) {
        const y = upward ? this.size - 1 - step : step;
        for (const x of [right, right - 1]) {
          if (this.fixed[y][x] || i >= codewords.length * 8) continue;
          this.dark[y][x] = ((codewords[i >>> 3] >>> (7 - (i & 7))) & 1) === 1;
          i++;
        }
      }
    }
  }

  applyMask(mask) {
    for (let y = 0; y < this.size; y++) {
      for (let x = 0; x < this.size; x++) {
        if (!this.fixed[y][x] && masked(mask, x, y)) this.dark[y][x] = !this.dark[y][x];
      }
    }
  }

  /** The standard's penalty score: lower reads more reliably. */
  penalty() {
    const lines = [];
    for (let i = 0; i < this.size; i++) {
      lines.push(this.dark[i]);
      lines.push(this.dark.map((row) => row[i]));
    }
    let score = 0;
    const finderLike = [true, false, true, true, true, false, true];
    for (const line of lines) {
      let run = 1;
      for (let i = 1; i <= line.length; i++) {
        if (i < line.length && line[i] === line[i - 1]) {
          run++;
          continue;
        }
        if (run >= 5) score += run - 2;
        run = 1;
      }
      for (let i = 0; i + 7 <= line.length; i++) {
        if (!finderLike.every((dark, k) => line[i + k] === dark)) continue;
        const lightBefore = i >= 4 && [1, 2, 3, 4].every((k) => !line[i - k]);
        const lightAfter = i + 11 <= line.length && [7, 8, 9, 10].every((k) => !line[i + k]);
        if (lightBefore || lightAfter) score += 40;
      }
    }
    let darkCount = 0;
    for (let y = 0; y < this.size; y++) {
      for (let x = 0; x < this.size; x++) {
        if (this.dark[y][x]) darkCount++;
        if (x + 1 < this.size && y + 1 < this.size) {
          const c = this.dark[y][x];
          if (this.dark[y][x + 1] === c && this.dark[y + 1][x] === c && this.dark[y + 1][x + 1] === c) score += 3;
        }
      }
    }
    const percent = (darkCount * 100) / (this.size * this.size);
    score += Math.floor(Math.abs(percent - 50) / 5) * 10;
    return score;
  }
}
