/**
 * The ZK packet checksum (device-protocols.md §2.2): a 16-bit one's-complement
 * sum of the ZK header (checksum field zeroed) and payload, as little-endian
 * words with end-around carry, an odd last byte added on its own, inverted.
 */
export function zkChecksum(bytes: Uint8Array): number {
  let sum = 0;
  const evenLength = bytes.length & ~1;
  for (let index = 0; index < evenLength; index += 2) {
    sum += bytes[index]! | (bytes[index + 1]! << 8);
    if (sum > 0xffff) sum -= 0xffff;
  }
  if (evenLength < bytes.length) sum += bytes[evenLength]!;
  while (sum > 0xffff) sum -= 0xffff;
  return ~sum & 0xffff;
}

