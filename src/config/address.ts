// Socket addresses in the config are numeric IP literals with a port: "ipv4:port" or
// "[ipv6]:port". braid never resolves host names: a listener must bind and an upstream
// must be dialled without DNS, and a name that resolves differently on each node would
// make one config mean different things.
import { isIPv4, isIPv6 } from 'node:net';

export interface SocketAddress {
  host: string; // canonical numeric form, IPv6 without brackets
  port: number;
  family: 4 | 6;
}

export type AddressParse = { ok: true; address: SocketAddress } | { ok: false; problem: string };

const FORMS = `use "ipv4:port" or "[ipv6]:port", e.g. "127.0.0.1:6379" or "[::1]:6379"`;

export function parseSocketAddress(text: string, opts: { allowPortZero: boolean }): AddressParse {
  let host: string;
  let portText: string;
  let family: 4 | 6;
  if (text.startsWith('[')) {
    const m = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
    if (m === null) return fail(`"${text}" is not an address: ${FORMS}`);
    host = m[1] ?? '';
    if (m[2] === undefined) return fail(`"${text}" has no port: ${FORMS}`);
    portText = m[2];
    if (host.includes('%')) return fail(`"${text}": IPv6 zone ids (%${host.split('%')[1]}) are not supported`);
    if (!isIPv6(host)) return fail(`"${host}" is not a numeric IPv6 address: ${FORMS}`);
    // The WHATWG URL parser prints IPv6 in RFC 5952 form, so equal addresses compare equal.
    host = new URL(`http://[${host}]/`).hostname.slice(1, -1);
    family = 6;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return fail(`"${text}" has no port: ${FORMS}`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) {
      if (isIPv6(host) || isIPv6(text)) {
        return fail(`"${text}": an IPv6 address needs brackets around it, e.g. "[${host}]:${portText}"`);
      }
      return fail(`"${text}" is not an address: ${FORMS}`);
    }
    if (!isIPv4(host)) {
      return fail(`"${host}" is not a numeric IP address (host names are not resolved): ${FORMS}`);
    }
    family = 4;
  }
  const low = opts.allowPortZero ? 0 : 1;
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < low || Number(portText) > 65535) {
    const zero = opts.allowPortZero ? ' (0 picks a free port)' : '';
    return fail(`port "${portText}" must be an integer from ${low} to 65535${zero}`);
  }
  return { ok: true, address: { host, port: Number(portText), family } };
}

/** "127.0.0.1:80" or "[::1]:80": the form used in messages and logs. */
export function formatSocketAddress(a: SocketAddress): string {
  return a.family === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

function fail(problem: string): AddressParse {
  return { ok: false, problem };
}
