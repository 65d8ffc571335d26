// Naming subflows by path. The data plane reports local endpoints ("198.18.1.1:40000",
// "[2001:2::1]:40000") and per-address byte totals; the operator thinks in configured paths.

/** Maps a local address (no port, no brackets) to its configured path name. */
export type PathForAddress = (address: string) => string | undefined;

/** Path label used when an address belongs to no configured path. */
export const UNKNOWN_PATH = 'unknown';

/** "198.18.1.1:40000" -> "198.18.1.1", "[2001:2::1]:40000" -> "2001:2::1"; a bare address is
 *  returned unchanged. */
export function hostOfEndpoint(endpoint: string): string {
  if (endpoint.startsWith('[')) {
    const end = endpoint.indexOf(']');
    return end < 0 ? endpoint : endpoint.slice(1, end);
  }
  const colon = endpoint.indexOf(':');
  // More than one colon without brackets is a bare IPv6 address.
  if (colon < 0 || endpoint.indexOf(':', colon + 1) >= 0) return endpoint;
  return endpoint.slice(0, colon);
}

/** The path name of a local address or endpoint, UNKNOWN_PATH when none matches. */
export function pathName(pathForAddress: PathForAddress, addressOrEndpoint: string): string {
  return pathForAddress(hostOfEndpoint(addressOrEndpoint)) ?? UNKNOWN_PATH;
}
