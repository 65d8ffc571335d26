// The nftables table braid owns (install, remove, inspect) and the policy routing TPROXY needs.
export { RedirectTable, type RedirectStatus, type RedirectTableOptions } from './table';
export { parseListing, type RedirectRule } from './listing';
export {
  PolicyRouting,
  type NativePolicyRouting,
  type PolicyRoute,
  type PolicyRoutingInstall,
  type PolicyRoutingKey,
  type PolicyRoutingStatus,
  type PolicyRule,
} from './routing';
