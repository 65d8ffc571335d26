// host:port strings for the admin endpoint: "127.0.0.1:9464", "[::1]:9464", "localhost:9464".
import { BraidError } from '../errors';

export interface HostPort {
  host: string; // no brackets
  port: number;
}

/** Parse "host:port" or "[v6]:port"; throws BraidError('BRAID_ADMIN') naming the input. */
export function parseHostPort(text: string): HostPort {
  const match = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || !(port >= 0 && port <= 65535)) {
    throw new BraidError(
      'BRAID_ADMIN',
      `admin address '${text}' is not host:port (IPv6 as [addr]:port, e.g. 127.0.0.1:9464 or [::1]:9464)`,
    );
  }
  return { host: match[1]!, port };
}

/** "127.0.0.1:9464", "[::1]:9464". */
export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
