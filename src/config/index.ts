// The config module's public face; everything else in src/config/ is internal.
export { loadConfigFile, parseConfigText, type LoadedConfig } from './load';
export { ConfigError, formatIssue } from './config-error';
export type { ConfigIssue } from './issue';
export { configJsonSchema } from './json-schema';
export { DEFAULTS } from './defaults';
export { BraidConfigSchema, type BraidConfig, type ListenerConfig, type PathConfig, type PolicyConfig } from './schema';
export type {
  Cidr,
  PortRange,
  RuntimeAddressListener,
  RuntimeConfig,
  RuntimeListener,
  RuntimeMatch,
  RuntimePolicy,
  RuntimeTransparentInboundListener,
  RuntimeTransparentListener,
  Scheduler,
  SocketAddress,
} from './runtime';
export { cidrContains, formatCidr, parseCidr } from './cidr';
export { formatSocketAddress } from './address';
