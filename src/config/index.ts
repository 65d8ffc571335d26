// The config module's public face; everything else in src/config/ is internal.
export { loadConfigFile, parseConfigText, type LoadedConfig } from './load';
export { ConfigError, formatIssue } from './config-error';
export type { ConfigIssue } from './issue';
export { configJsonSchema } from './json-schema';
export { DEFAULTS } from './defaults';
export { BraidConfigSchema, type BraidConfig, type ListenerConfig, type PathConfig } from './schema';
export type { RuntimeConfig, RuntimeListener, SocketAddress } from './runtime';
export { formatSocketAddress } from './address';
